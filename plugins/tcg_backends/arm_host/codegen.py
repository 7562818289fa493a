"""TB IR -> A32 text: the op-by-op lowering (QEMU's tcg_gen_code + tcg_out_op for tcg/arm).

One :class:`TBCodegen` per TB.  The shape of the output::

    tb_<id>:                        entry: count the TB entry (chain statistics)
        ...body...                  per guest insn: subs r5, r5, #1 / bmi budget stub
        <goto_tb n>                 exit check, then `bpl` patched to the next TB
    .L<id>_exitN: adr r0, .         every exit hands its own address to the dispatcher
        b .L<id>_epilogue
    ...slow-path and budget stubs...
    .L<id>_epilogue:                r5 -> BUDGET_LEFT, drop the frame, pop {r4-r12, pc}

The code is position independent (branches are relative, helpers are absolute
``movw/movt`` + ``blx`` targets, exits name themselves with ``adr``), so its bytes are
assembled once per text and can be placed anywhere in the code buffer.  Ops without a
native lowering call their reference semantics through the trap table; an op with
neither is an error at compile time.
"""

from __future__ import annotations

from typing import Callable

from attrs import define, field

from core.backend import EXIT_BUDGET, EXIT_NOCHAIN
from core.errors import TcglabError
from core.flow import branches_back
from core.ir import (
    I32,
    I64,
    M32,
    Cond,
    Helper,
    Op,
    Temp,
    TempKind,
    TranslationBlock,
)

from . import ldst
from .alu import DataOps
from .ldst import Stub
from .a32 import LR, R0, R5, R6, R12, Asm, encodable, imm, rn
from .abi import arg_locations
from .layout import FRAME_SIZE, EnvLayout
from .liveness import analyze
from .regalloc import CALL_CLOBBERED, CONST, REG, Frame, RegAlloc
from .traps import Trap, TrapTable

PREFIX = "%TB%"  # replaced by the TB's label prefix (a fixed one for the assembler cache)
HEADER = (".syntax unified", ".arm", ".arch armv7-a", ".arch_extension idiv")


@define(eq=False)
class HostCode:
    """A TB's generated code: text, bytes once assembled, and the offsets the runtime maps.

    ``exits``: (offset of the exit's ``adr``, exit kind, guest pc) for goto_tb slots,
    exit_tb (EXIT_NOCHAIN) and budget stubs (EXIT_BUDGET, the pc to resume at).
    ``callsites``: (return offset of a trap call, guest pc of the instruction making it).
    ``goto_sites``: offset of each slot's patchable ``bpl`` (None: slot unused).
    """

    pc: int
    text: str
    size: int
    exits: list[tuple[int, int, int]] = field(factory=list)
    callsites: list[tuple[int, int]] = field(factory=list)
    goto_sites: list = field(factory=lambda: [None, None])
    code: bytes | None = None
    addr: int | None = None  # where it is placed in the code buffer, when it is
    label: str = ""  # the prefix describe() shows
    insn_pcs: list = field(factory=list)  # guest pc of each insn_start, in op order
    track_insn: bool = False  # insn_start stores its index: a call site's pc is dynamic
    chained: list = field(factory=lambda: [None, None])  # dest HostCode per slot

    def render(self, label: str) -> str:
        return self.text.replace(PREFIX, label)


def _branches_skip_insns(tb: TranslationBlock) -> bool:
    """True if a branch jumps over (or back across) an insn_start.

    Then which guest instruction a helper call belongs to depends on the path taken, and
    the code records it at run time (QEMU maps host pcs to instructions statically; its
    frontends never branch over an instruction boundary, nor does ours, but IR may).
    """
    label_at = {}
    starts = []
    for i, op in enumerate(tb.ops):
        if op.name == "set_label":
            label_at[op.args[0].id] = i
        elif op.name == "insn_start":
            starts.append(i)
    if len(starts) < 2:
        return False
    for i, op in enumerate(tb.ops):
        if op.opdef.branch:
            target = label_at.get(op.split()[2][-1].id, i)
            lo, hi = min(i, target), max(i, target)
            if any(lo < s < hi for s in starts):
                return True
    return False


