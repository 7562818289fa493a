"""The host address space of the arm-host backend, and the layout of a vCPU's env block.

Everything the generated code touches lives in one unicorn ARM address space::

    0x0000f000  STOP         the epilogue returns here; emulation ends (``emu_start``'s until)
    0x00010000  TRAPS        one entry per Python function (helpers, slow paths), and the
                             dispatch instruction a unicorn hook watches
    0x00020000  PROLOGUE     tcg_qemu_tb_exec: save registers, r6 = env, r5 = budget, bx r1
    0x00100000  CODE         the code buffer: each TB's position-independent code
    0x02000000  DATA         the vCPUs' env blocks, the host stack, the prologue's params
    0x10000000  RAM          the guest RAM blocks, end to end (shared with Python)

A vCPU's env block (``env``, held in r6 by the generated code, as QEMU's ``AREG0``)::

    +0                 env slot i at 8*i: an i32 in the low word (high word 0), an i64 in both
    +CTRL              EXIT_REQUEST  (0, or 0x80000000: return to the dispatcher at goto_tb)
    +CTRL+4            TB_ENTRIES    (TBs entered since the dispatcher called execute)
    +CTRL+8            BUDGET_LEFT   (r5 at the epilogue: guest instructions still allowed)
    +CTRL+12           EXIT_VALUE    (r0 at the epilogue: the address of the exit taken)
    +CTRL+16           RET           (the outputs of an op with several, 8 bytes each)
    +CTRL+48           ARGS          (r0-r3 and the trap number, stored by a trap entry;
                                      the Python side writes r0:r1 results back here)
    +CTRL+72           INSN          (index of the guest insn running, in TBs whose
                                      branches skip insn_start ops: see codegen)
    +TLB               256 entries of 16 bytes: addr_read, addr_write, addr_code, addend

The TLB sits in the env block, as QEMU's ``CPUTLBDescFast`` is reached from ``env``, so
the inline lookup is one ``add r2, r6, index, lsl #4`` away from an entry.
"""

from __future__ import annotations

from attrs import define

from core.softmmu import PAGE_BITS, TLB_BITS, TLB_SIZE

PAGE = 0x1000  # the host's page (unicorn maps whole 4 KiB pages), not the guest's PAGE_SIZE

STOP_ADDR = 0x0000_F000
TRAP_BASE = 0x0001_0000
TRAP_SIZE = 0x0001_0000
TRAP_ENTRY_SIZE = 32  # bytes per trap entry
TRAP_DISPATCH = TRAP_BASE + TRAP_SIZE - 16  # the hooked instruction
PROLOGUE_ADDR = 0x0002_0000
CODE_BASE = 0x0010_0000
CODE_SIZE = 0x0100_0000  # 16 MiB of TB code
DATA_BASE = 0x0200_0000
HOST_RAM_BASE = 0x1000_0000
HOST_TOP = 1 << 32

# The stack frame the prologue reserves (QEMU's TCG_STATIC_CALL_ARGS_SIZE plus the TB
# temps' spill area): outgoing stack arguments at [sp, #0], spill slots after them.
CALL_ARGS_SIZE = 128
FRAME_SIZE = 0x10000
SPILL_BASE = CALL_ARGS_SIZE
MAX_SPILL_SLOTS = (FRAME_SIZE - CALL_ARGS_SIZE) // 8
PUSH_SIZE = 40  # push {r4-r12, lr}: r12 only keeps sp 8-byte aligned (AAPCS)
STACK_SIZE = FRAME_SIZE + PAGE

# TLB entries (CPUTLBEntry on a 32-bit host)
TLB_ENTRY_BITS = 4
TLB_READ, TLB_WRITE, TLB_CODE, TLB_ADDEND = 0, 4, 8, 12
TLB_BYTES = TLB_SIZE << TLB_ENTRY_BITS

EXIT_REQUESTED = 0x8000_0000  # the EXIT_REQUEST word when set: a sign bit, tested with orrs

RET_SLOTS = 4


def align(value: int, to: int) -> int:
    return (value + to - 1) & ~(to - 1)


@define(frozen=True)
class EnvLayout:
    """Offsets inside one vCPU's env block, from the frontend's number of state slots."""

    n_slots: int

    @property
    def ctrl(self) -> int:
        return align(8 * self.n_slots, 16)

    @property
    def exit_request(self) -> int:
        return self.ctrl

    @property
    def tb_entries(self) -> int:
        return self.ctrl + 4

    @property
    def budget_left(self) -> int:
        return self.ctrl + 8

    @property
    def exit_value(self) -> int:
        return self.ctrl + 12

    @property
    def ret(self) -> int:
        return self.ctrl + 16

    @property
    def args(self) -> int:
        return self.ctrl + 16 + 8 * RET_SLOTS

    @property
    def insn_index(self) -> int:
        return self.args + 24

    @property
    def tlb(self) -> int:
        return self.args + 32

    @property
    def block_size(self) -> int:
        return align(self.tlb + TLB_BYTES, PAGE)

    def slot(self, index: int) -> int:
        return 8 * index


@define(frozen=True)
class HostMap:
    """Host addresses of the per-machine areas (the env blocks depend on the vCPU count)."""

    env: EnvLayout
    vcpus: int

    def block_addr(self, cpu_index: int) -> int:
        return DATA_BASE + cpu_index * self.env.block_size

    @property
    def stack_base(self) -> int:
        return DATA_BASE + self.vcpus * self.env.block_size

    @property
    def data_size(self) -> int:
        return self.vcpus * self.env.block_size + STACK_SIZE + PAGE

    @property
    def params_addr(self) -> int:
        """What the prologue loads: env, TB entry, budget (three words)."""
        return self.stack_top

    @property
    def stack_top(self) -> int:
        return self.stack_base + STACK_SIZE

    @property
    def tb_sp(self) -> int:
        """sp while a TB runs (after the prologue's push and frame)."""
        return self.stack_top - PUSH_SIZE - FRAME_SIZE


__all__ = ["EnvLayout", "HostMap", "PAGE_BITS", "TLB_BITS", "TLB_SIZE"]
