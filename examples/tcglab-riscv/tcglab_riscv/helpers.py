"""Host helpers the RV32 translation calls (QEMU's ``target/riscv/*_helper.c``).

Each is a :class:`core.ir.Helper`: a Python function ``f(cpu, *inputs)``.  Helpers are
for what is rare or awkward in IR: traps, CSRs, MRET, semihosting, and the AMOs (an
atomic read-modify-write that must go through the memory policy, see :func:`_amo`).
"""

from __future__ import annotations

import operator
from typing import Callable

from core.cpu import CpuLoopExit, ExceptionKind, GuestException
from core.exec import cpu_loop_exit_atomic
from core.ir import I32, M32, CallFlag, Helper, MemOp, to_signed

from . import cpu as rv

# Raising helpers may read globals (the state must be in env when they raise) but
# write none.
_RAISES = CallFlag.NO_WRITE_GLOBALS | CallFlag.NO_RETURN

# --------------------------------------------------------------------------- traps

CAUSE_MISALIGNED_FETCH = 0
CAUSE_FETCH_ACCESS = 1
CAUSE_ILLEGAL = 2
CAUSE_BREAKPOINT = 3
CAUSE_MISALIGNED_LOAD = 4
CAUSE_LOAD_ACCESS = 5
CAUSE_MISALIGNED_STORE = 6  # also AMO
CAUSE_STORE_ACCESS = 7  # also AMO
CAUSE_ECALL_M = 11

CAUSE_NAMES = {
    CAUSE_MISALIGNED_FETCH: "instruction address misaligned",
    CAUSE_FETCH_ACCESS: "instruction access fault",
    CAUSE_ILLEGAL: "illegal instruction",
    CAUSE_BREAKPOINT: "breakpoint",
    CAUSE_MISALIGNED_LOAD: "load address misaligned",
    CAUSE_LOAD_ACCESS: "load access fault",
    CAUSE_MISALIGNED_STORE: "store/AMO address misaligned",
    CAUSE_STORE_ACCESS: "store/AMO access fault",
    CAUSE_ECALL_M: "environment call from M-mode",
}


class RiscvExcp(ExceptionKind):
    """The hart's exception kinds: the synchronous exception codes of ``mcause``
    (Privileged ISA, table 3.6; QEMU's ``RISCV_EXCP_*``), and the semihosting call.
    Core's own kinds (HLT for WFI, ATOMIC...) are :class:`core.cpu.EXCP`."""

    INSN_MISALIGNED = CAUSE_MISALIGNED_FETCH
    INSN_ACCESS_FAULT = CAUSE_FETCH_ACCESS
    ILLEGAL_INSN = CAUSE_ILLEGAL
    EBREAK = CAUSE_BREAKPOINT
    LOAD_MISALIGNED = CAUSE_MISALIGNED_LOAD
    LOAD_ACCESS_FAULT = CAUSE_LOAD_ACCESS
    STORE_MISALIGNED = CAUSE_MISALIGNED_STORE
    STORE_ACCESS_FAULT = CAUSE_STORE_ACCESS
    ECALL_M = CAUSE_ECALL_M
    SEMIHOST = 0x10  # the semihosting sequence (QEMU's RISCV_EXCP_SEMIHOST); never in mcause


class RiscvTrap(GuestException):
    """A synchronous exception of the hart: ``info = (mcause, mtval)``.

    ``restore``: the backend rewinds the pc to the instruction that raised it, which is
    what mepc must hold (the Privileged ISA, 3.1.14).
    """

    restore = True

    def __init__(self, cause: int, tval: int = 0, *, message: str):
        super().__init__(RiscvExcp(cause), message=message,
                         info=(cause, tval & M32))


def _illegal(cpu, insn, pc):
    raise RiscvTrap(CAUSE_ILLEGAL, insn, message=f"illegal instruction {insn:#010x} at {pc:#010x}")


def _misaligned_target(cpu, target, pc):
    raise RiscvTrap(CAUSE_MISALIGNED_FETCH, target, message=(
        f"jump from {pc:#010x} to misaligned address {target:#010x} (no C extension)"))


def _ecall(cpu, pc):
    raise RiscvTrap(CAUSE_ECALL_M, 0, message=f"ecall at {pc:#010x} with no trap handler (mtvec = 0)")


