"""System instructions: exceptions, status registers, hints, barriers, CP15.

SVC (semihosting when imm24 == 0x123456 outside User mode), HVC, HLT (semihosting when
imm16 == 0xf000, outside User mode), BKPT; MRS/MSR on the CPSR and the current mode's SPSR, CPS, SETEND; the hint space
(NOP, YIELD, WFE, WFI, SEV, SEVL); DMB/DSB/ISB, PLD/PLI; MRC/MCR to the CP15 registers
of :data:`CP15`.  ARM ARM A5.2.12, B9.3; QEMU trans_MRS_reg, trans_MSR_imm, gen_set_psr,
trans_CPS, do_coproc_insn.

Exceptions the platform handles (SEMIHOST, HVC) and SVC leave with the pc at the
*next* instruction, so a handler that returns resumes after the call.
"""

from __future__ import annotations

from core.cpu import EXCP
from core.frontend import DisasJump
from core.ir import M32, Temp

from . import cpu as arm
from . import helpers as h
from .cpu import ArmExcp
from .translate import MB_ALL, ArmDisas, expand_imm

SEMIHOST_SVC_A32 = 0x123456
SEMIHOST_HLT_A32 = 0xF000

# --------------------------------------------------------------------------- exceptions


def trans_svc(s: ArmDisas, imm: int) -> None:
    """SVC #imm24; #0x123456 is a semihosting call, except from User mode (QEMU's
    default ``-semihosting`` serves privileged code only)."""
    if imm == SEMIHOST_SVC_A32 and not s.user:
        s.raise_exception(ArmExcp.SEMIHOST, imm)
    else:
        s.raise_exception(ArmExcp.SVC, imm)


def trans_hvc(s: ArmDisas, imm: int) -> None:
    """HVC #imm16: UNDEFINED in User mode (a condition other than AL is UNPREDICTABLE;
    it is honoured, as in QEMU)."""
    if s.user:
        return s.undef()
    s.raise_exception(ArmExcp.HVC, imm)


def trans_hlt(s: ArmDisas, imm: int) -> None:
    """HLT #imm16 (A32 encoding of ARMv8; QEMU takes #0xf000 as semihosting on v7 too)."""
    if imm != SEMIHOST_HLT_A32 or s.user:
        return s.undef()
    s.raise_exception(ArmExcp.SEMIHOST, imm)


def trans_bkpt(s: ArmDisas, imm: int) -> None:
    s.b.movi(s.PC, s.pc)
    s.b.call(h.helper_bkpt, None, imm, s.pc)
    s.ctx.is_jmp = DisasJump.NORETURN


def trans_udf(s: ArmDisas, imm: int = 0) -> None:
    """UDF #imm (the immediate is for a debugger) and the other UNDEFINED classes."""
    s.undef()


# --------------------------------------------------------------------------- status registers


def _msr_mask(s: ArmDisas, fields: int, spsr: bool) -> int:
    """The bits an MSR with field mask ``fields`` (c x s f = bits 0..3) writes."""
    mask = 0
    for i in range(4):
        if fields & (1 << i):
            mask |= 0xFF << (8 * i)
    if spsr:
        return mask
    # E stays in the mask (privileged writes only) so that E = 1 can be refused
    mask &= (arm.CPSR_VALID | arm.CPSR_E) & ~arm.CPSR_EXEC
    if s.user:
        mask &= arm.CPSR_USER
    return mask


def _spsr_slot(s: ArmDisas) -> int | None:
    return arm.spsr_slot(s.mode)


def _msr(s: ArmDisas, value: Temp | int, fields: int, spsr: bool) -> None:
    """Write ``value`` (a register, or an immediate as an int) to the CPSR or SPSR."""
    b = s.b
    mask = _msr_mask(s, fields, spsr)
    if spsr:
        slot = _spsr_slot(s)
        if slot is None:  # no SPSR in User/System mode: UNPREDICTABLE, UNDEF as QEMU (usr)
            return s.undef()
        if mask == 0:
            return
        if isinstance(value, int):
            value = b.const_i32(value)
        t = s.temp()
        b.ld_env(t, slot)
        if mask != M32:
            b.and_(t, t, ~mask & M32)
            v = s.temp()
            b.and_(v, value, mask)
            b.or_(t, t, v)
        else:
            b.mov(t, value)
        b.st_env(t, slot)
        return
    if mask == 0:
        return
    if mask & arm.CPSR_E:
        # Big-endian data is not modelled: E = 1 is refused, as SETEND BE is.  An
        # immediate is checked here; for a register the helper checks at run time and
        # reports the pc, which must then hold this insn's address.
        if isinstance(value, int):
            if value & arm.CPSR_E:
                return s.unsupported(h.UNSUPPORTED_BE)
            mask &= ~arm.CPSR_E
        else:
            b.movi(s.PC, s.pc)
    b.call(h.helper_cpsr_write, None, value, mask)
    if mask & 0xFF:  # the mode or the A/I/F masks may have changed: new TB flags
        s.end_lookup()


