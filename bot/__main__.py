"""`python -m bot` is the `vve` command."""

import sys

from bot.cli import main

sys.exit(main())
