"""``python -m conversion.train`` (what ``torchrun -m`` and ``accelerate launch -m`` run)."""

from __future__ import annotations

import sys

from conversion.train.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
