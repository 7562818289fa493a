"""Native lowering of the core's pure ops to Python expressions.

Each entry reproduces the op's reference semantics in :mod:`core.ir` exactly (values are
unsigned and wrap at the op's width, shift counts are taken modulo the width, ...), but
as inline source, so that an ``add_i32`` costs one Python expression instead of a call.
Ops whose semantics are long (signed division, clz, byte swaps) are not here: they run
through their reference function, which is exact by definition and rare in hot code.

Inputs arrive as source atoms (a variable name or a decimal literal) and only decimal
numbers are added, so the expressions contain nothing but the backend's own names and
numbers.  Literal operands are folded where it pays (a shift by a constant, a mask).
"""

from __future__ import annotations

from typing import Callable

from core.ir import Cond, cond_eval

Atom = str  # a variable name or a decimal literal


def is_lit(a: Atom) -> bool:
    return a[0].isdigit()


def lit(a: Atom) -> int:
    return int(a)


def _signbit(bits: int) -> int:
    return 1 << (bits - 1)


# ---------------------------------------------------------------------------- conditions


def cond_expr(cond: Cond, a: Atom, b: Atom, bits: int) -> str:
    """``a cond b`` on unsigned ``bits``-wide values, as :func:`core.ir.cond_eval`.

    A signed order is the unsigned one where the sign bits agree; where they differ the
    negative value is the larger unsigned one.  So the code compares the values as
    they are (no sign-flipped copies, which at 32 bits are ints of two CPython digits,
    off its fast paths): against a constant, as a range test; else choosing the
    compare by the sign bit of ``a ^ b``.
    """
    if cond is Cond.ALWAYS:
        return "True"
    if cond is Cond.NEVER:
        return "False"
    op = _COND_OPS[cond]
    if cond in (Cond.EQ, Cond.NE) or cond.is_unsigned:
        return f"{a} {op} {b}"
    s = _signbit(bits)
    if is_lit(a) and is_lit(b):
        return str(cond_eval(cond, lit(a), lit(b), bits))
    if is_lit(a):  # c op b is b op' c
        a, b, cond = b, a, _SWAPPED[cond]
        op = _COND_OPS[cond]
    if is_lit(b):
        c = lit(b)
        below = cond in (Cond.LT, Cond.LE)  # true for some a under the constant
        if c < s:  # a non-negative constant: a op c holds for a in [c.., s) or in [s..]
            return (f"({a} {op} {c} or {a} >= {s})" if below
                    else f"{c} {_COND_OPS[_SWAPPED[cond]]} {a} < {s}")
        return (f"{s} <= {a} {op} {c}" if below
                else f"({a} {op} {c} or {a} < {s})")
    other = ">" if cond in (Cond.LT, Cond.LE) else "<"  # the order where signs differ
    return f"({a} {op} {b} if ({a} ^ {b}) < {s} else {a} {other} {b})"


_SWAPPED = {Cond.LT: Cond.GT, Cond.LE: Cond.GE, Cond.GT: Cond.LT, Cond.GE: Cond.LE}


_COND_OPS = {Cond.EQ: "==", Cond.NE: "!=", Cond.LT: "<", Cond.GE: ">=", Cond.LE: "<=",
             Cond.GT: ">", Cond.LTU: "<", Cond.GEU: ">=", Cond.LEU: "<=", Cond.GTU: ">"}


# ---------------------------------------------------------------------------- one output

# (ins, consts, bits, mask) -> expression; None when this form is not lowered natively
Lowering = Callable[[tuple, tuple, int, int], "str | None"]


def _add(i, c, bits, mask):
    return f"({i[0]} + {i[1]}) & {mask}"


def _sub(i, c, bits, mask):
    return f"({i[0]} - {i[1]}) & {mask}"


def _mul(i, c, bits, mask):
    return f"({i[0]} * {i[1]}) & {mask}"


def _and(i, c, bits, mask):
    return f"{i[0]} & {i[1]}"


def _or(i, c, bits, mask):
    return f"{i[0]} | {i[1]}"


def _xor(i, c, bits, mask):
    return f"{i[0]} ^ {i[1]}"


def _andc(i, c, bits, mask):
    a, b = i
    return f"{a} & {~lit(b) & mask}" if is_lit(b) else f"{a} & ~{b}"


