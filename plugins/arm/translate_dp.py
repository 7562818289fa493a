"""Data processing: the sixteen ALU ops in their three operand forms, MOVW/MOVT, multiplies.

ARM ARM A5.2 / QEMU a32.decode "Data-processing (register)", "(register-shifted
register)", "(immediate)", "Multiply and multiply accumulate".  One handler per operand
form decodes the second operand (with its shifter carry-out when a logical op sets
flags) and hands it to :func:`_alu`, which knows the sixteen ops.
"""

from __future__ import annotations

from core.ir import Temp

from .helpers import helper_add_setq
from .translate import ArmDisas, expand_imm, no_pc

OP_AND, OP_EOR, OP_SUB, OP_RSB, OP_ADD, OP_ADC, OP_SBC, OP_RSC, OP_TST, OP_TEQ, OP_CMP, \
    OP_CMN, OP_ORR, OP_MOV, OP_BIC, OP_MVN = range(16)

DP_NAMES = ("and", "eor", "sub", "rsb", "add", "adc", "sbc", "rsc", "tst", "teq", "cmp", "cmn",
            "orr", "mov", "bic", "mvn")
LOGICAL = frozenset({OP_AND, OP_EOR, OP_TST, OP_TEQ, OP_ORR, OP_MOV, OP_BIC, OP_MVN})
TESTS = frozenset({OP_TST, OP_TEQ, OP_CMP, OP_CMN})
UNARY = frozenset({OP_MOV, OP_MVN})


def _dp_setup(s: ArmDisas, op: int, setflags: int, rn: int, rd: int
              ) -> tuple[bool, bool] | None:
    """(setflags, exception_return) or None when the encoding is undefined here."""
    # Should-be-zero fields (Rn of MOV/MVN, Rd of the tests): UNPREDICTABLE when not
    # zero; QEMU's a32.decode does not match them, so they UNDEF there and here.
    if (op in UNARY and rn) or (op in TESTS and rd):
        return None
    # TST/TEQ/CMP/CMN with S = 0 are not data processing: that space holds MOVW, MOVT,
    # MSR and the hints (decoded before this), and the misc/halfword-multiply space in
    # the register forms.  What is left (e.g. TEQ #imm with Rd != 1111) is UNDEFINED,
    # as QEMU's a32.decode has no pattern for it.
    if op in TESTS and not setflags:
        return None
    exc_return = False
    if rd == 15 and setflags and op not in TESTS:
        # ALUExceptionReturn (ARM ARM B9.3.20): UNPREDICTABLE in User mode; QEMU UNDEFs.
        if s.user:
            return None
        exc_return, setflags = True, False  # no NZCV writeback: CPSR comes from the SPSR
    return bool(setflags), exc_return


def trans_dp_imm(s: ArmDisas, op: int, setflags: int, rn: int, rd: int, imm: int) -> None:
    """<op>{S} Rd, Rn, #imm  (imm12: imm8 rotated right by twice imm12<11:8>)."""
    setup = _dp_setup(s, op, setflags, rn, rd)
    if setup is None:
        return s.undef()
    setflags, exc_return = setup
    value = expand_imm(imm)
    if imm >> 8 and setflags and op in LOGICAL:  # rotated: carry-out is bit 31
        s.b.movi(s.CF, value >> 31)
    _alu(s, op, rn, rd, setflags, exc_return, s.b.const_i32(value))


def trans_dp_reg(s: ArmDisas, op: int, setflags: int, rn: int, rd: int, imm: int, stype: int,
                 rm: int) -> None:
    """<op>{S} Rd, Rn, Rm, <shift> #imm."""
    setup = _dp_setup(s, op, setflags, rn, rd)
    if setup is None:
        return s.undef()
    setflags, exc_return = setup
    shifted = s.shift_imm(s.reg(rm), stype, imm, setflags and op in LOGICAL)
    _alu(s, op, rn, rd, setflags, exc_return, shifted)


