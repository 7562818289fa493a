"""RV32 hart state: the env slots, the machine-mode CSRs, reset.

``x1``..``x31`` and ``pc`` are IR globals (``x0`` has a slot so that slot *i* is
register *i*, but it is not a global: reads of x0 are the constant 0 and writes to
it are dropped at translation).  The machine-mode CSRs a freestanding program uses
live in plain slots that only helpers touch.  Every function here takes a
:class:`core.cpu.CPUState`; slot numbers are module constants.
"""

from __future__ import annotations

from core.cpu import CPURunState, CPUState, StateLayout
from core.ir import M32

#: ABI names of x0..x31 (for disassembly and messages)
ABI_NAMES = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
             "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
             "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
             "t3", "t4", "t5", "t6")

# --------------------------------------------------------------------------- CSRs

CSR_MSTATUS = 0x300
CSR_MISA = 0x301
CSR_MIE = 0x304
CSR_MTVEC = 0x305
CSR_MSCRATCH = 0x340
CSR_MEPC = 0x341
CSR_MCAUSE = 0x342
CSR_MTVAL = 0x343
CSR_MIP = 0x344
CSR_MVENDORID = 0xF11
CSR_MARCHID = 0xF12
CSR_MIMPID = 0xF13
CSR_MHARTID = 0xF14

#: misa of an RV32IMA hart: MXL = 1 (32-bit), extensions A, I, M
MISA_RV32IMA = (1 << 30) | (1 << 0) | (1 << 8) | (1 << 12)

MSTATUS_MIE = 1 << 3
MSTATUS_MPIE = 1 << 7
MSTATUS_MPP = 3 << 11  # machine mode only: MPP is hard-wired to 3 (M)
MSTATUS_WRITABLE = MSTATUS_MIE | MSTATUS_MPIE

#: CSR number -> env slot name of the CSRs kept in the state (read/write)
CSR_SLOTS = {CSR_MSTATUS: "mstatus", CSR_MIE: "mie", CSR_MTVEC: "mtvec",
             CSR_MSCRATCH: "mscratch", CSR_MEPC: "mepc", CSR_MCAUSE: "mcause",
             CSR_MTVAL: "mtval", CSR_MIP: "mip"}
#: read-only CSRs with a fixed value (mhartid is per hart: see :func:`csr_read`)
CSR_CONST = {CSR_MVENDORID: 0, CSR_MARCHID: 0, CSR_MIMPID: 0}
CSR_NAMES = {CSR_MSTATUS: "mstatus", CSR_MISA: "misa", CSR_MIE: "mie", CSR_MTVEC: "mtvec",
             CSR_MSCRATCH: "mscratch", CSR_MEPC: "mepc", CSR_MCAUSE: "mcause",
             CSR_MTVAL: "mtval", CSR_MIP: "mip", CSR_MVENDORID: "mvendorid",
             CSR_MARCHID: "marchid", CSR_MIMPID: "mimpid", CSR_MHARTID: "mhartid"}

# --------------------------------------------------------------------------- slots

SLOT_NAMES = tuple(f"x{i}" for i in range(32)) + ("pc", "mhartid") + \
    tuple(CSR_SLOTS.values())
SLOT = {name: i for i, name in enumerate(SLOT_NAMES)}
S_X0 = SLOT["x0"]
S_PC = SLOT["pc"]
S_MHARTID = SLOT["mhartid"]
S_CSR = {csr: SLOT[name] for csr, name in CSR_SLOTS.items()}
S_MSTATUS, S_MTVEC, S_MEPC = S_CSR[CSR_MSTATUS], S_CSR[CSR_MTVEC], S_CSR[CSR_MEPC]
S_MCAUSE, S_MTVAL = S_CSR[CSR_MCAUSE], S_CSR[CSR_MTVAL]

RESET_MSTATUS = MSTATUS_MPP


def make_layout() -> StateLayout:
    """x0..x31 (x1..x31 globals), pc (global), then helper-only slots."""
    layout = StateLayout()
    for name in SLOT_NAMES:
        reset = RESET_MSTATUS if name == "mstatus" else 0
        layout.add(name, reset=reset, is_global=name == "pc" or (name[0] == "x" and name != "x0"))
    assert layout.names == list(SLOT_NAMES)
    return layout


def get_reg(cpu: CPUState, n: int) -> int:
    """Register ``x<n>`` (x0 reads 0)."""
    if not 0 <= n <= 31:
        raise ValueError(f"RISC-V register number {n} out of range 0..31")
    return cpu.env[S_X0 + n] if n else 0


def set_reg(cpu: CPUState, n: int, value: int) -> None:
    """Set ``x<n>``; writes to x0 are dropped."""
    if not 0 <= n <= 31:
        raise ValueError(f"RISC-V register number {n} out of range 0..31")
    if n:
        cpu.env[S_X0 + n] = value & M32


def reset(cpu: CPUState, layout: StateLayout) -> None:
    """Power-on reset: registers zero, machine mode, mhartid = the vCPU index."""
    cpu.env[:] = layout.new_env()
    cpu.env[S_MHARTID] = cpu.index
    cpu.run_state = CPURunState.RUNNING if cpu.index == 0 else CPURunState.OFF


def start_hart(cpu: CPUState, layout: StateLayout, entry: int, a0: int, a1: int = 0) -> None:
    """Reset ``cpu`` and start it at ``entry`` with a0/a1 (QEMU's -bios none reset vector)."""
    reset(cpu, layout)
    cpu.env[S_PC] = entry & M32
    set_reg(cpu, 10, a0)
    set_reg(cpu, 11, a1)
    cpu.mid_tb = False
    cpu.run_state = CPURunState.RUNNING
    cpu.machine.policy.clrex(cpu)  # a reset drops any reservation
