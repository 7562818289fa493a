"""Host helpers the A32 translation calls (QEMU's ``target/arm/tcg/*_helper.c``).

Each is a :class:`core.ir.Helper`: a Python function ``f(cpu, *inputs)``.  Helpers are
for what is rare or awkward in IR: raising exceptions, CPSR packing and mode changes,
banked-register access, saturation.  Their flags tell a backend whether they read or
write the IR globals (registers, pc, flags).
"""

from __future__ import annotations

from core.cpu import CpuLoopExit, GuestException
from core.ir import I32, M32, CallFlag, Helper, to_signed

from . import cpu as arm
from .cpu import ArmExcp

# Raising helpers may read globals (the pc must be in env when they raise) but write none.
_RAISES = CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_RETURN
_PURE = CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS


# --------------------------------------------------------------------------- exceptions


def _udef(cpu, insn, pc):
    raise GuestException(ArmExcp.UDEF, message=f"undefined instruction {insn:#010x} at {pc:#010x}")


def _thumb(cpu, pc):
    raise GuestException(ArmExcp.UDEF, message=(
        f"Thumb state is not supported: execution reached {pc:#010x} with CPSR.T set "
        "(an interworking branch or exception return to an odd address)"))


def _misaligned_pc(cpu, pc):
    raise GuestException(ArmExcp.PREFETCH_ABORT, message=f"misaligned pc {pc:#010x} in ARM state")


def _exception(cpu, excp, info):
    raise CpuLoopExit(ArmExcp.of(excp), info=info)


def _bkpt(cpu, imm, pc):
    raise GuestException(ArmExcp.BKPT, message=f"breakpoint BKPT #{imm:#x} at {pc:#010x}")


def _unsupported(cpu, pc, what):
    raise GuestException(ArmExcp.UDEF, message=f"{UNSUPPORTED[what]} at {pc:#010x}")


#: messages of helper_unsupported, by index (a constant input of the call)
UNSUPPORTED = (
    "big-endian data (SETEND BE / CPSR.E) is not supported",
    "SCTLR.M = 1: the MMU is not supported",
)
UNSUPPORTED_BE, UNSUPPORTED_MMU = range(len(UNSUPPORTED))

helper_udef = Helper("arm_udef", _udef, None, (I32, I32), _RAISES,
                     "undefined instruction (insn, pc): a one-line guest error")
helper_thumb = Helper("arm_thumb", _thumb, None, (I32,), _RAISES,
                      "the pc is in Thumb state, which this frontend does not translate")
helper_misaligned_pc = Helper("arm_misaligned_pc", _misaligned_pc, None, (I32,), _RAISES,
                              "ARM-state pc with bit 1 set")
helper_exception = Helper("arm_exception", _exception, None, (I32, I32), _RAISES,
                          "leave the TB with exception kind EXCP (ArmExcp or core's) and info "
                          "(pc already written)")
helper_bkpt = Helper("arm_bkpt", _bkpt, None, (I32, I32), _RAISES, "BKPT #imm")
helper_unsupported = Helper("arm_unsupported", _unsupported, None, (I32, I32), _RAISES,
                            "a feature this model lacks (pc, what)")


# --------------------------------------------------------------------------- CPSR


def _cpsr_read(cpu):
    return arm.cpsr_read(cpu) & ~arm.CPSR_EXEC


def _cpsr_write(cpu, value, mask):
    if value & mask & arm.CPSR_E:  # MSR CPSR_x, Rn with E = 1 (the pc is the MSR's)
        _unsupported(cpu, cpu.env[arm.S_PC], UNSUPPORTED_BE)
    arm.cpsr_write(cpu, value, mask)


def _exception_return(cpu, new_pc):
    """ARM ARM B1.9 / QEMU cpsr_write_eret: CPSR = SPSR, then pc masked by the new state."""
    slot = arm.spsr_slot(arm.current_mode(cpu))
    env = cpu.env
    if slot is not None:
        if env[slot] & arm.CPSR_E:  # returning to big-endian data (the pc is the insn's)
            _unsupported(cpu, env[arm.S_PC], UNSUPPORTED_BE)
        arm.cpsr_write(cpu, env[slot], M32)
    env[arm.S_PC] = new_pc & (~1 if env[arm.S_THUMB] else ~3) & M32
    cpu.machine.policy.exception_return(cpu)


def _get_user_reg(cpu, n):
    return arm.get_user_reg(cpu, n)


def _set_user_reg(cpu, n, value):
    arm.set_user_reg(cpu, n, value)


def _sctlr_write(cpu, value):
    if value & 1:
        _unsupported(cpu, cpu.env[arm.S_PC], UNSUPPORTED_MMU)
    cpu.env[arm.SLOT["sctlr"]] = value


