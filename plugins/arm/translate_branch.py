"""Branches: B, BL, BX, BLX (register and immediate).

ARM ARM A8.8.18-A8.8.27.  Direct branches leave through ``goto_tb`` slot 0 so the TBs
chain; register branches interwork (bit 0 selects Thumb state) and leave through
``exit_tb``.  Thumb itself is not translated: a TB in Thumb state raises a one-line error
when it runs (see ``ArmFrontend.translate_insn``).
"""

from __future__ import annotations

from .cpu import S_THUMB
from .translate import ArmDisas


def _branch_offset(insn: int) -> int:
    imm24 = insn & 0xFF_FFFF
    return ((imm24 ^ 0x80_0000) - 0x80_0000) << 2


def trans_b(s: ArmDisas, insn: int) -> None:
    """B/BL <label>: pc + 8 + SignExtend(imm24:'00'); BL writes lr = the next insn."""
    if insn & (1 << 24):
        s.b.movi(s.R[14], s.next_pc)
    s.gen_goto(s.pc + 8 + _branch_offset(insn), 0)


def trans_blx_imm(s: ArmDisas, insn: int) -> None:
    """BLX <label> (cond 1111): calls Thumb code at pc + 8 + offset + H*2."""
    b = s.b
    b.movi(s.R[14], s.next_pc)
    b.st_env(1, S_THUMB)
    b.movi(s.PC, (s.pc + 8 + _branch_offset(insn) + ((insn >> 23) & 2)) & 0xFFFF_FFFF)
    s.end_indirect()


def trans_bx(s: ArmDisas, insn: int) -> None:
    """BX Rm."""
    s.gen_bx(s.reg(insn & 15))


def trans_blx_reg(s: ArmDisas, insn: int) -> None:
    """BLX Rm: the target is read before lr is written (BLX lr works)."""
    rm = insn & 15
    if rm == 15:
        return s.undef()
    target = s.temp()
    s.b.mov(target, s.R[rm])
    s.b.movi(s.R[14], s.next_pc)
    s.gen_bx(target)
