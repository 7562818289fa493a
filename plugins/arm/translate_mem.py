"""Loads and stores: word/byte, halfword/signed/dual, multiple, and the exclusives.

ARM ARM A5.3 / A5.2.8 / A5.5 / A8.8.7x; QEMU's op_load_ri/op_store_rr, op_ldrd,
op_ldm/op_stm, gen_load_exclusive/gen_store_exclusive.  Addressing: ``P`` (bit 24)
pre-indexed, ``U`` (bit 23) add, ``W`` (bit 21) write back; post-indexed always writes
back (P=0 W=1 is the unprivileged LDRT/STRT family, identical here with no MMU).  The
base register is written back before a loaded value, so a load into the base wins (as
QEMU does for that UNPREDICTABLE case); a store writes back after storing.

The exclusives are the LL/SC series' patch 5/5: LDREX* emit ``qemu_ldlink_iN``, STREX*
``qemu_stcond_iN`` (Rd = 0 stored, 1 failed), all naturally aligned; the doubleword
forms are one 8-byte operation on Rt (low word, at [addr]) and Rt+1.
"""

from __future__ import annotations

from core.ir import MemOp, Temp, make_oi

from . import helpers as h
from .translate import ArmDisas

UL_ALIGN4 = MemOp.UL | MemOp.MO_ALIGN  # LDM/STM: MemA[] always checks word alignment
UQ_ALIGN4 = MemOp.UQ | MemOp.MO_ALIGN_4  # LDRD/STRD: word aligned, one 8-byte access


def _address(s: ArmDisas, rn: int, offset: Temp | int, add: bool, pre: bool) -> tuple[Temp, Temp]:
    """(address to access, base): offset applied first when pre-indexed."""
    b = s.b
    base = s.reg(rn)
    if not pre or (isinstance(offset, int) and offset == 0):
        return base, base
    addr = s.temp()
    if add:
        b.add(addr, base, offset)
    else:
        b.sub(addr, base, offset)
    return addr, base


def _writeback(s: ArmDisas, rn: int, addr: Temp, base: Temp, offset: Temp | int, add: bool,
               pre: bool) -> None:
    b = s.b
    if pre:
        if addr is not base:
            b.mov(s.R[rn], addr)
    elif isinstance(offset, int) and offset == 0:
        pass
    elif add:
        b.add(s.R[rn], base, offset)
    else:
        b.sub(s.R[rn], base, offset)


def _ldst(s: ArmDisas, p: int, u: int, w: int, rn: int, rt: int, offset: Temp | int,
          memop: int, load: int, is_word: bool) -> None:
    pre, add = bool(p), bool(u)
    wback = not pre or bool(w)
    b = s.b
    # r15 as the base of a writeback, or as the target of a non-word load: UNPREDICTABLE
    if (wback and rn == 15) or (rt == 15 and load and not is_word):
        return s.undef()
    addr, base = _address(s, rn, offset, add, pre)
    if load:
        direct = not wback and rt != 15
        value = s.R[rt] if direct else s.temp()
        b.qemu_ld(value, addr, memop)
        if wback:
            _writeback(s, rn, addr, base, offset, add, pre)
        if not direct:
            s.set_reg_bx(rt, value)  # LoadWritePC interworks (ARMv5T and later)
    else:
        b.qemu_st(s.reg(rt), addr, memop)
        if wback:
            _writeback(s, rn, addr, base, offset, add, pre)


# --------------------------------------------------------------------------- word / byte


def trans_ldst_imm(s: ArmDisas, p: int, u: int, byte: int, w: int, load: int, rn: int, rt: int,
                   imm: int) -> None:
    """LDR/STR/LDRB/STRB{T} Rt, [Rn, #+/-imm12] in all indexing modes."""
    _ldst(s, p, u, w, rn, rt, imm, MemOp.UB if byte else MemOp.UL, load, not byte)


def trans_ldst_reg(s: ArmDisas, p: int, u: int, byte: int, w: int, load: int, rn: int, rt: int,
                   imm: int, stype: int, rm: int) -> None:
    """LDR/STR/LDRB/STRB{T} Rt, [Rn, +/-Rm, <shift> #imm]."""
    offset = s.shift_imm(s.reg(rm), stype, imm, False)
    _ldst(s, p, u, w, rn, rt, offset, MemOp.UB if byte else MemOp.UL, load, not byte)