def _orc(i, c, bits, mask):
    a, b = i
    return f"{a} | {~lit(b) & mask}" if is_lit(b) else f"({a} | ~{b}) & {mask}"


def _count(b: Atom, bits: int) -> "int | str":
    """A shift count modulo the width (a literal folded, else ``b & (bits - 1)``)."""
    return lit(b) % bits if is_lit(b) else f"({b} & {bits - 1})"


def _shl(i, c, bits, mask):
    n = _count(i[1], bits)
    return i[0] if n == 0 else f"({i[0]} << {n}) & {mask}"


def _shr(i, c, bits, mask):
    n = _count(i[1], bits)
    return i[0] if n == 0 else f"{i[0]} >> {n}"


def _sar(i, c, bits, mask):
    n = _count(i[1], bits)
    s = _signbit(bits)
    return i[0] if n == 0 else f"((({i[0]} ^ {s}) - {s}) >> {n}) & {mask}"


def _rotl(i, c, bits, mask):
    a = i[0]
    if is_lit(i[1]):
        n = lit(i[1]) % bits
        return a if n == 0 else f"(({a} << {n}) | ({a} >> {bits - n})) & {mask}"
    return None  # a variable rotate needs a scratch: see MULTI_STATEMENT


def _rotr(i, c, bits, mask):
    a = i[0]
    if is_lit(i[1]):
        n = lit(i[1]) % bits
        return a if n == 0 else f"(({a} >> {n}) | ({a} << {bits - n})) & {mask}"
    return None


def _divu(i, c, bits, mask):
    a, b = i
    return f"({a} // {b} if {b} else 0)"


def _remu(i, c, bits, mask):
    a, b = i
    return f"({a} % {b} if {b} else {a})"


def _neg(i, c, bits, mask):
    return f"(-{i[0]}) & {mask}"


def _not(i, c, bits, mask):
    return f"{i[0]} ^ {mask}"


def _ext(from_bits: int, signed: bool) -> Lowering:
    m = (1 << from_bits) - 1
    s = 1 << (from_bits - 1)

    def lower(i, c, bits, mask):
        if signed:
            return f"((({i[0]} & {m}) ^ {s}) - {s}) & {mask}"
        return f"{i[0]} & {m}"
    return lower


def _extract(i, c, bits, mask):
    pos, length = c
    if not (type(pos) is int and type(length) is int and pos >= 0 and length >= 1):
        return None
    field = (1 << length) - 1
    return f"({i[0]} >> {pos}) & {field}" if pos else f"{i[0]} & {field}"


def _sextract(i, c, bits, mask):
    pos, length = c
    if not (type(pos) is int and type(length) is int and pos >= 0 and length >= 1):
        return None
    field = (1 << length) - 1
    x = f"({i[0]} >> {pos})" if pos else i[0]
    if length == 1:
        return f"-({x} & 1) & {mask}"
    s = 1 << (length - 1)
    return f"((({x} & {field}) ^ {s}) - {s}) & {mask}"


def _deposit(i, c, bits, mask):
    pos, length = c
    if not (type(pos) is int and type(length) is int and pos >= 0 and length >= 1):
        return None
    a, b = i
    field = ((1 << length) - 1) << pos
    if field > mask:  # a field past the width (the builder refuses it): the reference masks
        return None
    keep = ~field & mask
    placed = f"(({b} << {pos}) & {field})" if pos else f"({b} & {field})"
    return f"({a} & {keep}) | {placed}"


def _setcond(i, c, bits, mask):
    (cond,) = c
    if not isinstance(cond, Cond):
        return None
    return f"1 if {cond_expr(cond, i[0], i[1], bits)} else 0"


def _movcond(i, c, bits, mask):
    (cond,) = c
    if not isinstance(cond, Cond):
        return None
    c1, c2, v1, v2 = i
    return f"{v1} if {cond_expr(cond, c1, c2, bits)} else {v2}"


def _mov(i, c, bits, mask):
    return i[0]


def _movi(i, c, bits, mask):
    (value,) = c
    return str(value & mask) if type(value) is int else None


