"""Random IR translation blocks for differential backend tests: a hypothesis strategy.

:func:`ir_programs` draws an :class:`IRProgram`: a TB's ops written over symbolic
operands, plus the initial state to run it from (register values, RAM contents, TLB and
reservation set-up, memory policy, vCPU, budget).  :func:`build_tb` emits it through the
:class:`~core.builder.Builder` into a machine from :func:`irgen_machine`, whose frontend
(:class:`IRGenFrontend`) only declares the CPU state the TBs run on:

* ``g0``-``g7`` (i32) and ``q0``-``q3`` (i64) globals that the ops read and write;
* ``gbase`` (i32 global, holds :data:`DATA`), read as an address base, never written;
* ``s0``, ``s1`` (i32) and ``sq`` (i64): env slots that are not globals, for ``ld``/``st``;
* ``pc``, written before every exit.

Memory is 1 MiB of RAM at :data:`RAM_BASE` (two data pages at :data:`DATA`, the last
page ending at :data:`RAM_END` where unmapped memory begins) and one MMIO page at
:data:`MMIO_BASE` whose device logs every access.

What a drawn TB contains: every pure op of ``BASE_OPS`` over i32 and i64 globals,
locals and constants (A32 rotated-imm8 encodable and not, shift counts beyond the
width, divisors 0 and -1 against MIN, every :class:`~core.ir.Cond`, bit fields);
``qemu_ld``/``qemu_st`` of every size, sign, endianness and alignment at aligned,
misaligned, page-crossing, RAM-end-crossing, unmapped and MMIO addresses formed from
constants, the ``gbase`` global or data; the LL/SC ops of ``plugins/llsc`` (often as a
pair on one address); ``ld``/``st`` of env slots; ``mb``; helper calls (pure, reading
and writing globals through ``cpu.env``, raising conditionally or faulting);
``insn_start`` markers so that budgets end mid-TB; forward ``brcond``/``br`` to labels,
including labelled exit stubs; and ``goto_tb``/``exit_tb``/raising exits.  Locals the
random ops read are all written before the first branch, so no path reads an undefined
temp.
"""

from __future__ import annotations

import functools
import math
import random
import sys
import zlib
from typing import Any

from attrs import define
from hypothesis import strategies as st

from core.builder import Builder
from core.config import parse_config
from core.cpu import EXCP, CpuLoopExit, ExceptionKind, StateLayout, helper_raise_exception
from core.frontend import DisasContext, DisasJump, Frontend
from core.hookspecs import hookimpl
from core.ir import (
    BASE_OPS,
    I32,
    I64,
    M32,
    M64,
    CallFlag,
    Cond,
    Helper,
    MemOp,
    TempType,
    TranslationBlock,
    make_oi,
    memop_align_mask,
)
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from core.softmmu import PAGE_MASK, PAGE_SIZE
from plugins.llsc import SIZES as LLSC_SIZES

RAM_SIZE = 1 << 20
RAM_END = RAM_BASE + RAM_SIZE  # first unmapped byte after RAM
DATA = RAM_BASE + 0x10000  # two data pages: DATA and DATA + PAGE_SIZE
DATA_SIZE = 2 * PAGE_SIZE
LAST_PAGE = RAM_END - PAGE_SIZE
MMIO_BASE = 0x0900_0000
UNMAPPED = 0x0000_3000
TB_PC = RAM_BASE

N_G32, N_G64 = 8, 4

# --------------------------------------------------------------------------- the guest state


