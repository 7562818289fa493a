"""RV32IMA to IR, one function per instruction (QEMU's ``target/riscv/insn_trans``).

:class:`RvDisas` holds the per-TB state (the builder, the register globals, the pc of
the instruction being translated) and the generators every instruction shares: reading
a register (x0 is the constant 0), writing one (writes to x0 go to a dead temp),
direct jumps (``goto_tb``), and raising a trap.  :data:`TRANS` maps each row of
:mod:`.decode` to its function.

Conventions: a trap helper is called with the pc of its instruction already written
(or rewound by the backend, for helpers that fault mid-instruction), so ``mepc`` and
error messages name the instruction.  Shift amounts are masked to 5 bits before the
IR shift (IR shifts out of range are unspecified, RISC-V uses the low 5 bits).
"""

from __future__ import annotations

from typing import Callable

from core.builder import Builder
from core.cpu import EXCP, helper_raise_exception
from core.frontend import DisasContext, DisasJump
from core.ir import I32, Cond, MemOp, Temp
from core.softmmu import PAGE_BITS

from . import decode as d
from . import helpers as h

MB_ALL = 0x3F  # TCG_MO_ALL | TCG_BAR_SC: FENCE and aq/rl are at least this strong
INT_MIN = 0x8000_0000


class RvDisas:
    """Per-TB translation state."""

    def __init__(self, ctx: DisasContext, b: Builder, layout):
        self.ctx = ctx
        self.b = b
        g = layout.globals
        self.X: list[Temp | None] = [None] + [g[f"x{i}"] for i in range(1, 32)]
        self.PC = g["pc"]
        self.pc = ctx.pc_first
        self.insn = 0

    # ---------------------------------------------------------------- registers

    def src(self, r: int) -> Temp:
        """Register ``r`` as a source (x0: the constant 0)."""
        return self.X[r] if r else self.b.const_i32(0)

    def dst(self, r: int) -> Temp:
        """Register ``r`` as a destination (x0: a temp nobody reads)."""
        return self.X[r] if r else self.b.temp_new_i32("x0")

    def temp(self) -> Temp:
        return self.b.temp_new_i32()

    @property
    def next_pc(self) -> int:
        return (self.pc + 4) & 0xFFFF_FFFF

    # ---------------------------------------------------------------- control

    def gen_goto(self, dest: int, slot: int = 0) -> None:
        """A direct jump to ``dest`` through chainable exit ``slot``."""
        dest &= 0xFFFF_FFFF
        if dest & 3:
            self.b.movi(self.PC, self.pc)
            self.b.call(h.helper_misaligned_target, None, dest, self.pc)
        else:
            self.b.movi(self.PC, dest)
            self.b.goto_tb(slot)
        self.ctx.is_jmp = DisasJump.NORETURN

    def end_indirect(self) -> None:
        """The pc holds a value known only at run time: leave the TB."""
        self.b.exit_tb(0)
        self.ctx.is_jmp = DisasJump.NORETURN

    def raise_at_insn(self, helper, *args) -> None:
        """Write this instruction's pc and call a trap helper (it never returns)."""
        self.b.movi(self.PC, self.pc)
        self.b.call(helper, None, *args)
        self.ctx.is_jmp = DisasJump.NORETURN

    def illegal(self) -> None:
        self.raise_at_insn(h.helper_illegal, self.insn, self.pc)


# --------------------------------------------------------------------------- RV32I


def trans_lui(s: RvDisas, w: int) -> None:
    s.b.movi(s.dst(d.rd(w)), d.imm_u(w))


def trans_auipc(s: RvDisas, w: int) -> None:
    s.b.movi(s.dst(d.rd(w)), (s.pc + d.imm_u(w)) & 0xFFFF_FFFF)


def trans_jal(s: RvDisas, w: int) -> None:
    target = (s.pc + d.imm_j(w)) & 0xFFFF_FFFF
    if target & 3:  # the trap is taken before rd is written
        s.raise_at_insn(h.helper_misaligned_target, target, s.pc)
        return
    s.b.movi(s.dst(d.rd(w)), s.next_pc)
    s.gen_goto(target, 0)


def trans_jalr(s: RvDisas, w: int) -> None:
    b = s.b
    target = s.temp()
    b.add(target, s.src(d.rs1(w)), d.imm_i(w) & 0xFFFF_FFFF)
    b.and_(target, target, 0xFFFF_FFFE)
    ok = b.new_label()
    misaligned = s.temp()
    b.and_(misaligned, target, 2)
    b.brcond(Cond.EQ, misaligned, 0, ok)
    b.movi(s.PC, s.pc)
    b.call(h.helper_misaligned_target, None, target, s.pc)
    b.set_label(ok)
    b.movi(s.dst(d.rd(w)), s.next_pc)
    b.mov(s.PC, target)
    s.end_indirect()


