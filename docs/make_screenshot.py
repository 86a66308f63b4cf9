"""Regenerate the README's screenshots: the real window answering real questions, offscreen.

    python docs/make_screenshot.py [--theme light|dark] [--out FILE.png]

It uses a throw-away HUACAYA_HOME, the starter model and greedy decoding, so anyone can
reproduce the pictures: an everyday question, then one with a code answer. The words depend on
the CPU (a 135M model has many near-ties), so a picture shows what the starter model really does
on the machine that made it, not a promise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--question",
        action="append",
        help="ask this (repeatable); default: Alpaca's classic health question, then a code one",
    )
    parser.add_argument("--timeout", type=int, default=120, help="seconds to wait for the model")
    args = parser.parse_args()

    os.environ["HUACAYA_HOME"] = tempfile.mkdtemp(prefix="huacaya-screenshot-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop.core.settings import GenerationSettings
    from desktop.ui.app import create_application
    from desktop.ui.main_window import MainWindow
    from desktop.ui.theme import apply_theme

    questions = args.question or [
        "Give three tips for staying healthy.",
        "Write a Python function that adds two numbers.",
    ]
    out = args.out or ROOT / "docs" / f"screenshot-{args.theme}.png"
    app = create_application()
    apply_theme(app, args.theme)
    window = MainWindow()
    window.resize(1100, 700)
    window.show()

    def wait_for(signal) -> None:  # type: ignore[no-untyped-def]
        loop = QEventLoop()
        signal.connect(lambda *_: loop.quit())
        QTimer.singleShot(args.timeout * 1000, loop.quit)
        loop.exec()

    wait_for(window.model_ready)
    if window.model_info is None:
        print("the model did not load", file=sys.stderr)
        return 1
    for question in questions:
        window.conversation.generation = GenerationSettings(temperature=0.0, max_tokens=200, seed=1)
        window.composer.setPlainText(question)
        window.composer.submit()
        wait_for(window.answer_finished)
    window.chat_view.flush()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"could not write {out}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
