"""The IR: one op table mirroring TCG's ``tcg-opc.h``, plus temps, labels, MemOp and TBs.

Every op is declared exactly once, in :data:`BASE_OPS` (or by a plugin through
``tcglab_register_ops``), as an :class:`OpDef` with its shape (outputs, inputs,
constants), its flags and its *reference semantics*: a Python function that is the
definition of what the op means.  The interpreter backend runs those functions
directly; other backends must agree with them, and fall back to calling them for any op
they do not lower natively.  Nothing else in the tree restates an op's arity.

Values are unsigned Python ints: an i32 value is in ``[0, 2**32)``, an i64 value in
``[0, 2**64)``.  Every semantic function wraps exactly at its width.

Undefined and unspecified cases (docs/devel/tcg-ops.rst leaves them open) are defined
here so that the reference semantics is total, and named in each op's doc:

* shift and rotate counts are taken modulo the width;
* division by zero gives 0 (quotient) and the dividend (remainder), as ARM's UDIV/SDIV
  do for the quotient; ``MIN / -1`` wraps to ``MIN`` with remainder 0;
* ``clz d, a, b`` gives ``b`` when ``a`` is zero (TCG's form).
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Iterable, Iterator

from attrs import define, field

M32 = 0xFFFF_FFFF
M64 = 0xFFFF_FFFF_FFFF_FFFF


# --------------------------------------------------------------------------- types


class TempType(enum.IntEnum):
    """Width of a temp (TCG_TYPE_I32 / TCG_TYPE_I64)."""

    I32 = 32
    I64 = 64

    @property
    def mask(self) -> int:
        return M32 if self is TempType.I32 else M64

    @property
    def suffix(self) -> str:
        return "i32" if self is TempType.I32 else "i64"


I32 = TempType.I32
I64 = TempType.I64


class TempKind(enum.Enum):
    """Where a temp lives: in the CPU state (global), in one TB (local), or nowhere (const)."""

    GLOBAL = "global"  # backed by an env slot; survives across TBs and helper calls
    LOCAL = "local"  # TB-local: lives for one TB, across branches inside it
    CONST = "const"  # an immediate value, never written


@define(eq=False, slots=True)
class Temp:
    """An IR value.

    Globals carry the env ``slot`` they are backed by; locals an ``index`` into the TB's
    frame; constants their ``value``.  Temps compare by identity.
    """

    kind: TempKind
    type: TempType
    index: int = 0  # LOCAL: frame index; GLOBAL: env slot; CONST: unused
    name: str = ""
    value: int = 0  # CONST only

    @property
    def is_const(self) -> bool:
        return self.kind is TempKind.CONST

    @property
    def is_global(self) -> bool:
        return self.kind is TempKind.GLOBAL

    def __str__(self) -> str:
        if self.kind is TempKind.CONST:
            return f"${self.value:#x}"
        if self.kind is TempKind.GLOBAL:
            return self.name
        return self.name or f"tmp{self.index}"


@define(eq=False, slots=True)
class Label:
    """A branch target inside one TB (``gen_new_label`` / ``set_label``)."""

    id: int
    present: bool = False  # set_label emitted

    def __str__(self) -> str:
        return f"$L{self.id}"


class Cond(enum.IntEnum):
    """Comparison conditions for setcond/movcond/brcond (TCGCond)."""

    EQ = 8
    NE = 9
    LT = 2
    GE = 3
    LE = 4
    GT = 5
    LTU = 10
    GEU = 11
    LEU = 12
    GTU = 13
    ALWAYS = 1
    NEVER = 0

    def invert(self) -> "Cond":
        return _COND_INVERT[self]

    def swap(self) -> "Cond":
        """The condition with operands exchanged (a < b  <=>  b > a)."""
        return _COND_SWAP[self]

    @property
    def is_unsigned(self) -> bool:
        return self in (Cond.LTU, Cond.GEU, Cond.LEU, Cond.GTU)


_COND_INVERT = {
    Cond.EQ: Cond.NE, Cond.NE: Cond.EQ, Cond.LT: Cond.GE, Cond.GE: Cond.LT,
    Cond.LE: Cond.GT, Cond.GT: Cond.LE, Cond.LTU: Cond.GEU, Cond.GEU: Cond.LTU,
    Cond.LEU: Cond.GTU, Cond.GTU: Cond.LEU, Cond.ALWAYS: Cond.NEVER, Cond.NEVER: Cond.ALWAYS,
}
_COND_SWAP = {
    Cond.EQ: Cond.EQ, Cond.NE: Cond.NE, Cond.LT: Cond.GT, Cond.GE: Cond.LE,
    Cond.LE: Cond.GE, Cond.GT: Cond.LT, Cond.LTU: Cond.GTU, Cond.GEU: Cond.LEU,
    Cond.LEU: Cond.GEU, Cond.GTU: Cond.LTU, Cond.ALWAYS: Cond.ALWAYS, Cond.NEVER: Cond.NEVER,
}


def cond_eval(cond: Cond, a: int, b: int, bits: int) -> bool:
    """Evaluate ``a cond b`` on unsigned ``bits``-wide values."""
    if cond is Cond.ALWAYS:
        return True
    if cond is Cond.NEVER:
        return False
    if cond is Cond.EQ:
        return a == b
    if cond is Cond.NE:
        return a != b
    if cond.is_unsigned:
        sa, sb = a, b
    else:
        sa, sb = to_signed(a, bits), to_signed(b, bits)
    if cond in (Cond.LT, Cond.LTU):
        return sa < sb
    if cond in (Cond.GE, Cond.GEU):
        return sa >= sb
    if cond in (Cond.LE, Cond.LEU):
        return sa <= sb
    return sa > sb


def to_signed(v: int, bits: int) -> int:
    """Interpret an unsigned ``bits``-wide value as two's complement."""
    sign = 1 << (bits - 1)
    return (v & (sign - 1)) - (v & sign)


