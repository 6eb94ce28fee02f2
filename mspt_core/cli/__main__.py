"""``python -m mspt_core.cli`` (and ``torchrun -m mspt_core.cli``) runs the ``mspt`` command."""

import sys

from mspt_core.cli import main

sys.exit(main())
