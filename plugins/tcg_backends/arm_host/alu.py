"""Data-processing ops -> A32: moves, arithmetic, compares, bit fields, env and i64 ops.

A mixin of :class:`~.codegen.TBCodegen` (which supplies ``ra``, ``asm``, ``env`` and the
operand helpers).  Each lowering asks the register allocator for its inputs, lets dying
inputs go when its code reads every input before writing (so an output may reuse their
registers, as TCG's "dead input" aliasing does), takes its outputs, and emits.  Known
constants fold at translation time (pure ops) or become A32 immediates where they
encode (``encodable``; the negated or inverted form with the complementary instruction
otherwise: add/sub, and/bic, cmp/cmn, mov/mvn); other constants are materialised with
mov/mvn or movw/movt.  i64 values live in memory on this 32-bit host: the i64 ops here
move words between homes; i64 arithmetic goes to the reference semantics.
"""

from __future__ import annotations

from core.ir import M32, Cond, Op, Temp, TempKind

from .a32 import COND, INVERT, LR, R6, encodable, imm, rn
from .regalloc import REG


class DataOps:
    """Lowerings of the data-processing ops (mixed into TBCodegen)."""

    # ------------------------------------------------------------------ moves

    def _fold(self, op: Op) -> bool:
        """A pure single-width op whose inputs are all known constants: compute it now
        (QEMU's optimizer folds the same way); outputs become constants."""
        d = op.opdef
        if not d.foldable or d.any_i64:  # i64 values live in memory, never as constants
            return False
        outs, ins, consts = op.split()
        values = [self.ra.const_of(t) for t in ins]
        if any(v is None for v in values):
            return False
        result = d.impl(None, *values, *consts)
        results = result if isinstance(result, tuple) else (result,)
        for t, v in zip(outs, results):
            self.ra.set_const(t, v)
        return True

    def op_mov(self, op: Op) -> None:
        d, s = op.args
        ra = self.ra
        c = ra.const_of(s)
        if c is not None:
            ra.set_const(d, c)
            return
        if s.kind is d.kind and s.index == d.index:
            return
        ts = ra.state(s)
        if ts.kind == REG and not s.is_global and s.index in self._dead_in:
            r = ts.reg
            ra.kill(s.index)
            ra.assign_reg(d, r)  # the register changes hands: no code
            self._released = True
            return
        rs = ra.reg_of(s)
        rd = ra.out_reg(d)
        self.asm.insn(f"mov {rn(rd)}, {rn(rs)}")

    def op_movi(self, op: Op) -> None:
        self.ra.set_const(op.args[0], op.args[1])

    # ------------------------------------------------------------------ arithmetic

    def _unary(self, op: Op, *fmts: str) -> None:
        if self._fold(op):
            return
        d, a = op.args
        ra_ = self.ra.reg_of(a)
        self.release_dead()
        rd = self.ra.out_reg(d)
        for f in fmts:
            self.asm.insn(f.format(d=rn(rd), a=rn(ra_)))

    def _alu(self, op: Op, mn: str, commutative: bool, alt=None, regs_only: bool = False) -> None:
        if self._fold(op):
            return
        d, a, b = op.args
        ra = self.ra
        if commutative and ra.const_of(a) is not None and ra.const_of(b) is None:
            a, b = b, a
        ra_ = ra.reg_of(a)
        cb = ra.const_of(b)
        mnem = mn
        if cb is not None and not regs_only and encodable(cb):
            opnd = imm(cb)
        elif cb is not None and alt is not None and encodable(alt[1](cb) & M32):
            mnem, opnd = alt[0], imm(alt[1](cb))
        else:
            opnd = rn(ra.reg_of(b))
        self.release_dead()
        rd = ra.out_reg(d)
        self.asm.insn(f"{mnem} {rn(rd)}, {rn(ra_)}, {opnd}")

    def op_sub(self, op: Op) -> None:
        if self._fold(op):
            return
        d, a, b = op.args
        ra = self.ra
        ca = ra.const_of(a)
        if ca is not None and ra.const_of(b) is None and encodable(ca):
            rb = ra.reg_of(b)
            self.release_dead()
            rd = ra.out_reg(d)
            self.asm.insn(f"rsb {rn(rd)}, {rn(rb)}, {imm(ca)}")
            return
        self._alu(op, "sub", False, ("add", lambda v: -v))

    def op_orc(self, op: Op) -> None:
        if self._fold(op):
            return
        d, a, b = op.args
        ra = self.ra
        cb = ra.const_of(b)
        if cb is not None and encodable(~cb & M32):
            ra_ = ra.reg_of(a)
            self.release_dead()
            rd = ra.out_reg(d)
            self.asm.insn(f"orr {rn(rd)}, {rn(ra_)}, {imm(~cb)}")
            return
        ra_, rb = ra.reg_of(a), ra.reg_of(b)
        self.release_dead()
        rd = ra.out_reg(d)
        self.asm.insn(f"mvn r12, {rn(rb)}")
        self.asm.insn(f"orr {rn(rd)}, {rn(ra_)}, r12")

    def _rem(self, op: Op, div: str) -> None:
        if self._fold(op):
            return
        d, a, b = op.args
        ra_, rb = self.ra.reg_of(a), self.ra.reg_of(b)
        self.release_dead()
        rd = self.ra.out_reg(d)
        self.asm.insn(f"{div} r12, {rn(ra_)}, {rn(rb)}")
        self.asm.insn(f"mls {rn(rd)}, r12, {rn(rb)}, {rn(ra_)}", "a - (a / b) * b")

    def _shift(self, op: Op, kind: str) -> None:
        if self._fold(op):
            return
        d, a, b = op.args
        ra, asm = self.ra, self.asm
        cb = ra.const_of(b)
        ra_ = ra.reg_of(a)
        if cb is not None:
            n = cb % 32
            if kind == "rol":
                kind, n = "ror", (32 - n) % 32
            self.release_dead()
            rd = ra.out_reg(d)
            if n:
                asm.insn(f"{kind} {rn(rd)}, {rn(ra_)}, #{n}")
            elif rd != ra_:
                asm.insn(f"mov {rn(rd)}, {rn(ra_)}")
            return
        count = rn(ra.reg_of(b))
        if kind == "rol":  # ror by (32 - b): A32 rotates by the count's low five bits
            asm.insn(f"rsb r12, {count}, #32")
            kind, count = "ror", "r12"
        elif kind != "ror":  # counts are taken modulo 32 (core.ir); A32 would shift 32..255 out
            asm.insn(f"and r12, {count}, #31")
            count = "r12"
        self.release_dead()
        rd = ra.out_reg(d)
        asm.insn(f"{kind} {rn(rd)}, {rn(ra_)}, {count}")

    def _cmp(self, a: Temp, b: Temp, cond: Cond) -> str:
        """Compare ``a`` with ``b``; returns the A32 condition for ``a cond b``."""
        ra = self.ra
        if ra.const_of(a) is not None and ra.const_of(b) is None:
            a, b, cond = b, a, cond.swap()
        ra_ = ra.reg_of(a)
        cb = ra.const_of(b)
        if cb is not None and encodable(cb):
            self.asm.insn(f"cmp {rn(ra_)}, {imm(cb)}")
        elif cb is not None and cb not in (0, 0x8000_0000) and encodable(-cb & M32):
            # cmn a, #-b sets N, Z, C and V as cmp a, #b does for these b
            self.asm.insn(f"cmn {rn(ra_)}, {imm(-cb)}")
        else:
            self.asm.insn(f"cmp {rn(ra_)}, {rn(ra.reg_of(b))}")
        return COND[cond]

    def op_setcond(self, op: Op) -> None:
        d, a, b, cond = op.args
        if cond in (Cond.ALWAYS, Cond.NEVER):
            self.ra.set_const(d, int(cond is Cond.ALWAYS))
            return
        if self._fold(op):
            return
        cc = self._cmp(a, b, cond)
        self.release_dead()
        rd = self.ra.out_reg(d)
        self.asm.insn(f"mov{cc} {rn(rd)}, #1")
        self.asm.insn(f"mov{INVERT[cc]} {rn(rd)}, #0")

    def _mov_operand(self, t: Temp) -> tuple[str, str]:
        """(mnemonic, operand) that puts ``t`` in a register: mov #imm, mvn #~imm or mov reg."""
        c = self.ra.const_of(t)
        if c is not None and encodable(c):
            return "mov", imm(c)
        if c is not None and encodable(~c):
            return "mvn", imm(~c)
        return "mov", rn(self.ra.reg_of(t))

    def op_movcond(self, op: Op) -> None:
        d, c1, c2, v1, v2, cond = op.args
        ra = self.ra
        if cond in (Cond.ALWAYS, Cond.NEVER):
            return self.op_mov(Op(op.opdef, (d, v1 if cond is Cond.ALWAYS else v2)))
        if self._fold(op):
            return
        m1, o1 = self._mov_operand(v1)
        m2, o2 = self._mov_operand(v2)
        cc = self._cmp(c1, c2, cond)
        self.release_dead()
        rd = rn(ra.out_reg(d))
        if rd != o1:
            self.asm.insn(f"{m1}{cc} {rd}, {o1}")
        if rd != o2 or rd == o1:
            self.asm.insn(f"{m2}{INVERT[cc]} {rd}, {o2}")

    def op_clz(self, op: Op) -> None:
        if self._fold(op):
            return
        d, a, b = op.args
        ra = self.ra
        ra_ = ra.reg_of(a)
        if ra.const_of(b) == 32:
            self.release_dead()
            rd = ra.out_reg(d)
            self.asm.insn(f"clz {rn(rd)}, {rn(ra_)}")
            return
        m, o = self._mov_operand(b)
        self.asm.insn(f"clz r12, {rn(ra_)}")
        self.asm.insn(f"cmp {rn(ra_)}, #0")
        self.asm.insn(f"{m}eq r12, {o}", "a == 0: the op's second operand")
        self.release_dead()
        rd = ra.out_reg(d)
        self.asm.insn(f"mov {rn(rd)}, r12")

    def _extract(self, op: Op, mn: str) -> None:
        if self._fold(op):
            return
        d, a, pos, length = op.args
        ra_ = self.ra.reg_of(a)
        self.release_dead()
        rd = self.ra.out_reg(d)
        if pos == 0 and length == 32:
            if rd != ra_:
                self.asm.insn(f"mov {rn(rd)}, {rn(ra_)}")
        else:
            self.asm.insn(f"{mn} {rn(rd)}, {rn(ra_)}, #{pos}, #{length}")

    def op_deposit(self, op: Op) -> None:
        if self._fold(op):
            return
        d, a, b, pos, length = op.args
        ra = self.ra
        if length == 32:
            return self.op_mov(Op(op.opdef, (d, b)))
        m, o = self._mov_operand(a)
        zero = ra.const_of(b) == 0
        rb = None if zero else ra.reg_of(b)
        rd = rn(ra.out_reg(d))  # fresh: distinct from a's and b's registers
        self.asm.insn(f"{m} {rd}, {o}")
        if zero:
            self.asm.insn(f"bfc {rd}, #{pos}, #{length}")
        else:
            self.asm.insn(f"bfi {rd}, {rn(rb)}, #{pos}, #{length}")

    def _mul2(self, op: Op, mn: str) -> None:
        if self._fold(op):
            return
        lo, hi, a, b = op.args
        ra = self.ra
        ra_, rb = ra.reg_of(a), ra.reg_of(b)
        self.asm.insn(f"{mn} r12, lr, {rn(ra_)}, {rn(rb)}")
        self.release_dead()
        rlo = ra.out_reg(lo)
        rhi = ra.out_reg(hi)
        self.asm.insn(f"mov {rn(rlo)}, r12")
        self.asm.insn(f"mov {rn(rhi)}, lr")

    def _addsub2(self, op: Op, low: str, high: str) -> None:
        if self._fold(op):
            return
        rl, rh, al, ah, bl, bh = op.args
        ra = self.ra
        r_al, r_ah = ra.reg_of(al), ra.reg_of(ah)
        o_bl, o_bh = self.operand(bl), self.operand(bh)
        self.asm.insn(f"{low} r12, {rn(r_al)}, {o_bl}")
        self.release_dead()
        r_h = ra.out_reg(rh)
        self.asm.insn(f"{high} {rn(r_h)}, {rn(r_ah)}, {o_bh}")
        r_l = ra.out_reg(rl)
        self.asm.insn(f"mov {rn(r_l)}, r12")

    # ------------------------------------------------------------------ env access

    def op_ld_env(self, op: Op) -> None:
        d, slot = op.args
        ra = self.ra
        ra.sync_global(slot)  # a global cached in a register is this slot's newest value
        self.release_dead()
        rd = ra.out_reg(d)
        self.asm.mem("ldr", rd, R6, self.env.slot(slot), comment=self._slot_name(slot))

    def op_st_env(self, op: Op) -> None:
        v, slot = op.args
        ra = self.ra
        rv = ra.reg_of(v)
        self.asm.mem("str", rv, R6, self.env.slot(slot), comment=self._slot_name(slot))
        ra.invalidate_global(slot)

    def op_ld_env64(self, op: Op) -> None:
        d, slot = op.args
        self.ra.sync_global(slot)
        base, home = self.ra.home_of(d)
        for w in (0, 1):
            self.asm.mem("ldr", LR, R6, self.env.slot(slot) + 4 * w)
            self.asm.mem("str", LR, base, home + 4 * w)

    def op_st_env64(self, op: Op) -> None:
        v, slot = op.args
        self.ra.sync_global(slot)
        for w in (0, 1):
            self.word_to(LR, v, w)
            self.asm.mem("str", LR, R6, self.env.slot(slot) + 4 * w)
        self.ra.invalidate_global(slot)

    def _slot_name(self, slot: int) -> str:
        return self.slot_names[slot] if slot < len(self.slot_names) else f"slot {slot}"

    # ------------------------------------------------------------------ i64 in memory

    def op_mov64(self, op: Op) -> None:
        d, s = op.args
        if s is d:
            return
        base, home = self.ra.home_of(d)
        for w in (0, 1):
            self.word_to(LR, s, w)
            self.asm.mem("str", LR, base, home + 4 * w)

    def op_movi64(self, op: Op) -> None:
        d, value = op.args
        base, home = self.ra.home_of(d)
        for w in (0, 1):
            self.asm.mov_imm(LR, (value >> (32 * w)) & M32)
            self.asm.mem("str", LR, base, home + 4 * w)

    def op_concat(self, op: Op) -> None:
        d, lo, hi = op.args
        base, home = self.ra.home_of(d)
        for w, t in ((0, lo), (1, hi)):
            self.word_to(LR, t)
            self.asm.mem("str", LR, base, home + 4 * w)

    def _extr(self, op: Op, word: int) -> None:
        d, a = op.args
        if a.kind is TempKind.CONST:
            self.ra.set_const(d, (a.value >> (32 * word)) & M32)
            return
        base, home = self.ra.home_of(a)
        self.release_dead()
        rd = self.ra.out_reg(d)
        self.asm.mem("ldr", rd, base, home + 4 * word)

    def _ext_to64(self, op: Op, signed: bool) -> None:
        d, a = op.args
        base, home = self.ra.home_of(d)
        ra_ = self.ra.reg_of(a)
        self.asm.mem("str", ra_, base, home)
        if signed:
            self.asm.insn(f"asr lr, {rn(ra_)}, #31")
        else:
            self.asm.insn("mov lr, #0")
        self.asm.mem("str", LR, base, home + 4)
