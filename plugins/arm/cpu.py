"""ARMv7-A (AArch32) vCPU state: the env slots, CPSR packing, mode banking, reset.

The layout mirrors QEMU's ``CPUARMState``: ``r0``..``r14`` and ``pc`` are IR globals, and so
are the flags in QEMU's representation (``NF``: N is bit 31; ``ZF``: Z is ``ZF == 0``;
``CF``: C is 0/1; ``VF``: V is bit 31).  The rest of the CPSR lives in
``uncached_cpsr`` (mode, A/I/F, GE, Q, E; QEMU's name) except the T bit, which has its
own slot ``thumb`` as ``env->thumb`` does, so that an interworking branch writes it with
one store.  Banked copies of r8-r14 and the SPSRs of the exception modes are plain slots
that only helpers touch; ``r13``/``r14`` (and ``r8``-``r12`` in FIQ mode) always hold the
current mode's registers, and :func:`switch_mode` swaps banks when the mode changes
(QEMU's ``switch_mode``).

Every function here takes a :class:`core.cpu.CPUState`; slot numbers are module
constants, fixed by :data:`SLOT_NAMES`, so helpers need no lookup.
"""

from __future__ import annotations

from core.cpu import EXCP, CPURunState, CPUState, ExceptionKind, StateLayout
from core.ir import M32

# --------------------------------------------------------------------------- CPSR

MODE_USR = 0x10
MODE_FIQ = 0x11
MODE_IRQ = 0x12
MODE_SVC = 0x13
MODE_MON = 0x16
MODE_ABT = 0x17
MODE_HYP = 0x1A
MODE_UND = 0x1B
MODE_SYS = 0x1F

CPSR_M = 0x1F
CPSR_T = 1 << 5
CPSR_F = 1 << 6
CPSR_I = 1 << 7
CPSR_A = 1 << 8
CPSR_E = 1 << 9
CPSR_IT_2_7 = 0xFC00
CPSR_GE = 0xF << 16
CPSR_J = 1 << 24
CPSR_IT_0_1 = 3 << 25
CPSR_Q = 1 << 27
CPSR_NZCV = 0xF << 28
CPSR_IT = CPSR_IT_0_1 | CPSR_IT_2_7
CPSR_EXEC = CPSR_T | CPSR_IT | CPSR_J  # execution state: MRS reads zero, MSR cannot write
CPSR_USER = CPSR_NZCV | CPSR_Q | CPSR_GE  # what MSR may change at PL0 (the APSR)
# Bits this model keeps.  E (big-endian data) is left out on purpose: data accesses are
# little-endian only, so an MSR/SETEND to E=1 is refused rather than silently ignored.
CPSR_VALID = CPSR_NZCV | CPSR_Q | CPSR_GE | CPSR_A | CPSR_I | CPSR_F | CPSR_T | CPSR_M | \
    CPSR_IT | CPSR_J

RESET_CPSR = MODE_SVC | CPSR_A | CPSR_I | CPSR_F  # 0x1d3, as QEMU's virt board starts a CPU

# Cortex-A15 identification (what QEMU's -cpu cortex-a15 reports)
MIDR = 0x414FC0F0
CTR = 0x8444C004
CLIDR = 0x0A200023
SCTLR_RESET = 0x00C50078
MPIDR_MP = 0x8000_0000  # the "multiprocessing extensions" format bit

#: mode -> register bank (usr and sys share one)
BANK_OF_MODE = {MODE_USR: 0, MODE_SYS: 0, MODE_FIQ: 1, MODE_IRQ: 2, MODE_SVC: 3,
                MODE_ABT: 4, MODE_UND: 5}
BANK_NAMES = ("usr", "fiq", "irq", "svc", "abt", "und")
MODE_NAMES = {MODE_USR: "usr", MODE_FIQ: "fiq", MODE_IRQ: "irq", MODE_SVC: "svc",
              MODE_ABT: "abt", MODE_UND: "und", MODE_SYS: "sys"}
VALID_MODES = frozenset(BANK_OF_MODE)

# --------------------------------------------------------------------------- exceptions


class ArmExcp(ExceptionKind):
    """The A32 frontend's exception kinds (QEMU's ``EXCP_*`` of target/arm/cpu.h, same
    numbers); core's own (YIELD, HLT, ...) are :class:`core.cpu.EXCP`."""

    UDEF = 1  # undefined instruction
    SVC = 2  # supervisor call (QEMU's EXCP_SWI)
    PREFETCH_ABORT = 3  # the frontend's own: an ARM-state pc with bit 1 set
    BKPT = 7  # BKPT #imm
    HVC = 11  # hypervisor call: PSCI on the virt board
    SEMIHOST = 16  # HLT 0xf000 / SVC 0x123456 recognised by the frontend


