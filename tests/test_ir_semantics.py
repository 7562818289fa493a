"""The reference semantics of every value op in core.ir.BASE_OPS, against independent models.

The models below are written from TCG's docs/devel/tcg-ops.rst and the defined-undefined
cases of core/ir.py's module docstring (shift counts modulo the width, x / 0 = 0,
x % 0 = x, MIN / -1 = MIN rem 0, ``clz d, a, b`` = b for a == 0).  They deliberately do
not reuse any helper of core.ir (to_signed, cond_eval...), so a shared mistake cannot
hide.  Each op is called as ``opdef.impl(None, *inputs, *consts)``: ``None`` is the cpu a
constant folder passes, so every pure op must work without one.

Ops covered elsewhere (control ops and env/memory ops) are listed in SKIPPED; a test
checks that the tested and the skipped ops together are exactly BASE_OPS, so a new op
without a model here fails.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.ir import (
    BASE_OPS,
    Cond,
    Label,
    MemOp,
    OpFlag,
    OpTable,
    TempType,
    cond_eval,
    make_oi,
    memop_align_mask,
    memop_size,
    memop_str,
    oi_memop,
    oi_mmu_idx,
)

OPS = {d.name: d for d in BASE_OPS}
WIDTHS = (32, 64)
SUFFIX = {32: "i32", 64: "i64"}
LABEL = Label(0)

CONTROL_OPS = {"insn_start", "set_label", "br", "goto_tb", "exit_tb", "mb", "call"}
ENV_MEMORY_OPS = {f"{p}_{s}" for p in ("ld", "st", "qemu_ld", "qemu_st") for s in ("i32", "i64")}
SKIPPED = CONTROL_OPS | ENV_MEMORY_OPS

# Ten real comparisons, plus the two trivial ones.
REAL_CONDS = (Cond.EQ, Cond.NE, Cond.LT, Cond.GE, Cond.LE, Cond.GT,
              Cond.LTU, Cond.GEU, Cond.LEU, Cond.GTU)
ALL_CONDS = REAL_CONDS + (Cond.ALWAYS, Cond.NEVER)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- model helpers


def mask_of(w: int) -> int:
    return (1 << w) - 1


def signed(v: int, w: int) -> int:
    """Two's complement reading of the low w bits of v (independent of ir.to_signed)."""
    v %= 1 << w
    return v - (1 << w) if v >= 1 << (w - 1) else v


def wrap(v: int, w: int) -> int:
    return v % (1 << w)


def bitstr(a: int, w: int) -> str:
    return format(a, f"0{w}b")


def rotl(a: int, n: int, w: int) -> int:
    n %= w
    s = bitstr(a, w)
    return int(s[n:] + s[:n], 2)


def rotr(a: int, n: int, w: int) -> int:
    return rotl(a, (w - n % w) % w, w)


def clz(a: int, b: int, w: int) -> int:
    if a == 0:
        return b
    s = bitstr(a, w)
    return len(s) - len(s.lstrip("0"))


def sdiv(a: int, b: int, w: int) -> int:
    sa, sb = signed(a, w), signed(b, w)
    if sb == 0:
        return 0
    return wrap(int(Fraction(sa, sb)), w)  # int() of a Fraction truncates toward zero


def srem(a: int, b: int, w: int) -> int:
    sa, sb = signed(a, w), signed(b, w)
    if sb == 0:
        return a
    return wrap(sa - sb * int(Fraction(sa, sb)), w)


def bswap(a: int, nbytes: int) -> int:
    bs = [(a >> (8 * i)) & 0xFF for i in range(nbytes)]
    return sum(b << (8 * (nbytes - 1 - i)) for i, b in enumerate(bs))


def cond_model(cond: Cond, a: int, b: int, w: int) -> bool:
    sa, sb = signed(a, w), signed(b, w)
    return {
        Cond.EQ: a == b, Cond.NE: a != b,
        Cond.LT: sa < sb, Cond.GE: sa >= sb, Cond.LE: sa <= sb, Cond.GT: sa > sb,
        Cond.LTU: a < b, Cond.GEU: a >= b, Cond.LEU: a <= b, Cond.GTU: a > b,
        Cond.ALWAYS: True, Cond.NEVER: False,
    }[cond]


