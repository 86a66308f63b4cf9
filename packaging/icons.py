"""Every platform's icon from the one source image, resources/huacaya.svg.

    python packaging/icons.py [OUT_DIR]      (default: build/icons)

Writes PNGs (16…1024 px, the Linux hicolor sizes), huacaya.ico (Windows) and huacaya.icns
(macOS). The SVG is rendered by Qt; Pillow packs the ICO and ICNS containers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources" / "huacaya.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)


def render_pngs(out_dir: Path) -> dict[int, Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SOURCE}")
    written = {}
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"huacaya-{size}.png"
        image.save(str(path))
        written[size] = path
    return written


def make_icons(out_dir: Path) -> Path:
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = render_pngs(out_dir)
    largest = Image.open(pngs[1024])
    largest.save(out_dir / "huacaya.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    largest.save(out_dir / "huacaya.icns")
    (out_dir / "huacaya.png").write_bytes(pngs[256].read_bytes())
    return out_dir


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "icons"
    print(f"icons in {make_icons(target)}")
