"""`python -m kerasx` runs the `kerasx` command."""

import sys

from kerasx.cli import main

sys.exit(main())
