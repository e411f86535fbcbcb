"""netraven-contracts: the NetRaven job-result contract, its rule catalogue and the checks built on them.

Importing this package does nothing but define names: the heavy parts (libcst, typeguard) load on
first use, so ``netraven-contracts check`` on one file starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
