"""What a frontend declares about its guest, and how core loads and boots programs by it.

* ``Frontend.ram_base`` / ``elf_machine`` / ``elf_class``: a frontend declares where its
  RAM is and which ELF files it runs; the machine maps RAM there and the loader checks
  images against the guest's ELF machine (no ARM default in the loader).
* ``Machine.load_elf`` / ``Machine.boot``: load and boot a program on the machine's own
  guest; an ELF of another guest names the frontends that run it.
* ``core.loader.elf_identity``: what guest an ELF file is for.
"""

from __future__ import annotations

import pytest

from core.errors import PluginError
from core.frontend import Frontend
from core.loader import LoaderError, elf_identity, load_elf
from core.registry import Registry
from core.softmmu import SystemMemory
from tests.toyisa import RAM_BASE
from tests.support.hightoy import EM_ARM, EM_RISCV, HIGH_RAM, elf, halt_program, machine


def test_frontend_declares_ram_base():
    m = machine("hightoy")
    assert (m.ram.base, m.ram.size) == (HIGH_RAM, 1 << 20)
    assert machine("toy").ram.base == RAM_BASE  # the toy ISA's own choice


@pytest.mark.parametrize("declared, missing", [({}, "ram_base and elf_machine"),
                                               ({"ram_base": 0x8000_0000}, "elf_machine"),
                                               ({"elf_machine": "EM_RISCV"}, "ram_base")])
def test_a_frontend_that_does_not_say_where_its_ram_is_is_refused(declared, missing):
    # core has no default guest: no ARM board to fall back on
    undeclared = type("Undeclared", (Frontend,), {"name": "undeclared", **declared})
    with pytest.raises(PluginError) as err:
        Registry().add_frontend(undeclared)
    assert "\n" not in str(err.value)
    assert f"frontend 'undeclared' (Undeclared) does not set {missing}" in str(err.value)


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