class TBCodegen(DataOps):
    """Generates one TB's text."""

    def __init__(self, tb: TranslationBlock, env: EnvLayout, traps: TrapTable,
                 slot_names: list[str], pc_slot: int, backend_name: str = "arm-host"):
        self.tb = tb
        self.env = env
        self.traps = traps
        self.slot_names = slot_names
        self.backend_name = backend_name
        self.asm = Asm()
        self.frame = Frame(tb.pc)
        self.ra = RegAlloc(self.asm, env.slot, self.frame)
        self.ra.wide = frozenset(t.index for t in tb.locals if t.type is I64)
        self.live = analyze(tb)
        self.code = HostCode(tb.pc, "", 0)
        self.code.track_insn = _branches_skip_insns(tb)
        # Chaining a goto_tb slot is what the dispatcher would do only if every run of
        # this TB reaches it with the same pc and TB flags: the pc must be a constant
        # there and no op on the way may have written CPU state (see op_goto_tb).
        self.pc_slot = pc_slot
        # with loops, no path tracking: the whole TB decides
        self._always_written = branches_back(tb.ops) and \
            any(op.writes_state for op in tb.ops)
        self.state_written = self._always_written  # on the paths reaching the current op
        self._written_at_label: dict[int, bool] = {}
        self.stubs: list[Stub] = []
        self.symbols: dict[str, int] = {}
        self.insn_pc = tb.pc
        self.reachable = True
        self.n_labels = 0
        self.i = 0
        self._released = False
        self._dead_in: frozenset[int] = frozenset()
        self._outs: tuple = ()
        self.lower = self._lowerings()

    # ------------------------------------------------------------------ driver

    def generate(self) -> HostCode:
        a, tb = self.asm, self.tb
        a.label(f"tb_{PREFIX}")
        a.mem("ldr", R12, R6, self.env.tb_entries, comment="TB entries (chain statistics)")
        a.insn("add r12, r12, #1")
        a.mem("str", R12, R6, self.env.tb_entries)
        self._zero_i64_entry_locals()
        for i, op in enumerate(tb.ops):
            name = op.name
            if not self.reachable and name != "set_label":
                continue  # after a branch or TB exit, until the next label
            self.i = i
            outs, ins, _consts = op.split()
            self._outs = outs
            self._dead_in = self.live.dead_in[i]
            self._released = False
            if name != "insn_start":
                a.comment(str(op))
            if name == "set_label":
                self.state_written = self._always_written or \
                    (self.reachable and self.state_written) or \
                    self._written_at_label.get(op.args[0].id, False)
            lowering = self.lower.get(name)
            if lowering is None:
                self.op_fallback(op)
            else:
                lowering(op)
            if op.writes_state:  # what the TB flags come from, maybe
                self.state_written = True
            if op.opdef.branch:
                label_id = _consts[-1].id
                self._written_at_label[label_id] = \
                    self._written_at_label.get(label_id, False) or self.state_written
            self._finish(outs)
        if self.reachable:  # a TB ending in a call that was meant not to return
            self.ra.sync_globals()
            self._exit(EXIT_NOCHAIN, "end of TB")
        for stub in self.stubs:
            self._emit_stub(stub)
        a.label(f".L{PREFIX}_epilogue")
        a.mem("str", R0, R6, self.env.exit_value, comment="the exit taken")
        a.mem("str", R5, R6, self.env.budget_left, comment="budget left")
        a.insn(f"add sp, sp, {imm(FRAME_SIZE)}")
        a.insn("pop {r4-r12, pc}")
        header = [f"@ arm-host: TB pc={tb.pc:#010x} flags={tb.flags:#x} insns={tb.icount}"]
        header += [f"        {d}" for d in HEADER]
        header += [f"        .equ    {sym}, {addr:#010x}" for sym, addr in self.symbols.items()]
        self.code.text = "\n".join(header) + "\n" + a.text()
        self.code.size = a.offset
        return self.code

    def _finish(self, outs) -> None:
        ra = self.ra
        out_locals = {t.index for t in outs if t.kind is TempKind.LOCAL}
        if not self._released:
            for index in self._dead_in:
                if index not in out_locals:
                    ra.kill(index)
        for index in self.live.dead_out[self.i]:
            ra.kill(index)
        ra.end_op()

    def release_dead(self) -> None:
        """Inputs that die here (or are overwritten by this op) give up their registers, so
        an output can take one: only for ops whose code reads every input before it
        writes an output."""
        ra = self.ra
        self._released = True
        outs_local = {t.index for t in self._outs if t.kind is TempKind.LOCAL}
        for index in self._dead_in:
            if index in outs_local:
                continue
            ts = ra.locals.get(index)
            if ts is not None and ts.reg >= 0:
                ra.pinned.discard(ts.reg)
            ra.kill(index)
        for t in self._outs:  # an output's old value dies here too (add x, x, 1)
            if t.type is I32:
                ts = ra.state(t)
                if ts.reg >= 0:
                    ra.pinned.discard(ts.reg)

    def new_label(self, what: str) -> str:
        self.n_labels += 1
        return f".L{PREFIX}_{what}{self.n_labels}"

    def _zero_i64_entry_locals(self) -> None:
        """The interpreter's frame starts zeroed: i64 locals read before written are 0."""
        wide = [t for t in self.tb.locals if t.type is I64 and t.index in self.live.entry_live]
        if wide:
            self.asm.insn("mov lr, #0")
            for t in wide:
                base, off = self.ra.home_of(t)
                self.asm.mem("str", LR, base, off)
                self.asm.mem("str", LR, base, off + 4)

    # ------------------------------------------------------------------ operands

    def operand(self, t: Temp, ok: Callable[[int], bool] = encodable) -> str:
        """``#imm`` when ``t`` is a known constant ``ok`` accepts, else its register."""
        c = self.ra.const_of(t)
        if c is not None and ok(c):
            return imm(c)
        return rn(self.ra.reg_of(t))

    def word_to(self, reg: int, t: Temp, word: int = 0) -> None:
        """Put word ``word`` (0 low, 1 high) of ``t``'s value in ``reg`` (r12 may be used
        to address a far home)."""
        if t.kind is TempKind.CONST:
            self.asm.mov_imm(reg, (t.value >> (32 * word)) & M32)
            return
        if t.type is I64:
            base, off = self.ra.home_of(t)
            self.asm.mem("ldr", reg, base, off + 4 * word, comment=f"{t}.{'hi' if word else 'lo'}")
            return
        ts = self.ra.state(t)
        if ts.kind == REG:
            if ts.reg != reg:
                self.asm.insn(f"mov {rn(reg)}, {rn(ts.reg)}")
        elif ts.kind == CONST:
            self.asm.mov_imm(reg, ts.value)
        else:
            base, off = self.ra.home(ts)
            self.asm.mem("ldr", reg, base, off, comment=ts.name)

    def store64(self, t: Temp, lo: int, hi: int) -> None:
        base, off = self.ra.home_of(t)
        self.asm.mem("str", lo, base, off, comment=f"{t}.lo")
        self.asm.mem("str", hi, base, off + 4, comment=f"{t}.hi")

    def trap_call(self, trap: Trap) -> None:
        """``blx`` to a trap entry (r0 = env and the arguments are already in place)."""
        self.symbols[trap.symbol] = trap.addr
        a = self.asm
        a.insn(f"movw r12, #:lower16:{trap.symbol}")
        a.insn(f"movt r12, #:upper16:{trap.symbol}")
        a.insn("blx r12")
        self.code.callsites.append((a.offset, self.insn_pc))

    def sync_dirty(self, dirty: list, scratch: int = R12, addr_scratch: int = LR) -> None:
        """Store a snapshot of dirty globals (from :meth:`RegAlloc.snapshot_dirty`)."""
        for off, kind, what in dirty:
            name = self.slot_names[off // 8] if off // 8 < len(self.slot_names) else ""
            if kind == "reg":
                self.asm.mem("str", what, R6, off, scratch=scratch, comment=f"sync {name}")
            else:
                self.asm.mov_imm(scratch, what)
                self.asm.mem("str", scratch, R6, off, scratch=addr_scratch, comment=f"sync {name}")

    def _exit(self, kind: int, why: str) -> None:
        label = self.new_label("exit")
        self.asm.label(label)
        off = self.asm.insn(f"adr r0, {label}", why)
        self.asm.insn(f"b .L{PREFIX}_epilogue")
        self.code.exits.append((off, kind, self.insn_pc))

    def _emit_stub(self, stub: Stub) -> None:
        self.asm.label(stub.label)
        self.insn_pc = stub.pc
        if stub.kind == "budget":
            self.sync_dirty(stub.dirty)
            self._exit(EXIT_BUDGET, f"budget spent: resume at {stub.pc:#010x}")
        else:
            stub.emit(self)

    # ------------------------------------------------------------------ the table

    def _lowerings(self) -> dict[str, Callable[[Op], None]]:
        low: dict[str, Callable[[Op], None]] = {
            "insn_start": self.op_insn_start, "set_label": self.op_set_label,
            "br": self.op_br, "goto_tb": self.op_goto_tb, "exit_tb": self.op_exit_tb,
            "mb": self.op_mb, "call": self.op_call,
            "mov_i32": self.op_mov, "movi_i32": self.op_movi,
            "brcond_i32": self.op_brcond, "setcond_i32": self.op_setcond,
            "movcond_i32": self.op_movcond,
            "neg_i32": lambda op: self._unary(op, "rsb {d}, {a}, #0"),
            "not_i32": lambda op: self._unary(op, "mvn {d}, {a}"),
            "ext8s_i32": lambda op: self._unary(op, "sxtb {d}, {a}"),
            "ext8u_i32": lambda op: self._unary(op, "uxtb {d}, {a}"),
            "ext16s_i32": lambda op: self._unary(op, "sxth {d}, {a}"),
            "ext16u_i32": lambda op: self._unary(op, "uxth {d}, {a}"),
            "bswap16_i32": lambda op: self._unary(op, "rev16 {d}, {a}", "uxth {d}, {d}"),
            "bswap32_i32": lambda op: self._unary(op, "rev {d}, {a}"),
            "add_i32": lambda op: self._alu(op, "add", True, ("sub", lambda v: -v)),
            "sub_i32": self.op_sub,
            "and_i32": lambda op: self._alu(op, "and", True, ("bic", lambda v: ~v)),
            "or_i32": lambda op: self._alu(op, "orr", True),
            "xor_i32": lambda op: self._alu(op, "eor", True),
            "andc_i32": lambda op: self._alu(op, "bic", False, ("and", lambda v: ~v)),
            "orc_i32": self.op_orc,
            "mul_i32": lambda op: self._alu(op, "mul", True, regs_only=True),
            "div_i32": lambda op: self._alu(op, "sdiv", False, regs_only=True),
            "divu_i32": lambda op: self._alu(op, "udiv", False, regs_only=True),
            "rem_i32": lambda op: self._rem(op, "sdiv"),
            "remu_i32": lambda op: self._rem(op, "udiv"),
            "shl_i32": lambda op: self._shift(op, "lsl"),
            "shr_i32": lambda op: self._shift(op, "lsr"),
            "sar_i32": lambda op: self._shift(op, "asr"),
            "rotr_i32": lambda op: self._shift(op, "ror"),
            "rotl_i32": lambda op: self._shift(op, "rol"),
            "clz_i32": self.op_clz,
            "extract_i32": lambda op: self._extract(op, "ubfx"),
            "sextract_i32": lambda op: self._extract(op, "sbfx"),
            "deposit_i32": self.op_deposit,
            "mulu2_i32": lambda op: self._mul2(op, "umull"),
            "muls2_i32": lambda op: self._mul2(op, "smull"),
            "add2_i32": lambda op: self._addsub2(op, "adds", "adc"),
            "sub2_i32": lambda op: self._addsub2(op, "subs", "sbc"),
            "ld_i32": self.op_ld_env, "st_i32": self.op_st_env,
            "ld_i64": self.op_ld_env64, "st_i64": self.op_st_env64,
            "mov_i64": self.op_mov64, "movi_i64": self.op_movi64,
            "concat_i32_i64": self.op_concat, "extrl_i64_i32": lambda op: self._extr(op, 0),
            "extrh_i64_i32": lambda op: self._extr(op, 1),
            "extu_i32_i64": lambda op: self._ext_to64(op, False),
            "ext_i32_i64": lambda op: self._ext_to64(op, True),
            "qemu_ld_i32": lambda op: ldst.qemu_ld(self, op, False),
            "qemu_ld_i64": lambda op: ldst.qemu_ld(self, op, True),
            "qemu_st_i32": lambda op: ldst.qemu_st(self, op, False),
            "qemu_st_i64": lambda op: ldst.qemu_st(self, op, True),
        }
        return low

    # ------------------------------------------------------------------ control

    def op_insn_start(self, op: Op) -> None:
        pc = op.args[0]
        self.insn_pc = pc
        self.asm.comment(f"---- {pc:08x}")
        if self.code.track_insn:
            self.asm.mov_imm(R12, len(self.code.insn_pcs))
            self.asm.mem("str", R12, R6, self.env.insn_index, scratch=LR, comment="insn index")
        self.code.insn_pcs.append(pc)
        self.asm.insn("subs r5, r5, #1", "guest insn budget")
        label = self.new_label("budget")
        self.asm.insn(f"bmi {label}")
        self.stubs.append(Stub("budget", label, pc, self.ra.snapshot_dirty()))

    def _bb_end(self) -> None:
        """Sync globals and the locals live after this block (stores keep the flags)."""
        self.ra.sync_globals()
        self.ra.sync_locals(self.live.live_out.get(self.i, frozenset()))

    def op_set_label(self, op: Op) -> None:
        label = op.args[0]
        live_in = self.live.live_in_label.get(label.id, frozenset())
        if self.reachable:
            self.ra.sync_globals()
            self.ra.sync_locals(live_in)
        self.ra.reset(live_in)
        self.asm.label(f".L{PREFIX}_L{label.id}")
        self.reachable = True

    def op_br(self, op: Op) -> None:
        self._bb_end()
        self.asm.insn(f"b .L{PREFIX}_L{op.args[0].id}")
        self.reachable = False

    def op_brcond(self, op: Op) -> None:
        a, b, cond, label = op.args
        if cond is Cond.NEVER:
            self._bb_end()
            return
        if cond is Cond.ALWAYS:
            return self.op_br(Op(op.opdef, (label,)))
        cc = self._cmp(a, b, cond)
        self.release_dead()
        self._bb_end()
        self.asm.insn(f"b{cc} .L{PREFIX}_L{label.id}")

    def op_goto_tb(self, op: Op) -> None:
        """A chainable exit: return to the dispatcher when the budget is spent or an exit
        was requested (QEMU's exit_request check), else take the patched ``bpl``."""
        slot = op.args[0]
        a = self.asm
        self.ra.sync_globals()
        if self.state_written or self.ra.const_of_slot(self.pc_slot) is None:
            self._exit(slot, f"goto_tb {slot}, never chained: pc or TB flags may vary")
            self.reachable = False
            return
        a.mem("ldr", R0, R6, self.env.exit_request, comment="exit request")
        a.insn("sub r12, r5, #1", "negative when the budget is spent")
        a.insn("orrs r12, r12, r0")
        label = self.new_label("exit")
        site = a.insn(f"bpl {label}", f"goto_tb {slot}: patched to the next TB when chained")
        a.label(label)
        off = a.insn(f"adr r0, {label}", f"leave through slot {slot}")
        a.insn(f"b .L{PREFIX}_epilogue")
        self.code.goto_sites[slot] = site
        self.code.exits.append((off, slot, self.insn_pc))
        self.reachable = False

    def op_exit_tb(self, op: Op) -> None:
        self.ra.sync_globals()
        self._exit(EXIT_NOCHAIN, "exit_tb")
        self.reachable = False

    def op_mb(self, op: Op) -> None:
        self.asm.insn("dmb ish")

    # ------------------------------------------------------------------ calls

    def emit_call(self, trap: Trap, ins, in_types, what: str, writes_globals: bool) -> None:
        """Sync globals, free r0-r3, place the arguments (env in r0), and call ``trap``;
        globals are loaded again after it if it may have written them."""
        ra, a = self.ra, self.asm
        ra.sync_globals()
        ra.evict(CALL_CLOBBERED)
        locs = arg_locations(tuple(in_types), what)
        for t, loc in zip(ins, locs):
            if loc[0] == "stack":
                self.word_to(LR, t)
                a.insn(f"str lr, [sp, {imm(loc[1])}]")
            elif loc[0] == "stack64":
                for w in (0, 1):
                    self.word_to(LR, t, w)
                    a.insn(f"str lr, [sp, {imm(loc[1] + 4 * w)}]")
        for t, loc in zip(ins, locs):
            if loc[0] == "reg":
                self.word_to(loc[1], t)
            elif loc[0] == "pair":
                self.word_to(loc[1], t, 0)
                self.word_to(loc[1] + 1, t, 1)
        a.insn("mov r0, r6", "env")
        self.trap_call(trap)
        if writes_globals:
            ra.forget_globals()

    def _outputs_from_call(self, outs, out_types) -> None:
        ra, a = self.ra, self.asm
        if len(outs) == 1:
            if out_types[0] is I32:
                ra.assign_reg(outs[0], R0)
            else:
                self.store64(outs[0], 0, 1)
            return
        for k, (t, ty) in enumerate(zip(outs, out_types)):
            off = self.env.ret + 8 * k
            if ty is I32:
                r = ra.out_reg(t)
                a.mem("ldr", r, R6, off, comment=f"result {k}")
            else:
                base, home = ra.home_of(t)
                for w in (0, 1):
                    a.mem("ldr", LR, R6, off + 4 * w)
                    a.mem("str", LR, base, home + 4 * w)

    def op_call(self, op: Op) -> None:
        outs, ins, consts = op.split()
        helper: Helper = consts[-1]
        trap = self.traps.helper(helper)
        self.emit_call(trap, ins, helper.in_types, f"helper {helper.name}",
                       helper.writes_globals)
        if outs:
            self._outputs_from_call(outs, (helper.out_type,))

    def op_fallback(self, op: Op) -> None:
        """No native lowering: call the op's reference semantics through a trap."""
        d = op.opdef
        if d.impl is None:
            raise TcglabError(f"backend {self.backend_name}: IR op {d.name!r} has no lowering "
                              "and no reference semantics (OpDef.impl) to call instead "
                              f"(TB at {self.tb.pc:#010x})")
        outs, ins, consts = op.split()
        types = d.types
        out_types, in_types = types[:d.outputs], types[d.outputs:]
        if len(outs) > 4:
            raise TcglabError(f"backend {self.backend_name}: IR op {d.name!r} has "
                              f"{len(outs)} outputs; at most 4 are supported")
        trap = self.traps.op(d, tuple(consts), in_types, out_types)
        self.emit_call(trap, ins, in_types, f"op {d.name}", d.writes_state)
        if d.cond_branch:
            self.asm.insn("cmp r0, #0", "taken?")
            self._bb_end()
            self.asm.insn(f"bne .L{PREFIX}_L{consts[-1].id}")
        elif outs:
            self._outputs_from_call(outs, out_types)

__all__ = ["TBCodegen", "HostCode", "PREFIX", "HEADER"]