# --------------------------------------------------------------------------- MemOp


MO_ASHIFT = 5  # where MemOp's alignment field starts (QEMU's MO_ASHIFT)


class MemOp(enum.IntFlag):
    """Size, sign, endianness and alignment of a guest memory access (TCG's MemOp).

    ``oi = (memop << 4) | mmu_idx`` is what qemu_ld/qemu_st carry as their constant.
    The guest and the host of the reference semantics are little-endian; MO_BSWAP makes
    an access big-endian.
    """

    MO_8 = 0
    MO_16 = 1
    MO_32 = 2
    MO_64 = 3
    MO_SIZE = 3
    MO_SIGN = 4
    MO_BSWAP = 8
    # alignment: 0 = unaligned allowed, MO_ALIGN = natural, MO_ALIGN_n = n bytes
    MO_ALIGN_2 = 1 << MO_ASHIFT
    MO_ALIGN_4 = 2 << MO_ASHIFT
    MO_ALIGN_8 = 3 << MO_ASHIFT
    MO_ALIGN_16 = 4 << MO_ASHIFT
    MO_ALIGN = 7 << MO_ASHIFT
    MO_AMASK = MO_ALIGN  # the whole field

    UB = MO_8
    SB = MO_8 | MO_SIGN
    UW = MO_16
    SW = MO_16 | MO_SIGN
    UL = MO_32
    SL = MO_32 | MO_SIGN
    UQ = MO_64
    BEUW = MO_16 | MO_BSWAP
    BEUL = MO_32 | MO_BSWAP
    BEUQ = MO_64 | MO_BSWAP


MEMOP_MASK = 0xFF
# plain ints for the slow paths: ``x & MemOp.MO_SIZE`` goes through IntFlag.__rand__ and
# builds a flag object (about a microsecond), and would make the result a MemOp too
_MO_SIZE = int(MemOp.MO_SIZE)
_MO_AMASK = int(MemOp.MO_AMASK)


def memop_size(memop: int) -> int:
    """Access size in bytes."""
    return 1 << (memop & _MO_SIZE)


def memop_align_mask(memop: int) -> int:
    """Low address bits that must be zero for this access (0 = no requirement)."""
    a = (memop & _MO_AMASK) >> 5
    if a == 0:
        return 0
    if a == 7:
        return memop_size(memop) - 1
    return (1 << a) - 1


def make_oi(memop: int, mmu_idx: int = 0) -> int:
    """Pack a MemOp and an MMU index into the ``oi`` constant of qemu_ld/st."""
    if not 0 <= mmu_idx < 16:
        raise ValueError(f"mmu_idx {mmu_idx} out of range 0..15")
    return (int(memop) << 4) | mmu_idx


