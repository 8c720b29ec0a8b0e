from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sweeps"


@pytest.fixture
def tiny_ref() -> str:
    return f"{FIXTURES / 'tiny.py'}:build"
