"""Core changes for guests other than ARM (issue 7), each general: any guest benefits.

* ``Frontend.ram_base`` / ``elf_machine`` / ``elf_class``: a frontend declares where its
  RAM is and which ELF files it runs; the machine maps RAM there and the loader checks
  images against the guest's ELF machine (no ARM default in the loader any more).
* ``Machine.load_elf`` / ``Machine.boot``: load and boot a program on the machine's own
  guest; an ELF of another guest names the frontends that run it.
* ``core.loader.elf_identity``: what guest an ELF file is for.
* docs/writing-a-frontend.md documents every hook spec (checked here).
* ``core.compare``: a workload may name its frontend; the grid runs it on that frontend
  whatever the config's, so one grid can hold several guests' programs
  (``check_workloads`` reports a missing frontend or a mismatched ELF before any run).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from core import compare as cmp
from core.config import parse_config
from core.errors import PluginError, TcglabError
from core.hookspecs import hookimpl
from core.loader import LoaderError, elf_identity, load_elf
from core.machine import RAM_BASE, Machine
from core.plugins import PluginManager
from core.softmmu import SystemMemory
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


def test_frontend_declares_ram_base():
    m = machine("hightoy")
    assert (m.ram.base, m.ram.size) == (HIGH_RAM, 1 << 20)
    assert machine("toy").ram.base == RAM_BASE  # the default: QEMU arm virt


def test_loader_checks_the_guests_elf_machine(tmp_path):
    m = machine("hightoy")
    assert (m.memory.elf_machine, m.memory.elf_class) == ("EM_RISCV", 32)
    good = elf(tmp_path / "rv.elf", EM_RISCV, HIGH_RAM, halt_program())
    image = load_elf(good, m.memory)  # the memory names its guest's ELF machine
    assert image.entry == HIGH_RAM and m.memory.read_bytes(HIGH_RAM, 4) == halt_program()[:4]
    bad = elf(tmp_path / "arm.elf", EM_ARM, HIGH_RAM, halt_program())
    with pytest.raises(LoaderError, match="ELF for EM_ARM, expected EM_RISCV"):
        load_elf(bad, m.memory)
    with pytest.raises(TypeError):
        load_elf(good, SystemMemory())  # a bare memory names no guest: say which


def test_elf_identity(tmp_path):
    assert elf_identity(elf(tmp_path / "a.elf", EM_RISCV, HIGH_RAM, b"1234")) == ("EM_RISCV", 32)
    (tmp_path / "x").write_bytes(b"not an elf")
    assert elf_identity(tmp_path / "x") is None and elf_identity(tmp_path / "nope") is None


def test_machine_boot_and_the_hint_for_another_guests_elf(tmp_path):
    m = machine("hightoy")
    image = m.boot(elf(tmp_path / "rv.elf", EM_RISCV, HIGH_RAM, halt_program()), ["rv"])
    assert image.entry == HIGH_RAM
    result = m.run()
    assert m.cpus[0].env[0] == 7, result
    arm = elf(tmp_path / "arm.elf", EM_ARM, RAM_BASE, halt_program())
    with pytest.raises(LoaderError) as info:
        machine("hightoy").load_elf(arm)
    text = str(info.value)
    assert "expected EM_RISCV" in text and "'toy'" in text and "\n" not in text
    other = elf(tmp_path / "x86.elf", 62, RAM_BASE, halt_program())
    with pytest.raises(LoaderError, match="no registered frontend runs it"):
        machine("toy").load_elf(other)


def test_compare_runs_each_workload_on_its_frontend(tmp_path):
    rv = elf(tmp_path / "rv.elf", EM_RISCV, HIGH_RAM, halt_program())
    arm = elf(tmp_path / "arm.elf", EM_ARM, RAM_BASE, halt_program())
    catalog = {"hi": cmp.Workload("hi", rv, frontend="hightoy"), "lo": cmp.Workload("lo", arm)}
    grid = cmp.resolve_workloads(["hi", "lo"], 1, catalog=catalog, max_insns=1000)
    assert [w.frontend for w in grid] == ["hightoy", ""]
    specs = cmp.grid_specs(grid, ["exclusive-bitmap"], [0], {"machine": {"frontend": "toy"}})
    assert [s.config["machine"]["frontend"] for s in specs] == ["hightoy", "toy"]
    config = parse_config({"machine": {"frontend": "toy", "ram_size": "1M"}}, "<test>")
    cmp.check_workloads(grid, ["exclusive-bitmap", "cmpxchg"], config, plugins())
    swapped = [cmp.GridWorkload("x", str(arm), (), "x", 1000, "hightoy")]
    with pytest.raises(LoaderError, match="'toy'"):
        cmp.check_workloads(swapped, ["exclusive-bitmap"], config, plugins())
    missing = [cmp.GridWorkload("x", str(rv), (), "x", 1000, "riscv-not-installed")]
    with pytest.raises(PluginError, match="unknown frontend"):
        cmp.check_workloads(missing, ["exclusive-bitmap"], config, plugins())
    assert issubclass(PluginError, TcglabError)


def test_every_hook_is_in_the_frontend_guide():
    import inspect

    from core import hookspecs

    guide = (Path(__file__).resolve().parents[1] / "docs" / "writing-a-frontend.md").read_text()
    specs = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("tcglab_")]
    assert len(specs) >= 8
    missing = [name for name in specs if f"`{name}(" not in guide]
    assert not missing, f"hooks missing from docs/writing-a-frontend.md: {missing}"