def _ebreak(cpu, pc):
    raise RiscvTrap(CAUSE_BREAKPOINT, pc, message=f"ebreak at {pc:#010x} with no trap handler "
                                                  "(mtvec = 0)")


def _semihost(cpu):
    raise CpuLoopExit(RiscvExcp.SEMIHOST)


helper_illegal = Helper("rv_illegal", _illegal, None, (I32, I32), _RAISES,
                        "illegal instruction (insn, pc): trap, or a one-line guest error")
helper_misaligned_target = Helper("rv_misaligned_target", _misaligned_target, None, (I32, I32),
                                  _RAISES, "jump to a pc that is not 4-byte aligned (target, pc)")
helper_ecall = Helper("rv_ecall", _ecall, None, (I32,), _RAISES, "ECALL (pc)")
helper_ebreak = Helper("rv_ebreak", _ebreak, None, (I32,), _RAISES, "EBREAK that is not semihosting")
helper_semihost = Helper("rv_semihost", _semihost, None, (), _RAISES,
                         "the semihosting sequence: leave the TB to the board (pc = the ebreak)")


def trap_enter(cpu, cause: int, tval: int) -> None:
    """Take a trap into machine mode (Privileged ISA 3.1.6.1, 3.1.14-16): mepc = pc,
    mcause, mtval, MPIE = MIE, MIE = 0, pc = mtvec.BASE (exceptions are never vectored).

    The reservation is dropped, as the ISA allows (a trap may invalidate it), through
    the policy's ``exception_return`` (the same callback ARM's exception entry uses)."""
    env = cpu.env
    env[rv.S_MEPC] = env[rv.S_PC]
    env[rv.S_MCAUSE] = cause
    env[rv.S_MTVAL] = tval & M32
    st = env[rv.S_MSTATUS]
    mpie = rv.MSTATUS_MPIE if st & rv.MSTATUS_MIE else 0
    env[rv.S_MSTATUS] = (st & ~(rv.MSTATUS_MIE | rv.MSTATUS_MPIE)) | mpie | rv.MSTATUS_MPP
    env[rv.S_PC] = env[rv.S_MTVEC] & ~3 & M32
    cpu.machine.policy.exception_return(cpu)


def _mret(cpu):
    env = cpu.env
    st = env[rv.S_MSTATUS]
    mie = rv.MSTATUS_MIE if st & rv.MSTATUS_MPIE else 0
    env[rv.S_MSTATUS] = (st & ~rv.MSTATUS_MIE) | mie | rv.MSTATUS_MPIE | rv.MSTATUS_MPP
    env[rv.S_PC] = env[rv.S_MEPC] & ~3 & M32
    cpu.machine.policy.exception_return(cpu)  # xRET may drop the reservation (priv 3.3.2)


helper_mret = Helper("rv_mret", _mret, None, (), CallFlag.NONE,
                     "MRET: pc = mepc, MIE = MPIE; drops the reservation")

# --------------------------------------------------------------------------- CSRs

CSR_WRITE, CSR_SET, CSR_CLEAR = 1, 2, 3
CSR_READS = 1 << 14  # the old value is wanted (rd != x0, or not csrrw*)
CSR_WRITES = 1 << 15  # the CSR is written (csrrw*, or csrrs*/csrrc* with a nonzero source)


def csr_spec(csr: int, kind: int, reads: bool, writes: bool) -> int:
    """The constant operand of :data:`helper_csr`."""
    return csr | (kind << 12) | (CSR_READS if reads else 0) | (CSR_WRITES if writes else 0)


def csr_read(cpu, csr: int) -> int | None:
    """The value of CSR ``csr`` on ``cpu``; None if this hart has no such CSR."""
    if csr == rv.CSR_MHARTID:
        return cpu.env[rv.S_MHARTID]
    if csr == rv.CSR_MISA:
        return rv.MISA_RV32IMA
    if csr in rv.CSR_CONST:
        return rv.CSR_CONST[csr]
    slot = rv.S_CSR.get(csr)
    return None if slot is None else cpu.env[slot]