def extract(a: int, pos: int, ln: int) -> int:
    return int(bitstr(a, 128)[128 - pos - ln:128 - pos], 2)


def deposit(a: int, b: int, pos: int, ln: int, w: int) -> int:
    s = list(bitstr(a, w))
    field = bitstr(b & mask_of(ln), ln)
    s[w - pos - ln:w - pos] = field
    return int("".join(s), 2)


# --------------------------------------------------------------------------- strategies


def edge_values(w: int, full: bool) -> list[int]:
    """0, 1, MAX, MIN, MIN-1 (= MAX), MIN+1, all-ones, w-1/w/w+1 shift counts, byte edges;
    with ``full`` also every power of two and every 2**k - 1."""
    m = mask_of(w)
    lo = 1 << (w - 1)
    vals = {0, 1, 2, 3, 5, 7, lo - 1, lo, lo + 1, wrap(lo - 1, w), m, m - 1, w - 1, w, w + 1,
            2 * w, 2 * w + 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
            0x80000000, 0xFFFFFFFF, 0x1_0000_0000, 0x5555_5555_5555_5555, 0x1234_5678_9ABC_DEF0}
    if full:
        vals |= {1 << k for k in range(w)} | {(1 << k) - 1 for k in range(w + 1)}
        vals |= {m ^ (1 << k) for k in range(w)}
    return sorted({v & m for v in vals})


SMALL_EDGES = {w: edge_values(w, False) for w in WIDTHS}
TINY_EDGES = {w: [0, 1, mask_of(w - 1), 1 << (w - 1), mask_of(w)] for w in WIDTHS}
SHIFT_EDGES = {w: sorted({0, 1, w - 1, w, w + 1, 2 * w - 1, 2 * w, 3 * w + 5, mask_of(w),
                          1 << (w - 1)}) for w in WIDTHS}


def val(w: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, mask_of(w)), st.sampled_from(edge_values(w, True)))


def shift_count(w: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 4 * w), st.sampled_from(SHIFT_EDGES[w]),
                     st.integers(0, mask_of(w)))


