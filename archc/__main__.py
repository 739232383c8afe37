"""``python -m archc``: the same as the ``archc`` command."""

import sys

from .cli import main

sys.exit(main())
