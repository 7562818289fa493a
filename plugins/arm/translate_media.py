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


def trans_clz(s: ArmDisas, insn: int) -> None:
    rd, rm = (insn >> 12) & 15, insn & 15
    if not no_pc(rd, rm):
        return s.undef()
    s.b.clz(s.R[rd], s.R[rm], 32)


_QOPS = (h.helper_qadd, h.helper_qsub, h.helper_qdadd, h.helper_qdsub)


def trans_qaddsub(s: ArmDisas, insn: int) -> None:
    """QADD, QSUB, QDADD, QDSUB Rd, Rm, Rn (saturating; set Q)."""
    rn, rd, rm = (insn >> 16) & 15, (insn >> 12) & 15, insn & 15
    if not no_pc(rn, rd, rm):
        return s.undef()
    s.b.call(_QOPS[(insn >> 21) & 3], s.R[rd], s.R[rm], s.R[rn])


# --------------------------------------------------------------------------- extend


def _rotated(s: ArmDisas, rm: int, rot: int) -> Temp:
    if rot == 0:
        return s.R[rm]
    t = s.temp()
    s.b.rotr(t, s.R[rm], rot)
    return t


def trans_extend(s: ArmDisas, insn: int) -> None:
    """{S,U}XT{B,H,B16} Rd, Rm{, ROR #n} and the accumulating {S,U}XTA* Rd, Rn, Rm."""
    b = s.b
    op = (insn >> 20) & 7  # 0 SXTB16, 2 SXTB, 3 SXTH, 4 UXTB16, 6 UXTB, 7 UXTH
    rn, rd, rm = (insn >> 16) & 15, (insn >> 12) & 15, insn & 15
    if op in (1, 5) or not no_pc(rd, rm):
        return s.undef()
    value = _rotated(s, rm, ((insn >> 10) & 3) * 8)
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


def trans_rev(s: ArmDisas, insn: int) -> None:
    """REV, REV16, RBIT, REVSH Rd, Rm."""
    b = s.b
    rd, rm = (insn >> 12) & 15, insn & 15
    if not no_pc(rd, rm):
        return s.undef()
    kind = ((insn >> 21) & 2) | ((insn >> 7) & 1)  # bit 22 (RBIT/REVSH) and bit 7
    if kind == 0:
        b.bswap32(s.R[rd], s.R[rm])
    elif kind == 1:  # REV16: swap the bytes of each halfword
        t, u = s.temp(), s.temp()
        b.shr(t, s.R[rm], 8)
        b.and_(t, t, 0x00FF00FF)
        b.and_(u, s.R[rm], 0x00FF00FF)
        b.shl(u, u, 8)
        b.or_(s.R[rd], u, t)
    elif kind == 2:
        b.call(h.helper_rbit, s.R[rd], s.R[rm])
    else:  # REVSH: swap the low halfword's bytes, sign-extend
        t = s.temp()
        b.bswap16(t, s.R[rm])
        b.ext16s(s.R[rd], t)


# --------------------------------------------------------------------------- pack, saturate


def trans_pkh(s: ArmDisas, insn: int) -> None:
    """PKHBT Rd, Rn, Rm, LSL #n / PKHTB Rd, Rn, Rm, ASR #n."""
    b = s.b
    rn, rd, rm = (insn >> 16) & 15, (insn >> 12) & 15, insn & 15
    if not no_pc(rn, rd, rm):
        return s.undef()
    amount = (insn >> 7) & 31
    tb = bool(insn & (1 << 6))
    shifted = s.temp()
    if tb:  # ASR #0 means #32
        b.sar(shifted, s.R[rm], 31 if amount == 0 else amount)
        b.deposit(s.R[rd], s.R[rn], shifted, 0, 16)
    else:
        b.shl(shifted, s.R[rm], amount)
        b.deposit(s.R[rd], shifted, s.R[rn], 0, 16)


