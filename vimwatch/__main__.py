"""`python -m vimwatch` is the `vimwatch` command."""

import sys

from vimwatch.cli.app import main

sys.exit(main())
