"""``python -m core.cli``: the ``tcglab`` command."""

import sys

from . import main

sys.exit(main())