def trans_sat(s: ArmDisas, insn: int) -> None:
    """SSAT/USAT Rd, #sat, Rn{, LSL|ASR #n} and SSAT16/USAT16 Rd, #sat, Rn."""
    b = s.b
    unsigned = bool(insn & (1 << 22))
    rd, rn = (insn >> 12) & 15, insn & 15
    if not no_pc(rd, rn):
        return s.undef()
    sat = (insn >> 16) & 31
    if (insn >> 4) & 0xF == 0x3:  # SSAT16 / USAT16 (bits 21:20 = 10)
        sat &= 15
        b.call(h.helper_usat16 if unsigned else h.helper_ssat16, s.R[rd], s.R[rn],
               sat if unsigned else sat + 1)
        return
    amount = (insn >> 7) & 31
    value = s.R[rn]
    if insn & (1 << 6):  # ASR (#0 means #32)
        value = s.temp()
        b.sar(value, s.R[rn], 31 if amount == 0 else amount)
    elif amount:
        value = s.temp()
        b.shl(value, s.R[rn], amount)
    b.call(h.helper_usat if unsigned else h.helper_ssat, s.R[rd], value,
           sat if unsigned else sat + 1)


# --------------------------------------------------------------------------- bit fields


def trans_bfx(s: ArmDisas, insn: int) -> None:
    """SBFX/UBFX Rd, Rn, #lsb, #width."""
    rd, rn = (insn >> 12) & 15, insn & 15
    lsb, width = (insn >> 7) & 31, ((insn >> 16) & 31) + 1
    if not no_pc(rd, rn) or lsb + width > 32:
        return s.undef()
    if insn & (1 << 22):
        s.b.extract(s.R[rd], s.R[rn], lsb, width)
    else:
        s.b.sextract(s.R[rd], s.R[rn], lsb, width)


def trans_bfi(s: ArmDisas, insn: int) -> None:
    """BFI Rd, Rn, #lsb, #width; BFC Rd, #lsb, #width when Rn is r15."""
    rd, rn = (insn >> 12) & 15, insn & 15
    lsb, msb = (insn >> 7) & 31, (insn >> 16) & 31
    if rd == 15 or msb < lsb:
        return s.undef()
    s.b.deposit(s.R[rd], s.R[rd], 0 if rn == 15 else s.R[rn], lsb, msb - lsb + 1)


# --------------------------------------------------------------------------- divide


def trans_div(s: ArmDisas, insn: int) -> None:
    """SDIV/UDIV Rd, Rn, Rm: division by zero gives 0 (no trap: SCTLR.DZ is RAZ on A-profile)."""
    rd, rm, rn = (insn >> 16) & 15, (insn >> 8) & 15, insn & 15
    if not no_pc(rd, rm, rn):
        return s.undef()
    if insn & (1 << 21):
        s.b.divu(s.R[rd], s.R[rn], s.R[rm])
    else:
        s.b.div(s.R[rd], s.R[rn], s.R[rm])


# --------------------------------------------------------------------------- signed multiplies


def trans_smmul(s: ArmDisas, insn: int) -> None:
    """SMMUL{R}, SMMLA{R}, SMMLS{R} Rd, Rn, Rm{, Ra}: the top word of a 64-bit product."""
    b = s.b
    rd, ra, rm, rn = (insn >> 16) & 15, (insn >> 12) & 15, (insn >> 8) & 15, insn & 15
    sub = bool(insn & (1 << 6))
    rnd = bool(insn & (1 << 5))
    if not no_pc(rd, rm, rn):
        return s.undef()
    lo, hi = s.temp(), s.temp()
    b.muls2(lo, hi, s.R[rn], s.R[rm])
    # Ra = r15 is SMMUL; for SMMLS it is UNPREDICTABLE and QEMU ignores Ra likewise.
    if ra != 15:
        if sub:  # Ra:0 - product
            b.sub2(lo, hi, b.const_i32(0), s.R[ra], lo, hi)
        else:
            b.add(hi, hi, s.R[ra])
    if rnd:  # + 0x80000000 before taking the top word
        b.add2(lo, hi, lo, hi, 0x8000_0000, 0)
    b.mov(s.R[rd], hi)