class MMIOLog:
    """A device page: reads return a value of the offset and the access count; all logged."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def read(self, offset: int, size: int) -> int:
        self.log.append(("read", offset, size))
        return (0x9E37_79B9_7F4A_7C15 * (offset + 1) + len(self.log)) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        self.log.append(("write", offset, size, value))


class IRGenExcp(ExceptionKind):
    """The exception kinds generated TBs raise besides core's (through core's
    ``helper_raise_exception``)."""

    UDEF = 1
    SWI = 2


class IRGenFrontend(Frontend):
    """The CPU state generated TBs run on; it translates no guest code (TBs are built by hand)."""

    name = "irgen"
    ram_base = RAM_BASE
    elf_machine = "EM_ARM"  # loads no ELF; any name will do
    exception_kinds = IRGenExcp

    def __init__(self, machine: Machine):
        super().__init__(machine)
        layout = StateLayout()
        for i in range(N_G32):
            layout.add(f"g{i}")
        for i in range(N_G64):
            layout.add(f"q{i}", I64)
        layout.add("gbase", reset=DATA)
        layout.add("s0", is_global=False)
        layout.add("s1", is_global=False)
        layout.add("sq", I64, is_global=False)
        self.pc_slot = layout.add("pc", reset=TB_PC)
        self.layout = layout
        self.device = MMIOLog()
        machine.memory.add_mmio("irgen-device", MMIO_BASE, PAGE_SIZE, self.device.read,
                                self.device.write)

    def translate_insn(self, ctx: DisasContext, b: Builder) -> None:
        ctx.pc_next += 4  # generated TBs never come from guest code
        b.movi(self.layout.globals["pc"], ctx.pc_next - 4)
        b.call(helper_raise_exception, None, int(IRGenExcp.UDEF))
        ctx.is_jmp = DisasJump.NORETURN

    def tb_stop(self, ctx: DisasContext, b: Builder) -> None:
        b.movi(self.layout.globals["pc"], ctx.pc_next)
        b.goto_tb(0)


@hookimpl
def tcglab_register_frontends(registry) -> None:
    registry.add_frontend(IRGenFrontend)


@functools.lru_cache(maxsize=None)
def plugin_manager() -> PluginManager:
    """The built-in plugins plus this module's frontend (shared: registration is stateless)."""
    return PluginManager(autoload=False, extra=[("irgen", sys.modules[__name__])])


def memory_policies() -> list[str]:
    return [name for name, _cls, _plugin in plugin_manager().registry.memory_policies]


#: Options that make a backend run its generated code on a TB's first execution (pyjit
#: otherwise runs a TB in its tier 0 for its first runs, and a generated TB runs once).
EAGER = {"pyjit": {"pyjit": {"compile_after": 0, "checked_after": 0}}}
#: Variants diffed as backends of their own, ``backend:variant`` -> options: pyjit's tier 0
#: (its closures per op) is never compiled past.
VARIANTS = {"pyjit:tier0": {"pyjit": {"compile_after": 1 << 30, "checked_after": 1 << 30}}}


def irgen_machine(backend: str, policy: str = "exclusive-bitmap", vcpus: int = 2) -> Machine:
    """A machine with the generated TBs' state layout, RAM and device, on ``backend`` (a
    backend's name, or one of :data:`VARIANTS`)."""
    options = VARIANTS.get(backend) or EAGER.get(backend, {})
    config = parse_config({"machine": {"frontend": "irgen", "backend": backend.split(":")[0],
                                       "memory_policy": policy, "vcpus": vcpus,
                                       "ram_size": RAM_SIZE},
                           "plugins": options}, "<irgen>")
    return Machine(config, plugin_manager())


# --------------------------------------------------------------------------- helpers TBs call


def _mix32(cpu, a, b):
    return ((a * 0x9E37_79B1) ^ (b >> 3) ^ 0x5555_0000) & M32


def _mix64(cpu, a, b):
    return ((a * 0xD6E8_FEB8_6659_FD93) ^ (b << 17) ^ (a >> 29)) & M64


def _env_rw(cpu, a):
    """Reads g2 and q0 from env and writes g3 and q1: globals must be in env around it."""
    layout = cpu.machine.frontend.layout
    g2, g3, q0, q1 = (layout.slot(n) for n in ("g2", "g3", "q0", "q1"))
    env = cpu.env
    env[g3] = (env[g2] + a * 3) & M32
    env[q1] = (env[q0] ^ (a << 32) ^ env[g2]) & M64
    return (env[g2] ^ a ^ (env[q0] >> 7)) & M32


def _maybe_yield(cpu, a):
    if a & 7 == 0:
        raise CpuLoopExit(EXCP.YIELD, message="irgen: yield")


def _probe_load(cpu, addr):
    """A helper that loads through the softmmu, so it may fault (the pc is then restored)."""
    return cpu.mmu.load(addr, MemOp.UL) & M32


