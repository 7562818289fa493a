"""The toy ISA on another board: RAM at 0x80000000, running EM_RISCV ELF files.

A guest that is not ARM (as the RISC-V example is) without depending on the example's
distribution: for tests of what core takes from a frontend's declarations (``ram_base``,
``elf_machine``) rather than assuming ARM.  :func:`elf` writes a minimal ELF32 for any
machine number.
"""

from __future__ import annotations

import struct
from pathlib import Path

from core.config import parse_config
from core.hookspecs import hookimpl
from core.machine import Machine
from core.plugins import PluginManager
from tests import toyisa

EM_ARM, EM_RISCV = 40, 243
HIGH_RAM = 0x8000_0000


class HighToy(toyisa.ToyFrontend):
    """The toy ISA on a board whose RAM is at 0x80000000 and that runs EM_RISCV files."""

    name = "hightoy"
    ram_base = HIGH_RAM
    elf_machine = "EM_RISCV"

    def __init__(self, machine):
        super().__init__(machine)
        self.layout.resets[self.pc_slot] = HIGH_RAM


class HighToyPlugin:
    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(HighToy)


def plugins() -> PluginManager:
    return PluginManager(autoload=False, extra=[("toyisa", toyisa), ("hightoy", HighToyPlugin())])


def machine(frontend: str, **machine_cfg) -> Machine:
    config = parse_config({"machine": {"frontend": frontend, "ram_size": "1M", **machine_cfg},
                           "schedule": {"slice": 1, "max_insns": 10_000}}, "<test>")
    return Machine(config, plugins())


def elf(path: Path, e_machine: int, base: int, code: bytes) -> Path:
    """A minimal little-endian ELF32 with one PT_LOAD of ``code`` at ``base``."""
    ehdr = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01", 2, e_machine, 1, base, 52,
                       0, 0, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<8I", 1, 84, base, base, len(code), len(code), 5, 4)
    path.write_bytes(ehdr + phdr + code)
    return path


def halt_program() -> bytes:
    return toyisa.assemble([*toyisa.li(0, 7), ("HALT",)])