def trans_smlad(s: ArmDisas, insn: int) -> None:
    """SMLAD{X}, SMLSD{X} (Ra) and SMUAD{X}, SMUSD{X} (Ra = r15): dual 16x16 products."""
    b = s.b
    rd, ra, rm, rn = (insn >> 16) & 15, (insn >> 12) & 15, (insn >> 8) & 15, insn & 15
    sub, swap = bool(insn & (1 << 6)), bool(insn & (1 << 5))
    if not no_pc(rd, rm, rn):
        return s.undef()
    p1, p2 = _dual_products(s, rn, rm, swap)
    if sub:  # |product2| <= 2^30: its negation is exact in 32 bits
        b.neg(p2, p2)
    # One exact sum, one overflow check (ARM ARM: Q iff the final result != its sign-
    # extended low word); SMUAD/SMUSD (Ra = r15) add nothing.
    b.call(h.helper_add3_setq, s.R[rd], p1, p2, 0 if ra == 15 else s.R[ra])


def trans_smlald(s: ArmDisas, insn: int) -> None:
    """SMLALD{X}, SMLSLD{X} RdLo, RdHi, Rn, Rm: 64-bit accumulate of the dual products."""
    b = s.b
    rdhi, rdlo, rm, rn = (insn >> 16) & 15, (insn >> 12) & 15, (insn >> 8) & 15, insn & 15
    sub, swap = bool(insn & (1 << 6)), bool(insn & (1 << 5))
    if not no_pc(rdhi, rdlo, rm, rn):
        return s.undef()
    p1, p2 = _dual_products(s, rn, rm, swap)
    lo, hi = s.temp(), s.temp()
    s1, s2 = s.temp(), s.temp()
    b.sar(s1, p1, 31)
    b.sar(s2, p2, 31)
    b.add2(lo, hi, s.R[rdlo], s.R[rdhi], p1, s1)
    if sub:
        b.sub2(lo, hi, lo, hi, p2, s2)
    else:
        b.add2(lo, hi, lo, hi, p2, s2)
    b.mov(s.R[rdlo], lo)
    b.mov(s.R[rdhi], hi)


def _dual_products(s: ArmDisas, rn: int, rm: int, swap: bool) -> tuple[Temp, Temp]:
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


def trans_parallel(s: ArmDisas, insn: int) -> None:
    """{S,Q,SH,U,UQ,UH}{ADD16,ASX,SAX,SUB16,ADD8,SUB8} Rd, Rn, Rm (S and U set GE)."""
    rn, rd, rm = (insn >> 16) & 15, (insn >> 12) & 15, insn & 15
    helper = h.helper_parallel.get(((insn >> 20) & 7, (insn >> 5) & 7))
    if helper is None or not no_pc(rn, rd, rm):
        return s.undef()
    s.b.call(helper, s.R[rd], s.R[rn], s.R[rm])


def trans_sel(s: ArmDisas, insn: int) -> None:
    rn, rd, rm = (insn >> 16) & 15, (insn >> 12) & 15, insn & 15
    if not no_pc(rn, rd, rm):
        return s.undef()
    s.b.call(h.helper_sel, s.R[rd], s.R[rn], s.R[rm])


def trans_usad8(s: ArmDisas, insn: int) -> None:
    """USAD8 Rd, Rn, Rm; USADA8 Rd, Rn, Rm, Ra (Ra = r15 is USAD8)."""
    rd, ra, rm, rn = (insn >> 16) & 15, (insn >> 12) & 15, (insn >> 8) & 15, insn & 15
    if not no_pc(rd, rm, rn):
        return s.undef()
    if ra == 15:
        s.b.call(h.helper_usad8, s.R[rd], s.R[rn], s.R[rm])
    else:
        t = s.temp()
        s.b.call(h.helper_usad8, t, s.R[rn], s.R[rm])
        s.b.add(s.R[rd], t, s.R[ra])
