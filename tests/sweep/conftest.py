from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sweeps"


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance (2 CPUs) for every sweep test of the session: Ray start-up
    (5-20 s here) is paid once. A sweep reuses a session the caller started and leaves it up."""
    ray = pytest.importorskip("ray")
    import logging
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture
def tiny_ref() -> str:
    return f"{FIXTURES / 'tiny.py'}:build"


def finished_sweep(out: Path, data: dict) -> Path:
    """A finished sweep folder made without Ray (store + worker functions directly)."""
    from collections import Counter

    from archlens.sweep.spec import load_spec
    from archlens.sweep.store import Store
    from archlens.sweep.variants import expand
    from archlens.sweep.worker import analyse_batch
    spec = load_spec(data)
    store = Store(out, spec, resume=False, run="0123456789ab")
    store.open()
    rows = analyse_batch(spec, list(expand(spec)))
    store.write_part(rows)
    store.finalize({"name": spec.name, "variants": len(rows), "builder": spec.builder,
                    "counts": dict(Counter(r["status"] for r in rows)), "references": []})
    return out
