"""Tier 0: a TB's IR run op by op, before it is worth compiling.

Writing and ``compile()``-ing a TB's Python costs about a millisecond, as much as running
the TB in tier 0 about a hundred times; most TBs run only a few times (start-up code, and the TBs a
slice starting mid-TB creates), and a slice ends inside a TB once per slice.  So a TB
runs here, with the ops' reference semantics as the interpreter backend runs them, until
it has run often enough to be compiled (see :mod:`.backend`), and the partial runs at
the end of a slice stay here until they too are frequent.

The protocol is the generated functions': ``(exit, executed, 0)`` back, guest exceptions
annotated with ``executed`` and ``pyjit_pc`` for the backend to finish.
"""

from __future__ import annotations

from core.backend import EXIT_BUDGET, EXIT_NOCHAIN
from core.cpu import GuestException
from core.ir import Label, Op, Temp, TempKind, TranslationBlock

K_INSN, K_OP, K_BRCOND, K_BR, K_LABEL, K_GOTO_TB, K_EXIT_TB = range(7)
W_CONST, W_ENV, W_FRAME = range(3)


def _where(t: Temp) -> tuple[int, int]:
    if t.kind is TempKind.CONST:
        return (W_CONST, t.value)
    if t.kind is TempKind.GLOBAL:
        return (W_ENV, t.index)
    return (W_FRAME, t.index)


def prepare(tb: TranslationBlock) -> list[tuple]:
    """The TB's ops as tuples, labels resolved to op indices."""
    label_at: dict[int, int] = {}
    for i, op in enumerate(tb.ops):
        if op.name == "set_label":
            label_at[op.args[0].id] = i
    return [_op(op, label_at) for op in tb.ops]


def _op(op: Op, label_at: dict[int, int]) -> tuple:
    outs, ins, consts = op.split()
    name = op.name
    if name == "insn_start":
        return (K_INSN, None, (), (), consts, 0)
    if name == "set_label":
        return (K_LABEL, None, (), (), (), 0)
    if name == "br":
        return (K_BR, None, (), (), (), label_at[consts[0].id])
    if name == "goto_tb":
        return (K_GOTO_TB, None, (), (), (), consts[0])
    if name == "exit_tb":
        return (K_EXIT_TB, None, (), (), (), consts[0])
    ins_w = tuple(_where(t) for t in ins)
    if op.opdef.flags & op.opdef.flags.COND_BRANCH:
        label: Label = consts[-1]
        return (K_BRCOND, op.opdef.impl, (), ins_w, consts, label_at[label.id])
    return (K_OP, op.opdef.impl, tuple(_where(t) for t in outs), ins_w, consts, len(outs))


def run(code: list[tuple], cpu, tb: TranslationBlock, budget: int, n_locals: int,
        set_pc) -> tuple[int, int, int]:
    """Run ``code`` (from :func:`prepare`) for at most ``budget`` instructions."""
    env = cpu.env
    frame = [0] * n_locals
    executed = 0
    insn_pc = tb.pc
    i = 0
    try:
        while True:
            kind, impl, outs, ins, consts, extra = code[i]
            i += 1
            if kind == K_OP:
                args = [v if w == W_CONST else (env[v] if w == W_ENV else frame[v])
                        for w, v in ins]
                result = impl(cpu, *args, *consts)
                if extra == 1:
                    w, v = outs[0]
                    if w == W_ENV:
                        env[v] = result
                    else:
                        frame[v] = result
                elif extra:
                    for (w, v), r in zip(outs, result):
                        if w == W_ENV:
                            env[v] = r
                        else:
                            frame[v] = r
            elif kind == K_INSN:
                if executed == budget:
                    set_pc(cpu, consts[0])
                    return EXIT_BUDGET, executed, 0
                executed += 1
                insn_pc = consts[0]
            elif kind == K_BRCOND:
                args = [v if w == W_CONST else (env[v] if w == W_ENV else frame[v])
                        for w, v in ins]
                if impl(cpu, *args, *consts):
                    i = extra
            elif kind == K_BR:
                i = extra
            elif kind == K_GOTO_TB:
                return extra, executed, 0
            elif kind == K_EXIT_TB:
                return EXIT_NOCHAIN, executed, 0
    except GuestException as exc:
        exc.executed = executed
        exc.pyjit_pc = insn_pc
        raise