def oi_memop(oi: int) -> int:
    return oi >> 4


def oi_mmu_idx(oi: int) -> int:
    return oi & 15


def memop_str(memop: int) -> str:
    size = ("b", "w", "l", "q")[memop & 3]
    sign = "s" if memop & MemOp.MO_SIGN else "u"
    end = "be" if memop & MemOp.MO_BSWAP else "le"
    al = "+al" if memop & MemOp.MO_AMASK else ""
    return f"{end}{sign}{size}{al}"


# --------------------------------------------------------------------------- helpers


class CallFlag(enum.IntFlag):
    """What a helper may do (TCG_CALL_NO_*): lets backends keep globals in registers."""

    NONE = 0
    NO_READ_GLOBALS = 1
    NO_WRITE_GLOBALS = 2  # writes no IR global's env slot (other CPU state it may: the Q bit)
    NO_SIDE_EFFECTS = 4
    NO_RETURN = 8  # always leaves the TB by raising (e.g. raise_exception)
    NO_RWG = NO_READ_GLOBALS | NO_WRITE_GLOBALS


_NO_WRITE_GLOBALS = int(CallFlag.NO_WRITE_GLOBALS)
_PURE_HELPER = int(CallFlag.NO_RWG | CallFlag.NO_SIDE_EFFECTS)


@define(frozen=True, eq=False)
class Helper:
    """A host function callable from IR (``DEF_HELPER``).

    ``func(cpu, *inputs)`` returns ``None`` (no output) or one int (one output).
    """

    name: str
    func: Callable[..., Any]
    out_type: TempType | None
    in_types: tuple[TempType, ...]
    flags: CallFlag = CallFlag.NONE
    doc: str = ""
    #: computed once from ``flags`` (a CallFlag ``&`` builds a flag object, and backends
    #: ask for every call they compile):
    #: the helper may change an IR global's env slot (no NO_WRITE_GLOBALS)
    writes_globals: bool = field(init=False, default=True)
    #: NO_RWG and NO_SIDE_EFFECTS: reads and writes no CPU state at all, so nothing needs
    #: syncing around it and it cannot change what the TB flags are computed from
    pure: bool = field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        flags = int(self.flags)
        object.__setattr__(self, "writes_globals", not flags & _NO_WRITE_GLOBALS)
        object.__setattr__(self, "pure", flags & _PURE_HELPER == _PURE_HELPER)

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- op table


class OpFlag(enum.IntFlag):
    """Op properties, as TCG_OPF_* (values from tcg.h)."""

    NONE = 0
    BB_END = 0x01  # ends a basic block (labels and branches)
    CALL_CLOBBER = 0x02  # clobbers call-clobbered host registers (may call out)
    SIDE_EFFECTS = 0x04  # must not be removed even if its outputs are dead
    I64 = 0x08  # operands are 64-bit
    NOT_PRESENT = 0x10  # not emitted by frontends directly (expanded by the builder)
    BB_EXIT = 0x20  # leaves the TB (goto_tb, exit_tb)
    COND_BRANCH = 0x40  # conditional branch (brcond)
    MEMORY = 0x80  # accesses guest memory through the softmmu
    ENV = 0x100  # reads or writes the CPU state (ld/st): not foldable, not reorderable past st


_IMPURE = (OpFlag.SIDE_EFFECTS | OpFlag.BB_END | OpFlag.CALL_CLOBBER | OpFlag.BB_EXIT
           | OpFlag.MEMORY | OpFlag.ENV)


