"""``python -m netraven_contracts``: the same as the ``netraven-contracts`` command."""

import sys

from .cli import main

sys.exit(main())
