"""qemu_ld/qemu_st: the inline TLB lookup, the fast host access, and the slow-path stubs.

As tcg/arm's tcg_out_tlb_read + tcg_out_qemu_ld/st (background.md, section 3)::

    ubfx  r0, addr, #12, #8            @ TLB index
    add   r2, r6, r0, lsl #4           @ &env->tlb[index] (minus the TLB's offset in env)
    ldr   r0, [r2, #TLB+read|write]    @ tag: page, plus flag bits that make it miss
    ldr   r2, [r2, #TLB+addend]        @ host address - guest address
    add   r1, addr, #adj               @ last byte of the access when alignment < size,
    lsr   r12, r1|addr, #12            @   so that a page-crossing access misses
    tst   addr, #align-1               @ when the access must be aligned
    cmpeq r0, r12, lsl #12             @ ONE compare: any flag bit or misalignment -> NE
    ldreq data, [addr, r2]             @ fast path (stores: streq)
    beq   .Lret
    bl    .Lslow                       @ slow path; lr = where it returns
  .Lret:

The compare is exactly SoftMMU's ``tag == (addr + adj) & (PAGE_MASK | amask)``
(MEMOP_INFO), over a copy of the same TLB, so the host misses exactly when the Python
fast path would.  Each stub, placed after the TB body, stores the globals that are dirty
at the access (the slow path may fault), then calls ``helper_ld*_mmu(env, addr, oi,
retaddr)`` or ``helper_st*_mmu(env, addr, val, oi, retaddr)`` and branches back.

The address and data live in callee-saved registers: r0-r3 are the lookup's scratch and
the call's arguments (the op clobbers them, as CALL_CLOBBER says).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from attrs import define

from core.ir import MemOp, Op, memop_align_mask, oi_memop
from core.softmmu import PAGE_BITS, TLB_BITS

from .a32 import LR, R0, R1, R2, R3, R12, encodable, imm, rn
from .layout import TLB_ADDEND, TLB_ENTRY_BITS, TLB_READ, TLB_WRITE
from .regalloc import CALL_CLOBBERED, CALLEE_SAVED

if TYPE_CHECKING:
    from .codegen import TBCodegen

@define
class Stub:
    """Out-of-line code emitted after the TB body: ``emit(cg)`` writes it (budget stubs
    have none: the codegen writes them from ``dirty``, the globals to store first)."""

    kind: str  # "budget" | "ld" | "st"
    label: str
    pc: int  # guest pc of the instruction it belongs to
    dirty: list
    emit: "Callable[[TBCodegen], None] | None" = None


_LD = {(0, False): "ldrb", (0, True): "ldrsb", (1, False): "ldrh", (1, True): "ldrsh",
       (2, False): "ldr", (2, True): "ldr"}
_ST = {0: "strb", 1: "strh", 2: "str"}


def _tlb_compare(cg: "TBCodegen", r_addr: int, memop: int, which: int) -> None:
    a = cg.asm
    size = 1 << (memop & MemOp.MO_SIZE)
    amask = memop_align_mask(memop)
    adj = size - 1 - amask if amask < size - 1 else 0
    addr = rn(r_addr)
    a.insn(f"ubfx r0, {addr}, #{PAGE_BITS}, #{TLB_BITS}", "TLB index")
    a.insn(f"add r2, r6, r0, lsl #{TLB_ENTRY_BITS}")
    base = cg.env.tlb
    if base + TLB_ADDEND > 4095:
        high = base & ~0xFFF
        assert encodable(high)
        a.insn(f"add r2, r2, {imm(high)}")
        base &= 0xFFF
    a.insn(f"ldr r0, [r2, {imm(base + which)}]", "addr_write" if which == TLB_WRITE else "addr_read")
    a.insn(f"ldr r2, [r2, {imm(base + TLB_ADDEND)}]", "addend")
    if adj:
        a.insn(f"add r1, {addr}, #{adj}", "last byte: a page-crossing access misses")
        a.insn(f"lsr r12, r1, #{PAGE_BITS}")
    else:
        a.insn(f"lsr r12, {addr}, #{PAGE_BITS}")
    if amask:
        a.insn(f"tst {addr}, {imm(amask)}", "misaligned: miss")
        a.insn(f"cmpeq r0, r12, lsl #{PAGE_BITS}", "any flag bit in the tag: miss")
    else:
        a.insn(f"cmp r0, r12, lsl #{PAGE_BITS}", "any flag bit in the tag: miss")


def _call_slow(a, slow: str, ret: str) -> None:
    """On a miss, ``bl`` to the stub so that lr is the return address (tcg/arm uses one
    ``blne``; keystone 0.9.2 mis-encodes a conditional BL, so the hit branches over it)."""
    a.insn(f"beq {ret}", "hit")
    a.insn(f"bl {slow}", "miss: lr = return address")


def _inline_ok(memop: int, is64: bool) -> bool:
    size = memop & MemOp.MO_SIZE
    return is64 or size != MemOp.MO_64


def qemu_ld(cg: "TBCodegen", op: Op, is64: bool) -> None:
    d, addr, oi = op.args
    memop = oi_memop(oi)
    if not _inline_ok(memop, is64):
        return cg.op_fallback(op)  # an i32 result from a 64-bit access: the reference path
    ra, a = cg.ra, cg.asm
    size = memop & MemOp.MO_SIZE
    signed = bool(memop & MemOp.MO_SIGN)
    bswap = bool(memop & MemOp.MO_BSWAP)
    ra.evict(CALL_CLOBBERED)
    r_addr = ra.reg_of(addr, CALLEE_SAVED)
    dirty = ra.snapshot_dirty()
    slow, ret = cg.new_label("ld_slow"), cg.new_label("ld_ret")
    if not is64:
        cg.release_dead()
        r_d = ra.out_reg(d, CALLEE_SAVED)
        _tlb_compare(cg, r_addr, memop, TLB_READ)
        a.insn(f"{_LD[(size, signed)]}eq {rn(r_d)}, [{rn(r_addr)}, r2]", "fast path")
        if bswap and size == MemOp.MO_16:
            a.insn(f"{'revsh' if signed else 'rev16'}eq {rn(r_d)}, {rn(r_d)}")
        elif bswap and size == MemOp.MO_32:
            a.insn(f"reveq {rn(r_d)}, {rn(r_d)}")
        _call_slow(a, slow, ret)
        a.label(ret)

        def stub(cg: "TBCodegen") -> None:
            a = cg.asm
            a.insn("mov r3, lr", "retaddr")
            cg.sync_dirty(dirty)
            a.insn("mov r0, r6")
            a.insn(f"mov r1, {rn(r_addr)}")
            a.mov_imm(R2, oi)
            cg.trap_call(cg.traps.load_slow(False))
            a.insn(f"mov {rn(r_d)}, r0")
            a.insn(f"b {ret}")
    else:
        _tlb_compare(cg, r_addr, memop, TLB_READ)
        if size == MemOp.MO_64:
            a.insn(f"addeq r2, r2, {rn(r_addr)}", "fast path")
            lo, hi = ("r1", "r0") if bswap else ("r0", "r1")
            a.insn(f"ldreq {lo}, [r2]")
            a.insn(f"ldreq {hi}, [r2, #4]")
            if bswap:
                a.insn("reveq r0, r0")
                a.insn("reveq r1, r1")
        else:
            a.insn(f"{_LD[(size, signed)]}eq r0, [{rn(r_addr)}, r2]", "fast path")
            if bswap and size == MemOp.MO_16:
                a.insn(f"{'revsh' if signed else 'rev16'}eq r0, r0")
            elif bswap and size == MemOp.MO_32:
                a.insn("reveq r0, r0")
            a.insn("asreq r1, r0, #31" if signed else "moveq r1, #0")
        _call_slow(a, slow, ret)
        a.label(ret)
        cg.store64(d, R0, R1)

        def stub(cg: "TBCodegen") -> None:
            a = cg.asm
            a.insn("mov r3, lr", "retaddr")
            cg.sync_dirty(dirty)
            a.insn("mov r0, r6")
            a.insn(f"mov r1, {rn(r_addr)}")
            a.mov_imm(R2, oi)
            cg.trap_call(cg.traps.load_slow(True))
            a.insn(f"b {ret}")
    cg.stubs.append(Stub("ld", slow, cg.insn_pc, dirty, stub))


def qemu_st(cg: "TBCodegen", op: Op, is64: bool) -> None:
    v, addr, oi = op.args
    memop = oi_memop(oi)
    if not _inline_ok(memop, is64):
        return cg.op_fallback(op)
    ra, a = cg.ra, cg.asm
    size = memop & MemOp.MO_SIZE
    bswap = bool(memop & MemOp.MO_BSWAP)
    ra.evict(CALL_CLOBBERED)
    r_addr = ra.reg_of(addr, CALLEE_SAVED)
    slow, ret = cg.new_label("st_slow"), cg.new_label("st_ret")
    if not is64:
        r_v = ra.reg_of(v, CALLEE_SAVED)
        dirty = ra.snapshot_dirty()
        _tlb_compare(cg, r_addr, memop, TLB_WRITE)
        data = rn(r_v)
        if bswap and size == MemOp.MO_16:
            a.insn(f"rev16 lr, {data}")
            data = "lr"
        elif bswap and size == MemOp.MO_32:
            a.insn(f"rev lr, {data}")
            data = "lr"
        a.insn(f"{_ST[size]}eq {data}, [{rn(r_addr)}, r2]", "fast path")
        _call_slow(a, slow, ret)
        a.label(ret)

        def stub(cg: "TBCodegen") -> None:
            a = cg.asm
            a.insn("str lr, [sp]", "retaddr")
            cg.sync_dirty(dirty)
            a.insn("mov r0, r6")
            a.insn(f"mov r1, {rn(r_addr)}")
            a.insn(f"mov r2, {rn(r_v)}")
            a.mov_imm(R3, oi)
            cg.trap_call(cg.traps.store_slow(False))
            a.insn(f"b {ret}")
    else:
        dirty = ra.snapshot_dirty()
        # the value's two words, loaded before the lookup uses r12 (r3 and lr are free)
        cg.word_to(R3, v, 0)
        cg.word_to(LR, v, 1)
        _tlb_compare(cg, r_addr, memop, TLB_WRITE)
        if size == MemOp.MO_64:
            a.insn(f"addeq r2, r2, {rn(r_addr)}", "fast path")
            if bswap:
                a.insn("reveq r3, r3")
                a.insn("reveq lr, lr")
                a.insn("streq lr, [r2]")
                a.insn("streq r3, [r2, #4]")
            else:
                a.insn("streq r3, [r2]")
                a.insn("streq lr, [r2, #4]")
        else:
            if bswap and size == MemOp.MO_16:
                a.insn("rev16eq r3, r3")
            elif bswap and size == MemOp.MO_32:
                a.insn("reveq r3, r3")
            a.insn(f"{_ST[size]}eq r3, [{rn(r_addr)}, r2]", "fast path")
        _call_slow(a, slow, ret)
        a.label(ret)

        def stub(cg: "TBCodegen") -> None:
            a = cg.asm
            a.insn("str lr, [sp, #4]", "retaddr")
            a.mov_imm(R12, oi)
            a.insn("str r12, [sp]", "oi")
            cg.sync_dirty(dirty)
            cg.word_to(R2, v, 0)
            cg.word_to(R3, v, 1)
            a.insn("mov r0, r6")
            a.insn(f"mov r1, {rn(r_addr)}")
            cg.trap_call(cg.traps.store_slow(True))
            a.insn(f"b {ret}")
    cg.stubs.append(Stub("st", slow, cg.insn_pc, dirty, stub))


__all__ = ["Stub", "qemu_ld", "qemu_st"]
