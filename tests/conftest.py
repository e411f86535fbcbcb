"""Shared test set-up: pytester for the plugin's own tests, and where the handed corpus lives."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS
