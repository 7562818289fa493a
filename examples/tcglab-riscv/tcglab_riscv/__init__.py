"""tcglab-riscv: an RV32IMA guest frontend for tcglab, shipped as its own distribution.

The entry point ``riscv32`` in group ``tcglab`` (see ``pyproject.toml``) names this
module; tcglab's plugin manager loads it and calls the two hooks below, exactly as it
calls its built-in plugins.  It imports only tcglab's public core modules.

Modules, one job each: ``cpu`` (state layout, CSRs, reset), ``decode`` (the encoding
table and fields), ``translate`` (RV32IMA to IR through the builder), ``helpers``
(traps, CSRs, MRET, AMOs), ``disas`` (text for trace), ``board`` and ``semihosting``
(QEMU's riscv virt subset), ``frontend`` (the Frontend contract), ``workloads`` (the
bundled guest programs).
"""

from __future__ import annotations

from core.hookspecs import hookimpl

from .frontend import RiscvFrontend, RiscvOptions

__version__ = "0.1.0"

#: LR.W/SC.W translate to the llsc plugin's ops; tcglab refuses to load this plugin with
#: llsc disabled, naming both, rather than fail at the first LR.W.
tcglab_requires = ("llsc",)


@hookimpl
def tcglab_register_frontends(registry) -> None:
    registry.add_frontend(RiscvFrontend)


@hookimpl
def tcglab_register_workloads(registry) -> None:
    from .workloads import WORKLOADS

    for workload in WORKLOADS.values():
        registry.add_workload(workload)


__all__ = ["RiscvFrontend", "RiscvOptions"]
