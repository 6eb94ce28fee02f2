import sys

from mspt_core.cli import main

sys.exit(main())
