"""Machines running the test-only toy ISA (tests/toyisa.py), built from a config dict."""

from __future__ import annotations

from typing import Any

from core.config import parse_config
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from tests import toyisa

DATA = RAM_BASE + 0x10000  # a data page well away from the code


def make_plugins(disable=()) -> PluginManager:
    return PluginManager(disable, autoload=False, extra=[("toyisa", toyisa)])


def toy_machine(program: list[tuple] | bytes, *, vcpus: int = 1, schedule: dict | None = None,
                policy: str = "exclusive-bitmap", options: dict | None = None,
                backend: str = "interp", **machine: Any) -> Machine:
    """A machine with ``program`` (toy assembly or bytes) loaded at the reset pc."""
    data = {"machine": {"frontend": "toy", "backend": backend, "memory_policy": policy,
                        "vcpus": vcpus, "ram_size": "1M", **machine},
            "schedule": {"slice": 1, **(schedule or {})},
            "plugins": {policy: options} if options else {}}
    config = parse_config(data, "<test>")
    m = Machine(config, make_plugins())
    code = program if isinstance(program, bytes) else toyisa.assemble(program)
    m.memory.write_bytes(RAM_BASE, code)
    return m


def read32(m: Machine, addr: int) -> int:
    return int.from_bytes(m.memory.read_bytes(addr, 4), "little")


def write32(m: Machine, addr: int, value: int) -> None:
    m.memory.write_bytes(addr, value.to_bytes(4, "little"))