def trans_msr_imm(s: ArmDisas, spsr: int, mask: int, imm: int) -> None:
    """MSR <psr>_<fields>, #imm (``mask``: the fields c x s f as bits 0..3)."""
    _msr(s, expand_imm(imm), mask, bool(spsr))


def trans_msr_reg(s: ArmDisas, spsr: int, mask: int, rn: int) -> None:
    """MSR <psr>_<fields>, Rn."""
    if rn == 15:  # (the banked-register form, bit 9 set, does not match the pattern)
        return s.undef()
    _msr(s, s.R[rn], mask, bool(spsr))


def trans_mrs(s: ArmDisas, spsr: int, rd: int) -> None:
    """MRS Rd, CPSR | SPSR."""
    if rd == 15:
        return s.undef()
    if spsr:
        slot = _spsr_slot(s)
        if slot is None:
            return s.undef()
        s.b.ld_env(s.R[rd], slot)
    else:
        s.b.call(h.helper_cpsr_read, s.R[rd])


def trans_cps(s: ArmDisas, imod: int, change_mode: int, aif: int, mode: int) -> None:
    """CPS{IE,ID} <aif>{, #mode} / CPS #mode: a NOP in User mode.

    ``aif`` holds the A I F bits in their CPSR order.  The UNPREDICTABLE combinations
    (imod = 01, nothing to change) do what the fields say, as in QEMU.
    """
    if s.user:
        return
    mask = value = 0
    if imod & 2:
        mask |= aif << 6  # A I F are CPSR bits 8 7 6
        if imod == 3:  # ID: set the mask bits
            value |= mask
    if change_mode:
        mask |= arm.CPSR_M
        value |= mode
    if mask:
        s.b.call(h.helper_cpsr_write, None, s.b.const_i32(value), mask)
        s.end_lookup()


def trans_setend(s: ArmDisas, big_endian: int) -> None:
    """SETEND LE is a no-op here; SETEND BE would need big-endian data accesses."""
    if big_endian:
        s.unsupported(h.UNSUPPORTED_BE)


# --------------------------------------------------------------------------- hints, barriers


def trans_hint(s: ArmDisas, imm: int) -> None:
    """NOP, YIELD, WFE, WFI, SEV, SEVL, DBG, CSDB and the reserved hints (NOPs)."""
    if imm == 1 or imm == 2:  # YIELD; WFE is a yield under TCG (no event register)
        s.raise_exception(EXCP.YIELD)
    elif imm == 3:  # WFI: halt until woken
        s.raise_exception(EXCP.HLT)


def trans_barrier(s: ArmDisas, option: int) -> None:
    """DMB, DSB: a full barrier, whatever the option (domain and access types)."""
    s.b.mb(MB_ALL)


def trans_isb(s: ArmDisas, option: int) -> None:
    """ISB: a full barrier that also ends the TB (context synchronisation)."""
    s.b.mb(MB_ALL)
    s.gen_goto(s.next_pc, 0)


def trans_nop(s: ArmDisas, **_operands: int) -> None:
    """PLD, PLDW, PLI and the unallocated memory hints: nothing to do without caches."""


# --------------------------------------------------------------------------- CP15

# kinds of CP15 register
K_CONST, K_SLOT, K_SCTLR, K_NOP, K_BARRIER, K_MPIDR = range(6)
# access (bit set = allowed): PL1 read/write, PL0 read/write
R1, W1, R0, W0 = 1, 2, 4, 8
RW1 = R1 | W1

