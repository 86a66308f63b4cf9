"""The frozen app's entry point (PyInstaller needs a script, not a module path)."""

import multiprocessing
import sys

from desktop.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the quantizer runs in a spawned process
    sys.exit(main())
