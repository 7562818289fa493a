"""Where an IR operand lives at run time: a constant, a CPU-state slot, or a TB-local frame slot.

Backends that run a TB's IR without compiling it to host code (the interpreter, pyjit's
tier 0) resolve every temp once, at preparation, to a ``(where, index)`` pair, so that
running an op never looks at a :class:`~core.ir.Temp` again.  The pair is part of the IR's
contract rather than of one backend, so it lives here and plugins share it through core
(no plugin imports another).
"""

from __future__ import annotations

from .ir import Temp, TempKind

# where a temp lives
W_CONST, W_ENV, W_FRAME = range(3)


def where(t: Temp) -> tuple[int, int]:
    """Where an operand lives: ``(W_CONST, value)``, ``(W_ENV, slot)`` or ``(W_FRAME, index)``."""
    if t.kind is TempKind.CONST:
        return (W_CONST, t.value)
    if t.kind is TempKind.GLOBAL:
        return (W_ENV, t.index)
    return (W_FRAME, t.index)


__all__ = ["W_CONST", "W_ENV", "W_FRAME", "where"]
