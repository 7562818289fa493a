"""Knowing the TB flags are unchanged without calling ``tb_flags`` at every chained jump.

The dispatcher chains TB A to TB B only if ``B.flags == frontend.tb_flags(cpu)``.  Calling
``tb_flags`` at every jump inside a compiled loop costs more than the jump, and, since
globals live in locals, would need them written back first in case ``tb_flags`` reads
them.  Instead the generated code relies on a *snapshot* per vCPU: the value
``tb_flags`` returned and the values of the ``env`` slots it read to compute it.

``tb_flags`` is asked through :func:`probe`, with a stand-in vCPU whose only attribute is
an ``env`` that records which slots are read.  A deterministic function of ``cpu.env``
that read only the slots S on that call returns the same value again whenever ``env[S]``
holds the same values (it reads the same values, so it takes the same path).  So a jump
compares the watched slots with the snapshot (a few int compares) and probes again only
when they differ; and between two jumps with no Python run outside the generated code
(no helper, no op semantics, no slow path: the local ``w``) and no store of the TB to a
watched slot, not even the compares are needed.  The watched slots are learnt at start
and must not be globals (those live in locals).  A frontend whose ``tb_flags`` reads
anything else of the vCPU, or a global, gets the exact fallback: globals written back
and ``tb_flags`` called at every jump.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

from core.frontend import Frontend


class FlagsMode(enum.Enum):
    """How generated code knows the TB flags before a chained jump (see the module
    docstring); chosen once per machine by :class:`FlagsGuard`."""

    FIXED = "fixed"
    """The frontend keeps the base class's ``tb_flags`` (always 0): nothing to check."""
    WITNESS = "witness"
    """``tb_flags`` reads only non-global ``env`` slots: compare those slots with the
    vCPU's snapshot, and probe ``tb_flags`` again only when they differ."""
    CALL = "call"
    """The exact fallback (``tb_flags`` reads a global or more than ``env``): globals
    written back and ``tb_flags`` called at every jump."""


class _Refused(Exception):
    """``tb_flags`` indexed ``env`` with something other than a slot number."""


class _EnvReader:
    """``env`` as ``tb_flags`` sees it during a probe: reads are recorded."""

    __slots__ = ("env", "read")

    def __init__(self, env: list[int]):
        self.env = env
        self.read: list[int] = []

    def __getitem__(self, slot: Any) -> int:
        if type(slot) is not int:
            raise _Refused
        self.read.append(slot)
        return self.env[slot]


class _StandIn:
    """A vCPU with nothing but ``env``: any other attribute ``tb_flags`` touches fails."""

    __slots__ = ("env",)

    def __init__(self, env: _EnvReader):
        self.env = env


def probe(tb_flags: Callable[[Any], int], cpu: Any) -> tuple[int, frozenset[int]] | None:
    """``(tb_flags(cpu), slots read)``, or None if ``tb_flags`` needs more than ``env``."""
    reader = _EnvReader(cpu.env)
    try:
        value = tb_flags(_StandIn(reader))
    except Exception:
        return None
    return value, frozenset(reader.read)


class FlagsGuard:
    """The frontend's ``tb_flags`` as the generated code needs it.

    ``mode`` is a :class:`FlagsMode`.
    """

    def __init__(self, frontend: Frontend, cpu: Any, global_slots: frozenset[int]):
        self.tb_flags = frontend.tb_flags
        self.global_slots = global_slots
        self.slots: frozenset[int] = frozenset()
        self.ordered: tuple[int, ...] = ()
        if type(frontend).tb_flags is Frontend.tb_flags:
            self.mode = FlagsMode.FIXED
            return
        learnt = probe(self.tb_flags, cpu) if cpu is not None else None
        if learnt is None or learnt[1] & global_slots:
            self.mode = FlagsMode.CALL
        else:
            self.mode = FlagsMode.WITNESS
            self.slots = learnt[1]
        self.ordered = tuple(sorted(self.slots))

    def new_snapshot(self) -> list:
        """A vCPU's snapshot: [flags, env[s] for s in slots]; None: nothing known yet."""
        return [None] * (1 + len(self.slots))

    def check(self, cpu: Any, expected: int, snapshot: list) -> bool:
        """Ask ``tb_flags`` (for generated code whose snapshot no longer matches): are the
        flags ``expected``?  A read of only the watched slots renews the snapshot."""
        got = probe(self.tb_flags, cpu)
        if got is None or not got[1] <= self.slots:
            snapshot[0] = None
            return False
        env = cpu.env
        snapshot[0] = got[0]
        for k, slot in enumerate(self.ordered):
            snapshot[k + 1] = env[slot]
        return got[0] == expected