def _csr_write(cpu, csr: int, value: int) -> bool:
    """Write ``value``; False for a read-only CSR (Zicsr: bits 11:10 = 0b11)."""
    if csr >> 10 == 3:
        return False
    if csr == rv.CSR_MISA:
        return True  # WARL: the extensions cannot be changed
    slot = rv.S_CSR[csr]
    if csr == rv.CSR_MSTATUS:
        value = (value & rv.MSTATUS_WRITABLE) | rv.MSTATUS_MPP
    elif csr in (rv.CSR_MTVEC, rv.CSR_MEPC):
        value &= ~3  # direct mode only; IALIGN = 32
    cpu.env[slot] = value & M32
    return True


def _csr(cpu, spec, value):
    csr, kind = spec & 0xFFF, (spec >> 12) & 3
    old = csr_read(cpu, csr)
    if old is None or (spec & CSR_WRITES and csr >> 10 == 3):
        name = rv.CSR_NAMES.get(csr, f"{csr:#05x}")
        pc = cpu.env[rv.S_PC]
        why = "does not exist" if old is None else "is read-only"
        raise RiscvTrap(CAUSE_ILLEGAL, 0, message=f"CSR {name} {why} (Zicsr access at pc "
                                                  f"{pc:#010x})")
    if spec & CSR_WRITES:
        new = value if kind == CSR_WRITE else old | value if kind == CSR_SET else old & ~value
        _csr_write(cpu, csr, new & M32)
    return old


helper_csr = Helper("rv_csr", _csr, I32, (I32, I32), CallFlag.NO_WRITE_GLOBALS,
                    "Zicsr read-modify-write (spec, source) -> old value; illegal CSR traps")

# --------------------------------------------------------------------------- AMOs

AMO_MEMOP = MemOp.UL | MemOp.MO_ALIGN  # AMOs are naturally aligned (A extension 8.4)


def _amo(name: str, fn: Callable[[int, int], int]) -> Helper:
    """An AMO*.W as one atomic read-modify-write through the memory policy.

    * Atomic with respect to every other LR/SC/AMO: it runs under the policy's lock
      (``MemoryPolicy.lock``, the lock the policies take for LL and SC), as QEMU's host
      atomic is atomic.  With ``[plugins.riscv32] amo = "exclusive"`` it instead leaves
      the TB through :func:`core.exec.cpu_loop_exit_atomic` and completes with every
      other vCPU stopped (QEMU's EXCP_ATOMIC fallback).
    * Its store goes through the softmmu's store path (``cpu.mmu.store``), so each
      policy observes it exactly as it observes a plain store to that page: policies
      that trap stores (TLB_EXCL) break other harts' reservations on the stored bytes;
      value-comparing ones (cmpxchg) see only the new value; none sees nothing.
    """
    def amo(cpu, addr, value):
        machine = cpu.machine
        if machine.frontend.amo_exclusive and machine.exclusive_cpu is not cpu:
            cpu_loop_exit_atomic(cpu)  # nothing done yet: the AMO runs again, alone
        mmu = cpu.mmu
        with machine.policy.lock:
            old = mmu.load(addr, AMO_MEMOP) & M32
            mmu.store(addr, fn(old, value) & M32, AMO_MEMOP)
        return old
    return Helper(f"rv_{name.replace('.', '_')}", amo, I32, (I32, I32),
                  CallFlag.NO_WRITE_GLOBALS,
                  f"{name}: old = [addr]; [addr] = op(old, value), atomically (policy-aware)")


def _smin(a: int, b: int) -> int:
    return a if to_signed(a, 32) <= to_signed(b, 32) else b


def _smax(a: int, b: int) -> int:
    return a if to_signed(a, 32) >= to_signed(b, 32) else b


AMO_OPS: dict[str, Callable[[int, int], int]] = {
    "amoswap.w": lambda old, v: v,
    "amoadd.w": operator.add,
    "amoxor.w": operator.xor,
    "amoand.w": operator.and_,
    "amoor.w": operator.or_,
    "amomin.w": _smin,
    "amomax.w": _smax,
    "amominu.w": min,
    "amomaxu.w": max,
}
AMO_HELPERS: dict[str, Helper] = {name: _amo(name, fn) for name, fn in AMO_OPS.items()}