#: core's memory faults as the ARM ARM calls them, in a one-line error
FAULT_NAMES = {EXCP.FETCH_FAULT: "prefetch abort", EXCP.DATA_FAULT: "data abort"}

# --------------------------------------------------------------------------- slots

GLOBAL_NAMES = tuple(f"r{i}" for i in range(15)) + ("pc", "NF", "ZF", "CF", "VF")

#: cp15 registers kept in env slots (read/write; see translate_sys.CP15)
CP15_SLOTS = ("sctlr", "actlr", "cpacr", "ttbr0", "ttbr1", "ttbcr", "dacr", "vbar",
              "contextidr", "tpidrurw", "tpidruro", "tpidrprw", "csselr")

SLOT_NAMES = GLOBAL_NAMES + ("uncached_cpsr", "thumb", "mpidr") + \
    tuple(f"r{r}_{bank}" for bank in ("usr", "fiq") for r in range(8, 13)) + \
    tuple(f"r{r}_{bank}" for bank in BANK_NAMES for r in (13, 14)) + \
    tuple(f"spsr_{bank}" for bank in BANK_NAMES[1:]) + CP15_SLOTS

SLOT = {name: i for i, name in enumerate(SLOT_NAMES)}
S_R0 = SLOT["r0"]
S_PC = SLOT["pc"]
S_NF, S_ZF, S_CF, S_VF = SLOT["NF"], SLOT["ZF"], SLOT["CF"], SLOT["VF"]
S_CPSR = SLOT["uncached_cpsr"]
S_THUMB = SLOT["thumb"]
S_MPIDR = SLOT["mpidr"]
S_SPSR = {mode: SLOT[f"spsr_{BANK_NAMES[bank]}"] for mode, bank in BANK_OF_MODE.items() if bank}
S_R13_BANK = [SLOT[f"r13_{bank}"] for bank in BANK_NAMES]
S_R14_BANK = [SLOT[f"r14_{bank}"] for bank in BANK_NAMES]
S_R8_USR = [SLOT[f"r{r}_usr"] for r in range(8, 13)]
S_R8_FIQ = [SLOT[f"r{r}_fiq"] for r in range(8, 13)]


def make_layout() -> StateLayout:
    """The A32 CPU state: globals first (registers, pc, flags), then helper-only slots."""
    layout = StateLayout()
    for name in SLOT_NAMES:
        reset = 0
        if name == "uncached_cpsr":
            reset = RESET_CPSR & ~CPSR_NZCV
        elif name == "sctlr":
            reset = SCTLR_RESET
        elif name == "ZF":
            reset = 1  # Z clear
        layout.add(name, reset=reset, is_global=name in GLOBAL_NAMES)
    assert layout.names == list(SLOT_NAMES)
    return layout


# --------------------------------------------------------------------------- registers


def get_reg(cpu: CPUState, n: int) -> int:
    """Register ``n`` (0..15) of the current mode; 15 is the pc (the next insn to run)."""
    if not 0 <= n <= 15:
        raise ValueError(f"ARM register number {n} out of range 0..15")
    return cpu.env[S_R0 + n] if n < 15 else cpu.env[S_PC]


def set_reg(cpu: CPUState, n: int, value: int) -> None:
    """Set register ``n`` (0..15) of the current mode; 15 sets the pc as given."""
    if not 0 <= n <= 15:
        raise ValueError(f"ARM register number {n} out of range 0..15")
    cpu.env[S_R0 + n if n < 15 else S_PC] = value & M32


def current_mode(cpu: CPUState) -> int:
    return cpu.env[S_CPSR] & CPSR_M


def get_user_reg(cpu: CPUState, n: int) -> int:
    """The User-mode view of r8..r14 (LDM/STM with ^), whatever the current mode."""
    env = cpu.env
    mode = env[S_CPSR] & CPSR_M
    if n >= 13 and BANK_OF_MODE.get(mode, 0) != 0:
        return env[(S_R13_BANK if n == 13 else S_R14_BANK)[0]]
    if 8 <= n <= 12 and mode == MODE_FIQ:
        return env[S_R8_USR[n - 8]]
    return env[S_R0 + n]