#: (opc1, CRn, CRm, opc2) -> (name, kind, value-or-slot, access)
CP15: dict[tuple[int, int, int, int], tuple[str, int, object, int]] = {
    (0, 0, 0, 0): ("MIDR", K_CONST, arm.MIDR, R1),
    (0, 0, 0, 1): ("CTR", K_CONST, arm.CTR, R1),
    (0, 0, 0, 5): ("MPIDR", K_MPIDR, None, R1),
    (1, 0, 0, 1): ("CLIDR", K_CONST, arm.CLIDR, R1),
    (1, 0, 0, 0): ("CCSIDR", K_CONST, 0x701FE00A, R1),  # 32 KiB L1 D-cache, 64 B lines
    (2, 0, 0, 0): ("CSSELR", K_SLOT, "csselr", RW1),
    (0, 1, 0, 0): ("SCTLR", K_SCTLR, "sctlr", RW1),
    (0, 1, 0, 1): ("ACTLR", K_SLOT, "actlr", RW1),
    (0, 1, 0, 2): ("CPACR", K_SLOT, "cpacr", RW1),
    (0, 2, 0, 0): ("TTBR0", K_SLOT, "ttbr0", RW1),
    (0, 2, 0, 1): ("TTBR1", K_SLOT, "ttbr1", RW1),
    (0, 2, 0, 2): ("TTBCR", K_SLOT, "ttbcr", RW1),
    (0, 3, 0, 0): ("DACR", K_SLOT, "dacr", RW1),
    (0, 12, 0, 0): ("VBAR", K_SLOT, "vbar", RW1),
    (0, 13, 0, 1): ("CONTEXTIDR", K_SLOT, "contextidr", RW1),
    (0, 13, 0, 2): ("TPIDRURW", K_SLOT, "tpidrurw", RW1 | R0 | W0),
    (0, 13, 0, 3): ("TPIDRURO", K_SLOT, "tpidruro", RW1 | R0),
    (0, 13, 0, 4): ("TPIDRPRW", K_SLOT, "tpidrprw", RW1),
    (0, 7, 5, 4): ("CP15ISB", K_BARRIER, None, W1 | W0),
    (0, 7, 10, 4): ("CP15DSB", K_BARRIER, None, W1 | W0),
    (0, 7, 10, 5): ("CP15DMB", K_BARRIER, None, W1 | W0),
}
# Cache and branch-predictor maintenance (c7) and TLB maintenance (c8): no caches, no
# MMU, so they do nothing (writes only, PL1).
for _crm, _opc2s in ((1, (0, 6)), (5, (0, 1, 6, 7)), (6, (1, 2)), (10, (1, 2)), (11, (1,)),
                     (14, (1, 2))):
    for _opc2 in _opc2s:
        CP15[(0, 7, _crm, _opc2)] = (f"c7,c{_crm},{_opc2}", K_NOP, None, W1)
for _crm in (3, 5, 6, 7):
    for _opc2 in range(4):
        CP15[(0, 8, _crm, _opc2)] = (f"c8,c{_crm},{_opc2}", K_NOP, None, W1)


def trans_coproc(s: ArmDisas, opc1: int, read: int, crn: int, rt: int, coproc: int, opc2: int,
                 crm: int) -> None:
    """MRC/MCR p15, opc1, Rt, CRn, CRm, opc2 (everything else UNDEFINED)."""
    b = s.b
    if coproc != 15:
        return s.undef()
    key = (opc1, crn, crm, opc2)
    entry = CP15.get(key)
    if entry is None:
        return s.undef()
    _name, kind, arg, access = entry
    need = (R0 if read else W0) if s.user else (R1 if read else W1)
    if not access & need or (rt == 15 and not read):
        return s.undef()
    if read:
        dest = s.temp() if rt == 15 else s.R[rt]
        if kind == K_CONST:
            b.movi(dest, arg)
        elif kind == K_MPIDR:
            b.ld_env(dest, arm.S_MPIDR)
        else:
            b.ld_env(dest, arm.SLOT[arg])
        if rt == 15:  # APSR_nzcv = value<31:28>
            b.call(h.helper_cpsr_write, None, dest, arm.CPSR_NZCV)
        return
    value = s.R[rt]
    if kind == K_SLOT:
        b.st_env(value, arm.SLOT[arg])
    elif kind == K_SCTLR:
        b.movi(s.PC, s.pc)
        b.call(h.helper_sctlr_write, None, value)
        s.end_lookup()
    elif kind == K_BARRIER:
        b.mb(MB_ALL)
        if key == (0, 7, 5, 4):
            s.gen_goto(s.next_pc, 0)
