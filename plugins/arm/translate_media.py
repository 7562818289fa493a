"""Miscellaneous and media arithmetic: CLZ, saturation, extends, byte reversal, bit
fields, divide, PKH, and the signed dual and most-significant-word multiplies.

ARM ARM A5.2.12 (miscellaneous), A5.4 (media instructions).  All of it reads and writes
only general registers (and Q through helpers); r15 anywhere is UNPREDICTABLE and
UNDEFs here.
"""

from __future__ import annotations

from core.ir import Temp

from . import helpers as h
from .translate import ArmDisas, no_pc


def trans_clz(s: ArmDisas, rd: int, rm: int) -> None:
    if not no_pc(rd, rm):
        return s.undef()
    s.b.clz(s.R[rd], s.R[rm], 32)


_QOPS = (h.helper_qadd, h.helper_qsub, h.helper_qdadd, h.helper_qdsub)


def trans_qaddsub(s: ArmDisas, op: int, rn: int, rd: int, rm: int) -> None:
    """QADD, QSUB, QDADD, QDSUB Rd, Rm, Rn (saturating; set Q)."""
    if not no_pc(rn, rd, rm):
        return s.undef()
    s.b.call(_QOPS[op], s.R[rd], s.R[rm], s.R[rn])


# --------------------------------------------------------------------------- extend


def _rotated(s: ArmDisas, rm: int, rot: int) -> Temp:
    if rot == 0:
        return s.R[rm]
    t = s.temp()
    s.b.rotr(t, s.R[rm], rot)
    return t


def trans_extend(s: ArmDisas, op: int, rn: int, rd: int, rot: int, rm: int) -> None:
    """{S,U}XT{B,H,B16} Rd, Rm{, ROR #rot*8} and the accumulating {S,U}XTA* Rd, Rn, Rm.

    ``op``: 0 SXTB16, 2 SXTB, 3 SXTH, 4 UXTB16, 6 UXTB, 7 UXTH.
    """
    b = s.b
    if op in (1, 5) or not no_pc(rd, rm):
        return s.undef()
    value = _rotated(s, rm, rot * 8)
    if op in (0, 4):  # byte 0 and byte 2, each to a halfword
        lo, hi = s.temp(), s.temp()
        if op == 0:
            b.ext8s(lo, value)
            b.sar(hi, value, 16)
            b.ext8s(hi, hi)
        else:
            b.ext8u(lo, value)
            b.extract(hi, value, 16, 8)
        if rn != 15:  # halfword-wise accumulate
            b.add(lo, lo, s.R[rn])
            tmp = s.temp()
            b.shr(tmp, s.R[rn], 16)
            b.add(hi, hi, tmp)
        b.deposit(s.R[rd], lo, hi, 16, 16)
        return
    ext = {2: b.ext8s, 3: b.ext16s, 6: b.ext8u, 7: b.ext16u}[op]
    if rn == 15:
        ext(s.R[rd], value)
    else:
        t = s.temp()
        ext(t, value)
        b.add(s.R[rd], s.R[rn], t)


# --------------------------------------------------------------------------- reverse


def trans_rev(s: ArmDisas, rd: int, rm: int) -> None:
    """REV Rd, Rm: the four bytes reversed."""
    if not no_pc(rd, rm):
        return s.undef()
    s.b.bswap32(s.R[rd], s.R[rm])


def trans_rev16(s: ArmDisas, rd: int, rm: int) -> None:
    """REV16 Rd, Rm: the bytes of each halfword swapped."""
    if not no_pc(rd, rm):
        return s.undef()
    b = s.b
    t, u = s.temp(), s.temp()
    b.shr(t, s.R[rm], 8)
    b.and_(t, t, 0x00FF00FF)
    b.and_(u, s.R[rm], 0x00FF00FF)
    b.shl(u, u, 8)
    b.or_(s.R[rd], u, t)


def trans_rbit(s: ArmDisas, rd: int, rm: int) -> None:
    """RBIT Rd, Rm: the 32 bits reversed."""
    if not no_pc(rd, rm):
        return s.undef()
    s.b.call(h.helper_rbit, s.R[rd], s.R[rm])


def trans_revsh(s: ArmDisas, rd: int, rm: int) -> None:
    """REVSH Rd, Rm: the low halfword's bytes swapped, sign-extended."""
    if not no_pc(rd, rm):
        return s.undef()
    t = s.temp()
    s.b.bswap16(t, s.R[rm])
    s.b.ext16s(s.R[rd], t)