HELPERS: dict[str, Helper] = {h.name: h for h in (
    Helper("irgen_mix32", _mix32, I32, (I32, I32), CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS),
    Helper("irgen_mix64", _mix64, I64, (I64, I32), CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS),
    Helper("irgen_env_rw", _env_rw, I32, (I32,)),
    Helper("irgen_maybe_yield", _maybe_yield, None, (I32,)),
    Helper("irgen_probe_load", _probe_load, I32, (I32,)),
    helper_raise_exception,
)}

# --------------------------------------------------------------------------- the program record


@define(frozen=True)
class IRProgram:
    """One generated TB and the state it starts from.

    ``items`` are ``("op", name, args)``, ``("brcond", cond, a, b, label)``,
    ``("set_label", label)`` and ``("call", helper, out, inputs)``; operands are symbols:
    ``("g", i)``/``("q", i)`` globals, ``("l", i)`` locals (types in ``locals``),
    ``("c", bits, value)`` constants, ``("gbase",)``/``("pc",)``, ``("label", i)``,
    ``("slot", name)`` the env slot of ``ld``/``st``.
    ``env`` gives each vCPU's initial slot values by name; ``setup`` the actions run
    before the TB (``("fill", addr)``: a load that fills the TLB; ``("ll", cpu, addr,
    bits)``: a load-link by that vCPU).
    """

    items: tuple
    locals: tuple[TempType, ...]
    env: tuple[tuple[tuple[str, int], ...], ...]
    ram_seed: int
    code_page: bool
    setup: tuple
    policy: str
    cpu: int
    exclusive: bool
    budget: int
    n_insns: int = 0

    def describe(self) -> str:
        """The initial state in one paragraph (the IR itself is ``tb.dump()``)."""
        env = "; ".join(f"vCPU {i}: " + " ".join(f"{n}={v:#x}" for n, v in slots)
                        for i, slots in enumerate(self.env))
        setup = ", ".join(f"fill TLB for {a[1]:#x}" if a[0] == "fill"
                          else f"vCPU {a[1]} load-links {a[3]} bits at {a[2]:#x}"
                          for a in self.setup) or "none"
        return (f"policy={self.policy} cpu={self.cpu} exclusive={self.exclusive} "
                f"budget={self.budget} insns={self.n_insns} ram_seed={self.ram_seed} "
                f"code_page={self.code_page} setup: {setup}\n{env}")


# --------------------------------------------------------------------------- building and state


def build_tb(prog: IRProgram, m: Machine) -> TranslationBlock:
    """Emit ``prog`` through the builder into a new TB of machine ``m``."""
    tb = TranslationBlock(TB_PC)
    b = Builder(tb, m.registry.optable)
    g = m.frontend.layout.globals
    temps = [b.temp_new(t) for t in prog.locals]
    labels: dict[int, Any] = {}

    def label(i: int):
        if i not in labels:
            labels[i] = b.new_label()
        return labels[i]

    def sym(a):
        if isinstance(a, tuple):
            kind = a[0]
            if kind == "g":
                return g[f"g{a[1]}"]
            if kind == "q":
                return g[f"q{a[1]}"]
            if kind == "l":
                return temps[a[1]]
            if kind == "c":
                return b.const(I32 if a[1] == 32 else I64, a[2])
            if kind == "label":
                return label(a[1])
            if kind in ("gbase", "pc"):
                return g[kind]
            if kind == "slot":
                return m.frontend.layout.slot(a[1])
            raise ValueError(f"irgen: unknown operand {a!r}")
        return a

    for item in prog.items:
        kind = item[0]
        if kind == "op":
            b.emit(item[1], *(sym(a) for a in item[2]))
            if item[1] == "insn_start":
                tb.insn_pcs.append(item[2][0])
        elif kind == "brcond":
            _, cond, x, y, target = item
            b.brcond(cond, sym(x), sym(y), label(target))
        elif kind == "set_label":
            b.set_label(label(item[1]))
        elif kind == "call":
            _, name, out, ins = item
            b.call(HELPERS[name], None if out is None else sym(out), *(sym(a) for a in ins))
        else:
            raise ValueError(f"irgen: unknown item {item!r}")
    tb.icount = len(tb.insn_pcs)
    tb.size = 4 * tb.icount
    tb.pages = {TB_PC & PAGE_MASK}
    return tb


