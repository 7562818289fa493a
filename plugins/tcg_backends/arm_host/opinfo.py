"""What code generation asks of an op's definition, computed once per OpDef.

``OpFlag`` is an ``enum.IntFlag``: every ``&`` builds an enum member, which costs more
than the question is worth when it is asked for each op of each TB.  :func:`info` turns
a definition into plain ints and bools, cached by the (identity-hashed) OpDef.
"""

from __future__ import annotations

import functools

from attrs import frozen

from core.ir import CallFlag, I64, OpDef, OpFlag

_BB_END = int(OpFlag.BB_END)
_BB_EXIT = int(OpFlag.BB_EXIT)
_COND_BRANCH = int(OpFlag.COND_BRANCH)
_ENV = int(OpFlag.ENV)
_SIDE_EFFECTS = int(OpFlag.SIDE_EFFECTS)
_MEMORY = int(OpFlag.MEMORY)
PURE_HELPER = int(CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS)


@frozen
class OpInfo:
    ends_block: bool  # BB_END or BB_EXIT: the next op starts a basic block
    exits: bool  # BB_EXIT: leaves the TB (goto_tb, exit_tb)
    branch: bool  # br or a conditional branch: its last constant is the target label
    cond_branch: bool
    pure: bool
    foldable: bool  # pure, with reference semantics, no i64 operand
    writes_state: bool  # may write CPU state outside the globals' data flow (not `call`)


@functools.lru_cache(maxsize=None)
def info(d: OpDef) -> OpInfo:
    flags = int(d.flags)
    pure = d.pure
    if flags & _ENV:
        writes = bool(flags & _SIDE_EFFECTS)  # st: an env store
    else:
        writes = not (pure or flags & (_MEMORY | _BB_END | _BB_EXIT)
                      or d.name in ("insn_start", "mb", "call"))
    return OpInfo(
        ends_block=bool(flags & (_BB_END | _BB_EXIT)),
        exits=bool(flags & _BB_EXIT),
        branch=d.name == "br" or bool(flags & _COND_BRANCH),
        cond_branch=bool(flags & _COND_BRANCH),
        pure=pure,
        foldable=pure and d.impl is not None and all(t is not I64 for t in d.types),
        writes_state=writes,
    )


@functools.lru_cache(maxsize=None)
def helper_is_pure(flags: CallFlag) -> bool:
    return int(flags) & PURE_HELPER == PURE_HELPER
