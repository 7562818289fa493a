"""The whole-program cases of ``tcglab_riscv/workloads/cases.txt`` and their expected
outputs, and the tcglab side of running one (exclusive-bitmap, interp)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from rvsupport import WORKLOADS, run_workload


class Case(NamedTuple):
    id: str
    smp: int
    qemu: str  # same / differs / either
    program: str
    args: list[str]

    @property
    def elf(self) -> Path:
        return WORKLOADS / f"{self.program}.elf"

    def expected(self) -> str:
        return (WORKLOADS / "expected" / f"{self.id}.txt").read_text()


def cases() -> list[Case]:
    out = []
    for line in (WORKLOADS / "cases.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cid, smp, qemu, program, *args = line.split()
        out.append(Case(cid, int(smp), qemu, program, args))
    return out


def deterministic(text: str) -> str:
    """The output without its '#' lines (per-hart statistics vary from run to run)."""
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


def run_tcglab(case: Case, **kw) -> str:
    out, result = run_workload(case.program, case.args, case.smp, argv0=str(case.elf), **kw)
    assert result.reason == "exit", (result.reason, result.message)
    return deterministic(out) + f"exit={result.exit_status}\n"
