"""Fixtures of the hardening battery: a tiny full disk (tmpfs, when root)."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs mounted under tmp_path (skips cleanly when not root / not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def leftovers(folder) -> list[str]:
    """Temp names archlens might leave (none may survive a run)."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(".archlens-tmp") or ".tmp-" in p.name
                  or ".old-" in p.name)
