"""Tier 0: a TB's IR run op by op, before it is worth compiling.

Writing and ``compile()``-ing a TB's Python costs about a millisecond, as much as running
it in tier 0 about a hundred times; most TBs run only a few times (start-up code, and the
TBs a slice starting mid-TB creates), and a slice ends inside a TB once per slice.  So a
TB runs here until it has run often enough to be compiled (see :mod:`.backend`), and the
partial runs at the end of a slice stay here until they too are frequent.

Each op runs its reference semantics with the interpreter's arguments, in the
interpreter's order, so a run is the interpreter's (:mod:`plugins.tcg_backends.interp`);
it is faster by doing at preparation what the interpreter does at every op.  Every op
becomes a closure ``f(cpu, env, frame) -> next op`` that reads its inputs from where they
live and stores its outputs, made by a factory written (and compiled) once per *shape*
(where each input and output lives), so no op decodes its operands at run time.  The
factories' source holds only numbers and fixed names: temps are ``env``/``frame``
indices bound as closure cells, never text.

The protocol is the generated functions': ``(exit, executed, 0)`` back, exceptions (the
guest's or a helper's) annotated with ``executed`` and ``pyjit_pc`` for the backend to
finish.
"""

from __future__ import annotations

from typing import Any, Callable

from core.backend import EXIT_BUDGET, EXIT_NOCHAIN
from core.ir import TranslationBlock
from core.operands import W_CONST, W_ENV, where

__all__ = ["prepare", "run"]

_LEAVE = -2  # next-op values below this leave the TB: exit slot = _LEAVE - value
_factories: dict[tuple, Callable] = {}


def _factory(ins: tuple[int, ...], outs: tuple[int, ...], n_consts: int,
             branch: bool) -> Callable:
    """``make(impl, operands..., consts..., next, target)`` for ops of this shape (where
    each input and output lives, as :func:`plugins.tcg_backends.interp.where` says)."""
    key = (ins, outs, n_consts, branch)
    make = _factories.get(key)
    if make is not None:
        return make
    params = [f"a{k}" for k in range(len(ins))] + [f"o{k}" for k in range(len(outs))] \
        + [f"c{k}" for k in range(n_consts)]
    args = ["cpu"]
    for k, w in enumerate(ins):
        args.append(f"a{k}" if w == W_CONST else f"{'env' if w == W_ENV else 'frame'}[a{k}]")
    args += [f"c{k}" for k in range(n_consts)]
    call = f"impl({', '.join(args)})"
    body: list[str] = []
    if branch:
        body.append(f"return target if {call} else nxt")
    else:
        stores = [f"{'env' if w == W_ENV else 'frame'}[o{k}]" for k, w in enumerate(outs)]
        if len(stores) == 1:
            body.append(f"{stores[0]} = {call}")
        elif stores:
            body.append(f"r = {call}")
            body += [f"{s} = r[{k}]" for k, s in enumerate(stores)]
        else:
            body.append(call)
        body.append("return nxt")
    src = (f"def make(impl, {', '.join(params + ['nxt', 'target'])}):\n"
           f"    def op(cpu, env, frame):\n"
           + "".join(f"        {line}\n" for line in body)
           + "    return op\n")
    scope: dict[str, Any] = {"__builtins__": {}}
    exec(compile(src, "<pyjit tier0 factory>", "exec"), scope)
    make = _factories[key] = scope["make"]
    return make


def _jump(nxt: int) -> Callable:
    def op(cpu, env, frame):
        return nxt
    return op


def prepare(tb: TranslationBlock) -> tuple[list, list[int]]:
    """The TB's ops as closures (``None`` for an insn_start) and each op's guest pc."""
    ops = tb.ops
    target_of: dict[int, int] = {}
    for i, op in enumerate(ops):
        if op.name == "set_label":
            target_of[op.args[0].id] = i + 1
    code: list = []
    pcs: list[int] = []
    for i, op in enumerate(ops):
        outs, ins, consts = op.split()
        name = op.name
        nxt = i + 1
        if name == "insn_start":
            code.append(None)
            pcs.append(consts[0])
            continue
        pcs.append(0)
        if name == "set_label":
            code.append(_jump(nxt))
        elif name == "br":
            code.append(_jump(target_of[consts[0].id]))
        elif name == "goto_tb":
            code.append(_jump(_LEAVE - consts[0]))
        elif name == "exit_tb":
            code.append(_jump(_LEAVE - EXIT_NOCHAIN))
        else:
            in_w = [where(t) for t in ins]
            out_w = [where(t) for t in outs]
            branch = op.opdef.cond_branch
            if branch:
                target = target_of[consts[-1].id]
            else:
                target = 0
            make = _factory(tuple(w for w, _ in in_w), tuple(w for w, _ in out_w),
                            len(consts), branch)
            code.append(make(op.opdef.impl, *(v for _, v in in_w), *(v for _, v in out_w),
                             *consts, nxt, target))
    return code, pcs


def run(prepared: tuple[list, list[int]], cpu, tb: TranslationBlock, budget: int,
        set_pc) -> tuple[int, int, int]:
    """Run ``prepared`` (from :func:`prepare`) for at most ``budget`` instructions."""
    code, pcs = prepared
    env = cpu.env
    frame = [0] * tb.n_locals
    executed = 0
    insn_pc = tb.pc
    i = 0
    try:
        while True:
            op = code[i]
            if op is None:  # insn_start
                if executed == budget:
                    set_pc(cpu, pcs[i])
                    return EXIT_BUDGET, executed, 0
                executed += 1
                insn_pc = pcs[i]
                i += 1
                continue
            i = op(cpu, env, frame)
            if i < 0:
                return _LEAVE - i, executed, 0
    except BaseException as exc:  # a helper's error too (see the interpreter's run)
        exc.executed = executed
        exc.insn_pc = exc.pyjit_pc = insn_pc
        raise