# --------------------------------------------------------------------------- pack, saturate


def trans_pkh(s: ArmDisas, rn: int, rd: int, imm: int, tb: int, rm: int) -> None:
    """PKHBT Rd, Rn, Rm, LSL #imm / PKHTB Rd, Rn, Rm, ASR #imm (``tb``)."""
    b = s.b
    if not no_pc(rn, rd, rm):
        return s.undef()
    shifted = s.temp()
    if tb:  # ASR #0 means #32
        b.sar(shifted, s.R[rm], 31 if imm == 0 else imm)
        b.deposit(s.R[rd], s.R[rn], shifted, 0, 16)
    else:
        b.shl(shifted, s.R[rm], imm)
        b.deposit(s.R[rd], shifted, s.R[rn], 0, 16)


def trans_sat(s: ArmDisas, unsigned: int, sat_imm: int, rd: int, imm: int, asr: int,
              rn: int) -> None:
    """SSAT/USAT Rd, #sat, Rn{, LSL|ASR #imm}: to sat_imm + 1 (signed) or sat_imm bits."""
    b = s.b
    if not no_pc(rd, rn):
        return s.undef()
    value = s.R[rn]
    if asr:  # ASR #0 means #32
        value = s.temp()
        b.sar(value, s.R[rn], 31 if imm == 0 else imm)
    elif imm:
        value = s.temp()
        b.shl(value, s.R[rn], imm)
    b.call(h.helper_usat if unsigned else h.helper_ssat, s.R[rd], value,
           sat_imm if unsigned else sat_imm + 1)


def trans_sat16(s: ArmDisas, unsigned: int, sat_imm: int, rd: int, rn: int) -> None:
    """SSAT16/USAT16 Rd, #sat, Rn: each halfword saturated."""
    if not no_pc(rd, rn):
        return s.undef()
    s.b.call(h.helper_usat16 if unsigned else h.helper_ssat16, s.R[rd], s.R[rn],
             sat_imm if unsigned else sat_imm + 1)


# --------------------------------------------------------------------------- bit fields


def trans_bfx(s: ArmDisas, widthm1: int, rd: int, lsb: int, rn: int,
              unsigned: bool = False) -> None:
    """SBFX/UBFX Rd, Rn, #lsb, #width."""
    width = widthm1 + 1
    if not no_pc(rd, rn) or lsb + width > 32:
        return s.undef()
    if unsigned:
        s.b.extract(s.R[rd], s.R[rn], lsb, width)
    else:
        s.b.sextract(s.R[rd], s.R[rn], lsb, width)


def trans_bfi(s: ArmDisas, msb: int, rd: int, lsb: int, rn: int) -> None:
    """BFI Rd, Rn, #lsb, #width; BFC Rd, #lsb, #width when Rn is r15."""
    if rd == 15 or msb < lsb:
        return s.undef()
    s.b.deposit(s.R[rd], s.R[rd], 0 if rn == 15 else s.R[rn], lsb, msb - lsb + 1)


# --------------------------------------------------------------------------- divide


def trans_div(s: ArmDisas, rd: int, rm: int, rn: int, unsigned: bool = False) -> None:
    """SDIV/UDIV Rd, Rn, Rm: division by zero gives 0 (no trap: SCTLR.DZ is RAZ on A-profile)."""
    if not no_pc(rd, rm, rn):
        return s.undef()
    if unsigned:
        s.b.divu(s.R[rd], s.R[rn], s.R[rm])
    else:
        s.b.div(s.R[rd], s.R[rn], s.R[rm])


# --------------------------------------------------------------------------- signed multiplies


def trans_smmul(s: ArmDisas, rd: int, ra: int, rm: int, rounding: int, rn: int,
                subtract: bool = False) -> None:
    """SMMUL{R}, SMMLA{R}, SMMLS{R} Rd, Rn, Rm{, Ra}: the top word of a 64-bit product."""
    b = s.b
    if not no_pc(rd, rm, rn):
        return s.undef()
    lo, hi = s.temp(), s.temp()
    b.muls2(lo, hi, s.R[rn], s.R[rm])
    # Ra = r15 is SMMUL; for SMMLS it is UNPREDICTABLE and QEMU ignores Ra likewise.
    if ra != 15:
        if subtract:  # Ra:0 - product
            b.sub2(lo, hi, b.const_i32(0), s.R[ra], lo, hi)
        else:
            b.add(hi, hi, s.R[ra])
    if rounding:  # + 0x80000000 before taking the top word
        b.add2(lo, hi, lo, hi, 0x8000_0000, 0)
    b.mov(s.R[rd], hi)


