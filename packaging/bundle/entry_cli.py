"""The bundle's `mspt` command (PyInstaller entry point)."""

import sys

from mspt_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
