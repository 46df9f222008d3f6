"""`python -m seedformer <command> ...`: the same commands as the `seedformer` console script (seedformer/cli)."""

import sys

from .cli import main

sys.exit(main())