# --------------------------------------------------------------------------- halfword / dual

_EXTRA_MEMOP = {  # (L, op2) -> memop
    (0, 1): MemOp.UW, (1, 1): MemOp.UW, (1, 2): MemOp.SB, (1, 3): MemOp.SW,
}


def trans_ldst_extra(s: ArmDisas, p: int, u: int, w: int, load: int, rn: int, rt: int,
                     op: int, imm: int = 0, rm: int | None = None) -> None:
    """LDRH/STRH/LDRSB/LDRSH{T}, LDRD/STRD: imm8 split in 11:8 and 3:0 (imm4H:imm4L), or Rm.

    ``op`` is bits 6:5 (SH): 1 H, 2 SB or LDRD, 3 SH or STRD.
    """
    if op == 0:
        return s.undef()
    offset: Temp | int = imm if rm is None else s.reg(rm)  # the immediate or the register form
    if load == 0 and op in (2, 3):
        return _ldst_dual(s, p, u, w, rn, rt, offset, op == 2)
    _ldst(s, p, u, w, rn, rt, offset, _EXTRA_MEMOP[(load, op)], load, False)


def _ldst_dual(s: ArmDisas, p: int, u: int, w: int, rn: int, rt: int, offset: Temp | int,
               load: bool) -> None:
    """LDRD/STRD Rt, Rt+1: Rt odd UNDEFs, P=0 W=1 is not an encoding (as QEMU).

    Rt = r14 is UNPREDICTABLE; as in QEMU, Rt2 = r15 stores pc + 8 or loads a branch.
    """
    b = s.b
    pre, add = bool(p), bool(u)
    wback = not pre or bool(w)
    if rt & 1 or (not pre and w) or (wback and rn == 15):
        return s.undef()
    addr, base = _address(s, rn, offset, add, pre)
    if wback and base is s.R[rn]:
        # a load into Rn must not change the written-back address (QEMU: writeback wins)
        base = s.temp()
        b.mov(base, s.R[rn])
        if addr is s.R[rn]:
            addr = base
    pair = b.temp_new_i64()
    if load:
        b.qemu_ld(pair, addr, UQ_ALIGN4)
        b.extrl_i64_i32(s.R[rt], pair)
        high = s.R[rt + 1] if rt != 14 else s.temp()
        b.extrh_i64_i32(high, pair)
        if wback:  # ARM ARM: Rn == Rt or Rt2 with writeback is UNPREDICTABLE
            _writeback(s, rn, addr, base, offset, add, pre)
        if rt == 14:
            s.set_reg(15, high)
    else:
        b.concat_i32_i64(pair, s.reg(rt), s.reg(rt + 1))
        b.qemu_st(pair, addr, UQ_ALIGN4)
        if wback:
            _writeback(s, rn, addr, base, offset, add, pre)


# --------------------------------------------------------------------------- multiple


