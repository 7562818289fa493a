"""Shared helpers of the A32 frontend tests: assemble with keystone, run, inspect.

Snippets are placed at :data:`CODE` and run on a one-vCPU machine (interp backend,
exclusive-bitmap policy) until the guest's ``wfi`` halts it or an instruction budget
runs out.  Data lives on its own page (:data:`DATA`), as the workloads' linker script
keeps code and data apart.
"""

from __future__ import annotations

import struct
from typing import Any

from core.config import parse_config
from core.cpu import CPURunState
from core.errors import GuestError
from core.machine import Machine
from plugins.arm.platform import VIRT_RAM_BASE as RAM_BASE
from core.plugins import PluginManager
from tests.support.oracles import oracle_module

keystone = oracle_module("keystone", "pip install '.[test]'")

CODE = RAM_BASE
DATA = RAM_BASE + 0x10000
STACK = RAM_BASE + 0x20000

_KS = keystone.Ks(keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM)

N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28


def assemble(src: str, addr: int = CODE) -> bytes:
    """Assemble A32 source (``;`` or newlines between instructions).

    Write deprecated forms (CP15 barriers, STM with pc) as ``words=`` instead: keystone
    prints a deprecation warning for them and sometimes crashes the process doing so.
    """
    if not src.strip():
        return b""
    encoding, _count = _KS.asm(src, addr)
    return bytes(encoding)


def make_machine(vcpus: int = 1, *, max_insns: int = 10_000, slice_: int = 1,
                 policy: str = "exclusive-bitmap", **machine: Any) -> Machine:
    config = parse_config({"machine": {"frontend": "arm", "vcpus": vcpus, "ram_size": "1M",
                                       "memory_policy": policy, **machine},
                           "schedule": {"slice": slice_, "max_insns": max_insns}}, "<test>")
    return Machine(config, PluginManager(autoload=False))


def load(m: Machine, code: bytes | str, addr: int = CODE) -> None:
    if isinstance(code, str):
        code = assemble(code, addr)
    m.memory.write_bytes(addr, code)
    m.frontend.set_reg(m.cpus[0], 15, addr)


def run(src: str | bytes, regs: dict[int, int] | None = None, *, cpsr: int | None = None,
        data: dict[int, int] | None = None, max_insns: int = 10_000,
        words: list[int] | None = None, m: Machine | None = None) -> Machine:
    """Run ``src`` (ended by ``wfi`` unless it halts otherwise) on a fresh machine."""
    m = m or make_machine(max_insns=max_insns)
    code = src if isinstance(src, bytes) else assemble(src)
    if words:
        code += b"".join(struct.pack("<I", w) for w in words)
    load(m, code)
    cpu = m.cpus[0]
    fe = m.frontend
    fe.set_reg(cpu, 13, STACK)
    for n, value in (regs or {}).items():
        fe.set_reg(cpu, n, value)
    if cpsr is not None:
        fe.cpsr_write(cpu, cpsr)
    for addr, value in (data or {}).items():
        write32(m, addr, value)
    m.run()
    return m


def guest_error_line(src: str | bytes = b"", words: list[int] | None = None,
                     regs: dict[int, int] | None = None) -> str:
    """The one-line :class:`GuestError` that running ``src`` (then ``words``) raises."""
    try:
        run(src, regs, words=words)
    except GuestError as err:
        text = str(err)
        assert "\n" not in text, text
        return text
    raise AssertionError("the guest ran without a GuestError")


def reg(m: Machine, n: int, cpu: int = 0) -> int:
    return m.frontend.get_reg(m.cpus[cpu], n)


def flags(m: Machine, cpu: int = 0) -> int:
    return m.frontend.cpsr_read(m.cpus[cpu]) & 0xF000_0000


def halted(m: Machine, cpu: int = 0) -> bool:
    return m.cpus[cpu].run_state is CPURunState.HALTED


def read32(m: Machine, addr: int) -> int:
    return int.from_bytes(m.memory.read_bytes(addr, 4), "little")


def write32(m: Machine, addr: int, value: int) -> None:
    m.memory.write_bytes(addr, (value & 0xFFFF_FFFF).to_bytes(4, "little"))
