"""The static checker: libcst analysis of job modules (``check_source``, ``check_file``)."""

from __future__ import annotations

from .engine import check_file, check_source

__all__ = ["check_file", "check_source"]
