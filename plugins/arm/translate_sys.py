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


def trans_svc(s: ArmDisas, insn: int) -> None:
    """SVC #imm24; #0x123456 is a semihosting call, except from User mode (QEMU's
    default ``-semihosting`` serves privileged code only)."""
    imm = insn & 0xFF_FFFF
    if imm == SEMIHOST_SVC_A32 and not s.user:
        s.raise_exception(ArmExcp.SEMIHOST, imm)
    else:
        s.raise_exception(ArmExcp.SVC, imm)


def _imm16(insn: int) -> int:
    return ((insn >> 4) & 0xFFF0) | (insn & 0xF)


def trans_hvc(s: ArmDisas, insn: int) -> None:
    """HVC #imm16: UNDEFINED in User mode (a condition other than AL is UNPREDICTABLE;
    it is honoured, as in QEMU)."""
    if s.user:
        return s.undef()
    s.raise_exception(ArmExcp.HVC, _imm16(insn))


def trans_hlt(s: ArmDisas, insn: int) -> None:
    """HLT #imm16 (A32 encoding of ARMv8; QEMU takes #0xf000 as semihosting on v7 too)."""
    imm = _imm16(insn)
    if imm != SEMIHOST_HLT_A32 or s.user:
        return s.undef()
    s.raise_exception(ArmExcp.SEMIHOST, imm)


def trans_bkpt(s: ArmDisas, insn: int) -> None:
    s.b.movi(s.PC, s.pc)
    s.b.call(h.helper_bkpt, None, _imm16(insn), s.pc)
    s.ctx.is_jmp = DisasJump.NORETURN


def trans_udf(s: ArmDisas, insn: int) -> None:
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


def trans_msr_imm(s: ArmDisas, insn: int) -> None:
    """MSR <psr>_<fields>, #imm."""
    _msr(s, expand_imm(insn), (insn >> 16) & 15, bool(insn & (1 << 22)))


def trans_msr_reg(s: ArmDisas, insn: int) -> None:
    """MSR <psr>_<fields>, Rn."""
    rn = insn & 15
    if rn == 15:  # (the banked-register form, bit 9 set, does not match the pattern)
        return s.undef()
    _msr(s, s.R[rn], (insn >> 16) & 15, bool(insn & (1 << 22)))


def trans_mrs(s: ArmDisas, insn: int) -> None:
    """MRS Rd, CPSR | SPSR."""
    rd = (insn >> 12) & 15
    if rd == 15:
        return s.undef()
    if insn & (1 << 22):
        slot = _spsr_slot(s)
        if slot is None:
            return s.undef()
        s.b.ld_env(s.R[rd], slot)
    else:
        s.b.call(h.helper_cpsr_read, s.R[rd])


def trans_cps(s: ArmDisas, insn: int) -> None:
    """CPS{IE,ID} <aif>{, #mode} / CPS #mode: a NOP in User mode.

    The UNPREDICTABLE combinations (imod = 01, nothing to change) do what the fields
    say, as in QEMU.
    """
    imod, change_mode = (insn >> 18) & 3, bool(insn & (1 << 17))
    if s.user:
        return
    mask = value = 0
    if imod & 2:
        mask |= insn & (arm.CPSR_A | arm.CPSR_I | arm.CPSR_F)
        if imod == 3:  # ID: set the mask bits
            value |= mask
    if change_mode:
        mask |= arm.CPSR_M
        value |= insn & arm.CPSR_M
    if mask:
        s.b.call(h.helper_cpsr_write, None, s.b.const_i32(value), mask)
        s.end_lookup()


def trans_setend(s: ArmDisas, insn: int) -> None:
    """SETEND LE is a no-op here; SETEND BE would need big-endian data accesses."""
    if insn & (1 << 9):
        s.unsupported(h.UNSUPPORTED_BE)


# --------------------------------------------------------------------------- hints, barriers


def trans_hint(s: ArmDisas, insn: int) -> None:
    """NOP, YIELD, WFE, WFI, SEV, SEVL, DBG, CSDB and the reserved hints (NOPs)."""
    op = insn & 0xFF
    if op == 1 or op == 2:  # YIELD; WFE is a yield under TCG (no event register)
        s.raise_exception(EXCP.YIELD)
    elif op == 3:  # WFI: halt until woken
        s.raise_exception(EXCP.HLT)


def trans_barrier(s: ArmDisas, insn: int) -> None:
    """DMB, DSB: a full barrier.  ISB also ends the TB (context synchronisation)."""
    s.b.mb(MB_ALL)
    if (insn >> 4) & 15 == 6:  # ISB
        s.gen_goto(s.next_pc, 0)


def trans_nop(s: ArmDisas, insn: int) -> None:
    """PLD, PLDW, PLI: preload hints; nothing to do without caches."""


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


def trans_coproc(s: ArmDisas, insn: int) -> None:
    """MRC/MCR p15, opc1, Rt, CRn, CRm, opc2 (everything else UNDEFINED)."""
    b = s.b
    if (insn >> 8) & 15 != 15:
        return s.undef()
    read = bool(insn & (1 << 20))
    key = ((insn >> 21) & 7, (insn >> 16) & 15, insn & 15, (insn >> 5) & 7)
    rt = (insn >> 12) & 15
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