def trans_dp_rsr(s: ArmDisas, op: int, setflags: int, rn: int, rd: int, rs: int, stype: int,
                 rm: int) -> None:
    """<op>{S} Rd, Rn, Rm, <shift> Rs (any use of r15 is UNPREDICTABLE: read as +8)."""
    setup = _dp_setup(s, op, setflags, rn, rd)
    if setup is None:
        return s.undef()
    setflags, exc_return = setup
    shifted = s.shift_reg(s.reg(rm), stype, s.reg(rs), setflags and op in LOGICAL)
    _alu(s, op, rn, rd, setflags, exc_return, shifted)


def _alu(s: ArmDisas, op: int, rn: int, rd: int, setflags: bool, exc_return: bool,
         op2: Temp) -> None:
    b = s.b
    dest: Temp | None
    a = None if op in UNARY else s.reg(rn)
    if op in (OP_TST, OP_TEQ):
        dest = s.NF  # the result is only N (and Z, copied below)
    elif op in (OP_CMP, OP_CMN):
        dest = None
    elif rd == 15:
        dest = s.temp()
    else:
        dest = s.R[rd]

    if op in (OP_AND, OP_TST):
        b.and_(dest, a, op2)
    elif op in (OP_EOR, OP_TEQ):
        b.xor(dest, a, op2)
    elif op == OP_ORR:
        b.or_(dest, a, op2)
    elif op == OP_BIC:
        b.andc(dest, a, op2)
    elif op == OP_MOV:
        if dest is not op2:
            b.mov(dest, op2)
    elif op == OP_MVN:
        b.not_(dest, op2)
    elif op in (OP_SUB, OP_CMP):
        if setflags:
            s.sub_cc(dest, a, op2)
        else:
            b.sub(dest, a, op2)
    elif op == OP_RSB:
        if setflags:
            s.sub_cc(dest, op2, a)
        else:
            b.sub(dest, op2, a)
    elif op in (OP_ADD, OP_CMN):
        if setflags:
            s.add_cc(dest, a, op2)
        else:
            b.add(dest, a, op2)
    elif op == OP_ADC:
        if setflags:
            s.adc_cc(dest, a, op2)
        else:
            t = s.temp()
            b.add(t, a, op2)
            b.add(dest, t, s.CF)
    elif op == OP_SBC:
        if setflags:
            s.sbc_cc(dest, a, op2)
        else:
            t = s.temp()
            b.not_(t, op2)
            b.add(t, a, t)
            b.add(dest, t, s.CF)
    else:  # RSC
        if setflags:
            s.sbc_cc(dest, op2, a)
        else:
            t = s.temp()
            b.not_(t, a)
            b.add(t, op2, t)
            b.add(dest, t, s.CF)
    if setflags and op in LOGICAL:
        if dest is s.NF:
            b.mov(s.ZF, dest)
        else:
            s.logic_cc(dest)

    if op in TESTS:
        return
    if rd == 15:
        if exc_return:
            s.gen_exception_return(dest)
        else:
            s.set_reg_bx(15, dest)


# --------------------------------------------------------------------------- MOVW / MOVT


def trans_movw(s: ArmDisas, rd: int, imm: int) -> None:
    """MOVW Rd, #imm16 (imm4:imm12)."""
    if rd == 15:
        return s.undef()
    s.b.movi(s.R[rd], imm)


def trans_movt(s: ArmDisas, rd: int, imm: int) -> None:
    """MOVT Rd, #imm16: the top halfword."""
    if rd == 15:
        return s.undef()
    s.b.deposit(s.R[rd], s.R[rd], imm, 16, 16)


# --------------------------------------------------------------------------- multiplies


def trans_mul(s: ArmDisas, rd: int, rm: int, rn: int, ra: int | None = None,
              setflags: int = 0, subtract: bool = False) -> None:
    """MUL (no Ra), MLA, MLS (``subtract``): Rd = [Ra +/-] Rn * Rm; S sets N Z."""
    b = s.b
    if not no_pc(rd, rm, rn) or ra == 15:
        return s.undef()
    t = s.temp()
    b.mul(t, s.R[rn], s.R[rm])
    if ra is None:
        b.mov(s.R[rd], t)
    elif subtract:
        b.sub(s.R[rd], s.R[ra], t)
    else:
        b.add(s.R[rd], t, s.R[ra])
    if setflags:
        s.logic_cc(s.R[rd])