def trans_ldm_stm(s: ArmDisas, p: int, u: int, user: int, w: int, load: int, rn: int,
                  reglist: int) -> None:
    """LDM/STM{IA,IB,DA,DB} Rn{!}, {list}{^}; PUSH/POP are STMDB/LDMIA sp!."""
    b = s.b
    pre, add, wback = bool(p), bool(u), bool(w)
    regs = [i for i in range(16) if reglist & (1 << i)]
    n = len(regs)
    exc_return = user and load and 15 in regs
    user_regs = user and not exc_return
    # Empty list, base r15: UNPREDICTABLE (QEMU UNDEFs).  ^ forms are UNPREDICTABLE in
    # User and System mode, and the user-register form may not write back.
    # LDM writing back a base that is in the list: UNPREDICTABLE from ARMv7 (QEMU UNDEFs).
    if n == 0 or rn == 15 or (user and (s.user or s.mode == 0x1F)) or (user_regs and wback) \
            or (load and wback and rn in regs):
        return s.undef()

    base = s.temp()
    b.mov(base, s.R[rn])
    addr = s.temp()
    # lowest address: IA Rn, IB Rn+4, DA Rn-4n+4, DB Rn-4n
    first = (4 if pre else 0) if add else (-4 * n + (0 if pre else 4))
    b.add(addr, base, first)
    loaded_base = None
    pc_value = None
    for i, r in enumerate(regs):
        if load:
            if user_regs and r >= 8:
                t = s.temp()
                b.qemu_ld(t, addr, UL_ALIGN4)
                b.call(h.helper_set_user_reg, None, r, t)
            elif r == 15:
                pc_value = s.temp()
                b.qemu_ld(pc_value, addr, UL_ALIGN4)
            elif r == rn:
                loaded_base = s.temp()
                b.qemu_ld(loaded_base, addr, UL_ALIGN4)
            else:
                b.qemu_ld(s.R[r], addr, UL_ALIGN4)
        else:
            if user_regs and r >= 8 and r != 15:
                t = s.temp()
                b.call(h.helper_get_user_reg, t, r)
                value = t
            elif r == rn:
                value = base  # the original base, even with writeback
            else:
                value = s.reg(r)  # r15 stores the instruction address + 8
            b.qemu_st(value, addr, UL_ALIGN4)
        if i != n - 1:
            b.add(addr, addr, 4)
    if wback:
        b.add(s.R[rn], base, 4 * n if add else -4 * n)
    if loaded_base is not None:
        b.mov(s.R[rn], loaded_base)  # a loaded base wins over the writeback
    if pc_value is not None:
        if exc_return:
            s.gen_exception_return(pc_value)
        else:
            s.gen_bx(pc_value)


# --------------------------------------------------------------------------- exclusives

_EX_SIZE = {0: 32, 1: 64, 2: 8, 3: 16}  # size (bits 22:21) -> bits
_EX_MEMOP = {8: MemOp.UB, 16: MemOp.UW, 32: MemOp.UL, 64: MemOp.UQ}


def trans_ldrex(s: ArmDisas, size: int, rn: int, rt: int) -> None:
    """LDREX, LDREXD, LDREXB, LDREXH Rt, [Rn]."""
    b = s.b
    bits = _EX_SIZE[size]
    if rn == 15 or rt == 15 or (bits == 64 and (rt & 1 or rt == 14)):
        return s.undef()
    oi = make_oi(_EX_MEMOP[bits] | MemOp.MO_ALIGN)
    if bits == 64:
        pair = b.temp_new_i64()
        b.qemu_ldlink_i64(pair, s.R[rn], oi)
        b.extrl_i64_i32(s.R[rt], pair)
        b.extrh_i64_i32(s.R[rt + 1], pair)
    else:
        b.emit(f"qemu_ldlink_i{bits}", s.R[rt], s.R[rn], oi)


def trans_strex(s: ArmDisas, size: int, rn: int, rd: int, rt: int) -> None:
    """STREX, STREXD, STREXB, STREXH Rd, Rt, [Rn]: Rd = 0 if stored, 1 if not."""
    b = s.b
    bits = _EX_SIZE[size]
    if 15 in (rn, rd, rt) or (bits == 64 and (rt & 1 or rt == 14)):
        return s.undef()
    if rd == rn or rd == rt or (bits == 64 and rd == rt + 1):
        return s.undef()  # UNPREDICTABLE (ARM ARM A8.8.213)
    oi = make_oi(_EX_MEMOP[bits] | MemOp.MO_ALIGN)
    if bits == 64:
        pair = b.temp_new_i64()
        b.concat_i32_i64(pair, s.R[rt], s.R[rt + 1])
        b.qemu_stcond_i64(s.R[rd], pair, s.R[rn], oi)
    else:
        b.emit(f"qemu_stcond_i{bits}", s.R[rd], s.R[rt], s.R[rn], oi)


def trans_clrex(s: ArmDisas) -> None:
    s.b.call(h.helper_clrex, None)


def trans_swp(s: ArmDisas, byte: int, rn: int, rt: int, rt2: int) -> None:
    """SWP{B} Rt, Rt2, [Rn]: an atomic exchange (one instruction is never interleaved)."""
    b = s.b
    if 15 in (rn, rt, rt2):
        return s.undef()
    memop = (MemOp.UB if byte else MemOp.UL) | MemOp.MO_ALIGN
    old = s.temp()
    b.qemu_ld(old, s.R[rn], memop)
    b.qemu_st(s.R[rt2], s.R[rn], memop)
    b.mov(s.R[rt], old)
