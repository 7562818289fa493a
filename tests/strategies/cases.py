"""The policies under test, what each must do, and the toy-ISA runs the tests share.

The programs (the LL/SC increment loop, the LL ... SC handshake in which CPU 1 stores
between CPU 0's LL and SC) are the exclusive-bitmap tests' own, run here under every
policy.
"""

from __future__ import annotations

from core.machine import Machine
from tests.conftest import read32, toy_machine, write32
from tests.test_exclusive_bitmap import FLAGS, OTHER_PAGE, X, handshake_program, increment_loop

__all__ = ["ABA_PRONE", "ABA_SAFE", "CORRECT", "FLAGS", "OTHER_PAGE", "X", "Variant",
           "handshake", "increment_loop", "read32", "run_increment", "write32"]

Variant = tuple[str, dict]  # (policy name, its [plugins.<name>] table)


def variant_id(v: Variant) -> str:
    name, options = v
    return name + "".join(f"-{k}={val}" for k, val in options.items())


# Policies that keep an LL/SC increment exact (cmpxchg included: an increment has no ABA).
CORRECT: list[Variant] = [
    ("cmpxchg", {}),
    ("stop-the-world", {}),
    ("stop-the-world", {"check": "value"}),
    ("store-test", {}),
    ("store-test", {"table_size": 1, "granule": 4096}),  # every address aliases
    ("arm-monitor", {}),
    ("arm-monitor", {"granule": 8}),
    ("arm-monitor", {"granule": 2048, "same_pe_store_clears": True}),
    ("exclusive-bitmap", {}),
]
# A store of B then A by another vCPU between LL and SC must fail the SC ...
ABA_SAFE: list[Variant] = [
    ("stop-the-world", {"check": "reservation"}),
    ("store-test", {}),
    ("arm-monitor", {}),
    ("arm-monitor", {"granule": 8}),
    ("exclusive-bitmap", {}),
]
# ... and these let it succeed (value compare, or no check at all).
ABA_PRONE: list[Variant] = [
    ("cmpxchg", {}),
    ("stop-the-world", {"check": "value"}),
    ("none", {}),
]


def machine(program: list, variant: Variant, **kwargs) -> Machine:
    name, options = variant
    return toy_machine(program, policy=name, options=options or None, **kwargs)


def run_increment(variant: Variant, vcpus: int, schedule: dict, iters: int) -> Machine:
    m = machine(increment_loop(iters), variant, vcpus=vcpus, schedule=schedule)
    result = m.run()
    assert result.reason == "deadlock"  # every vCPU ends in HALT
    return m


def handshake(variant: Variant, target: int, aba: bool, vcpus: int = 2) -> tuple[int, Machine]:
    """CPU 0: LL x ... SC x+1 (exit status = the SC's); CPU 1 stores to ``target`` in
    between (B, then A again when ``aba``); further vCPUs store to another page."""
    m = machine(handshake_program(), variant, vcpus=vcpus, schedule={"slice": 1})
    write32(m, X, 0xAAAA)
    for cpu in m.cpus[1:]:
        cpu.env[9] = target if cpu.index == 1 else OTHER_PAGE + 4 * cpu.index
        cpu.env[11] = int(aba)
    result = m.run()
    assert result.reason == "exit"
    return result.exit_status, m
