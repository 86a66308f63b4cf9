"""The child process of a studio training run (``training.launch`` starts it):

    python -m desktop.core.studio.train_child PARENT_PID HUACAYA-TRAIN-ARGUMENTS…

It ends with the app (``die_with_parent``), stops at the end of a step with a checkpoint when
``.stop`` appears in its run folder, and leaves its outcome there (``training.write_outcome``):
paused when stopped, failed with the error's message and hint. A finished run says so in its
manifest; a killed one says nothing, which is what makes it *interrupted*.
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path

from conversion.errors import Cancelled, HuacayaError
from conversion.ownership import die_with_parent
from conversion.progress import CancelToken
from conversion.train import cli
from desktop.core import paths
from desktop.core import settings as settings_store
from desktop.core.models.library import library_for, resolve_model
from desktop.core.studio.runs import FAILED, PAUSED, STOP_FILE
from desktop.core.studio.training import write_outcome

STOP_POLL_S = 0.5


def _installed(name: str) -> Path:
    """An installed model's GGUF file (as ``huacaya-train`` in ``desktop/cli/train.py``)."""
    return resolve_model(name, library_for(settings_store.load().models_folder))


def _watch_for_stop(folder: Path, cancel: CancelToken, done: threading.Event) -> None:
    while not done.wait(STOP_POLL_S):
        if (folder / STOP_FILE).exists():
            cancel.cancel()
            return


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[0]))
    args = cli.build_parser().parse_args(argv[1:])
    folder = Path(args.out)
    cancel, done = CancelToken(), threading.Event()
    threading.Thread(target=_watch_for_stop, args=(folder, cancel, done), daemon=True).start()
    try:
        return cli.run(
            cli.config_from(args),
            cancel,
            _installed,
            paths.base_checkpoints_dir(),
        )
    except Cancelled as exc:
        write_outcome(folder, PAUSED, exc.message)
        print(f"huacaya-train: {exc}", file=sys.stderr)
        return 130
    except HuacayaError as exc:
        write_outcome(folder, FAILED, exc.message, exc.hint)
        print(f"huacaya-train: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else still leaves its message for the window
        write_outcome(folder, FAILED, f"{type(exc).__name__}: {exc}", "See the run's log.")
        traceback.print_exc()
        return 1
    finally:
        done.set()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
