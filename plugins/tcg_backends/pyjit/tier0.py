"""Tier 0: a TB's IR run op by op, before it is worth compiling.

Writing and ``compile()``-ing a TB's Python costs about a millisecond, as much as running
the TB in tier 0 about a hundred times; most TBs run only a few times (start-up code, and the TBs a
slice starting mid-TB creates), and a slice ends inside a TB once per slice.  So a TB
runs here, with the interpreter backend's own loop (:func:`plugins.tcg_backends.interp.run`), until
it has run often enough to be compiled (see :mod:`.backend`), and the partial runs at
the end of a slice stay here until they too are frequent.

The protocol is the generated functions': ``(exit, executed, 0)`` back, guest exceptions
annotated with ``executed`` and ``pyjit_pc`` for the backend to finish.
"""

from __future__ import annotations

from core.cpu import GuestException
from core.ir import TranslationBlock
from plugins.tcg_backends.interp import prepare
from plugins.tcg_backends.interp import run as _interp_run

__all__ = ["prepare", "run"]


def run(code: list[tuple], cpu, tb: TranslationBlock, budget: int,
        set_pc) -> tuple[int, int, int]:
    """Run ``code`` (from :func:`prepare`) for at most ``budget`` instructions."""
    try:
        exit_slot, executed = _interp_run(code, cpu, tb, budget, set_pc)
    except GuestException as exc:
        exc.pyjit_pc = exc.insn_pc
        raise
    return exit_slot, executed, 0
