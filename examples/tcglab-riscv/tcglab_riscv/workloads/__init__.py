"""The bundled RV32IMA guest workloads (freestanding programs for the riscv ``virt`` board).

Each program checks itself and exits 0 when its check passed (see the plugin's ``README.md``).
:data:`WORKLOADS` maps a name to a :class:`core.compare.Workload` naming the ``riscv32``
frontend, so ``tcglab compare rv-counter ...`` runs them on this guest whatever the
config's frontend.  Names carry the ``rv-`` prefix (short: ``tcglab compare --list`` fits them in 80 columns): workload names are unique across
plugins, and the ARM plugin has a ``counter`` too.  None is in the default grid (the
ARM programs are), so installing this plugin does not lengthen a plain ``tcglab
compare``; name them.
"""

from __future__ import annotations

from pathlib import Path

from core.compare import Workload

#: The directory holding the ELFs, sources and ``expected/`` outputs.
HERE = Path(__file__).resolve().parent
FRONTEND = "riscv32"


def _workload(name: str, program: str, args: str, description: str,
              max_insns: int) -> Workload:
    return Workload(f"rv-{name}", HERE / f"{program}.elf", args, description,
                    in_default_grid=False, max_insns=max_insns, frontend=FRONTEND)


#: name -> workload, in the order of the comparison table.
WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    _workload("counter", "counter", "{vcpus} 200",
              "every hart adds 1 to one shared counter with an LR.W/SC.W loop; checks "
              "the total", 150_000),
    _workload("amo", "counter", "{vcpus} 200 1",
              "every hart adds 1 to one shared counter with AMOADD.W; checks the total "
              "(atomic under every policy)", 150_000),
    _workload("aba", "aba", "{vcpus} 200",
              "Treiber stack with LR.W/SC.W, each hart pops A, pops B, pushes A, pushes B; "
              "checks every node is there once", 500_000),
    _workload("aba_window", "aba_window", "2 10",
              "hart 0 LR.Ws A, hart 1 stores B then A, hart 0 SC.Ws: the SC must fail "
              "(needs 2 harts)", 150_000),
    _workload("compute", "compute", "1",
              "hart 0 only: CRC-32, heap sort, matrix product, 64-bit division, the M "
              "extension's corner cases; prints checksums", 15_000_000),
)}

__all__ = ["FRONTEND", "HERE", "WORKLOADS"]