_BRANCH_COND = {"beq": Cond.EQ, "bne": Cond.NE, "blt": Cond.LT, "bge": Cond.GE,
                "bltu": Cond.LTU, "bgeu": Cond.GEU}


def _branch(cond: Cond) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        b = s.b
        taken = b.new_label()
        b.brcond(cond, s.src(d.rs1(w)), s.src(d.rs2(w)), taken)
        s.gen_goto(s.next_pc, 0)
        b.set_label(taken)
        s.gen_goto(s.pc + d.imm_b(w), 1)  # a misaligned target traps only when taken
    return trans


_LOAD_MEMOP = {"lb": MemOp.SB, "lh": MemOp.SW, "lw": MemOp.UL, "lbu": MemOp.UB,
               "lhu": MemOp.UW}
_STORE_MEMOP = {"sb": MemOp.UB, "sh": MemOp.UW, "sw": MemOp.UL}


def _address(s: RvDisas, base: int, offset: int) -> Temp:
    addr = s.temp()
    s.b.add(addr, s.src(base), offset & 0xFFFF_FFFF)
    return addr


def _load(memop: int) -> Callable[[RvDisas, int], None]:
    # Misaligned plain loads and stores are performed (QEMU does the same for RV32 virt).
    def trans(s: RvDisas, w: int) -> None:
        addr = _address(s, d.rs1(w), d.imm_i(w))
        s.b.qemu_ld(s.dst(d.rd(w)), addr, memop)
    return trans


def _store(memop: int) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        addr = _address(s, d.rs1(w), d.imm_s(w))
        s.b.qemu_st(s.src(d.rs2(w)), addr, memop)
    return trans


def _alu_imm(op: str) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        getattr(s.b, op)(s.dst(d.rd(w)), s.src(d.rs1(w)), d.imm_i(w) & 0xFFFF_FFFF)
    return trans


def _set_imm(cond: Cond) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        s.b.setcond(cond, s.dst(d.rd(w)), s.src(d.rs1(w)), d.imm_i(w) & 0xFFFF_FFFF)
    return trans


def _shift_imm(op: str) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        getattr(s.b, op)(s.dst(d.rd(w)), s.src(d.rs1(w)), d.shamt(w))
    return trans


def _alu(op: str) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        getattr(s.b, op)(s.dst(d.rd(w)), s.src(d.rs1(w)), s.src(d.rs2(w)))
    return trans


def _set(cond: Cond) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        s.b.setcond(cond, s.dst(d.rd(w)), s.src(d.rs1(w)), s.src(d.rs2(w)))
    return trans


def _shift(op: str) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        amount = s.temp()
        s.b.and_(amount, s.src(d.rs2(w)), 31)
        getattr(s.b, op)(s.dst(d.rd(w)), s.src(d.rs1(w)), amount)
    return trans


# --------------------------------------------------------------------------- M


def trans_mul(s: RvDisas, w: int) -> None:
    s.b.mul(s.dst(d.rd(w)), s.src(d.rs1(w)), s.src(d.rs2(w)))


def trans_mulh(s: RvDisas, w: int) -> None:
    lo = s.temp()
    s.b.muls2(lo, s.dst(d.rd(w)), s.src(d.rs1(w)), s.src(d.rs2(w)))


def trans_mulhu(s: RvDisas, w: int) -> None:
    lo = s.temp()
    s.b.mulu2(lo, s.dst(d.rd(w)), s.src(d.rs1(w)), s.src(d.rs2(w)))


def trans_mulhsu(s: RvDisas, w: int) -> None:
    """high(signed a * unsigned b) = high(unsigned a * b) - (a < 0 ? b : 0)."""
    b = s.b
    a, bb = s.src(d.rs1(w)), s.src(d.rs2(w))
    lo, hi, fix = s.temp(), s.temp(), s.temp()
    b.mulu2(lo, hi, a, bb)
    b.sar(fix, a, 31)
    b.and_(fix, fix, bb)
    b.sub(s.dst(d.rd(w)), hi, fix)