def apply_initial_state(prog: IRProgram, m: Machine) -> None:
    """Registers, RAM, code page, TLB and reservations as ``prog`` says, before its TB runs."""
    layout = m.frontend.layout
    for cpu, slots in zip(m.cpus, prog.env):
        for name, value in slots:
            cpu.env[layout.slot(name)] = value
    rng = random.Random(prog.ram_seed)
    m.memory.write_bytes(DATA, rng.randbytes(DATA_SIZE))
    m.memory.write_bytes(LAST_PAGE, rng.randbytes(PAGE_SIZE))
    if prog.code_page:  # as the translator's tlb_protect_code: stores there take the slow path
        m.memory.ram_list.code_pages.add(DATA + PAGE_SIZE)
    for action in prog.setup:
        if action[0] == "fill":
            m.cpus[prog.cpu].mmu.load(action[1], MemOp.UB)
        elif action[0] == "ll":
            _, index, addr, bits = action
            m.policy.load_link(m.cpus[index], addr, LLSC_SIZES[bits] | MemOp.MO_ALIGN)


# --------------------------------------------------------------------------- the strategy

PURE_OPS = tuple(d for d in BASE_OPS if d.pure)
LLSC_OPS = tuple(f"qemu_{kind}_i{bits}" for bits in LLSC_SIZES for kind in ("ldlink", "stcond"))
ALL_CONDS = tuple(Cond)


def _ror32(v: int, n: int) -> int:
    n %= 32
    return ((v >> n) | (v << (32 - n))) & M32 if n else v


def arm_encodable(v: int) -> bool:
    """True if ``v`` is an A32 modified immediate (imm8 rotated right by an even amount)."""
    return any(_ror32(v, 32 - 2 * r) < 256 for r in range(16))


_SPECIAL32 = (0, 1, 2, 3, 7, 8, 0xFF, 0x100, 0x101, 0x102, 0x3FC, 0xFF00, 0xFFFF, 0x10000,
              0xFF00_0000, 0x8000_0000, 0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FF00,
              0x0000_FFFF, 0xFFFF_0000, 0x1234_5678, 0xF000_000F, 31, 32, 33, 63, 64)
_SPECIAL64 = (0, 1, 2, 0xFF, 0xFFFF_FFFF, 0x1_0000_0000, 0x8000_0000, 0x8000_0000_0000_0000,
              0x7FFF_FFFF_FFFF_FFFF, M64, M64 - 1, 0xFFFF_FFFF_0000_0000, 0x1234_5678_9ABC_DEF0,
              63, 64, 65, 31, 32)
SHIFT_COUNTS = (0, 1, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 255, 0xFFFF_FFFF)

_imm8_rotated = st.builds(lambda v, r: _ror32(v, 2 * r), st.integers(0, 255), st.integers(0, 15))
_not_encodable = st.integers(0, M32).filter(lambda v: not arm_encodable(v))

CONST32 = st.one_of(
    st.sampled_from(_SPECIAL32),
    _imm8_rotated,  # fits an A32 data-processing immediate
    _imm8_rotated.map(lambda v: -v & M32),  # its negation does (cmn / add of a negative)
    _imm8_rotated.map(lambda v: ~v & M32),  # its complement does (mvn / bic)
    _not_encodable,  # needs movw/movt or a literal
)
CONST64 = st.one_of(
    st.sampled_from(_SPECIAL64),
    CONST32,
    CONST32.map(lambda v: (v << 32) | 0x8000_0001),
    st.integers(0, M64),
)
VALUE32 = st.one_of(st.sampled_from(_SPECIAL32), st.integers(0, M32))
VALUE64 = st.one_of(st.sampled_from(_SPECIAL64), VALUE32,
                    VALUE32.map(lambda v: v | 0xFFFF_FFFF_0000_0000), st.integers(0, M64))

# comparisons are where backends juggle flags: setcond and movcond come up three times as often
_WEIGHTED_PURE_OPS = PURE_OPS + 2 * tuple(d for d in PURE_OPS
                                          if d.name.startswith(("setcond_", "movcond_")))
