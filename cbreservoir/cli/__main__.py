"""``python -m cbreservoir.cli``: the ``cbreservoir`` command."""

import sys

from cbreservoir.cli import main

sys.exit(main())
