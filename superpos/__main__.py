"""`python -m superpos ...`: see superpos/cli.py."""

import sys

from superpos.cli import main

sys.exit(main())
