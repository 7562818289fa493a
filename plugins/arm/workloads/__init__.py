"""The bundled guest workloads: real A32 programs for the ``virt`` board.

Each program checks itself and exits 0 when its check passed (see ``README.md`` here for
the programs, their arguments and how they are built).  :data:`WORKLOADS` maps a name to
a :class:`core.compare.Workload`: the installed ELF, the default guest arguments of
``tcglab compare`` (a template: ``{vcpus}`` is the vCPU count), a one-line description,
whether it is in the default grid, and an instruction budget for those arguments.

The default arguments are sized so that the default grid (every workload below that is
in it, every memory policy, 4 vCPUs, 3 seeds, slice-1 random schedule) takes about a
minute with the interpreter on two host cores.  The budgets are about four times the
most a correct strategy needed at 4 vCPUs over the seeds measured, so that a program
spinning forever under a broken strategy (``none`` often loses the start-up barrier's
update and spins) is cut short quickly: such runs dominate the grid's time.
"""

from __future__ import annotations

from pathlib import Path

from core.compare import Workload

#: The directory holding the ELFs, sources and ``expected/`` outputs.
HERE = Path(__file__).resolve().parent


def _workload(name: str, args: str, description: str, max_insns: int, *,
              in_default_grid: bool = True) -> Workload:
    return Workload(name, HERE / f"{name}.elf", args, description, in_default_grid, max_insns)


#: name -> workload, in the order of the comparison table.
WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    _workload("counter", "{vcpus} 200",
              "every vCPU adds 1 to one shared counter with an LDREX/STREX loop; "
              "checks the total", 100_000),
    _workload("spinlock", "{vcpus} 100",
              "LDREX/STREX test-and-set lock around non-atomic updates; checks the sums "
              "and that no pair was seen torn", 250_000),
    _workload("aba", "{vcpus} 200",
              "Treiber stack, each vCPU pops A, pops B, pushes A, pushes B; checks every "
              "node is there once", 400_000),
    _workload("aba_window", "10",
              "vCPU 0 LDREXes A, vCPU 1 stores B then A, vCPU 0 STREXes: the STREX must "
              "fail (needs 2 vCPUs)", 100_000),
    _workload("false_sharing", "{vcpus} 200 16",
              "each vCPU LDREX/STREX-increments its own word, 64 bytes apart on one page; "
              "checks the totals", 300_000),
    _workload("compute", "1",
              "vCPU 0 only: CRC-32, heap sort, matrix product, 64-bit division; prints "
              "checksums (single-CPU: not in the default grid)", 15_000_000,
              in_default_grid=False),
    _workload("hello_newlib", "",
              "newlib printf, snprintf and malloc through rdimon semihosting (no atomics: "
              "not in the default grid)", 4_000_000, in_default_grid=False),
)}

__all__ = ["HERE", "WORKLOADS"]
