"""``huacaya --self-test``: proves an installation (or a frozen bundle) works end to end.

Opens the main window offscreen (reporting how long after the process started it was shown),
waits for it to load the starter model, closes it, then loads the model again to generate a
few tokens, and exits 0 — or prints what failed and exits 1. The window runs against a
throw-away home: the user's own settings, chats and jobs are never read or touched.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import psutil

from conversion.errors import HuacayaError
from desktop.core import paths
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.starter import starter_model_path
from desktop.core.settings import GenerationSettings

WINDOW_TIMEOUT_S = 60


def _say(text: str) -> None:
    print(f"self-test: {text}", flush=True)


def _check_engine() -> None:
    path = starter_model_path()
    _say(f"starter model at {path}")
    engine = ChatEngine(path, context_length=512)
    info = engine.load()
    try:
        settings = GenerationSettings(temperature=0.0, max_tokens=8)
        response = engine.stream([{"role": "user", "content": "Say hello."}], settings)
        text = response.text()
        stats = response.stats
    finally:
        engine.close()
    if stats is None or stats.generated_tokens == 0:
        raise HuacayaError("The starter model generated nothing.")
    _say(f"{info.name}: generated {stats.generated_tokens} tokens ({text.strip()!r})")


def _check_window() -> None:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    # The log stays where logs.setup() opened it (the user's log folder, where bug reports
    # look); settings, chats, models and jobs live in a folder that disappears afterwards.
    os.environ[paths.HOME_ENV] = tempfile.mkdtemp(prefix="huacaya-self-test-")
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop.ui.app import create_application
    from desktop.ui.binding_check import probe_binding
    from desktop.ui.main_window import MainWindow

    binding = probe_binding()  # a binding that would abort the window fails the self-test
    _say(f"Qt binding: {binding.describe()}")
    problem = binding.problem()
    if problem:
        raise HuacayaError(problem)
    app = create_application()
    window = MainWindow()
    window.show()
    app.processEvents()  # the first paint
    shown_after = time.time() - psutil.Process().create_time()
    _say(f"window shown {shown_after:.2f} s after the process started")
    loop = QEventLoop()
    outcome: dict[str, object] = {}

    def settled(key: str, value: object) -> None:
        outcome.setdefault(key, value)
        loop.quit()

    window.model_ready.connect(lambda info: settled("info", info))
    window.engine.load_failed.connect(lambda err: settled("error", err))
    QTimer.singleShot(WINDOW_TIMEOUT_S * 1000, loop.quit)
    started = time.perf_counter()
    loop.exec()
    window.close()
    app.processEvents()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    if "info" not in outcome:
        raise HuacayaError(f"The window did not load a model within {WINDOW_TIMEOUT_S} s.")
    _say(f"main window opened, loaded the model in {time.perf_counter() - started:.2f} s, closed")


def keychain_report() -> str:
    """Which keychain backend this build can use (a frozen app must bundle what it needs)."""
    import keyring
    import keyring.errors

    loaded = []
    problems = []
    if sys.platform.startswith("linux"):
        try:
            import secretstorage  # noqa: F401 - what the backend needs, with cryptography
            from keyring.backends import SecretService

            loaded.append("SecretService")
            try:
                SecretService.Keyring.priority  # noqa: B018 - raises when it cannot run here
            except (RuntimeError, keyring.errors.KeyringError) as exc:
                problems.append(f"no keychain service running here ({exc})")
        except ImportError as exc:
            problems.append(f"SecretService cannot load: {exc}")
    active = type(keyring.get_keyring())
    summary = f"{', '.join(loaded) or 'no OS'} backend loaded; in use: {active.__module__}"
    return f"{summary}{'; ' + '; '.join(problems) if problems else ''}"


def run_self_test() -> int:
    previous_home = os.environ.get(paths.HOME_ENV)
    try:
        _check_window()  # first, so that its start-up time is the app's cold start
        _check_engine()
        _say(f"keychain: {keychain_report()}")
    except HuacayaError as exc:
        print(f"self-test: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        throw_away = os.environ.get(paths.HOME_ENV)
        if previous_home is None:
            os.environ.pop(paths.HOME_ENV, None)
        else:
            os.environ[paths.HOME_ENV] = previous_home
        if throw_away and throw_away != previous_home:
            shutil.rmtree(throw_away, ignore_errors=True)
    _say("passed")
    return 0
