"""The committed workload ELFs are what their committed sources build to.

Rebuilds every program with arm-none-eabi-gcc in a scratch copy of the folder and
compares bytes (the build is reproducible: no build ids, no debug info, fixed paths).
Skips without the toolchain, unless TCGLAB_REQUIRE_ORACLES=1.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.arm_workloads import WORKLOADS
from tests.support.oracles import oracles_required


def test_committed_elfs_are_current(tmp_path):
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("make") is None:
        if oracles_required():
            pytest.fail("TCGLAB_REQUIRE_ORACLES=1 but arm-none-eabi-gcc or make is missing")
        pytest.skip("arm-none-eabi-gcc is not installed")
    work = tmp_path / "workloads"
    shutil.copytree(WORKLOADS, work)
    elfs = sorted(p.name for p in WORKLOADS.glob("*.elf"))
    assert len(elfs) >= 7
    for name in elfs:
        (work / name).unlink()
    proc = subprocess.run(["make", "-C", str(work), "all"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stale = [n for n in elfs if (work / n).read_bytes() != (WORKLOADS / n).read_bytes()]
    assert not stale, f"committed ELFs differ from a rebuild: {stale} (run make in {WORKLOADS})"