helper_cpsr_read = Helper("arm_cpsr_read", _cpsr_read, I32, (),
                          CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_SIDE_EFFECTS,
                          "MRS CPSR: the CPSR with the execution-state bits read as zero")
helper_cpsr_write = Helper("arm_cpsr_write", _cpsr_write, None, (I32, I32), CallFlag.NONE,
                           "MSR CPSR / CPS: write the bits in mask (mode changes bank registers; "
                           "E = 1 is refused, the pc must hold the insn's address then)")
helper_exception_return = Helper("arm_exception_return", _exception_return, None, (I32,),
                                 CallFlag.NONE, "SUBS pc / LDM ^ with pc: CPSR = SPSR, pc = new "
                                 "(the pc holds the insn's address on entry)")
helper_get_user_reg = Helper("arm_get_user_reg", _get_user_reg, I32, (I32,),
                             CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_SIDE_EFFECTS,
                             "STM ^: User-mode r8-r14")
helper_set_user_reg = Helper("arm_set_user_reg", _set_user_reg, None, (I32, I32), CallFlag.NONE,
                             "LDM ^: User-mode r8-r14")
helper_sctlr_write = Helper("arm_sctlr_write", _sctlr_write, None, (I32,),
                            CallFlag.NO_WRITE_GLOBALS, "MCR SCTLR (refuses to enable the MMU)")


# --------------------------------------------------------------------------- monitor


def _clrex(cpu):
    cpu.machine.policy.clrex(cpu)


helper_clrex = Helper("arm_clrex", _clrex, None, (), CallFlag.NO_RWG,
                      "CLREX: drop this vCPU's exclusive reservation")


# --------------------------------------------------------------------------- arithmetic

_QBIT = arm.CPSR_Q


def _set_q(cpu):
    cpu.env[arm.S_CPSR] |= _QBIT


def _sat_signed(cpu, value: int, bits: int) -> int:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if value < lo:
        _set_q(cpu)
        return lo & M32
    if value > hi:
        _set_q(cpu)
        return hi & M32
    return value & M32


def _qadd(cpu, a, b):
    return _sat_signed(cpu, to_signed(a, 32) + to_signed(b, 32), 32)


def _qsub(cpu, a, b):
    return _sat_signed(cpu, to_signed(a, 32) - to_signed(b, 32), 32)


def _qdadd(cpu, a, b):
    return _qadd(cpu, a, _sat_signed(cpu, 2 * to_signed(b, 32), 32))


def _qdsub(cpu, a, b):
    return _qsub(cpu, a, _sat_signed(cpu, 2 * to_signed(b, 32), 32))


def _add_setq(cpu, a, b):
    """a + b, wrapping; Q is set on signed overflow (SMLA<x><y>, SMLAW<y>, SMLAD)."""
    r = to_signed(a, 32) + to_signed(b, 32)
    if not -(1 << 31) <= r < (1 << 31):
        _set_q(cpu)
    return r & M32


def _add3_setq(cpu, a, b, c):
    """a + b + c as one exact (64-bit) sum, wrapped; Q is set iff the final sum overflows
    32 bits (SMLAD/SMLSD/SMUAD/SMUSD: the ARM ARM checks the whole sum once, so an
    overflowing product1 + product2 brought back into range by Ra does not set Q)."""
    r = to_signed(a, 32) + to_signed(b, 32) + to_signed(c, 32)
    if not -(1 << 31) <= r < (1 << 31):
        _set_q(cpu)
    return r & M32


def _ssat(cpu, value, bits):
    return _sat_signed(cpu, to_signed(value, 32), bits)


def _usat(cpu, value, bits):
    v = to_signed(value, 32)
    hi = (1 << bits) - 1
    if v < 0:
        _set_q(cpu)
        return 0
    if v > hi:
        _set_q(cpu)
        return hi
    return v


def _ssat16(cpu, value, bits):
    lo = _sat_signed(cpu, to_signed(value & 0xFFFF, 16), bits) & 0xFFFF
    hi = _sat_signed(cpu, to_signed(value >> 16, 16), bits) & 0xFFFF
    return lo | (hi << 16)


def _usat16(cpu, value, bits):
    lo = _usat(cpu, to_signed(value & 0xFFFF, 16) & M32, bits)
    hi = _usat(cpu, to_signed(value >> 16, 16) & M32, bits)
    return lo | (hi << 16)


def _rbit(cpu, value):
    return int(f"{value:032b}"[::-1], 2)


_Q = CallFlag.NO_WRITE_GLOBALS  # writes only uncached_cpsr (Q), which is not an IR global
helper_qadd = Helper("arm_qadd", _qadd, I32, (I32, I32), _Q, "signed saturating add, sets Q")
helper_qsub = Helper("arm_qsub", _qsub, I32, (I32, I32), _Q, "signed saturating subtract")
helper_qdadd = Helper("arm_qdadd", _qdadd, I32, (I32, I32), _Q, "a + sat(2 * b), saturating")
helper_qdsub = Helper("arm_qdsub", _qdsub, I32, (I32, I32), _Q, "a - sat(2 * b), saturating")
helper_add_setq = Helper("arm_add_setq", _add_setq, I32, (I32, I32), _Q,
                         "wrapping add that sets Q on signed overflow")
