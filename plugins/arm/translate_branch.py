"""Branches: B, BL, BX, BLX (register and immediate).

ARM ARM A8.8.18-A8.8.27.  Direct branches leave through ``goto_tb`` slot 0 so the TBs
chain; register branches interwork (bit 0 selects Thumb state) and leave through
``exit_tb``.  Thumb itself is not translated: a TB in Thumb state raises a one-line error
when it runs (see ``ArmFrontend.translate_insn``).
"""

from __future__ import annotations

from .cpu import S_THUMB
from .translate import ArmDisas


def trans_b(s: ArmDisas, link: int, imm: int) -> None:
    """B/BL <label>: pc + 8 + imm24 * 4 (imm24 signed); BL writes lr = the next insn."""
    if link:
        s.b.movi(s.R[14], s.next_pc)
    s.gen_goto(s.pc + 8 + (imm << 2), 0)


def trans_blx_imm(s: ArmDisas, halfword: int, imm: int) -> None:
    """BLX <label> (cond 1111): calls Thumb code at pc + 8 + imm24 * 4 + H * 2."""
    b = s.b
    b.movi(s.R[14], s.next_pc)
    b.st_env(1, S_THUMB)
    b.movi(s.PC, (s.pc + 8 + (imm << 2) + (halfword << 1)) & 0xFFFF_FFFF)
    s.end_indirect()


def trans_bx(s: ArmDisas, rm: int) -> None:
    """BX Rm."""
    s.gen_bx(s.reg(rm))


def trans_blx_reg(s: ArmDisas, rm: int) -> None:
    """BLX Rm: the target is read before lr is written (BLX lr works)."""
    if rm == 15:
        return s.undef()
    target = s.temp()
    s.b.mov(target, s.R[rm])
    s.b.movi(s.R[14], s.next_pc)
    s.gen_bx(target)