def field(w: int) -> st.SearchStrategy[tuple[int, int]]:
    """(pos, len) with len >= 1 and pos + len <= w, biased both to short and long fields."""
    by_pos = st.integers(0, w - 1).flatmap(lambda p: st.tuples(st.just(p), st.integers(1, w - p)))
    by_len = st.integers(1, w).flatmap(lambda n: st.tuples(st.integers(0, w - n), st.just(n)))
    return st.one_of(by_pos, by_len, st.sampled_from([(0, w), (w - 1, 1), (0, 1), (w // 2, w // 2)]))


def all_fields(w: int) -> list[tuple[int, int]]:
    return [(p, n) for n in range(1, w + 1) for p in range(0, w - n + 1)]


# --------------------------------------------------------------------------- the spec table


class Spec:
    """How to exercise one op: a strategy for (inputs + consts), deterministic edge
    argument tuples, and the model returning the outputs as a tuple (or a bool for brcond)."""

    def __init__(self, strategy, edges: Callable[[], list[tuple]], model: Callable[..., object]):
        self.strategy = strategy
        self.edges = edges
        self.model = model


SPECS: dict[str, Spec] = {}


def spec(name: str, strategy, edges, model) -> None:
    assert name not in SPECS, name
    SPECS[name] = Spec(strategy, edges, model)


def _binary_model(w: int, fn):
    return lambda a, b: (fn(a, b, w),)


BINARY_MODELS = {
    "add": lambda a, b, w: wrap(a + b, w),
    "sub": lambda a, b, w: wrap(a - b, w),
    "mul": lambda a, b, w: wrap(a * b, w),
    "and": lambda a, b, w: a & b,
    "or": lambda a, b, w: a | b,
    "xor": lambda a, b, w: a ^ b,
    "andc": lambda a, b, w: a & (mask_of(w) - b),
    "orc": lambda a, b, w: a | (mask_of(w) - b),
    "shl": lambda a, b, w: wrap(a * 2 ** (b % w), w),
    "shr": lambda a, b, w: a // 2 ** (b % w),
    "sar": lambda a, b, w: wrap(signed(a, w) // 2 ** (b % w), w),
    "rotl": lambda a, b, w: rotl(a, b, w),
    "rotr": lambda a, b, w: rotr(a, b, w),
    "div": sdiv,
    "divu": lambda a, b, w: a // b if b else 0,
    "rem": srem,
    "remu": lambda a, b, w: a % b if b else a,
    "clz": clz,
}
SHIFTS = {"shl", "shr", "sar", "rotl", "rotr"}


def _define_specs() -> None:
    for w in WIDTHS:
        s = SUFFIX[w]
        m = mask_of(w)
        E, T = SMALL_EDGES[w], TINY_EDGES[w]

        def pairs(E=E):
            return list(itertools.product(E, E))

        def singles(E=E):
            return [(a,) for a in E]

        for name, fn in BINARY_MODELS.items():
            second = shift_count(w) if name in SHIFTS else val(w)
            if name == "clz":
                second = st.one_of(val(w), st.sampled_from([0, w, w - 1]))
            if name in SHIFTS:
                edges = (lambda E=E, w=w: list(itertools.product(E, SHIFT_EDGES[w]
                                                                 + list(range(2 * w + 2)))))
            else:
                edges = pairs
            spec(f"{name}_{s}", st.tuples(val(w), second), edges, _binary_model(w, fn))

        spec(f"mov_{s}", st.tuples(val(w)), singles, lambda a: (a,))
        spec(f"movi_{s}", st.tuples(st.integers(-(1 << (w + 8)), 1 << (w + 8))),
             lambda E=E, m=m, w=w: [(v,) for v in E] + [(-1,), (-(m + 1),), (m + 1,),
                                         (1 << (w + 3),)],
             lambda v, w=w: (wrap(v, w),))
        spec(f"neg_{s}", st.tuples(val(w)), singles, lambda a, w=w: (wrap(-a, w),))
        spec(f"not_{s}", st.tuples(val(w)), singles, lambda a, m=m: (m - a,))
        for n in (8, 16) + ((32,) if w == 64 else ()):
            spec(f"ext{n}s_{s}", st.tuples(val(w)), singles,
                 lambda a, n=n, w=w: (wrap(signed(a % 2 ** n, n), w),))
            spec(f"ext{n}u_{s}", st.tuples(val(w)), singles, lambda a, n=n: (a % 2 ** n,))
        for nb in (2, 4) + ((8,) if w == 64 else ()):
            spec(f"bswap{8 * nb}_{s}", st.tuples(val(w)), singles,
                 lambda a, nb=nb: (bswap(a, nb),))

        spec(f"extract_{s}", st.tuples(val(w), field(w)).map(lambda t: (t[0], *t[1])),
             lambda T=T, w=w: [(a, p, n) for a in T + [0x5A5A_5A5A_5A5A_5A5A & mask_of(w)]
                               for p, n in all_fields(w)],
             lambda a, p, n: (extract(a, p, n),))
        spec(f"sextract_{s}", st.tuples(val(w), field(w)).map(lambda t: (t[0], *t[1])),
             lambda T=T, w=w: [(a, p, n) for a in T + [0x5A5A_5A5A_5A5A_5A5A & mask_of(w)]
                               for p, n in all_fields(w)],
             lambda a, p, n, w=w: (wrap(signed(extract(a, p, n), n), w),))
        spec(f"deposit_{s}", st.tuples(val(w), val(w), field(w)).map(lambda t: (t[0], t[1], *t[2])),
             lambda T=T, w=w: [(a, b, p, n) for a in T for b in T for p, n in all_fields(w)
                               if n in (1, 7, 8, w - 1, w) or p in (0, 1, w - n)],
             lambda a, b, p, n, w=w: (deposit(a, b, p, n, w),))

        conds = st.sampled_from(ALL_CONDS)
        spec(f"setcond_{s}", st.tuples(val(w), val(w), conds),
             lambda E=E: [(a, b, c) for a, b in itertools.product(E, E) for c in ALL_CONDS],
             lambda a, b, c, w=w: (int(cond_model(c, a, b, w)),))
        spec(f"movcond_{s}", st.tuples(val(w), val(w), val(w), val(w), conds),
             lambda T=T: [(c1, c2, 0x1234, 0x5678, c) for c1, c2 in itertools.product(T, T)
                          for c in ALL_CONDS]
             + [(c1, c2, v1, v2, Cond.LT) for c1, c2, v1, v2 in itertools.product(T, repeat=4)],
             lambda c1, c2, v1, v2, c, w=w: (v1 if cond_model(c, c1, c2, w) else v2,))
        spec(f"brcond_{s}", st.tuples(val(w), val(w), conds, st.just(LABEL)),
             lambda E=E: [(a, b, c, LABEL) for a, b in itertools.product(E, E) for c in ALL_CONDS],
             lambda a, b, c, label, w=w: cond_model(c, a, b, w))

        def mulu2(a, b, w=w):
            p = a * b
            return (p % 2 ** w, p // 2 ** w)

        def muls2(a, b, w=w):
            p = signed(a, w) * signed(b, w)
            lo = p % 2 ** w
            hi = (p - lo) // 2 ** w  # exact: p == signed(hi) * 2**w + lo
            return (lo, wrap(hi, w))

        def add2(al, ah, bl, bh, w=w):
            r = (al + (ah << w) + bl + (bh << w)) % 2 ** (2 * w)
            return (r % 2 ** w, r // 2 ** w)

        def sub2(al, ah, bl, bh, w=w):
            r = (al + (ah << w) - bl - (bh << w)) % 2 ** (2 * w)
            return (r % 2 ** w, r // 2 ** w)

        spec(f"mulu2_{s}", st.tuples(val(w), val(w)), pairs, mulu2)
        spec(f"muls2_{s}", st.tuples(val(w), val(w)), pairs, muls2)
        quads = lambda T=T: list(itertools.product(T, repeat=4))  # noqa: E731
        spec(f"add2_{s}", st.tuples(val(w), val(w), val(w), val(w)), quads, add2)
        spec(f"sub2_{s}", st.tuples(val(w), val(w), val(w), val(w)), quads, sub2)

    E32, E64 = SMALL_EDGES[32], SMALL_EDGES[64]
    spec("ext_i32_i64", st.tuples(val(32)), lambda: [(a,) for a in E32],
         lambda a: (wrap(signed(a, 32), 64),))
    spec("extu_i32_i64", st.tuples(val(32)), lambda: [(a,) for a in E32], lambda a: (a,))
    spec("extrl_i64_i32", st.tuples(val(64)), lambda: [(a,) for a in E64],
         lambda a: (a % 2 ** 32,))
    spec("extrh_i64_i32", st.tuples(val(64)), lambda: [(a,) for a in E64],
         lambda a: (a // 2 ** 32,))
    spec("concat_i32_i64", st.tuples(val(32), val(32)),
         lambda: list(itertools.product(E32, E32)), lambda lo, hi: (lo + hi * 2 ** 32,))


_define_specs()
TESTED = sorted(SPECS)


# --------------------------------------------------------------------------- the checks


def run(name: str, args: tuple):
    d = OPS[name]
    n_in = d.inputs
    return d.impl(None, *args[:n_in], *args[n_in:])


def check(name: str, args: tuple) -> None:
    d = OPS[name]
    assert len(args) == d.inputs + d.consts, (name, args)
    got = run(name, args)
    want = SPECS[name].model(*args)
    if d.outputs == 0:  # brcond: the control decision
        assert isinstance(got, bool), (name, args, got)
        assert got == want, f"{name}{args}: got {got}, expected {want}"
        return
    outs = got if isinstance(got, tuple) else (got,)
    assert len(outs) == d.outputs, f"{name}{args}: {len(outs)} outputs, expected {d.outputs}"
    assert outs == want, f"{name}{args}: got {tuple(map(hex, outs))}, expected {tuple(map(hex, want))}"
    for v, t in zip(outs, d.types[:d.outputs]):
        assert isinstance(v, int) and 0 <= v < 2 ** int(t), f"{name}{args}: {v:#x} out of range"


def test_every_op_is_tested_or_explicitly_skipped():
    all_names = set(OPS)
    assert len(all_names) == len(BASE_OPS), "duplicate op names in BASE_OPS"
    assert SKIPPED <= all_names, f"stale skip entries: {sorted(SKIPPED - all_names)}"
    assert not set(TESTED) & SKIPPED
    missing = all_names - set(TESTED) - SKIPPED
    assert not missing, f"ops without a semantic model/test: {sorted(missing)}"
    assert set(TESTED) | SKIPPED == all_names


@pytest.mark.parametrize("name", TESTED)
def test_op_edge_cases(name):
    """Deterministic sweep of edge values (and every bit field for extract/deposit)."""
    for args in SPECS[name].edges():
        check(name, args)


@pytest.mark.parametrize("name", TESTED)
@FAST
@given(data=st.data())
def test_op_against_model(name, data):
    check(name, data.draw(SPECS[name].strategy, label="args"))


# Per-family runs with more examples on the families with the most interesting corners.
@pytest.mark.parametrize("family", ["div", "rem", "divu", "remu", "sar", "rotl", "rotr",
                                    "muls2", "sub2"])
@pytest.mark.parametrize("w", WIDTHS)
@MANY
@given(data=st.data())
def test_tricky_families_many_examples(family, w, data):
    name = f"{family}_{SUFFIX[w]}"
    check(name, data.draw(SPECS[name].strategy, label="args"))


# ---- known answers: guard the models themselves against a shared misconception


def k(name, *args):
    return run(name, args)


@pytest.mark.parametrize("w", WIDTHS)
def test_known_answers_defined_undefined_cases(w):
    s, m = SUFFIX[w], mask_of(w)
    MIN = 1 << (w - 1)
    assert k(f"div_{s}", 7, 0) == 0
    assert k(f"divu_{s}", 7, 0) == 0
    assert k(f"rem_{s}", 7, 0) == 7
    assert k(f"remu_{s}", m, 0) == m
    assert k(f"div_{s}", MIN, m) == MIN  # MIN / -1
    assert k(f"rem_{s}", MIN, m) == 0
    assert k(f"div_{s}", wrap(-7, w), 2) == wrap(-3, w)  # truncating, not flooring
    assert k(f"rem_{s}", wrap(-7, w), 2) == wrap(-1, w)  # sign of the dividend
    assert k(f"rem_{s}", 7, wrap(-2, w)) == 1
    assert k(f"clz_{s}", 0, 1234) == 1234
    assert k(f"clz_{s}", 1, 0) == w - 1
    assert k(f"clz_{s}", MIN, 0) == 0
    assert k(f"shl_{s}", 1, w) == 1  # count modulo the width
    assert k(f"shl_{s}", 1, w + 3) == 8
    assert k(f"shr_{s}", MIN, w - 1) == 1
    assert k(f"sar_{s}", MIN, w - 1) == m
    assert k(f"sar_{s}", MIN, w) == MIN
    assert k(f"rotl_{s}", MIN | 1, 1) == 3
    assert k(f"rotr_{s}", 3, 1) == MIN | 1
    assert k(f"rotr_{s}", 3, w) == 3
    assert k(f"orc_{s}", 0, 0) == m
    assert k(f"andc_{s}", m, 1) == m - 1
    assert k(f"neg_{s}", 1) == m
    assert k(f"neg_{s}", MIN) == MIN
    assert k(f"add_{s}", m, 1) == 0
    assert k(f"sub_{s}", 0, 1) == m
    assert k(f"mulu2_{s}", m, m) == (1, m - 1)
    assert k(f"muls2_{s}", m, m) == (1, 0)  # -1 * -1
    assert k(f"muls2_{s}", MIN, 2) == (0, m)  # MIN * 2 = -2**w
    assert k(f"add2_{s}", m, 0, 1, 0) == (0, 1)  # carry into the high half
    assert k(f"sub2_{s}", 0, 0, 1, 0) == (m, m)
    assert k(f"ext8s_{s}", 0x80) == m - 0x7F
    assert k(f"ext16u_{s}", m) == 0xFFFF
    assert k(f"bswap16_{s}", 0xAABB_1234 & m) == 0x3412  # zero-extended, high bits dropped
    assert k(f"bswap32_{s}", 0x1234_5678) == 0x7856_3412
    assert k(f"extract_{s}", 0xABCD, 4, 8) == 0xBC
    assert k(f"sextract_{s}", 0x0F80, 4, 8) == m - 7
    assert k(f"deposit_{s}", m, 0, 4, 8) == m ^ 0xFF0
    assert k(f"setcond_{s}", m, 0, Cond.LT) == 1
    assert k(f"setcond_{s}", m, 0, Cond.LTU) == 0
    assert k(f"movcond_{s}", 1, 2, 10, 20, Cond.GT) == 20
    assert k(f"brcond_{s}", 0, 0, Cond.EQ, LABEL) is True
    assert k(f"movi_{s}", -1) == m


def test_known_answers_64_bit_only():
    assert k("bswap64_i64", 0x0102_0304_0506_0708) == 0x0807_0605_0403_0201
    assert k("ext32s_i64", 0x8000_0000) == 0xFFFF_FFFF_8000_0000
    assert k("ext32u_i64", 0xFFFF_FFFF_8000_0000) == 0x8000_0000
    assert k("ext_i32_i64", 0xFFFF_FFFF) == 0xFFFF_FFFF_FFFF_FFFF
    assert k("extu_i32_i64", 0xFFFF_FFFF) == 0xFFFF_FFFF
    assert k("extrl_i64_i32", 0x1234_5678_9ABC_DEF0) == 0x9ABC_DEF0
    assert k("extrh_i64_i32", 0x1234_5678_9ABC_DEF0) == 0x1234_5678
    assert k("concat_i32_i64", 0x9ABC_DEF0, 0x1234_5678) == 0x1234_5678_9ABC_DEF0


# --------------------------------------------------------------------------- the table


def test_every_opdef_has_doc_and_consistent_types():
    for d in BASE_OPS:
        assert isinstance(d.doc, str) and d.doc.strip(), f"{d.name} has no doc"
        if d.name != "call":
            assert len(d.types) == d.outputs + d.inputs, d.name
        assert d.nargs == d.outputs + d.inputs + d.consts
        assert d.impl is not None, d.name
        assert d.provider == "core"
        assert all(isinstance(t, TempType) for t in d.types), d.name


def test_widths_follow_the_suffix():
    for d in BASE_OPS:
        if d.name in ("ext_i32_i64", "extu_i32_i64"):
            assert d.types == (TempType.I64, TempType.I32)
        elif d.name in ("extrl_i64_i32", "extrh_i64_i32"):
            assert d.types == (TempType.I32, TempType.I64)
        elif d.name == "concat_i32_i64":
            assert d.types == (TempType.I64, TempType.I32, TempType.I32)
        elif d.name.startswith(("qemu_ld_", "qemu_st_")):
            t = TempType.I64 if d.name.endswith("_i64") else TempType.I32
            assert d.types == (t, TempType.I32), d.name  # value, then the 32-bit guest address
        elif d.name.endswith(("_i32", "_i64")):
            t = TempType.I64 if d.name.endswith("_i64") else TempType.I32
            assert set(d.types) <= {t}, d.name
        if d.name.endswith("_i64"):
            assert d.flags & OpFlag.I64, d.name
        elif d.name.endswith("_i32"):
            assert not d.flags & OpFlag.I64, d.name


def test_shapes_of_multi_output_ops():
    for s in ("i32", "i64"):
        assert (OPS[f"mulu2_{s}"].outputs, OPS[f"mulu2_{s}"].inputs) == (2, 2)
        assert (OPS[f"add2_{s}"].outputs, OPS[f"add2_{s}"].inputs) == (2, 4)
        assert (OPS[f"movcond_{s}"].inputs, OPS[f"movcond_{s}"].consts) == (4, 1)
        assert (OPS[f"deposit_{s}"].inputs, OPS[f"deposit_{s}"].consts) == (2, 2)
        assert (OPS[f"extract_{s}"].inputs, OPS[f"extract_{s}"].consts) == (1, 2)
        assert (OPS[f"brcond_{s}"].outputs, OPS[f"brcond_{s}"].inputs,
                OPS[f"brcond_{s}"].consts) == (0, 2, 2)


def test_control_and_memory_flags():
    for s in ("i32", "i64"):
        f = OPS[f"brcond_{s}"].flags
        assert f & OpFlag.BB_END and f & OpFlag.COND_BRANCH
        for op in ("qemu_ld", "qemu_st"):
            f = OPS[f"{op}_{s}"].flags
            assert f & OpFlag.MEMORY and f & OpFlag.SIDE_EFFECTS, op
        assert OPS[f"st_{s}"].flags & OpFlag.SIDE_EFFECTS
    for name in ("goto_tb", "exit_tb"):
        assert OPS[name].flags & OpFlag.BB_EXIT and OPS[name].flags & OpFlag.BB_END
    assert OPS["br"].flags & OpFlag.BB_END and not OPS["br"].flags & OpFlag.COND_BRANCH
    assert OPS["set_label"].flags & OpFlag.BB_END
    assert OPS["mb"].flags & OpFlag.SIDE_EFFECTS
    assert OPS["call"].flags & OpFlag.CALL_CLOBBER and OPS["call"].flags & OpFlag.SIDE_EFFECTS
    # Only branches are COND_BRANCH, only TB exits BB_EXIT, only guest accesses MEMORY.
    for d in BASE_OPS:
        assert bool(d.flags & OpFlag.COND_BRANCH) == d.name.startswith("brcond_"), d.name
        assert bool(d.flags & OpFlag.BB_EXIT) == (d.name in ("goto_tb", "exit_tb")), d.name
        assert bool(d.flags & OpFlag.MEMORY) == d.name.startswith(("qemu_ld_", "qemu_st_")), d.name
        assert bool(d.flags & OpFlag.ENV) == d.name.startswith(("ld_", "st_")), d.name
        # the booleans OpDef computes once from its flags, for the hot paths that ask
        assert (d.cond_branch, d.bb_exit, d.env_access, d.i64) == (
            OpFlag.COND_BRANCH in d.flags, OpFlag.BB_EXIT in d.flags,
            OpFlag.ENV in d.flags, OpFlag.I64 in d.flags), d.name
        assert d.i64 == (d.name.endswith("_i64") or d.name in (
            "extu_i32_i64", "ext_i32_i64", "concat_i32_i64")), d.name


@pytest.mark.parametrize("name", TESTED)
def test_value_ops_are_pure(name):
    d = OPS[name]
    if name.startswith("brcond_"):
        assert not d.pure  # a branch ends the block: not foldable away
    else:
        assert d.pure, name


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_control_env_and_memory_ops_are_not_pure(name):
    assert not OPS[name].pure, f"{name} reports pure=True but is a control/env/memory op"


def test_pure_ops_run_without_a_cpu():
    """OpDef's contract: a pure op is folded with cpu=None."""
    for d in BASE_OPS:
        if d.pure:
            assert d.name in SPECS, f"pure op {d.name} is neither modelled nor known"


def test_optable_holds_all_base_ops():
    table = OpTable()
    assert len(table) == len(BASE_OPS)
    assert table.names() == sorted(OPS)
    for d in BASE_OPS:
        assert table[d.name] is d and d.name in table and table.get(d.name) is d
    assert table.get("nope_i32") is None and "nope_i32" not in table


# --------------------------------------------------------------------------- Cond


def test_cond_values_are_distinct_and_classified():
    assert len(set(Cond)) == 12
    assert {c for c in Cond if c.is_unsigned} == {Cond.LTU, Cond.GEU, Cond.LEU, Cond.GTU}


@pytest.mark.parametrize("w", WIDTHS)
@MANY
@given(data=st.data())
def test_cond_eval_invert_and_swap(w, data):
    a = data.draw(val(w), label="a")
    b = data.draw(st.one_of(val(w), st.just(a)), label="b")
    for c in ALL_CONDS:
        r = cond_eval(c, a, b, w)
        assert r == cond_model(c, a, b, w), (c, a, b)
        assert cond_eval(c.invert(), a, b, w) == (not r), (c, a, b)
        assert cond_eval(c.swap(), b, a, w) == r, (c, a, b)


def test_cond_invert_and_swap_are_involutions():
    for c in Cond:
        assert c.invert().invert() is c
        assert c.swap().swap() is c
        assert c.invert() is not c
        assert c.swap().is_unsigned == c.is_unsigned
        assert c.invert().is_unsigned == c.is_unsigned
    assert Cond.LT.swap() is Cond.GT and Cond.LEU.swap() is Cond.GEU
    assert Cond.EQ.swap() is Cond.EQ and Cond.LT.invert() is Cond.GE


# --------------------------------------------------------------------------- MemOp


def test_memop_size():
    assert [memop_size(m) for m in (MemOp.MO_8, MemOp.MO_16, MemOp.MO_32, MemOp.MO_64)] == [1, 2, 4, 8]
    assert memop_size(MemOp.SL | MemOp.MO_BSWAP | MemOp.MO_ALIGN) == 4
    assert memop_size(MemOp.BEUQ) == 8
    assert memop_size(MemOp.SB) == 1


def test_memop_align_mask():
    for size, m in ((1, MemOp.MO_8), (2, MemOp.MO_16), (4, MemOp.MO_32), (8, MemOp.MO_64)):
        assert memop_align_mask(m) == 0  # unaligned allowed
        assert memop_align_mask(m | MemOp.MO_ALIGN) == size - 1  # natural
        assert memop_align_mask(m | MemOp.MO_SIGN | MemOp.MO_BSWAP | MemOp.MO_ALIGN) == size - 1
        assert memop_align_mask(m | MemOp.MO_ALIGN_2) == 1
        assert memop_align_mask(m | MemOp.MO_ALIGN_4) == 3
        assert memop_align_mask(m | MemOp.MO_ALIGN_8) == 7
        assert memop_align_mask(m | MemOp.MO_ALIGN_16) == 15


@given(memop=st.integers(0, 0xFF), mmu_idx=st.integers(0, 15))
@settings(max_examples=200, deadline=None)
def test_oi_round_trip(memop, mmu_idx):
    oi = make_oi(memop, mmu_idx)
    assert oi_memop(oi) == memop
    assert oi_mmu_idx(oi) == mmu_idx
    assert make_oi(memop) == memop << 4  # default mmu index 0


def test_oi_layout():
    assert make_oi(MemOp.UL, 3) == (2 << 4) | 3
    assert make_oi(MemOp.BEUW | MemOp.MO_ALIGN, 15) == ((1 | 8 | 0xE0) << 4) | 15
    assert isinstance(make_oi(MemOp.UQ), int)


def test_memop_str():
    assert memop_str(MemOp.UB) == "leub"
    assert memop_str(MemOp.SW) == "lesw"
    assert memop_str(MemOp.BEUL | MemOp.MO_ALIGN) == "beul+al"
    assert memop_str(MemOp.UQ) == "leuq"