helper_add3_setq = Helper("arm_add3_setq", _add3_setq, I32, (I32, I32, I32), _Q,
                          "a + b + c, wrapping; sets Q if the exact sum overflows 32 bits")
helper_ssat = Helper("arm_ssat", _ssat, I32, (I32, I32), _Q, "saturate to a signed field")
helper_usat = Helper("arm_usat", _usat, I32, (I32, I32), _Q, "saturate to an unsigned field")
helper_ssat16 = Helper("arm_ssat16", _ssat16, I32, (I32, I32), _Q, "SSAT16")
helper_usat16 = Helper("arm_usat16", _usat16, I32, (I32, I32), _Q, "USAT16")
helper_rbit = Helper("arm_rbit", _rbit, I32, (I32,), _PURE, "reverse the bits of a word")


# --------------------------------------------------------------------------- parallel add/sub

_GE_SHIFT = 16


def _lanes(value: int, width: int, signed: bool) -> list[int]:
    mask = (1 << width) - 1
    lanes = [(value >> (i * width)) & mask for i in range(32 // width)]
    return [to_signed(x, width) for x in lanes] if signed else lanes


def _parallel(prefix: str, op: str):
    """The function of ``<prefix><op>`` (e.g. "uq", "sub8") on two registers (A8.6.x)."""
    width = 8 if op.endswith("8") else 16
    signed = prefix in ("s", "q", "sh")
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1

    def combine(a_l, b_l):
        # (result, lane is an addition) per lane
        if op in ("add16", "add8"):
            return [(x + y, True) for x, y in zip(a_l, b_l)]
        if op in ("sub16", "sub8"):
            return [(x - y, False) for x, y in zip(a_l, b_l)]
        if op == "asx":
            return [(a_l[0] - b_l[1], False), (a_l[1] + b_l[0], True)]
        return [(a_l[0] + b_l[1], True), (a_l[1] - b_l[0], False)]  # sax

    def f(cpu, a, b):
        results = combine(_lanes(a, width, signed), _lanes(b, width, signed))
        out, ge = 0, 0
        gebits = (1 << (32 // len(results) // 8)) - 1  # GE bits per lane: 2 for 16, 1 for 8
        for i, (r, is_add) in enumerate(results):
            if prefix in ("s", "u"):
                if prefix == "s":
                    set_ge = r >= 0
                else:
                    set_ge = r >= (1 << width) if is_add else r >= 0
                if set_ge:
                    ge |= gebits << (i * (width // 8))
            elif prefix == "q":
                r = min(max(r, lo), hi)
            elif prefix == "uq":
                r = min(max(r, 0), (1 << width) - 1)
            else:  # sh, uh: halving (arithmetic shift of the exact result)
                r >>= 1
            out |= (r & ((1 << width) - 1)) << (i * width)
        if prefix in ("s", "u"):
            env = cpu.env
            env[arm.S_CPSR] = (env[arm.S_CPSR] & ~arm.CPSR_GE) | (ge << _GE_SHIFT)
        return out
    return f


PARALLEL_PREFIX = {1: "s", 2: "q", 3: "sh", 5: "u", 6: "uq", 7: "uh"}
PARALLEL_OP = {0: "add16", 1: "asx", 2: "sax", 3: "sub16", 4: "add8", 7: "sub8"}
#: (op1, op2) of the encoding -> helper
helper_parallel = {
    (p, o): Helper(f"arm_{pn}{on}", _parallel(pn, on), I32, (I32, I32),
                   CallFlag.NO_WRITE_GLOBALS, f"{pn.upper()}{on.upper()}")
    for p, pn in PARALLEL_PREFIX.items() for o, on in PARALLEL_OP.items()
}


def _sel(cpu, a, b):
    ge = (cpu.env[arm.S_CPSR] >> _GE_SHIFT) & 0xF
    out = 0
    for i in range(4):
        out |= ((a if ge & (1 << i) else b) & (0xFF << (8 * i)))
    return out


def _usad8(cpu, a, b):
    return sum(abs(((a >> s) & 0xFF) - ((b >> s) & 0xFF)) for s in (0, 8, 16, 24))


helper_sel = Helper("arm_sel", _sel, I32, (I32, I32),
                    CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_SIDE_EFFECTS,
                    "SEL: bytes of a where GE is set, else of b")
helper_usad8 = Helper("arm_usad8", _usad8, I32, (I32, I32), _PURE,
                      "sum of absolute byte differences")