@define(frozen=True, eq=False)
class OpDef:
    """One op of the table: ``DEF(name, oargs, iargs, cargs, flags)`` plus its meaning.

    ``impl(cpu, *inputs, *consts)`` is the reference semantics: it returns ``None``,
    one int (one output) or a tuple (several outputs).  ``cpu`` is the executing vCPU
    (``None`` is passed when folding a pure op).  For control ops the return value is
    the control decision: brcond -> taken (bool); goto_tb -> slot; exit_tb -> value.
    ``types`` gives the TempType of each output then input.

    The op's properties, the one definition the optimiser, the backends and the
    frontends ask (plain bools computed once here: translators and backends ask them of
    every op, and a Flag ``&`` builds a new Flag, about half a microsecond).  The core's
    control ops are known by name, as QEMU's ``liveness_pass_1`` knows
    ``INDEX_op_set_label`` (``set_label`` and ``br`` have the same flags):

    * ``pure``: no side effect, no control, no memory or env access: the outputs depend
      on the inputs only, so the op may be folded, moved or dropped when they are dead;
      ``foldable``: pure and with reference semantics to fold it with.
    * ``sets_label``: ``set_label``, a join point.  It starts a basic block; it is not a
      branch and does not end one (its BB_END flag is TCG's, which says the same).
    * ``branch``: ``br`` or a conditional branch (COND_BRANCH): moves control inside the
      TB to the label that is its last constant; ``cond_branch`` the conditional ones.
    * ``bb_exit``: leaves the TB (goto_tb, exit_tb: BB_EXIT).
    * ``ends_block``: a branch, an exit, or any other BB_END op but ``set_label``: the
      next op starts a basic block.  ``falls_through``: control may reach the next op
      (false for ``br`` and the exits).
    * ``writes_state``: may write the CPU state (``env``) other than through its outputs:
      an env store (``st``), or an impure op that is neither control, a guest memory
      access (MEMORY: the softmmu never writes env), ``insn_start``, ``mb`` nor ``call``
      (which the helper decides: :attr:`Op.writes_globals`, :attr:`Op.writes_state`).
    * ``observes_state``: the CPU state may be looked at here (the op may read env,
      raise, call out, end a slice or leave the TB), so every global must hold its
      value in env: every impure op that is not a label or a branch.
    * ``touches_state``: may read or write env itself (an env access, or an impure op
      that is not a guest memory access): run as a call, env must be current around it.
    * ``env_access``: ld/st on the CPU state (ENV); ``i64``: the op's width is 64 bits
      (I64); ``any_i64``: some operand is 64 bits (``extrl_i64_i32`` is not I64).
    """

    name: str
    outputs: int
    inputs: int
    consts: int
    flags: OpFlag
    impl: Callable[..., Any] | None
    types: tuple[TempType, ...]
    doc: str = ""
    provider: str = "core"
    pure: bool = field(init=False, default=False)
    foldable: bool = field(init=False, default=False)
    sets_label: bool = field(init=False, default=False)
    branch: bool = field(init=False, default=False)
    cond_branch: bool = field(init=False, default=False)
    bb_exit: bool = field(init=False, default=False)
    ends_block: bool = field(init=False, default=False)
    falls_through: bool = field(init=False, default=True)
    writes_state: bool = field(init=False, default=False)
    observes_state: bool = field(init=False, default=False)
    touches_state: bool = field(init=False, default=False)
    env_access: bool = field(init=False, default=False)
    i64: bool = field(init=False, default=False)
    any_i64: bool = field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        flags, name = int(self.flags), self.name
        pure = not flags & _IMPURE
        label = name == "set_label"
        cond = bool(flags & OpFlag.COND_BRANCH)
        branch = cond or name == "br"
        exits = bool(flags & OpFlag.BB_EXIT)
        env = bool(flags & OpFlag.ENV)
        memory = bool(flags & OpFlag.MEMORY)
        control = bool(flags & (OpFlag.BB_END | OpFlag.BB_EXIT))
        if env:
            writes = bool(flags & OpFlag.SIDE_EFFECTS)  # st; ld only reads
        else:
            writes = not (pure or memory or control or name in ("insn_start", "mb", "call"))
        for attr, value in (("pure", pure), ("foldable", pure and self.impl is not None),
                            ("sets_label", label), ("branch", branch), ("cond_branch", cond),
                            ("bb_exit", exits), ("ends_block", control and not label),
                            ("falls_through", not (exits or name == "br")),
                            ("writes_state", writes),
                            ("observes_state", not (pure or label or branch)),
                            ("touches_state", env or not (pure or memory)),
                            ("env_access", env), ("i64", bool(flags & OpFlag.I64)),
                            ("any_i64", any(t is TempType.I64 for t in self.types))):
            object.__setattr__(self, attr, value)

    @property
    def nargs(self) -> int:
        return self.outputs + self.inputs + self.consts


# ---- reference semantics, one small function per op family --------------------------


def _bits(t: TempType) -> int:
    return int(t)


def _mk_binary(fn: Callable[[int, int, int, int], int], t: TempType):
    bits, mask = _bits(t), t.mask
    return lambda cpu, a, b: fn(a, b, bits, mask) & mask


