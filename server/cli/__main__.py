"""``python -m server.cli``: the same program as the ``np`` console script."""

import sys

from server.cli import main

sys.exit(main())
