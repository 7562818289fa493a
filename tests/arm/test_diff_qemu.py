"""Whole-program differential tests against qemu-system-arm (the SMP oracle).

Every case of ``plugins/arm/workloads/cases.txt`` runs under
``qemu-system-arm -M virt -cpu cortex-a15 -smp N -nographic -nic none -semihosting
-kernel prog.elf`` and under tcglab (exclusive-bitmap, interp).  Where QEMU's output is
deterministic and architecturally right (``same``), tcglab must print exactly what QEMU
prints and exit with the same status.  Where QEMU knowingly differs (its STREX is a
compare-and-swap: ``aba_window`` on 2+ CPUs always, ``aba`` sometimes), QEMU must show
its recorded deviation and tcglab the architectural result.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.arm_workloads import WORKLOADS, cases, deterministic, run_tcglab
from tests.support.oracles import oracles_required

QEMU = shutil.which("qemu-system-arm")
if QEMU is None:
    if oracles_required():
        raise RuntimeError("TCGLAB_REQUIRE_ORACLES=1 but qemu-system-arm is not installed")
    pytest.skip("qemu-system-arm is not installed", allow_module_level=True)

pytestmark = pytest.mark.oracle

def run_qemu(smp: int, elf, args) -> str:
    cmd = [QEMU, "-M", "virt", "-cpu", "cortex-a15", "-smp", str(smp), "-nographic",
           "-nic", "none", "-semihosting", "-kernel", str(elf)]
    if args:
        cmd += ["-append", " ".join(args)]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    return deterministic(proc.stdout.decode(errors="replace")) + f"exit={proc.returncode}\n"


def matches_regexes(pattern_file, text: str) -> bool:
    patterns = pattern_file.read_text().splitlines()
    lines = text.splitlines()
    return len(patterns) == len(lines) and all(
        re.fullmatch(p, line) for p, line in zip(patterns, lines))


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.id)
def test_same_output_and_exit_status_as_qemu(case):
    qemu_out = run_qemu(case.smp, case.elf, case.args)
    ours, _status, _result = run_tcglab(case.elf, case.args, case.smp)
    assert ours == case.expected()  # tcglab: the architectural result, always
    if case.qemu == "same":
        assert ours == qemu_out
    elif case.qemu == "differs":
        assert matches_regexes(WORKLOADS / "expected" / "qemu" / f"{case.id}.txt", qemu_out)
    else:  # either: QEMU's mttcg sometimes corrupts the Treiber stack, sometimes not
        assert qemu_out == ours or matches_regexes(
            WORKLOADS / "expected" / "qemu" / f"{case.id}.txt", qemu_out)