def _divisor_guards(s: RvDisas, a: Temp, bb: Temp, signed: bool) -> tuple[Temp, Temp]:
    """``(is_zero, safe divisor)``: the divisor is 1 where RISC-V defines the result
    without dividing (b = 0, and INT_MIN / -1 when signed), so the IR division never
    sees those cases (its own b = 0 result, 0, is not RISC-V's -1)."""
    b = s.b
    zero, special, safe = s.temp(), s.temp(), s.temp()
    b.setcond(Cond.EQ, zero, bb, 0)
    b.mov(special, zero)
    if signed:
        ov, t = s.temp(), s.temp()
        b.setcond(Cond.EQ, ov, a, INT_MIN)
        b.setcond(Cond.EQ, t, bb, 0xFFFF_FFFF)
        b.and_(ov, ov, t)
        b.or_(special, special, ov)
    b.movcond(Cond.NE, safe, special, 0, 1, bb)
    return zero, safe


def _div(signed: bool) -> Callable[[RvDisas, int], None]:
    """DIV/DIVU (M extension 7.2): x / 0 = all ones; INT_MIN / -1 = INT_MIN."""
    def trans(s: RvDisas, w: int) -> None:
        b = s.b
        a, bb = s.src(d.rs1(w)), s.src(d.rs2(w))
        zero, safe = _divisor_guards(s, a, bb, signed)
        q = s.temp()
        (b.div if signed else b.divu)(q, a, safe)  # INT_MIN / 1 = INT_MIN: the overflow case
        b.movcond(Cond.NE, s.dst(d.rd(w)), zero, 0, 0xFFFF_FFFF, q)
    return trans


def _rem(signed: bool) -> Callable[[RvDisas, int], None]:
    """REM/REMU (M extension 7.2): x % 0 = x; INT_MIN % -1 = 0."""
    def trans(s: RvDisas, w: int) -> None:
        b = s.b
        a, bb = s.src(d.rs1(w)), s.src(d.rs2(w))
        zero, safe = _divisor_guards(s, a, bb, signed)
        r = s.temp()
        (b.rem if signed else b.remu)(r, a, safe)  # INT_MIN % 1 = 0: the overflow case
        b.movcond(Cond.NE, s.dst(d.rd(w)), zero, 0, a, r)
    return trans


# --------------------------------------------------------------------------- A


def _lr_sc_oi() -> int:
    from core.ir import make_oi

    return make_oi(h.AMO_MEMOP)


def trans_lr_w(s: RvDisas, w: int) -> None:
    """LR.W through ``qemu_ldlink_i32``: the memory policy reserves the word."""
    b = s.b
    if d.rl(w):
        b.mb(MB_ALL)
    b.qemu_ldlink_i32(s.dst(d.rd(w)), s.src(d.rs1(w)), _lr_sc_oi())
    if d.aq(w):
        b.mb(MB_ALL)


def trans_sc_w(s: RvDisas, w: int) -> None:
    """SC.W through ``qemu_stcond_i32``: rd = 0 stored, 1 failed (the policy decides;
    every policy drops the reservation either way, as SC.W requires)."""
    b = s.b
    if d.rl(w):
        b.mb(MB_ALL)
    b.qemu_stcond_i32(s.dst(d.rd(w)), s.src(d.rs2(w)), s.src(d.rs1(w)), _lr_sc_oi())
    if d.aq(w):
        b.mb(MB_ALL)


def _amo(name: str) -> Callable[[RvDisas, int], None]:
    helper = h.AMO_HELPERS[name]

    def trans(s: RvDisas, w: int) -> None:
        b = s.b
        if d.rl(w):
            b.mb(MB_ALL)
        old = s.temp()  # rd may be rs1 or rs2: write it after the helper has read both
        b.call(helper, old, s.src(d.rs1(w)), s.src(d.rs2(w)))
        b.mov(s.dst(d.rd(w)), old)
        if d.aq(w):
            b.mb(MB_ALL)
    return trans


# --------------------------------------------------------------------------- system


def trans_fence(s: RvDisas, w: int) -> None:
    s.b.mb(MB_ALL)


def trans_fence_i(s: RvDisas, w: int) -> None:
    """FENCE.I: stores to code already invalidate its TBs; end the TB so the next
    instruction is fetched again."""
    s.b.movi(s.PC, s.next_pc)
    s.end_indirect()


def trans_ecall(s: RvDisas, w: int) -> None:
    s.raise_at_insn(h.helper_ecall, s.pc)


SEMIHOST_PRE = 0x01F0_1013  # slli zero, zero, 0x1f
SEMIHOST_EBREAK = 0x0010_0073
SEMIHOST_POST = 0x4070_5013  # srai zero, zero, 7