def trans_smlad(s: ArmDisas, rd: int, ra: int, rm: int, swap: int, rn: int,
                subtract: bool = False) -> None:
    """SMLAD{X}, SMLSD{X} (Ra) and SMUAD{X}, SMUSD{X} (Ra = r15): dual 16x16 products."""
    b = s.b
    if not no_pc(rd, rm, rn):
        return s.undef()
    p1, p2 = _dual_products(s, rn, rm, swap)
    if subtract:  # |product2| <= 2^30: its negation is exact in 32 bits
        b.neg(p2, p2)
    # One exact sum, one overflow check (ARM ARM: Q iff the final result != its sign-
    # extended low word); SMUAD/SMUSD (Ra = r15) add nothing.
    b.call(h.helper_add3_setq, s.R[rd], p1, p2, 0 if ra == 15 else s.R[ra])


def trans_smlald(s: ArmDisas, rdhi: int, rdlo: int, rm: int, subtract: int, swap: int,
                 rn: int) -> None:
    """SMLALD{X}, SMLSLD{X} RdLo, RdHi, Rn, Rm: 64-bit accumulate of the dual products."""
    b = s.b
    if not no_pc(rdhi, rdlo, rm, rn):
        return s.undef()
    p1, p2 = _dual_products(s, rn, rm, swap)
    lo, hi = s.temp(), s.temp()
    s1, s2 = s.temp(), s.temp()
    b.sar(s1, p1, 31)
    b.sar(s2, p2, 31)
    b.add2(lo, hi, s.R[rdlo], s.R[rdhi], p1, s1)
    if subtract:
        b.sub2(lo, hi, lo, hi, p2, s2)
    else:
        b.add2(lo, hi, lo, hi, p2, s2)
    b.mov(s.R[rdlo], lo)
    b.mov(s.R[rdhi], hi)


def _dual_products(s: ArmDisas, rn: int, rm: int, swap: int) -> tuple[Temp, Temp]:
    """(Rn.lo * Rm'.lo, Rn.hi * Rm'.hi), Rm' = Rm with halves swapped when ``swap``."""
    b = s.b
    m = _rotated(s, rm, 16 if swap else 0)
    nlo, nhi, mlo, mhi = s.temp(), s.temp(), s.temp(), s.temp()
    b.ext16s(nlo, s.R[rn])
    b.sar(nhi, s.R[rn], 16)
    b.ext16s(mlo, m)
    b.sar(mhi, m, 16)
    p1, p2 = s.temp(), s.temp()
    b.mul(p1, nlo, mlo)
    b.mul(p2, nhi, mhi)
    return p1, p2


# --------------------------------------------------------------------------- SIMD in a word


def trans_parallel(s: ArmDisas, op1: int, rn: int, rd: int, op2: int, rm: int) -> None:
    """{S,Q,SH,U,UQ,UH}{ADD16,ASX,SAX,SUB16,ADD8,SUB8} Rd, Rn, Rm (S and U set GE)."""
    helper = h.helper_parallel.get((op1, op2))
    if helper is None or not no_pc(rn, rd, rm):
        return s.undef()
    s.b.call(helper, s.R[rd], s.R[rn], s.R[rm])


def trans_sel(s: ArmDisas, rn: int, rd: int, rm: int) -> None:
    if not no_pc(rn, rd, rm):
        return s.undef()
    s.b.call(h.helper_sel, s.R[rd], s.R[rn], s.R[rm])


def trans_usad8(s: ArmDisas, rd: int, ra: int, rm: int, rn: int) -> None:
    """USAD8 Rd, Rn, Rm; USADA8 Rd, Rn, Rm, Ra (Ra = r15 is USAD8)."""
    if not no_pc(rd, rm, rn):
        return s.undef()
    if ra == 15:
        s.b.call(h.helper_usad8, s.R[rd], s.R[rn], s.R[rm])
    else:
        t = s.temp()
        s.b.call(h.helper_usad8, t, s.R[rn], s.R[rm])
        s.b.add(s.R[rd], t, s.R[ra])