def set_user_reg(cpu: CPUState, n: int, value: int) -> None:
    env = cpu.env
    mode = env[S_CPSR] & CPSR_M
    if n >= 13 and BANK_OF_MODE.get(mode, 0) != 0:
        env[(S_R13_BANK if n == 13 else S_R14_BANK)[0]] = value & M32
    elif 8 <= n <= 12 and mode == MODE_FIQ:
        env[S_R8_USR[n - 8]] = value & M32
    else:
        env[S_R0 + n] = value & M32


# --------------------------------------------------------------------------- CPSR


def cpsr_read(cpu: CPUState) -> int:
    """The whole CPSR, flags included (QEMU's ``cpsr_read``)."""
    env = cpu.env
    nzcv = (env[S_NF] & 0x8000_0000) | ((env[S_ZF] == 0) << 30) | ((env[S_CF] & 1) << 29) | \
        ((env[S_VF] >> 3) & 0x1000_0000)
    return nzcv | env[S_CPSR] | (env[S_THUMB] << 5)


def switch_mode(cpu: CPUState, new_mode: int) -> None:
    """Bank the current mode's r13/r14 (r8-r12 for FIQ) and load ``new_mode``'s."""
    env = cpu.env
    old_mode = env[S_CPSR] & CPSR_M
    if old_mode == new_mode:
        return
    old, new = BANK_OF_MODE[old_mode], BANK_OF_MODE[new_mode]
    if old != new:
        env[S_R13_BANK[old]] = env[S_R0 + 13]
        env[S_R14_BANK[old]] = env[S_R0 + 14]
        env[S_R0 + 13] = env[S_R13_BANK[new]]
        env[S_R0 + 14] = env[S_R14_BANK[new]]
    if (old_mode == MODE_FIQ) != (new_mode == MODE_FIQ):
        save, load = (S_R8_FIQ, S_R8_USR) if old_mode == MODE_FIQ else (S_R8_USR, S_R8_FIQ)
        for i in range(5):
            env[save[i]] = env[S_R0 + 8 + i]
            env[S_R0 + 8 + i] = env[load[i]]
    env[S_CPSR] = (env[S_CPSR] & ~CPSR_M) | new_mode


def cpsr_write(cpu: CPUState, value: int, mask: int = M32) -> None:
    """Write the CPSR bits in ``mask`` (QEMU's ``cpsr_write``).

    A change of mode banks registers.  A mode the model does not implement (Monitor,
    Hyp, reserved encodings) leaves the mode unchanged, as QEMU does for an illegal mode
    change by an instruction.  Bits outside :data:`CPSR_VALID` are ignored.
    """
    env = cpu.env
    value &= M32
    mask &= CPSR_VALID
    if mask & CPSR_NZCV:
        nzcv = cpsr_read(cpu)
        nzcv = (nzcv & ~mask) | (value & mask)
        env[S_NF] = nzcv & 0x8000_0000
        env[S_ZF] = 0 if nzcv & 0x4000_0000 else 1
        env[S_CF] = (nzcv >> 29) & 1
        env[S_VF] = (nzcv << 3) & 0x8000_0000
    if mask & CPSR_T:
        env[S_THUMB] = (value >> 5) & 1
    if mask & CPSR_M:
        new_mode = value & CPSR_M
        if new_mode in VALID_MODES:
            switch_mode(cpu, new_mode)
        else:
            mask &= ~CPSR_M
    rest = mask & ~(CPSR_NZCV | CPSR_T | CPSR_M)
    env[S_CPSR] = (env[S_CPSR] & ~rest) | (value & rest)


def spsr_slot(mode: int) -> int | None:
    """The env slot of ``mode``'s SPSR; None for usr/sys (which have none)."""
    return S_SPSR.get(mode)


# --------------------------------------------------------------------------- reset


def reset(cpu: CPUState, layout: StateLayout) -> None:
    """Cold reset (QEMU virt): SVC mode, ARM state, A/I/F masked, registers zero."""
    cpu.env[:] = layout.new_env()
    cpu.env[S_MPIDR] = MPIDR_MP | cpu.index
    cpu.run_state = CPURunState.RUNNING if cpu.index == 0 else CPURunState.OFF


def start_cpu(cpu: CPUState, layout: StateLayout, entry: int, r0: int) -> None:
    """PSCI CPU_ON: reset ``cpu``, start it at ``entry`` (bit 0: Thumb) with ``r0``."""
    reset(cpu, layout)
    cpu.env[S_PC] = entry & ~1 & M32
    cpu.env[S_THUMB] = entry & 1
    cpu.env[S_R0] = r0 & M32
    cpu.mid_tb = False
    cpu.run_state = CPURunState.RUNNING
    cpu.machine.policy.clrex(cpu)  # reset clears the local exclusive monitor