def is_semihosting_call(s: RvDisas) -> bool:
    """The RISC-V semihosting sequence around this EBREAK, all three on one page (so
    that reading them cannot fault), as QEMU's ``trans_ebreak`` checks."""
    pre, post = s.pc - 4, s.pc + 4
    if pre < 0 or (pre >> PAGE_BITS) != (post >> PAGE_BITS):
        return False
    ctx = s.ctx
    return ctx.ld_code32(pre) == SEMIHOST_PRE and ctx.ld_code32(post) == SEMIHOST_POST


def trans_ebreak(s: RvDisas, w: int) -> None:
    if is_semihosting_call(s):
        s.raise_at_insn(h.helper_semihost)  # the board serves it and resumes at pc + 4
    else:
        s.raise_at_insn(h.helper_ebreak, s.pc)


def trans_mret(s: RvDisas, w: int) -> None:
    s.b.movi(s.PC, s.pc)
    s.b.call(h.helper_mret, None)
    s.end_indirect()


def trans_wfi(s: RvDisas, w: int) -> None:
    """WFI: the hart idles (nothing wakes it: this board has no interrupts)."""
    s.b.movi(s.PC, s.next_pc)
    s.b.call(helper_raise_exception, None, int(EXCP.HLT))
    s.ctx.is_jmp = DisasJump.NORETURN


def _csr(kind: int, immediate: bool) -> Callable[[RvDisas, int], None]:
    def trans(s: RvDisas, w: int) -> None:
        rd, src = d.rd(w), d.rs1(w)  # rs1 is the 5-bit uimm for the *i forms
        writes = kind == h.CSR_WRITE or src != 0
        reads = kind != h.CSR_WRITE or rd != 0
        value = s.b.const_i32(src) if immediate else s.src(src)
        old = s.temp()
        s.b.movi(s.PC, s.pc)  # for the message of an illegal CSR access
        s.b.call(h.helper_csr, old, h.csr_spec(d.csr(w), kind, reads, writes), value)
        s.b.mov(s.dst(rd), old)
        if writes:  # a CSR write may change what follows (mstatus): end the TB
            s.b.movi(s.PC, s.next_pc)
            s.end_indirect()
    return trans


# --------------------------------------------------------------------------- the table


TRANS: dict[str, Callable[[RvDisas, int], None]] = {
    "lui": trans_lui, "auipc": trans_auipc, "jal": trans_jal, "jalr": trans_jalr,
    **{name: _branch(cond) for name, cond in _BRANCH_COND.items()},
    **{name: _load(memop) for name, memop in _LOAD_MEMOP.items()},
    **{name: _store(memop) for name, memop in _STORE_MEMOP.items()},
    "addi": _alu_imm("add"), "xori": _alu_imm("xor"), "ori": _alu_imm("or_"),
    "andi": _alu_imm("and_"), "slti": _set_imm(Cond.LT), "sltiu": _set_imm(Cond.LTU),
    "slli": _shift_imm("shl"), "srli": _shift_imm("shr"), "srai": _shift_imm("sar"),
    "add": _alu("add"), "sub": _alu("sub"), "xor": _alu("xor"), "or": _alu("or_"),
    "and": _alu("and_"), "slt": _set(Cond.LT), "sltu": _set(Cond.LTU),
    "sll": _shift("shl"), "srl": _shift("shr"), "sra": _shift("sar"),
    "mul": trans_mul, "mulh": trans_mulh, "mulhsu": trans_mulhsu, "mulhu": trans_mulhu,
    "div": _div(True), "divu": _div(False), "rem": _rem(True), "remu": _rem(False),
    "fence": trans_fence, "fence.i": trans_fence_i, "ecall": trans_ecall,
    "ebreak": trans_ebreak, "mret": trans_mret, "wfi": trans_wfi,
    "csrrw": _csr(h.CSR_WRITE, False), "csrrs": _csr(h.CSR_SET, False),
    "csrrc": _csr(h.CSR_CLEAR, False), "csrrwi": _csr(h.CSR_WRITE, True),
    "csrrsi": _csr(h.CSR_SET, True), "csrrci": _csr(h.CSR_CLEAR, True),
    "lr.w": trans_lr_w, "sc.w": trans_sc_w,
    **{name: _amo(name) for name in h.AMO_HELPERS},
}

_missing = {p.name for p in d.RV32IMA} ^ set(TRANS)
assert not _missing, f"decode table and TRANS disagree on {sorted(_missing)}"

__all__ = ["RvDisas", "TRANS", "I32"]
