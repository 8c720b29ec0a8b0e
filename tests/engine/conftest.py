"""Fixtures of the engine tests: paths of the model files written outside the package."""
from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def ref(name: str, attr: str) -> str:
    return f"{FIXTURES / name}:{attr}"


@pytest.fixture
def fixture_ref():
    return ref
