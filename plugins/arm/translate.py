"""Per-TB A32 translation state and the code every instruction class shares.

:class:`ArmDisas` is QEMU's ``DisasContext`` for A32: it knows the instruction being
translated and the TB's flags (mode, Thumb), and offers the small generators the
``translate_*`` modules are written with: register reads with the pc reading as the
instruction address + 8, register writes that turn a write to the pc into a branch,
conditions, flag computations (``gen_add_CC`` and friends, in QEMU's NF/ZF/CF/VF
representation), the shifter, branches and exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.builder import Builder
from core.cpu import ExceptionKind
from core.frontend import DisasContext, DisasJump
from core.ir import Cond, Label, Temp

from . import cpu as arm
from . import helpers as h

if TYPE_CHECKING:
    from .frontend import ArmFrontend

# tcg_gen_mb kinds (TCG_MO_ALL | TCG_BAR_SC): a full sequentially consistent barrier
MB_ALL = 0x3F

SHIFT_LSL, SHIFT_LSR, SHIFT_ASR, SHIFT_ROR = range(4)

#: the ARM conditions that, right after flags set by ``a - c`` (CMP, SUBS), are one
#: comparison of ``a`` and ``c``: EQ NE CS CC HI LS GE LT GT LE (MI PL VS VC are not)
SUB_CONDS = {0: Cond.EQ, 1: Cond.NE, 2: Cond.GEU, 3: Cond.LTU, 8: Cond.GTU, 9: Cond.LEU,
             10: Cond.GE, 11: Cond.LT, 12: Cond.GT, 13: Cond.LE}


def no_pc(*regs: int) -> bool:
    """None of ``regs`` is r15 (where r15 is UNPREDICTABLE, the encoding UNDEFs here)."""
    return 15 not in regs


def expand_imm(imm12: int) -> int:
    """ARMExpandImm: imm12<7:0> rotated right by twice imm12<11:8> (DP, MSR immediates).

    When the rotation is not zero, the shifter carry-out is bit 31 of the result.
    """
    rot = (imm12 >> 7) & 0x1E
    imm = imm12 & 0xFF
    return ((imm >> rot) | (imm << (32 - rot))) & 0xFFFF_FFFF if rot else imm


class ArmDisas:
    """Translation state of one TB (and of the instruction being translated)."""

    __slots__ = ("fe", "ctx", "b", "R", "PC", "NF", "ZF", "CF", "VF", "mode", "thumb",
                 "user", "pc", "insn", "skip", "last_sub")

    def __init__(self, fe: "ArmFrontend", ctx: DisasContext, b: Builder):
        self.fe = fe
        self.ctx = ctx
        self.b = b
        g = fe.layout.globals
        self.R = [g[f"r{i}"] for i in range(15)]
        self.PC, self.NF, self.ZF, self.CF, self.VF = g["pc"], g["NF"], g["ZF"], g["CF"], g["VF"]
        flags = ctx.tb.flags
        self.mode = flags & arm.CPSR_M
        self.thumb = bool(flags & arm.CPSR_T)
        self.user = self.mode == arm.MODE_USR
        self.pc = ctx.pc_first  # address of the instruction being translated
        self.insn = 0
        self.skip: Label | None = None  # where a failed condition jumps
        # (a, c, ops, labels) of the last unconditional flag-setting subtraction: its
        # operands, the first op not yet checked since, and how many labels the TB had
        # after it (see sub_compare)
        self.last_sub: tuple[Temp, Temp, int, int] | None = None

    # ---------------------------------------------------------------- temps, registers

    def temp(self) -> Temp:
        return self.b.temp_new_i32()

    @property
    def next_pc(self) -> int:
        return (self.pc + 4) & 0xFFFF_FFFF

    def reg(self, n: int) -> Temp:
        """Read register ``n``; r15 reads as the instruction's address + 8 (ARM state)."""
        if n == 15:
            return self.b.const_i32(self.pc + 8)
        return self.R[n]

    def set_reg(self, n: int, value: Temp) -> None:
        """Write ``n``; writing r15 is a branch ignoring bits [1:0] (QEMU's store_reg)."""
        if n == 15:
            self.b.and_(self.PC, value, ~3)
            self.end_indirect()
        elif value is not self.R[n]:
            self.b.mov(self.R[n], value)

    def set_reg_bx(self, n: int, value: Temp) -> None:
        """ALUWritePC / LoadWritePC of ARMv7 A32: a write to r15 interworks (BXWritePC)."""
        if n == 15:
            self.gen_bx(value)
        elif value is not self.R[n]:
            self.b.mov(self.R[n], value)

    # ---------------------------------------------------------------- branches

    def gen_bx(self, value: Temp) -> None:
        """BXWritePC: bit 0 selects Thumb state; the TB ends (its successor is unknown)."""
        b = self.b
        t = self.temp()
        b.and_(t, value, 1)
        b.st_env(t, arm.S_THUMB)
        b.and_(self.PC, value, ~1)
        self.end_indirect()

    def gen_goto(self, dest: int, slot: int = 0) -> None:
        """A direct jump: chainable exit ``slot`` (0 for the branch, 1 for a skipped one)."""
        self.b.movi(self.PC, dest & 0xFFFF_FFFF)
        self.b.goto_tb(slot)
        self.ctx.is_jmp = DisasJump.NORETURN

    def end_indirect(self) -> None:
        """The pc has been written with a value known only at run time: leave the TB."""
        self.b.exit_tb(0)
        self.ctx.is_jmp = DisasJump.NORETURN

    def end_lookup(self) -> None:
        """Continue at the next instruction in a new TB (the TB flags may have changed)."""
        self.b.movi(self.PC, self.next_pc)
        self.end_indirect()

    def gen_exception_return(self, value: Temp) -> None:
        """CPSR = SPSR of the current mode, pc = ``value``; clears the local monitor.

        ``value`` must not be ``self.PC`` (the pc holds this insn's address during the call).
        """
        self.b.movi(self.PC, self.pc)  # for the helper's error (an SPSR with E = 1)
        self.b.call(h.helper_exception_return, None, value)
        self.end_indirect()

    # ---------------------------------------------------------------- exceptions

    def raise_exception(self, excp: ExceptionKind, info: int = 0, *,
                        resume_next: bool = True) -> None:
        """Leave with ``excp`` (a CpuLoopExit); the pc is the next insn unless told otherwise."""
        self.b.movi(self.PC, self.next_pc if resume_next else self.pc)
        self.b.call(h.helper_exception, None, int(excp), info & 0xFFFF_FFFF)
        self.ctx.is_jmp = DisasJump.NORETURN

    def undef(self, insn: int | None = None) -> None:
        """An encoding this frontend does not implement: a clean error when executed."""
        self.b.movi(self.PC, self.pc)
        self.b.call(h.helper_udef, None, self.insn if insn is None else insn, self.pc)
        self.ctx.is_jmp = DisasJump.NORETURN

    def unsupported(self, what: int) -> None:
        self.b.movi(self.PC, self.pc)
        self.b.call(h.helper_unsupported, None, self.pc, what)
        self.ctx.is_jmp = DisasJump.NORETURN

    # ---------------------------------------------------------------- conditions

    def skip_unless(self, cond: int) -> None:
        """Branch to ``self.skip`` when condition ``cond`` (0..13) fails (arm_skip_unless)."""
        direct = self.sub_compare(cond)
        if direct is not None:
            tcond, a, c = direct
        else:
            tcond, a = self.test_cc(cond)
            c = 0
        self.skip = self.b.new_label()
        self.b.brcond(tcond.invert(), a, c, self.skip)

    def sub_compare(self, cond: int) -> tuple[Cond, Temp, Temp] | None:
        """``(c, a, b)`` such that ARM condition ``cond`` holds iff ``a c b``, when the
        flags are still those a CMP or SUBS of ``a`` and ``b`` set earlier in this TB.

        The flags are computed as always (a later TB may read them); the branch just
        compares the operands instead of rebuilding the condition from NF ZF CF VF,
        which is what a backend turns into one host compare.  It holds only if nothing
        since wrote a flag, ``a`` or ``b`` (as an output, or behind the IR's back:
        :attr:`~core.ir.Op.writes_globals`), and no label set since can be reached from before the subtraction (the
        subtraction itself was unconditional, so every path here went through it).
        """
        want = SUB_CONDS.get(cond)
        if want is None or self.last_sub is None:
            return None
        a, c, start, labels = self.last_sub
        watched = (a, c, self.NF, self.ZF, self.CF, self.VF)
        for op in self.b.tb.ops[start:]:
            d = op.opdef
            if (op.writes_globals or (d.sets_label and op.args[0].id < labels)
                    or any(out is w for out in op.args[:d.outputs] for w in watched)):
                self.last_sub = None  # it stays broken for the rest of the TB
                return None
        self.last_sub = (a, c, len(self.b.tb.ops), labels)  # checked up to here
        return want, a, c

    def test_cc(self, cond: int) -> tuple[Cond, Temp]:
        """``(c, v)`` such that the ARM condition holds iff ``v c 0`` (arm_test_cc)."""
        b = self.b
        if cond in (0, 1):  # EQ NE: Z is ZF == 0
            return (Cond.EQ if cond == 0 else Cond.NE), self.ZF
        if cond in (2, 3):  # CS CC
            return (Cond.NE if cond == 2 else Cond.EQ), self.CF
        if cond in (4, 5):  # MI PL
            return (Cond.LT if cond == 4 else Cond.GE), self.NF
        if cond in (6, 7):  # VS VC
            return (Cond.LT if cond == 6 else Cond.GE), self.VF
        t = self.temp()
        if cond in (8, 9):  # HI: C && !Z;  LS: !C || Z
            b.neg(t, self.CF)
            b.and_(t, t, self.ZF)
            return (Cond.NE if cond == 8 else Cond.EQ), t
        b.xor(t, self.VF, self.NF)
        if cond in (10, 11):  # GE: N == V;  LT: N != V
            return (Cond.GE if cond == 10 else Cond.LT), t
        # GT: !Z && N == V;  LE: Z || N != V
        b.sar(t, t, 31)
        b.andc(t, self.ZF, t)
        return (Cond.NE if cond == 12 else Cond.EQ), t

    # ---------------------------------------------------------------- flags
    # dest = None: compute the flags only (CMP, CMN); dest may be the register written.

    def logic_cc(self, value: Temp) -> None:
        self.b.mov(self.NF, value)
        self.b.mov(self.ZF, value)

    def add_cc(self, dest: Temp | None, a: Temp, c: Temp) -> None:
        """dest = a + c, setting N Z C V (gen_add_CC)."""
        b = self.b
        b.add2(self.NF, self.CF, a, 0, c, 0)
        self._add_nzv(dest, a, c)

    def adc_cc(self, dest: Temp | None, a: Temp, c: Temp) -> None:
        """dest = a + c + C, setting N Z C V (gen_adc_CC)."""
        b = self.b
        b.add2(self.NF, self.CF, a, 0, self.CF, 0)
        b.add2(self.NF, self.CF, self.NF, self.CF, c, 0)
        self._add_nzv(dest, a, c)

    def _add_nzv(self, dest: Temp | None, a: Temp, c: Temp) -> None:
        """After NF = a + c (+ carry): Z, and V = (result ^ a) & ~(a ^ c); write dest."""
        b = self.b
        b.mov(self.ZF, self.NF)
        b.xor(self.VF, self.NF, a)
        t = self.temp()
        b.xor(t, a, c)
        b.andc(self.VF, self.VF, t)
        if dest is not None:  # None: only the flags are wanted (CMN)
            b.mov(dest, self.NF)

    def sub_cc(self, dest: Temp | None, a: Temp, c: Temp) -> None:
        """dest = a - c, setting N Z C V (C = no borrow; gen_sub_CC)."""
        b = self.b
        b.sub(self.NF, a, c)
        b.mov(self.ZF, self.NF)
        b.setcond(Cond.GEU, self.CF, a, c)
        b.xor(self.VF, self.NF, a)
        t = self.temp()
        b.xor(t, a, c)
        b.and_(self.VF, self.VF, t)
        # from here on (the write of dest included: SUBS r1, r1, #1 overwrites a)
        self.last_sub = None if self.skip is not None else (
            a, c, len(b.tb.ops), len(b.tb.labels))
        if dest is not None:  # None: only the flags are wanted (CMP)
            b.mov(dest, self.NF)

    def sbc_cc(self, dest: Temp | None, a: Temp, c: Temp) -> None:
        """dest = a + ~c + C, setting N Z C V (gen_sbc_CC)."""
        t = self.temp()
        self.b.not_(t, c)
        self.adc_cc(dest, a, t)

    # ---------------------------------------------------------------- shifter

    def shift_imm(self, value: Temp, stype: int, amount: int, set_carry: bool) -> Temp:
        """Shift by an immediate as encoded (LSR/ASR #0 mean #32, ROR #0 is RRX).

        With ``set_carry`` the shifter carry-out is written to CF (logical S forms).
        """
        b = self.b
        if stype == SHIFT_LSL and amount == 0:
            return value
        t = self.temp()
        if stype == SHIFT_LSL:
            if set_carry:
                b.extract(self.CF, value, 32 - amount, 1)
            b.shl(t, value, amount)
        elif stype == SHIFT_LSR:
            if amount == 0:
                if set_carry:
                    b.shr(self.CF, value, 31)
                b.movi(t, 0)
            else:
                if set_carry:
                    b.extract(self.CF, value, amount - 1, 1)
                b.shr(t, value, amount)
        elif stype == SHIFT_ASR:
            if amount == 0:
                amount = 32
            if set_carry:
                b.extract(self.CF, value, amount - 1, 1)
            b.sar(t, value, min(amount, 31))
        elif amount == 0:  # RRX
            c = self.temp()
            b.shl(c, self.CF, 31)
            if set_carry:
                b.and_(self.CF, value, 1)
            b.shr(t, value, 1)
            b.or_(t, t, c)
        else:
            if set_carry:
                b.extract(self.CF, value, amount - 1, 1)
            b.rotr(t, value, amount)
        return t

    def shift_reg(self, value: Temp, stype: int, rs: Temp, set_carry: bool) -> Temp:
        """Shift by the bottom byte of a register (0 and >= 32 exact, as the ARM ARM)."""
        b = self.b
        amt = self.temp()
        b.and_(amt, rs, 0xFF)
        t = self.temp()
        c = self.temp() if set_carry else None
        if stype == SHIFT_LSL:
            b.shl(t, value, amt)
            b.movcond(Cond.LTU, t, amt, 32, t, 0)
            if set_carry:  # 1..32: bit (32 - amt); > 32: 0
                k = self.temp()
                b.sub(k, 32, amt)
                b.shr(c, value, k)
                b.and_(c, c, 1)
                b.movcond(Cond.GTU, c, amt, 32, 0, c)
        elif stype == SHIFT_LSR:
            if set_carry:  # 1..32: bit (amt - 1); > 32: 0
                k = self.temp()
                b.sub(k, amt, 1)
                b.shr(c, value, k)
                b.and_(c, c, 1)
                b.movcond(Cond.GTU, c, amt, 32, 0, c)
            b.shr(t, value, amt)
            b.movcond(Cond.LTU, t, amt, 32, t, 0)
        elif stype == SHIFT_ASR:
            k = self.temp()
            b.movcond(Cond.LTU, k, amt, 32, amt, 31)
            if set_carry:  # 1..31: bit (amt - 1); >= 32: bit 31
                k1 = self.temp()
                b.movcond(Cond.LTU, k1, amt, 32, amt, 32)
                b.sub(k1, k1, 1)
                b.shr(c, value, k1)
                b.and_(c, c, 1)
            b.sar(t, value, k)
        else:
            if set_carry:  # amt != 0: bit ((amt - 1) mod 32)
                k = self.temp()
                b.sub(k, amt, 1)
                b.shr(c, value, k)
                b.and_(c, c, 1)
            b.rotr(t, value, amt)
        if set_carry:  # a zero shift leaves C alone
            b.movcond(Cond.EQ, self.CF, amt, 0, self.CF, c)
        return t