def _shl(a, b, bits, mask):
    return a << (b % bits)


def _shr(a, b, bits, mask):
    return a >> (b % bits)


def _sar(a, b, bits, mask):
    return to_signed(a, bits) >> (b % bits)


def _rotl(a, b, bits, mask):
    n = b % bits
    return (a << n) | (a >> (bits - n)) if n else a


def _rotr(a, b, bits, mask):
    n = b % bits
    return (a >> n) | (a << (bits - n)) if n else a


def _divs(a, b, bits, mask):
    sa, sb = to_signed(a, bits), to_signed(b, bits)
    if sb == 0:
        return 0
    q = abs(sa) // abs(sb)
    return q if (sa < 0) == (sb < 0) else -q


def _rems(a, b, bits, mask):
    sa, sb = to_signed(a, bits), to_signed(b, bits)
    if sb == 0:
        return a
    return sa - sb * _divs(a, b, bits, mask)  # truncating division: sign follows dividend


def _divu(a, b, bits, mask):
    return a // b if b else 0


def _remu(a, b, bits, mask):
    return a % b if b else a


def _clz(a, b, bits, mask):
    return bits - a.bit_length() if a else b


_BINARY = {
    "add": lambda a, b, bits, mask: a + b,
    "sub": lambda a, b, bits, mask: a - b,
    "mul": lambda a, b, bits, mask: a * b,
    "and": lambda a, b, bits, mask: a & b,
    "or": lambda a, b, bits, mask: a | b,
    "xor": lambda a, b, bits, mask: a ^ b,
    "andc": lambda a, b, bits, mask: a & ~b,
    "orc": lambda a, b, bits, mask: a | (~b & mask),
    "shl": _shl,
    "shr": _shr,
    "sar": _sar,
    "rotl": _rotl,
    "rotr": _rotr,
    "div": _divs,
    "divu": _divu,
    "rem": _rems,
    "remu": _remu,
    "clz": _clz,
}

_BINARY_DOC = {
    "add": "d = a + b",
    "sub": "d = a - b",
    "mul": "d = a * b (low half)",
    "and": "d = a & b",
    "or": "d = a | b",
    "xor": "d = a ^ b",
    "andc": "d = a & ~b",
    "orc": "d = a | ~b",
    "shl": "d = a << (b mod width)",
    "shr": "d = a >> (b mod width), logical",
    "sar": "d = a >> (b mod width), arithmetic",
    "rotl": "d = a rotated left by b mod width",
    "rotr": "d = a rotated right by b mod width",
    "div": "d = a / b signed, truncating; b == 0 gives 0; MIN / -1 gives MIN",
    "divu": "d = a / b unsigned; b == 0 gives 0",
    "rem": "d = a % b signed (sign of a); b == 0 gives a",
    "remu": "d = a % b unsigned; b == 0 gives a",
    "clz": "d = count of leading zeros of a, or b if a == 0",
}


