"""``python -m mspt_core.cli`` (and ``torchrun -m mspt_core.cli``) runs the ``mspt`` command."""

import os
import sys

from mspt_core.cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # A torchrun rank (any command started so) leaves without the interpreter's teardown: in
    # two-process gloo pre-training with torch 2.13 a rank sometimes aborted there ("terminate
    # called without an active exception", about 1 run in 20), after its work was saved and the
    # process group destroyed, and torchrun then reported the whole run as failed. Everything is
    # written by now; only the streams need flushing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
