"""Shared pieces of the benchmark scripts: the shared data splits and a machine description."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = Path(os.environ.get("MSPT_SHARED", REPO.parent / "shared")) / "data"
FONDUE = DATA / "fondue-en-print-20"
CREMMA = DATA / "cremma-mss-19-handwritten-fr"

from mspt_core.data.splits import split_xmls  # noqa: E402, F401  (the scripts import it from here)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import torch

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"