def _bswap(nbytes: int):
    def f(cpu, a):
        return int.from_bytes((a & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little"), "big")
    return f


def _ext(bits_from: int, signed: bool, t: TempType):
    m = (1 << bits_from) - 1
    if signed:
        return lambda cpu, a: to_signed(a & m, bits_from) & t.mask
    return lambda cpu, a: a & m


def _extract(cpu, a, pos, length):
    return (a >> pos) & ((1 << length) - 1)


def _sextract_for(t: TempType):
    def f(cpu, a, pos, length):
        return to_signed((a >> pos) & ((1 << length) - 1), length) & t.mask
    return f


def _deposit_for(t: TempType):
    def f(cpu, a, b, pos, length):
        field_mask = ((1 << length) - 1) << pos
        return ((a & ~field_mask) | ((b << pos) & field_mask)) & t.mask
    return f


def _setcond_for(t: TempType):
    bits = int(t)
    return lambda cpu, a, b, cond: int(cond_eval(cond, a, b, bits))


def _movcond_for(t: TempType):
    bits = int(t)
    return lambda cpu, c1, c2, v1, v2, cond: v1 if cond_eval(cond, c1, c2, bits) else v2


def _brcond_for(t: TempType):
    bits = int(t)
    return lambda cpu, a, b, cond, label: cond_eval(cond, a, b, bits)


def _mul2_for(t: TempType, signed: bool):
    bits, mask = int(t), t.mask

    def f(cpu, a, b):
        if signed:
            p = to_signed(a, bits) * to_signed(b, bits)
        else:
            p = a * b
        return p & mask, (p >> bits) & mask
    return f


def _addsub2_for(t: TempType, sub: bool):
    bits, mask = int(t), t.mask
    wide = (1 << (2 * bits)) - 1

    def f(cpu, al, ah, bl, bh):
        a = al | (ah << bits)
        b = bl | (bh << bits)
        r = (a - b if sub else a + b) & wide
        return r & mask, r >> bits
    return f


def _ld_env(cpu, offset):
    return cpu.env[offset]


def _st_env(cpu, value, offset):
    cpu.env[offset] = value


def _qemu_ld(cpu, addr, oi):
    return cpu.mmu.load(addr, oi >> 4) & M64


def _qemu_st(cpu, value, addr, oi):
    cpu.mmu.store(addr, value, oi >> 4)


def _qemu_ld_i32(cpu, addr, oi):
    return cpu.mmu.load(addr, oi >> 4) & M32


def _call(cpu, *args):
    """call: the helper is the last constant; inputs precede it."""
    helper = args[-1]
    return helper.func(cpu, *args[:-1])


def _nop(cpu, *args):
    return None


def _goto_tb(cpu, slot):
    return slot


def _exit_tb(cpu, value):
    return value


def _br(cpu, label):
    return True


def _define_ops() -> list[OpDef]:
    ops: list[OpDef] = []

    def op(name, outs, ins, consts, flags, impl, types, doc):
        ops.append(OpDef(name, outs, ins, consts, OpFlag(flags), impl, tuple(types), doc))

    for t in (I32, I64):
        s, f64 = t.suffix, (OpFlag.I64 if t is I64 else OpFlag.NONE)
        mask = t.mask
        op(f"mov_{s}", 1, 1, 0, f64, lambda cpu, a: a, (t, t), "d = a")
        op(f"movi_{s}", 1, 0, 1, f64, (lambda m: lambda cpu, v: v & m)(mask), (t,),
           "d = constant")
        for name, fn in _BINARY.items():
            op(f"{name}_{s}", 1, 2, 0, f64, _mk_binary(fn, t), (t, t, t), _BINARY_DOC[name])
        op(f"neg_{s}", 1, 1, 0, f64, (lambda m: lambda cpu, a: -a & m)(mask), (t, t), "d = -a")
        op(f"not_{s}", 1, 1, 0, f64, (lambda m: lambda cpu, a: ~a & m)(mask), (t, t), "d = ~a")
        for bits_from in (8, 16) + ((32,) if t is I64 else ()):
            op(f"ext{bits_from}s_{s}", 1, 1, 0, f64, _ext(bits_from, True, t), (t, t),
               f"d = sign-extend low {bits_from} bits of a")
            op(f"ext{bits_from}u_{s}", 1, 1, 0, f64, _ext(bits_from, False, t), (t, t),
               f"d = zero-extend low {bits_from} bits of a")
        for nbytes in (2, 4) + ((8,) if t is I64 else ()):
            op(f"bswap{8 * nbytes}_{s}", 1, 1, 0, f64, _bswap(nbytes), (t, t),
               f"d = byte-reverse the low {nbytes} bytes of a, zero-extended")
        op(f"extract_{s}", 1, 1, 2, f64, _extract, (t, t),
           "d = (a >> pos) & ((1 << len) - 1); consts pos, len")
        op(f"sextract_{s}", 1, 1, 2, f64, _sextract_for(t), (t, t),
           "d = sign-extended field a[pos+len-1:pos]; consts pos, len")
        op(f"deposit_{s}", 1, 2, 2, f64, _deposit_for(t), (t, t, t),
           "d = a with bits [pos, pos+len) replaced by the low len bits of b")
        op(f"setcond_{s}", 1, 2, 1, f64, _setcond_for(t), (t, t, t), "d = (a cond b) ? 1 : 0")
        op(f"movcond_{s}", 1, 4, 1, f64, _movcond_for(t), (t,) * 5,
           "d = (c1 cond c2) ? v1 : v2")
        op(f"brcond_{s}", 0, 2, 2, f64 | OpFlag.BB_END | OpFlag.COND_BRANCH, _brcond_for(t),
           (t, t), "if (a cond b) goto label; consts cond, label")
        op(f"mulu2_{s}", 2, 2, 0, f64, _mul2_for(t, False), (t,) * 4,
           "lo:hi = a * b, unsigned double-width product")
        op(f"muls2_{s}", 2, 2, 0, f64, _mul2_for(t, True), (t,) * 4,
           "lo:hi = a * b, signed double-width product")
        op(f"add2_{s}", 2, 4, 0, f64, _addsub2_for(t, False), (t,) * 6,
           "rl:rh = al:ah + bl:bh (double-width add; carry propagates into rh)")
        op(f"sub2_{s}", 2, 4, 0, f64, _addsub2_for(t, True), (t,) * 6,
           "rl:rh = al:ah - bl:bh (double-width subtract)")
        op(f"ld_{s}", 1, 0, 1, f64 | OpFlag.ENV, _ld_env, (t,), "d = env[slot] (CPU state load)")
        op(f"st_{s}", 0, 1, 1, f64 | OpFlag.SIDE_EFFECTS | OpFlag.ENV, _st_env, (t,),
           "env[slot] = a (CPU state store)")
        op(f"qemu_ld_{s}", 1, 1, 1, f64 | OpFlag.CALL_CLOBBER | OpFlag.SIDE_EFFECTS | OpFlag.MEMORY,
           _qemu_ld_i32 if t is I32 else _qemu_ld, (t, I32),
           "d = guest memory [addr], oi = memop << 4 | mmu_idx (may fault)")
        op(f"qemu_st_{s}", 0, 2, 1, f64 | OpFlag.CALL_CLOBBER | OpFlag.SIDE_EFFECTS | OpFlag.MEMORY,
           _qemu_st, (t, I32), "guest memory [addr] = v, oi = memop << 4 | mmu_idx (may fault)")

    op("ext_i32_i64", 1, 1, 0, OpFlag.I64, lambda cpu, a: to_signed(a, 32) & M64, (I64, I32),
       "d = sign-extend a to 64 bits")
    op("extu_i32_i64", 1, 1, 0, OpFlag.I64, lambda cpu, a: a, (I64, I32),
       "d = zero-extend a to 64 bits")
    op("extrl_i64_i32", 1, 1, 0, OpFlag.NONE, lambda cpu, a: a & M32, (I32, I64),
       "d = low 32 bits of a")
    op("extrh_i64_i32", 1, 1, 0, OpFlag.NONE, lambda cpu, a: a >> 32, (I32, I64),
       "d = high 32 bits of a")
    op("concat_i32_i64", 1, 2, 0, OpFlag.I64, lambda cpu, lo, hi: lo | (hi << 32),
       (I64, I32, I32), "d = hi:lo")

    op("insn_start", 0, 0, 1, OpFlag.SIDE_EFFECTS, _nop, (),
       "marks the start of the guest instruction at pc; a slice may end here")
    op("set_label", 0, 0, 1, OpFlag.BB_END, _nop, (), "defines label")
    op("br", 0, 0, 1, OpFlag.BB_END, _br, (), "goto label")
    op("goto_tb", 0, 0, 1, OpFlag.BB_END | OpFlag.BB_EXIT, _goto_tb, (),
       "leave the TB through chainable exit slot 0 or 1 (pc already written)")
    op("exit_tb", 0, 0, 1, OpFlag.BB_END | OpFlag.BB_EXIT, _exit_tb, (),
       "leave the TB to the dispatcher (pc already written); const is the exit value")
    op("mb", 0, 0, 1, OpFlag.SIDE_EFFECTS, _nop, (),
       "memory barrier of the given kind; the scheduler interleaves sequentially "
       "consistently, so no reordering exists to forbid")
    op("call", 0, 0, 1, OpFlag.CALL_CLOBBER | OpFlag.SIDE_EFFECTS, _call, (),
       "call helper; outputs and inputs come from the Helper's signature")
    return ops


BASE_OPS: tuple[OpDef, ...] = tuple(_define_ops())


class OpTable:
    """The one op table: base ops plus plugin ops, keyed by name."""

    def __init__(self, ops: Iterable[OpDef] = BASE_OPS):
        self._ops: dict[str, OpDef] = {}
        for d in ops:
            self.add(d)

    def add(self, opdef: OpDef) -> None:
        if opdef.name in self._ops:
            other = self._ops[opdef.name]
            raise ValueError(f"op {opdef.name!r} is defined by both {other.provider!r} "
                             f"and {opdef.provider!r}")
        if len(opdef.types) != opdef.outputs + opdef.inputs and opdef.name != "call":
            raise ValueError(f"op {opdef.name!r}: types has {len(opdef.types)} entries, "
                             f"expected {opdef.outputs + opdef.inputs} (outputs + inputs)")
        self._ops[opdef.name] = opdef

    def __getitem__(self, name: str) -> OpDef:
        return self._ops[name]

    def get(self, name: str) -> OpDef | None:
        return self._ops.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __iter__(self) -> Iterator[OpDef]:
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)

    def names(self) -> list[str]:
        return sorted(self._ops)


# --------------------------------------------------------------------------- ops and TBs


@define(eq=False, slots=True)
class Op:
    """One IR instruction: its definition and its arguments (outputs, inputs, constants).

    For ``call`` the split is taken from the helper (the last constant).
    """

    opdef: OpDef
    args: tuple

    @property
    def name(self) -> str:
        return self.opdef.name

    @property
    def writes_globals(self) -> bool:
        """May this op change an IR global behind the IR's back (not as an output)?
        A call asks its helper (NO_WRITE_GLOBALS); any other op its definition."""
        d = self.opdef
        if d.name == "call":
            return self.args[-1].writes_globals
        return d.writes_state

    @property
    def writes_state(self) -> bool:
        """May this op write any of the CPU state, globals or not (what the TB flags are
        computed from, say)?  A call unless its helper is pure; else its definition."""
        d = self.opdef
        if d.name == "call":
            return not self.args[-1].pure
        return d.writes_state

    def split(self) -> tuple[tuple, tuple, tuple]:
        """(outputs, inputs, consts)."""
        d = self.opdef
        if d.name == "call":
            helper: Helper = self.args[-1]
            n_out = 1 if helper.out_type is not None else 0
            return self.args[:n_out], self.args[n_out:-1], self.args[-1:]
        o, i = d.outputs, d.inputs
        return self.args[:o], self.args[o:o + i], self.args[o + i:]

    def __str__(self) -> str:
        outs, ins, consts = self.split()
        parts = [str(a) for a in outs + ins] + [_const_str(c) for c in consts]
        return f"{self.name} {','.join(parts)}" if parts else self.name


def _const_str(c: Any) -> str:
    if isinstance(c, Cond):
        return c.name.lower()
    if isinstance(c, (Label, Helper)):
        return str(c)
    if isinstance(c, int):
        return f"${c:#x}"
    return str(c)


@define(eq=False)
class TranslationBlock:
    """A translated block of guest code: its IR and, once compiled, the backend's code.

    Keyed in the TB cache by ``(pc, flags)``.  ``pages`` lists the guest pages its code
    came from (for invalidation when they are written); ``jmp_dest`` the TBs its two
    ``goto_tb`` exits are chained to.
    """

    pc: int
    flags: int = 0
    cflags: int = 0
    ops: list[Op] = field(factory=list)
    n_locals: int = 0
    locals: list[Temp] = field(factory=list)
    labels: list[Label] = field(factory=list)
    icount: int = 0  # guest instructions
    size: int = 0  # guest bytes
    insn_pcs: list[int] = field(factory=list)
    pages: set[int] = field(factory=set)
    compiled: Any = None
    jmp_dest: list = field(factory=lambda: [None, None])
    jmp_incoming: list = field(factory=list)  # (tb, slot) pairs chained into this TB
    invalid: bool = False
    disas: list[tuple[int, int, str]] = field(factory=list)  # (pc, encoding, text) for trace

    def dump(self) -> str:
        """The IR in the shape of QEMU's ``-d op`` log."""
        lines = [f"OP: TB pc={self.pc:#010x} flags={self.flags:#x} insns={self.icount}"]
        for op in self.ops:
            if op.name == "insn_start":
                lines.append(f" ---- {op.args[0]:08x}")
            elif op.name == "set_label":
                lines.append(f" set_label {op.args[0]}")
            else:
                lines.append(f" {op}")
        return "\n".join(lines)