#: core op family -> lowering, for ops of one output (family = name without _i32/_i64)
SINGLE: dict[str, Lowering] = {
    "mov": _mov, "movi": _movi, "add": _add, "sub": _sub, "mul": _mul, "and": _and,
    "or": _or, "xor": _xor, "andc": _andc, "orc": _orc, "shl": _shl, "shr": _shr,
    "sar": _sar, "rotl": _rotl, "rotr": _rotr, "divu": _divu, "remu": _remu, "neg": _neg,
    "not": _not, "ext8s": _ext(8, True), "ext8u": _ext(8, False), "ext16s": _ext(16, True),
    "ext16u": _ext(16, False), "ext32s": _ext(32, True), "ext32u": _ext(32, False),
    "extract": _extract, "sextract": _sextract, "deposit": _deposit, "setcond": _setcond,
    "movcond": _movcond,
}


def ring_operands(family: str, ins: tuple) -> tuple | None:
    """The operands a lowered ``family`` op uses only through +, -, * and << by a
    constant before its final mask (None: not such an op): any int of the same residue
    modulo 2**bits gives the same result there."""
    if family in ("add", "sub", "mul"):
        return ins
    if family == "neg" or (family == "shl" and is_lit(ins[1])):
        return ins[:1]
    return None


#: the width-changing ops (no _i32/_i64 suffix in their names)
CONVERSIONS: dict[str, Callable[[tuple], str]] = {
    "ext_i32_i64": lambda i: f"(({i[0]} ^ 2147483648) - 2147483648) & 18446744073709551615",
    "extu_i32_i64": lambda i: i[0],
    "extrl_i64_i32": lambda i: f"{i[0]} & 4294967295",
    "extrh_i64_i32": lambda i: f"{i[0]} >> 32",
    "concat_i32_i64": lambda i: f"{i[0]} | ({i[1]} << 32)",
}


# ---------------------------------------------------------------------------- several statements


def double_word(outs: tuple, terms: list[tuple[str, str, str]], bits: int,
                scratch: str) -> list[str]:
    """``outs`` (low, high) = the sum of ``terms`` modulo 2**(2*bits), each term
    ``(sign, low, high)`` a double word (the first one's sign "+").  Single words (high
    "0") only added carry at most into the high word: no mask then."""
    def word(lo: str, hi: str) -> str:
        return lo if hi == "0" else f"({lo} | ({hi} << {bits}))"

    total = word(terms[0][1], terms[0][2])
    for sign, lo, hi in terms[1:]:
        total += f" {sign} {word(lo, hi)}"
    if any(sign == "-" or hi != "0" for sign, _lo, hi in terms):
        total = f"({total}) & {(1 << (2 * bits)) - 1}"
    return [f"{scratch} = {total}", f"{outs[0]} = {scratch} & {(1 << bits) - 1}",
            f"{outs[1]} = {scratch} >> {bits}"]


def multi_statement(family: str, outs: tuple, ins: tuple, bits: int, mask: int,
                    scratch: str) -> "list[str] | None":
    """Statements for ops with two outputs or that need a scratch variable.

    Every form computes into ``scratch`` before writing an output, because outputs may be
    inputs too (``add2 NF, CF, NF, CF, t, 0``).
    """
    if family == "mulu2":
        a, b = ins
        return [f"{scratch} = {a} * {b}", f"{outs[0]} = {scratch} & {mask}",
                f"{outs[1]} = {scratch} >> {bits}"]
    if family == "muls2":
        a, b = ins
        s = _signbit(bits)
        sa = str(((lit(a) ^ s) - s)) if is_lit(a) else f"(({a} ^ {s}) - {s})"
        sb = str(((lit(b) ^ s) - s)) if is_lit(b) else f"(({b} ^ {s}) - {s})"
        return [f"{scratch} = {sa} * {sb}", f"{outs[0]} = {scratch} & {mask}",
                f"{outs[1]} = ({scratch} >> {bits}) & {mask}"]
    if family in ("add2", "sub2"):
        al, ah, bl, bh = ins
        return double_word(outs, [("+", al, ah), ("+" if family == "add2" else "-", bl, bh)],
                           bits, scratch)
    if family in ("rotl", "rotr") and not is_lit(ins[1]):
        a, b = ins
        first, second = ("<<", ">>") if family == "rotl" else (">>", "<<")
        # n == 0 gives a | (a >> bits) or a | ((a << bits) & mask): a, as the reference
        return [f"{scratch} = {b} & {bits - 1}",
                f"{outs[0]} = (({a} {first} {scratch}) | ({a} {second} ({bits} - {scratch}))) & {mask}"]
    return None
