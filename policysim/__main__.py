"""``python -m policysim``: the same front door as the ``policysim`` console script."""

import sys

from policysim.cli import main

sys.exit(main())
