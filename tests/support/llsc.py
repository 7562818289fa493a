"""The LL/SC toy-ISA programs, the policies under test and what each must do.

The programs (the LL/SC increment loop, the LL ... SC handshake in which CPU 1 stores
between CPU 0's LL and SC) were written for the exclusive-bitmap tests
(tests/test_exclusive_bitmap.py) and run under every policy in tests/strategies/.
"""

from __future__ import annotations

from core.machine import Machine
from core.softmmu import PAGE_SIZE
from tests.support.toy import DATA, toy_machine, write32
from tests.toyisa import li

X = DATA  # the word LL/SC works on
FLAGS = DATA + 4 * PAGE_SIZE  # handshake flags, on their own page
OTHER_PAGE = DATA + 8 * PAGE_SIZE
ITERS = 60


def increment_loop(iters: int = ITERS) -> list:
    return li(1, X) + [
        ("MOVI", 3, 0, iters),
        "loop",
        ("LL", 2, 1, 0),
        ("ADDI", 2, 2, 1),
        ("SC", 4, 2, 1),
        ("BNZ", 4, "loop"),
        ("ADDI", 3, 3, -1),
        ("BNZ", 3, "loop"),
        ("HALT",),
    ]


def handshake_program() -> list:
    """CPU 0: LL x; flag0 = 1; wait flag1; SC x+1; EXIT with the SC status.
    CPU 1: wait flag0; the stores in r9 (address) / r11 (mode); flag1 = 1; HALT.
    r11 = 1: store B then A (ABA); r11 = 0: store B only."""
    return li(1, X) + li(5, FLAGS) + [
        ("CPUID", 0),
        ("BNZ", 0, "cpu1"),
        ("LL", 2, 1, 0),
        ("MOVI", 6, 0, 1),
        ("STW", 6, 5, 0),
        "w0",
        ("LDW", 7, 5, 4),
        ("BZ", 7, "w0"),
        ("ADDI", 2, 2, 1),
        ("SC", 4, 2, 1),
        ("EXIT", 0, 4),
        "cpu1",
        "w1",
        ("LDW", 7, 5, 0),
        ("BZ", 7, "w1"),
        ("LDW", 10, 9, 0),  # A
        ("MOVI", 8, 0, 0xBBBB),
        ("STW", 8, 9, 0),  # B
        ("BZ", 11, "flag"),
        ("STW", 10, 9, 0),  # back to A
        "flag",
        ("MOVI", 6, 0, 1),
        ("STW", 6, 5, 4),
        ("HALT",),
    ]


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
