"""The helpers the tcglab-riscv tests share: machines, snippets, workloads, oracles.

Test modules import them from here (conftest.py keeps only pytest's hooks).
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from core.config import parse_config
from core.machine import Machine
from core.plugins import PluginManager

try:
    from tcglab_riscv.workloads import HERE as WORKLOADS
except ImportError as exc:  # the distribution is not installed in this environment
    WORKLOADS = None
    NOT_INSTALLED = (f"tcglab_riscv is not importable ({exc}); install it with "
                     "pip install ./examples/tcglab-riscv")
else:
    NOT_INSTALLED = ""

RAM = 0x8000_0000
CODE = RAM
DATA = RAM + 0x10000
STACK = RAM + 0x20000

_PM: dict[tuple, PluginManager] = {}


def plugins() -> PluginManager:
    """One plugin manager (autoloaded: the plugin comes through its entry point)."""
    pm = _PM.get(())
    if pm is None:
        pm = _PM[()] = PluginManager()
    return pm


def oracles_required() -> bool:
    """TCGLAB_REQUIRE_ORACLES=1 (CI): a missing oracle fails instead of skipping."""
    return os.environ.get("TCGLAB_REQUIRE_ORACLES") == "1"


def need(module_or_tool: Any, what: str) -> None:
    if module_or_tool is None:
        if oracles_required():
            pytest.fail(f"TCGLAB_REQUIRE_ORACLES=1 but {what} is not installed")
        pytest.skip(f"{what} is not installed")


def rv_machine(vcpus: int = 1, *, policy: str = "exclusive-bitmap", backend: str = "interp",
               max_insns: int = 100_000, slice_: int = 1, schedule: dict | None = None,
               options: dict | None = None, ram_size: str = "1M") -> Machine:
    data = {"machine": {"frontend": "riscv32", "vcpus": vcpus, "memory_policy": policy,
                        "backend": backend, "ram_size": ram_size},
            "schedule": {"slice": slice_, "max_insns": max_insns, **(schedule or {})},
            "plugins": options or {}}
    m = Machine(parse_config(data, "<test>"), plugins())
    m.platform.stdout = m.platform.stderr = io.BytesIO()
    return m


def run_snippet(code: bytes, regs: dict[int, int] | None = None, *, vcpus: int = 1,
                data: dict[int, int] | None = None, **kw) -> Machine:
    """Run ``code`` at CODE on hart 0 (others off) until it halts (wfi) or the budget."""
    m = rv_machine(vcpus, **kw)
    m.memory.write_bytes(CODE, code)
    cpu = m.cpus[0]
    m.frontend.set_reg(cpu, 32, CODE)
    m.frontend.set_reg(cpu, 2, STACK)
    for n, v in (regs or {}).items():
        m.frontend.set_reg(cpu, n, v)
    for addr, v in (data or {}).items():
        m.memory.write_bytes(addr, (v & 0xFFFF_FFFF).to_bytes(4, "little"))
    m.run()
    return m


def reg(m: Machine, n: int, cpu: int = 0) -> int:
    return m.frontend.get_reg(m.cpus[cpu], n)


def read32(m: Machine, addr: int) -> int:
    return int.from_bytes(m.memory.read_bytes(addr, 4), "little")


def run_workload(program: str, args: list[str], vcpus: int, *, policy: str = "exclusive-bitmap",
                 backend: str = "interp", seed: int = 0, slice_: int = 8,
                 max_insns: int = 5_000_000, argv0: str | None = None) -> tuple[str, Any]:
    """Run a bundled ELF as ``tcglab run`` does; returns (guest output, RunResult)."""
    m = rv_machine(vcpus, policy=policy, backend=backend, max_insns=max_insns,
                   slice_=slice_, schedule={"policy": "random", "seed": seed, "jitter": True},
                   ram_size="128M")
    out = m.platform.stdout
    elf = WORKLOADS / f"{program}.elf"
    m.boot(elf, [argv0 or str(elf), *args])
    result = m.run()
    return out.getvalue().decode(), result