# steps of the walks: prime to the walked tuples' lengths, so a walk visits every entry
_STRIDES = tuple(k for k in range(1, 60)
                 if all(math.gcd(k, n) == 1 for n in (len(_WEIGHTED_PURE_OPS), len(ALL_CONDS))))
_SHIFTS = ("shl", "shr", "sar", "rotl", "rotr")
_DIVS = ("div", "divu", "rem", "remu")
_STEP_KINDS = (("pure",) * 16 + ("load",) * 3 + ("store",) * 3 + ("llsc",) * 3
               + ("env",) + ("call",) + ("mb",) + ("insn",) * 3 + ("brcond",) * 2 + ("br",))


def _bits(t: TempType) -> int:
    return 32 if t is I32 else 64


class _Gen:
    """The generator's state while drawing one program: pools of readable operands, labels."""

    def __init__(self, draw, walk: int, stride: int):
        self.draw = draw
        self.items: list[tuple] = []
        self.locals: list[TempType] = []
        self.pool: dict[TempType, list[tuple]] = {
            I32: [("g", i) for i in range(N_G32)], I64: [("q", i) for i in range(N_G64)]}
        self.pc = TB_PC
        self.n_insns = 0
        self.n_labels = 0
        # (address operand, bits, memop) of the last LL; forgotten at a label, since a path
        # through the label may have skipped writing the address temp
        self.last_ll: tuple | None = None
        self.hazard = draw(st.integers(0, 2)) == 0  # may this program fault on memory?
        # where this program's walk over the op table and the conditions starts, and its
        # step; a drawn integer is often 0 or a power of two, so it is mixed first
        self.walk = (walk * 0x9E37_79B9_7F4A_7C15 >> 17) & M32
        self.stride = stride
        self.n_walked: dict[str, int] = {}  # picks so far, per kind of choice

    # operands ------------------------------------------------------------------------

    def new_local(self, t: TempType, pooled: bool = False) -> tuple:
        sym = ("l", len(self.locals))
        self.locals.append(t)
        if pooled:
            self.pool[t].append(sym)
        return sym

    def const(self, t: TempType) -> tuple:
        return ("c", _bits(t), self.draw(CONST32 if t is I32 else CONST64))

    def operand(self, t: TempType) -> tuple:
        if self.draw(st.integers(0, 3)) == 0:
            return self.const(t)
        return self.draw(st.sampled_from(self.pool[t]))

    def dest(self, t: TempType) -> tuple:
        return self.draw(st.sampled_from(self.pool[t]))

    def walked(self, choices: tuple, key: str):
        """The next of ``choices`` on this program's walk for ``key``.

        Hypothesis derives most examples from earlier ones (a few hundred examples hold
        only some dozens of distinct op sequences), so ops and conditions drawn one by
        one would leave some out; walking the table from a drawn start with a drawn
        step visits every entry within a few programs.
        """
        n = self.n_walked[key] = self.n_walked.get(key, 0) + 1
        return choices[(self.walk + zlib.crc32(key.encode()) + self.stride * n) % len(choices)]

    def new_label(self) -> int:
        self.n_labels += 1
        return self.n_labels - 1

    def emit(self, name: str, *args) -> None:
        self.items.append(("op", name, tuple(args)))

    def insn_start(self) -> None:
        self.emit("insn_start", self.pc)
        self.pc += 4
        self.n_insns += 1

    # steps ---------------------------------------------------------------------------

    def pure(self) -> None:
        d = self.walked(_WEIGHTED_PURE_OPS, "op")
        name, family = d.name, d.name.rsplit("_", 1)[0]
        out_types, in_types = d.types[:d.outputs], d.types[d.outputs:]
        t = in_types[0] if in_types else out_types[0]
        if d.outputs == 2:
            lo = self.dest(out_types[0])
            hi = self.draw(st.sampled_from([s for s in self.pool[out_types[1]] if s != lo]))
            outs = [lo, hi]
        else:
            outs = [self.dest(ot) for ot in out_types]
        ins = [self.operand(it) for it in in_types]
        consts: list = []
        bits = _bits(t)
        if family == "movi":
            consts = [self.draw(CONST32 if t is I32 else CONST64)]
        elif family in _SHIFTS and self.draw(st.booleans()):
            ins[1] = ("c", bits, self.draw(st.sampled_from(SHIFT_COUNTS)) & t.mask)
        elif family in _DIVS:  # the cases the op table defines: by 0, and MIN / -1
            case = self.draw(st.integers(0, 5))
            if case == 0:
                ins = [("c", bits, 1 << (bits - 1)), ("c", bits, t.mask)]
            elif case == 1:
                ins[0] = ("c", bits, 1 << (bits - 1))
            elif case == 2:
                ins[1] = ("c", bits, self.draw(st.sampled_from((0, t.mask))))
            elif case == 3:
                ins[1] = ("c", bits, self.draw(st.sampled_from((1, 2, 3, 7, 10))))
        elif family in ("extract", "sextract", "deposit"):
            length = self.draw(st.integers(1, bits))
            pos = self.draw(st.integers(0, bits - length))
            consts = [pos, length]
        elif family in ("setcond", "movcond"):
            consts = [self.walked(ALL_CONDS, "setcond/movcond")]
        self.emit(name, *outs, *ins, *consts)

    def address(self, memop: int) -> tuple[tuple, int]:
        """An i32 address operand for an access of ``memop``: a constant, ``gbase + off``,
        or computed from a register; returns it with the memop.

        In a hazardous program an access may fault (unmapped, crossing the end of RAM,
        misaligned with alignment required); otherwise the memop's alignment requirement
        is dropped where the address may not meet it, so most TBs run to their exit.
        """
        size = 1 << (memop & MemOp.MO_SIZE)
        kinds = ("aligned",) * 4 + ("misaligned",) * 2 + ("page-cross",) * 2 + (
            "ram-end", "mmio", "data", "data")
        if self.hazard:
            kinds += ("unmapped",) * 3 + ("ram-end",) * 2
        kind = self.draw(st.sampled_from(kinds))
        if kind == "data":  # an address computed from a register: in the data pages
            a = self.new_local(I32)
            mask = self.draw(st.sampled_from((0x1FF8, 0x1FFC, 0x1FFF)))
            self.emit("and_i32", a, self.draw(st.sampled_from(self.pool[I32])), ("c", 32, mask))
            self.emit("add_i32", a, a, ("gbase",))
            return a, self._fit_alignment(memop, 0x1FFF & ~mask)
        if kind == "aligned":
            addr = DATA + size * self.draw(st.integers(0, DATA_SIZE // size - 1))
        elif kind == "misaligned":
            addr = DATA + self.draw(st.integers(0, DATA_SIZE - size))
        elif kind == "page-cross":  # an access spanning DATA's two pages (when size > 1)
            addr = DATA + PAGE_SIZE - self.draw(st.integers(1, max(1, size - 1)))
        elif kind == "ram-end":  # the last bytes of RAM; hazardous: crossing into unmapped
            addr = RAM_END - self.draw(st.integers(1 if self.hazard else size, 2 * size))
        elif kind == "unmapped":
            addr = UNMAPPED + self.draw(st.integers(0, PAGE_SIZE - size))
        else:
            addr = MMIO_BASE + size * self.draw(st.integers(0, 15))
        memop = self._fit_alignment(memop, addr & 15)
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return ("c", 32, addr), memop
        a = self.new_local(I32)
        if form == 1:
            self.emit("movi_i32", a, addr)
        else:  # gbase + offset, with the offset wrapping for addresses below DATA
            self.emit("add_i32", a, ("gbase",), ("c", 32, (addr - DATA) & M32))
        return a, memop

    def _fit_alignment(self, memop: int, low_bits: int) -> int:
        """``memop`` without its alignment requirement if ``low_bits`` may break it (unless
        the program is hazardous)."""
        if self.hazard or not low_bits & memop_align_mask(memop):
            return memop
        return memop & ~MemOp.MO_AMASK

    def memop(self, t: TempType, store: bool) -> int:
        size = self.draw(st.integers(0, 2 if t is I32 else 3))
        memop = size
        if not store and size < 3 and self.draw(st.booleans()):
            memop |= MemOp.MO_SIGN
        if size and self.draw(st.integers(0, 3)) == 0:
            memop |= MemOp.MO_BSWAP
        align = self.draw(st.sampled_from((0, 0, 0, int(MemOp.MO_ALIGN), int(MemOp.MO_ALIGN_2),
                                           int(MemOp.MO_ALIGN_4), int(MemOp.MO_ALIGN_8))))
        return memop | align

    def load(self) -> None:
        t = self.draw(st.sampled_from((I32, I64)))
        addr, memop = self.address(self.memop(t, store=False))
        self.emit(f"qemu_ld_{t.suffix}", self.dest(t), addr, make_oi(memop))

    def store(self) -> None:
        t = self.draw(st.sampled_from((I32, I64)))
        addr, memop = self.address(self.memop(t, store=True))
        self.emit(f"qemu_st_{t.suffix}", self.operand(t), addr, make_oi(memop))

    def llsc(self) -> None:
        """A load-link, a store-conditional, or (mostly) the pair on one address."""
        bits = self.draw(st.sampled_from(tuple(LLSC_SIZES)))
        t = I64 if bits == 64 else I32
        size = bits // 8
        memop = LLSC_SIZES[bits] | (MemOp.MO_ALIGN if self.draw(st.integers(0, 5)) else 0)
        if size > 1 and self.draw(st.integers(0, 5)) == 0:
            memop |= MemOp.MO_BSWAP
        shape = self.draw(st.sampled_from(("pair", "pair", "pair", "ll", "sc")))
        if shape == "sc" and self.last_ll is not None and self.draw(st.booleans()):
            addr, bits, memop = self.last_ll  # an SC matching an earlier LL
            t = I64 if bits == 64 else I32
        elif self.draw(st.integers(0, 3)):
            addr = self.new_local(I32)
            self.emit("movi_i32", addr, DATA + size * self.draw(st.integers(0, 31)))
        else:
            addr, memop = self.address(memop)
        if shape in ("pair", "ll"):
            self.emit(f"qemu_ldlink_i{bits}", self.dest(t), addr, make_oi(memop))
            self.last_ll = (addr, bits, memop)
        if shape == "pair":
            for _ in range(self.draw(st.integers(0, 2))):
                self.draw(st.sampled_from((self.pure, self.store)))()
        if shape in ("pair", "sc"):
            self.emit(f"qemu_stcond_i{bits}", self.dest(I32), self.operand(t), addr,
                      make_oi(memop))

    def env(self) -> None:
        t = self.draw(st.sampled_from((I32, I64)))
        slot = self.draw(st.sampled_from(("s0", "s1"))) if t is I32 else "sq"
        if self.draw(st.booleans()):
            self.emit(f"ld_{t.suffix}", self.dest(t), ("slot", slot))
        else:
            self.emit(f"st_{t.suffix}", self.operand(t), ("slot", slot))

    def call(self) -> None:
        name = self.draw(st.sampled_from(("irgen_mix32", "irgen_mix32", "irgen_mix64",
                                          "irgen_env_rw", "irgen_maybe_yield",
                                          "irgen_probe_load")))
        helper = HELPERS[name]
        if name == "irgen_probe_load":
            ins = [self.address(MemOp.UL)[0]]
        else:
            ins = [self.operand(t) for t in helper.in_types]
        out = None if helper.out_type is None else self.dest(helper.out_type)
        self.items.append(("call", name, out, tuple(ins)))

    def mb(self) -> None:
        self.emit("mb", self.draw(st.sampled_from((0, 0x30))))

    def exit(self) -> None:
        """Write the pc and leave: goto_tb 0/1, exit_tb, or a helper that raises."""
        self.emit("movi_i32", ("pc",), self.draw(st.sampled_from((0x4000_1000, 0x4000_2000,
                                                                  self.pc))))
        how = self.draw(st.sampled_from(("goto_tb", "goto_tb", "exit_tb", "raise")))
        if how == "goto_tb":
            self.emit("goto_tb", self.draw(st.integers(0, 1)))
        elif how == "exit_tb":
            self.emit("exit_tb", self.draw(st.sampled_from((0, 1, 0x1234))))
        else:
            excp = self.draw(st.sampled_from((EXCP.YIELD, EXCP.HLT, IRGenExcp.SWI)))
            self.items.append(("call", helper_raise_exception.name, None, (("c", 32, int(excp)),)))


@st.composite
def ir_programs(draw, policies: tuple[str, ...] | None = None, min_steps: int = 24,
                max_steps: int = 56) -> IRProgram:
    """A random TB and its initial state; see the module docstring for what it covers."""
    env = []
    for _cpu in range(2):
        slots = [(f"g{i}", draw(VALUE32)) for i in range(N_G32)]
        slots += [(f"q{i}", draw(VALUE64)) for i in range(N_G64)]
        slots += [("s0", draw(VALUE32)), ("s1", draw(VALUE32)), ("sq", draw(VALUE64))]
        env.append(tuple(slots))
    cpu = draw(st.integers(0, 1))
    setup = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            setup.append(("fill", draw(st.sampled_from((DATA, DATA + PAGE_SIZE, LAST_PAGE,
                                                        MMIO_BASE)))))
        else:
            bits = draw(st.sampled_from(tuple(LLSC_SIZES)))
            setup.append(("ll", draw(st.integers(0, 1)),
                          DATA + (bits // 8) * draw(st.integers(0, 31)), bits))
    ram_seed = draw(st.integers(0, 2**32 - 1))
    code_page = draw(st.integers(0, 2)) == 0
    policy = draw(st.sampled_from(policies or tuple(memory_policies())))
    exclusive = draw(st.integers(0, 5)) == 0
    budget = draw(st.one_of(st.integers(1, 6), st.just(1000)))  # at most insns + 1, below
    gen = _Gen(draw, draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from(_STRIDES)))
    gen.insn_start()
    # Every pooled local is written here, before any branch: no path reads it undefined.
    for t in [I32] * draw(st.integers(1, 5)) + [I64] * draw(st.integers(1, 3)):
        local = gen.new_local(t, pooled=True)
        how = draw(st.integers(0, 2))
        if how == 0:
            gen.emit(f"movi_{t.suffix}", local, draw(CONST32 if t is I32 else CONST64))
        elif how == 1:
            gen.emit(f"mov_{t.suffix}", local, draw(st.sampled_from(gen.pool[t][:N_G32])))
        elif t is I64:
            gen.emit("extu_i32_i64", local, draw(st.sampled_from(gen.pool[I32][:N_G32])))
        else:
            gen.emit("extrh_i64_i32", local, draw(st.sampled_from(gen.pool[I64][:N_G64])))
    stubs = [gen.new_label() for _ in range(draw(st.integers(0, 2)))]
    pending: list[int] = []
    for _ in range(draw(st.integers(min_steps, max_steps))):
        if pending and draw(st.integers(0, 2)) == 0:
            gen.items.append(("set_label", pending.pop(draw(st.integers(0, len(pending) - 1)))))
            gen.last_ll = None  # a path from the branch skips the LL's address: no reuse
        kind = draw(st.sampled_from(_STEP_KINDS))
        if kind == "insn":
            gen.insn_start()
        elif kind in ("brcond", "br"):
            if kind == "brcond" and stubs and draw(st.booleans()):
                target = draw(st.sampled_from(stubs))
            else:
                target = gen.new_label()
                pending.append(target)
            if kind == "br":
                gen.emit("br", ("label", target))
            else:
                t = draw(st.sampled_from((I32, I32, I64)))
                cond = gen.walked(ALL_CONDS, "brcond")
                gen.items.append(("brcond", cond, gen.dest(t), gen.operand(t), target))
        else:
            getattr(gen, kind)()
    for target in pending:
        gen.items.append(("set_label", target))
    gen.exit()
    for target in stubs:
        gen.items.append(("set_label", target))
        for _ in range(draw(st.integers(0, 2))):
            gen.pure()
        gen.exit()
    return IRProgram(
        items=tuple(gen.items), locals=tuple(gen.locals), env=tuple(env), ram_seed=ram_seed,
        code_page=code_page, setup=tuple(setup), policy=policy, cpu=cpu, exclusive=exclusive,
        budget=budget if budget == 1000 else min(budget, gen.n_insns + 1), n_insns=gen.n_insns)
