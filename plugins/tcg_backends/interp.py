"""The interpreter backend: runs a TB's IR op by op with the ops' reference semantics.

Like QEMU's TCI it is "just another backend": chosen by name, it differs from the others
only in speed, and it is the semantic baseline every other backend is diffed against.
It runs any op of the table, plugin ops included, because every OpDef carries its
semantics.  Compilation only resolves temps to (where, index) pairs and labels to op
indices, so execution is one loop over a list of tuples.
"""

from __future__ import annotations

from typing import Callable

from core.backend import EXIT_BUDGET, EXIT_NOCHAIN, Backend
from core.cpu import GuestException
from core.hookspecs import hookimpl
from core.ir import Label, Op, TranslationBlock
from core.operands import W_CONST, W_ENV, where

# op kinds of the compiled form
K_INSN, K_OP, K_BRCOND, K_BR, K_LABEL, K_GOTO_TB, K_EXIT_TB = range(7)


def prepare(tb: TranslationBlock) -> list[tuple]:
    """The TB's ops as tuples, labels resolved to op indices (the compiled form)."""
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
    ins_w = tuple(where(t) for t in ins)
    if op.opdef.cond_branch:
        label: Label = consts[-1]
        return (K_BRCOND, op.opdef.impl, (), ins_w, consts, label_at[label.id])
    return (K_OP, op.opdef.impl, tuple(where(t) for t in outs), ins_w, consts, len(outs))


def run(code: list[tuple], cpu, tb: TranslationBlock, budget: int,
        set_pc: Callable[[object, int], None]) -> tuple[int, int]:
    """Run ``code`` (from :func:`prepare`) for at most ``budget`` instructions; returns
    ``(exit, executed)``.  Any exception leaves with ``executed`` (the instructions
    started, the raising one included: see ``core.backend``) and ``insn_pc`` (the pc of
    the instruction that raised it) set; the caller finishes a guest exception.  (pyjit's tier 0
    makes the same calls in the same order from closures prepared per op.)"""
    env = cpu.env
    frame = [0] * tb.n_locals
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
                    return EXIT_BUDGET, executed
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
                return extra, executed
            elif kind == K_EXIT_TB:
                return EXIT_NOCHAIN, executed
    except BaseException as exc:  # a helper's error too: its executed counts as a guest's
        exc.executed = executed
        exc.insn_pc = insn_pc
        raise


class InterpBackend(Backend):
    """IR interpreter: the reference every other backend is compared with."""

    name = "interp"

    def compile(self, tb: TranslationBlock) -> None:
        tb.compiled = prepare(tb)

    def execute(self, cpu, tb: TranslationBlock, budget: int) -> tuple[TranslationBlock, int, int]:
        fe = self.machine.frontend
        try:
            exit_slot, executed = run(tb.compiled, cpu, tb, budget, fe.set_pc)
        except GuestException as exc:
            if exc.pc is None:
                exc.pc = exc.insn_pc
            if exc.restore:
                fe.restore_state_to_opc(cpu, exc.insn_pc)
            raise
        return tb, exit_slot, executed

    def describe(self, tb: TranslationBlock) -> str:
        return f"interp: {len(tb.compiled or ())} ops, {tb.n_locals} locals"


@hookimpl
def tcglab_register_backends(registry) -> None:
    registry.add_backend(InterpBackend)