def trans_mull(s: ArmDisas, rdhi: int, rdlo: int, rm: int, rn: int, signed: int = 0,
               accumulate: int = 0, setflags: int = 0, umaal: bool = False) -> None:
    """UMULL, UMLAL, SMULL, SMLAL, UMAAL: RdHi:RdLo (+)= Rn * Rm."""
    b = s.b
    if not no_pc(rdhi, rdlo, rm, rn):
        return s.undef()
    lo, hi = s.temp(), s.temp()
    if signed:
        b.muls2(lo, hi, s.R[rn], s.R[rm])
    else:
        b.mulu2(lo, hi, s.R[rn], s.R[rm])
    if accumulate:
        b.add2(lo, hi, lo, hi, s.R[rdlo], s.R[rdhi])
    elif umaal:  # + RdLo + RdHi, both zero-extended
        b.add2(lo, hi, lo, hi, s.R[rdlo], 0)
        b.add2(lo, hi, lo, hi, s.R[rdhi], 0)
    # RdLo first, then RdHi: with RdHi == RdLo (UNPREDICTABLE) the high word wins, as QEMU.
    b.mov(s.R[rdlo], lo)
    b.mov(s.R[rdhi], hi)
    if setflags:
        b.mov(s.NF, hi)
        b.or_(s.ZF, lo, hi)


def _half(s: ArmDisas, value: Temp, top: bool) -> Temp:
    t = s.temp()
    if top:
        s.b.sar(t, value, 16)
    else:
        s.b.ext16s(t, value)
    return t


def trans_mul_halfword(s: ArmDisas, op: int, rd: int, ra: int, rm: int, rn: int, n_top: int,
                       m_top: int) -> None:
    """SMLA<x><y>, SMLAW<y>, SMULW<y>, SMLAL<x><y>, SMUL<x><y> (signed 16-bit multiplies).

    ``n_top``/``m_top`` (<x>/<y>) take the top half of Rn/Rm; with op 1, ``n_top`` set
    is SMULW<y> (Rn is used whole).
    """
    b = s.b
    no_acc = op == 3 or (op == 1 and n_top)  # SMUL<x><y>, SMULW<y>: Ra should be zero
    if not no_pc(rd, rm, rn) or (no_acc and ra != 0) or (not no_acc and ra == 15):
        return s.undef()
    rm_half = _half(s, s.R[rm], m_top)
    if op == 1:  # SMLAW<y> / SMULW<y>: (Rn * Rm.y) >> 16, a 48-bit product
        lo, hi = s.temp(), s.temp()
        b.muls2(lo, hi, s.R[rn], rm_half)
        prod = s.temp()
        b.shr(lo, lo, 16)
        b.shl(prod, hi, 16)
        b.or_(prod, prod, lo)
        if n_top:  # SMULW<y>
            b.mov(s.R[rd], prod)
        else:
            b.call(helper_add_setq, s.R[rd], prod, s.R[ra])
        return
    prod = s.temp()
    b.mul(prod, _half(s, s.R[rn], n_top), rm_half)
    if op == 0:  # SMLA<x><y>
        b.call(helper_add_setq, s.R[rd], prod, s.R[ra])
    elif op == 3:  # SMUL<x><y>
        b.mov(s.R[rd], prod)
    else:  # SMLAL<x><y>: RdHi(19:16):RdLo(15:12) += sign-extended product
        rdhi, rdlo = rd, ra
        sign = s.temp()
        b.sar(sign, prod, 31)
        lo, hi = s.temp(), s.temp()
        b.add2(lo, hi, s.R[rdlo], s.R[rdhi], prod, sign)
        b.mov(s.R[rdlo], lo)
        b.mov(s.R[rdhi], hi)
