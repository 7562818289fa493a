"""core.builder.Builder: validation of every emitted op, the width-generic forms, constants,
labels, helper calls, TB dumps, and the op table (duplicates, shapes, plugin ops)."""

from __future__ import annotations

import pytest

from core.builder import Builder, IRError
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
    OpDef,
    OpFlag,
    OpTable,
    Temp,
    TempKind,
    TranslationBlock,
    make_oi,
)


@pytest.fixture
def tb():
    return TranslationBlock(pc=0x1000)


@pytest.fixture
def b(tb):
    return Builder(tb, OpTable())


def names(tb):
    return [op.name for op in tb.ops]


# --------------------------------------------------------------------------- temps


def test_temp_new_allocates_frame_slots(b, tb):
    t0 = b.temp_new_i32()
    t1 = b.temp_new_i64("wide")
    t2 = b.temp_new()
    assert (t0.kind, t0.type, t0.index) == (TempKind.LOCAL, I32, 0)
    assert (t1.kind, t1.type, t1.index, t1.name) == (TempKind.LOCAL, I64, 1, "wide")
    assert (t2.type, t2.index) == (I32, 2)
    assert tb.n_locals == 3 and tb.locals == [t0, t1, t2]


def test_constants_are_interned_per_type_and_masked(b):
    c = b.const_i32(5)
    assert c.is_const and c.kind is TempKind.CONST and c.value == 5 and c.type is I32
    assert b.const_i32(5) is c
    assert b.const(I32, 5) is c
    assert b.const_i64(5) is not c and b.const_i64(5).type is I64
    assert b.const_i32(-1) is b.const_i32(M32) and b.const_i32(-1).value == M32
    assert b.const_i64(-1).value == M64
    assert b.const_i32(1 << 32) is b.const_i32(0)
    assert b.const_i32(6) is not c
    other = Builder(TranslationBlock(pc=0), OpTable())
    assert other.const_i32(5) is not c  # interned per builder (TB), not globally


# --------------------------------------------------------------------------- emit


def test_emit_appends_a_validated_op(b, tb):
    d, a, c = b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i32()
    op = b.emit("add_i32", d, a, c)
    assert tb.ops == [op]
    assert op.name == "add_i32" and op.opdef is b.optable["add_i32"]
    assert op.args == (d, a, c)
    assert op.split() == ((d,), (a, c), ())


@pytest.mark.parametrize("nargs", [0, 2, 4])
def test_emit_checks_arity(b, tb, nargs):
    ts = [b.temp_new_i32() for _ in range(nargs)]
    with pytest.raises(IRError, match=r"add_i32: expected 1 outputs, 2 inputs and 0 constants, "
                                      rf"got {nargs} arguments"):
        b.emit("add_i32", *ts)
    assert tb.ops == []


def test_emit_checks_arity_of_constants(b):
    d, a = b.temp_new_i32(), b.temp_new_i32()
    with pytest.raises(IRError, match="extract_i32"):
        b.emit("extract_i32", d, a, 4)  # len missing
    with pytest.raises(IRError, match="setcond_i32"):
        b.emit("setcond_i32", d, a, a)  # cond missing


@pytest.mark.parametrize("position", [0, 1, 2])
def test_emit_rejects_width_mismatch_naming_op_and_argument(b, tb, position):
    args = [b.temp_new_i32() for _ in range(3)]
    args[position] = b.temp_new_i64("wide")
    with pytest.raises(IRError) as e:
        b.emit("add_i32", *args)
    msg = str(e.value)
    assert "add_i32" in msg and f"argument {position}" in msg
    assert "wide" in msg and "i64" in msg and "expected i32" in msg
    assert tb.ops == []


def test_emit_checks_mixed_width_ops(b):
    d64, a32, a64 = b.temp_new_i64(), b.temp_new_i32(), b.temp_new_i64()
    b.emit("ext_i32_i64", d64, a32)
    with pytest.raises(IRError, match=r"ext_i32_i64: argument 1 .* is i64, expected i32"):
        b.emit("ext_i32_i64", d64, a64)
    with pytest.raises(IRError, match=r"ext_i32_i64: argument 0 .* is i32, expected i64"):
        b.emit("ext_i32_i64", a32, a32)
    # qemu_ld_i64: a 64-bit value from a 32-bit guest address
    b.emit("qemu_ld_i64", d64, a32, make_oi(MemOp.UQ))
    with pytest.raises(IRError, match="qemu_ld_i64: argument 1"):
        b.emit("qemu_ld_i64", d64, a64, make_oi(MemOp.UQ))


def test_emit_rejects_non_temp_in_temp_position(b):
    d, a = b.temp_new_i32(), b.temp_new_i32()
    with pytest.raises(IRError, match=r"add_i32: argument 2 must be a temp, got 5"):
        b.emit("add_i32", d, a, 5)
    with pytest.raises(IRError, match=r"add_i32: argument 0 must be a temp"):
        b.emit("add_i32", None, a, a)


def test_emit_rejects_temps_as_constants(b, tb):
    d, a, pos = b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i32("pos")
    with pytest.raises(IRError, match=r"extract_i32: constant argument given a temp \(pos\)"):
        b.emit("extract_i32", d, a, pos, 4)
    with pytest.raises(IRError, match="movi_i32: constant argument given a temp"):
        b.emit("movi_i32", d, b.const_i32(3))  # even a constant *temp*
    with pytest.raises(IRError, match="setcond_i32"):
        b.emit("setcond_i32", d, a, a, b.const_i32(int(Cond.EQ)))
    assert tb.ops == []


def test_emit_rejects_constant_outputs(b):
    a = b.temp_new_i32()
    with pytest.raises(IRError, match=r"mov_i32: output 0 is a constant \(\$0x1\)"):
        b.emit("mov_i32", b.const_i32(1), a)
    lo = b.temp_new_i32()
    with pytest.raises(IRError, match=r"mulu2_i32: output 1 is a constant"):
        b.emit("mulu2_i32", lo, b.const_i32(0), a, a)
    # constants are fine as inputs
    b.emit("mov_i32", a, b.const_i32(1))


def test_emit_accepts_global_temps(b):
    g = Temp(TempKind.GLOBAL, I32, 3, "r3")
    b.emit("add_i32", g, g, b.const_i32(1))
    assert str(b.tb.ops[-1]) == "add_i32 r3,r3,$0x1"


def test_unknown_op_is_an_irerror(b):
    with pytest.raises(IRError, match=r"unknown IR op 'frob_i32'"):
        b.emit("frob_i32")
    with pytest.raises(IRError, match="unknown IR op 'add'"):
        b.emit("add", b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i32())


def test_call_cannot_be_emitted_directly(b):
    h = Helper("h", lambda cpu: None, None, ())
    with pytest.raises(IRError, match="Builder.call"):
        b.emit("call", h)


# --------------------------------------------------------------------------- attribute access


def test_every_table_op_is_an_attribute(b, tb):
    d, a, c = b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i32()
    op = b.add_i32(d, a, c)
    assert tb.ops == [op] and op.name == "add_i32" and op.args == (d, a, c)
    b.extract_i32(d, a, 3, 5)
    b.qemu_ld_i32(d, a, make_oi(MemOp.UL))
    assert names(tb) == ["add_i32", "extract_i32", "qemu_ld_i32"]
    for opdef in BASE_OPS:
        assert callable(getattr(b, opdef.name)), opdef.name


def test_attribute_ops_are_validated(b):
    d, a = b.temp_new_i32(), b.temp_new_i64()
    with pytest.raises(IRError, match="add_i32: argument 2"):
        b.add_i32(d, d, a)
    with pytest.raises(IRError, match="add_i32: expected"):
        b.add_i32(d, d)


def test_unknown_attribute_is_an_attributeerror(b):
    with pytest.raises(AttributeError):
        b.frob_i32
    assert not hasattr(b, "add_i128")
    assert not hasattr(b, "qemu_ldlink_i32")  # plugin op, not in the base table
    # call goes through the checked Builder.call method, not a raw emitter
    assert b.call.__func__ is Builder.call


# --------------------------------------------------------------------------- width-generic forms

GENERIC_BINARY = ["add", "sub", "mul", "and", "or", "xor", "andc", "orc", "shl", "shr", "sar",
                  "rotl", "rotr", "div", "divu", "rem", "remu", "clz"]
GENERIC_UNARY = ["mov", "neg", "not", "ext8s", "ext8u", "ext16s", "ext16u", "bswap16", "bswap32"]


def method_name(op):
    return op + "_" if op in ("and", "or", "not") else op


@pytest.mark.parametrize("op", GENERIC_BINARY)
@pytest.mark.parametrize("t", [I32, I64])
def test_generic_binary_takes_width_from_destination(b, tb, op, t):
    d, a = b.temp_new(t), b.temp_new(t)
    emitted = getattr(b, method_name(op))(d, a, 5)
    assert emitted.name == f"{op}_{t.suffix}"
    assert emitted.args[:2] == (d, a)
    c = emitted.args[2]
    assert c.is_const and c.type is t and c.value == 5
    assert c is b.const(t, 5)
    # an int first operand also becomes a constant of d's width
    emitted = getattr(b, method_name(op))(d, -1, a)
    assert emitted.args[1] is b.const(t, t.mask) and emitted.args[2] is a


@pytest.mark.parametrize("op", GENERIC_UNARY)
@pytest.mark.parametrize("t", [I32, I64])
def test_generic_unary_takes_width_from_destination(b, op, t):
    d, a = b.temp_new(t), b.temp_new(t)
    assert getattr(b, method_name(op))(d, a).name == f"{op}_{t.suffix}"
    emitted = getattr(b, method_name(op))(d, 7)
    assert emitted.args == (d, b.const(t, 7))


def test_generic_forms_still_check_widths(b):
    d32, a64 = b.temp_new_i32(), b.temp_new_i64()
    with pytest.raises(IRError, match="add_i32: argument 1"):
        b.add(d32, a64, 1)
    with pytest.raises(IRError, match="neg_i32: argument 1"):
        b.neg(d32, a64)


def test_constant_reuse_across_generic_forms(b):
    d, a = b.temp_new_i32(), b.temp_new_i32()
    op1 = b.add(d, a, 5)
    op2 = b.sub(d, a, 5)
    assert op1.args[2] is op2.args[2]
    assert b.add(d, a, 5 + (1 << 32)).args[2] is op1.args[2]


@pytest.mark.parametrize("t,mask", [(I32, M32), (I64, M64)])
def test_movi_masks_to_width(b, t, mask):
    d = b.temp_new(t)
    assert b.movi(d, -1).args == (d, mask)
    assert b.movi(d, mask + 2).args == (d, 1)
    assert b.movi(d, 0x1234).name == f"movi_{t.suffix}"


def test_setcond_and_movcond(b):
    d, a = b.temp_new_i32(), b.temp_new_i32()
    op = b.setcond(Cond.LTU, d, a, 9)
    assert op.name == "setcond_i32" and op.args == (d, a, b.const_i32(9), Cond.LTU)
    d64, a64 = b.temp_new_i64(), b.temp_new_i64()
    op = b.setcond(Cond.EQ, d64, a64, a64)
    assert op.name == "setcond_i64"
    op = b.movcond(Cond.GT, d, a, 0, 1, a)
    assert op.name == "movcond_i32"
    assert op.args == (d, a, b.const_i32(0), b.const_i32(1), a, Cond.GT)
    assert op.split() == ((d,), (a, b.const_i32(0), b.const_i32(1), a), (Cond.GT,))


def test_brcond_generic(b, tb):
    a = b.temp_new_i64()
    label = b.new_label()
    op = b.brcond(Cond.NE, a, 0, label)
    assert op.name == "brcond_i64"
    assert op.args == (a, b.const_i64(0), Cond.NE, label)
    assert op.split() == ((), (a, b.const_i64(0)), (Cond.NE, label))


def test_brcond_always_emits_br_and_never_emits_nothing(b, tb):
    a = b.temp_new_i32()
    label = b.new_label()
    op = b.brcond(Cond.ALWAYS, a, 0, label)
    assert op.name == "br" and op.args == (label,)
    assert names(tb) == ["br"]
    assert b.brcond(Cond.NEVER, a, 0, label) is None
    assert names(tb) == ["br"]


@pytest.mark.parametrize("t", [I32, I64])
def test_extract_and_deposit_fields(b, tb, t):
    w = int(t)
    d, a = b.temp_new(t), b.temp_new(t)
    assert b.extract(d, a, 0, w).args == (d, a, 0, w)
    assert b.extract(d, a, w - 1, 1).name == f"extract_{t.suffix}"
    assert b.sextract(d, a, 3, w - 3).name == f"sextract_{t.suffix}"
    op = b.deposit(d, a, 0xFF, 8, 8)
    assert op.name == f"deposit_{t.suffix}" and op.args == (d, a, b.const(t, 0xFF), 8, 8)
    n = len(tb.ops)
    for pos, length in [(0, 0), (0, w + 1), (w, 1), (1, w), (-1, 2), (w - 3, 4)]:
        for fn, extra in ((b.extract, ()), (b.sextract, ()), (b.deposit, (a,))):
            with pytest.raises(IRError, match=rf"pos={pos} len={length} does not fit {t.suffix}"):
                fn(d, a, *extra, pos, length)
    assert len(tb.ops) == n


def test_double_word_forms(b):
    lo, hi, a = b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i32()
    op = b.mulu2(lo, hi, a, 3)
    assert op.name == "mulu2_i32" and op.split() == ((lo, hi), (a, b.const_i32(3)), ())
    assert b.muls2(lo, hi, a, a).name == "muls2_i32"
    op = b.add2(lo, hi, a, 0, 1, 0)
    assert op.name == "add2_i32"
    assert op.split()[1] == (a, b.const_i32(0), b.const_i32(1), b.const_i32(0))
    lo64, hi64, a64 = b.temp_new_i64(), b.temp_new_i64(), b.temp_new_i64()
    assert b.sub2(lo64, hi64, a64, a64, 1, 2).name == "sub2_i64"


def test_env_and_memory_forms(b):
    d32, d64, addr = b.temp_new_i32(), b.temp_new_i64(), b.temp_new_i32()
    assert b.ld_env(d64, 7).args == (d64, 7) and b.tb.ops[-1].name == "ld_i64"
    op = b.st_env(5, 3)
    assert op.name == "st_i32" and op.args == (b.const_i32(5), 3)
    assert b.st_env(5, 3, I64).name == "st_i64"
    assert b.st_env(d64, 3).name == "st_i64"  # width from the temp
    op = b.qemu_ld(d32, addr, MemOp.SW, 2)
    assert op.name == "qemu_ld_i32" and op.args == (d32, addr, make_oi(MemOp.SW, 2))
    assert b.qemu_ld(d64, addr, MemOp.UQ).name == "qemu_ld_i64"
    op = b.qemu_st(1, addr, MemOp.BEUQ)
    assert op.name == "qemu_st_i64" and op.args[0] is b.const_i64(1)
    op = b.qemu_st(1, addr, MemOp.UW, 1)
    assert op.name == "qemu_st_i32" and op.args == (b.const_i32(1), addr, make_oi(MemOp.UW, 1))
    assert b.qemu_st(d64, addr, MemOp.UL).name == "qemu_st_i64"


# --------------------------------------------------------------------------- labels and control


def test_labels(b, tb):
    l0, l1 = b.new_label(), b.new_label()
    assert (l0.id, l1.id) == (0, 1) and tb.labels == [l0, l1]
    assert not l0.present
    op = b.set_label(l0)
    assert op.name == "set_label" and op.args == (l0,) and l0.present
    with pytest.raises(IRError, match=r"label \$L0 set twice"):
        b.set_label(l0)
    assert names(tb) == ["set_label"]
    b.set_label(l1)
    assert names(tb) == ["set_label", "set_label"]


def test_goto_tb_slot(b, tb):
    assert b.goto_tb(0).args == (0,)
    assert b.goto_tb(1).args == (1,)
    for slot in (2, -1, 3):
        with pytest.raises(IRError, match=f"goto_tb slot must be 0 or 1, got {slot}"):
            b.goto_tb(slot)
    assert names(tb) == ["goto_tb", "goto_tb"]


def test_other_control_ops(b, tb):
    assert b.insn_start(0x1004).args == (0x1004,)
    assert b.exit_tb().args == (0,)
    assert b.exit_tb(3).args == (3,)
    assert b.mb(1).args == (1,)
    label = b.new_label()
    assert b.br(label).args == (label,)
    assert names(tb) == ["insn_start", "exit_tb", "exit_tb", "mb", "br"]


# --------------------------------------------------------------------------- helper calls


def _helper(out, ins, func=None):
    return Helper("h_test", func or (lambda cpu, *a: 0), out, tuple(ins), CallFlag.NO_RWG, "test")


def test_call_with_output(b, tb):
    h = _helper(I32, (I32, I64))
    d, a, c = b.temp_new_i32(), b.temp_new_i32(), b.temp_new_i64()
    op = b.call(h, d, a, c)
    assert tb.ops == [op] and op.name == "call" and op.opdef is b.optable["call"]
    assert op.split() == ((d,), (a, c), (h,))
    assert str(op) == f"call {d},{a},{c},h_test"


def test_call_without_output_and_int_inputs(b):
    h = _helper(None, (I32, I64))
    op = b.call(h, None, 5, -1)
    outs, ins, consts = op.split()
    assert outs == () and consts == (h,)
    assert ins == (b.const_i32(5), b.const_i64(M64))
    assert ins[1].type is I64  # ints become constants of the helper's declared input type


def test_call_zero_inputs(b):
    h = _helper(I64, ())
    d = b.temp_new_i64()
    assert b.call(h, d).split() == ((d,), (), (h,))


def test_call_impl_runs_the_helper(b):
    seen = []
    h = _helper(I32, (I32, I32), func=lambda cpu, x, y: seen.append((cpu, x, y)) or x + y)
    op = b.call(h, b.temp_new_i32(), 2, 3)
    assert op.opdef.impl("cpu", 2, 3, h) == 5
    assert seen == [("cpu", 2, 3)]


def test_call_checks(b, tb):
    d32, d64, a32, a64 = b.temp_new_i32(), b.temp_new_i64(), b.temp_new_i32(), b.temp_new_i64()
    ret = _helper(I32, (I32,))
    noret = _helper(None, (I32,))
    with pytest.raises(IRError, match="call h_test: output missing but the helper returns"):
        b.call(ret, None, a32)
    with pytest.raises(IRError, match="call h_test: output given but the helper returns nothing"):
        b.call(noret, d32, a32)
    with pytest.raises(IRError, match="call h_test: expected 1 inputs, got 2"):
        b.call(ret, d32, a32, a32)
    with pytest.raises(IRError, match="call h_test: expected 1 inputs, got 0"):
        b.call(ret, d32)
    with pytest.raises(IRError, match=r"call h_test: argument 0 .* is i64, expected i32"):
        b.call(ret, d32, a64)
    with pytest.raises(IRError, match=r"call h_test: argument 0 .* is i64, expected i32"):
        b.call(ret, d64, a32)  # output width
    with pytest.raises(IRError, match="call h_test: output 0 is a constant"):
        b.call(ret, b.const_i32(0), a32)
    assert tb.ops == []


# --------------------------------------------------------------------------- dump


def test_tb_dump_lists_the_ops(b, tb):
    r0 = Temp(TempKind.GLOBAL, I32, 0, "r0")
    t = b.temp_new_i32()
    label = b.new_label()
    b.insn_start(0x1000)
    b.add(t, r0, 5)
    b.brcond(Cond.LTU, t, r0, label)
    b.insn_start(0x1004)
    b.extract(t, r0, 4, 8)
    b.set_label(label)
    b.goto_tb(1)
    b.exit_tb(0)
    tb.icount = 2
    assert tb.dump().splitlines() == [
        "OP: TB pc=0x00001000 flags=0x0 insns=2",
        " ---- 00001000",
        " add_i32 tmp0,r0,$0x5",
        " brcond_i32 tmp0,r0,ltu,$L0",
        " ---- 00001004",
        " extract_i32 tmp0,r0,$0x4,$0x8",
        " set_label $L0",
        " goto_tb $0x1",
        " exit_tb $0x0",
    ]


# --------------------------------------------------------------------------- the op table


def _opdef(name, types=(I32, I32), provider="test-plugin", outputs=1, inputs=1, consts=0,
           flags=OpFlag.NONE):
    return OpDef(name, outputs, inputs, consts, flags, lambda cpu, a: a ^ 1, types,
                 "d = a ^ 1", provider)


def test_optable_rejects_duplicates():
    table = OpTable()
    with pytest.raises(ValueError, match=r"op 'add_i32' is defined by both 'core' and 'test-plugin'"):
        table.add(_opdef("add_i32"))
    assert table["add_i32"].provider == "core"
    with pytest.raises(ValueError, match="defined by both"):
        OpTable(list(BASE_OPS) + [_opdef("flip_i32"), _opdef("flip_i32", provider="other")])


@pytest.mark.parametrize("types", [(), (I32,), (I32, I32, I32)])
def test_optable_rejects_wrong_types_length(types):
    table = OpTable()
    with pytest.raises(ValueError, match=rf"op 'flip_i32': types has {len(types)} entries, "
                                         r"expected 2 \(outputs \+ inputs\)"):
        table.add(_opdef("flip_i32", types=types))
    assert "flip_i32" not in table


def test_plugin_op_reachable_through_builder(tb):
    extra = _opdef("flip_i32")
    table = OpTable(list(BASE_OPS) + [extra])
    assert table["flip_i32"] is extra and len(table) == len(BASE_OPS) + 1
    b = Builder(tb, table)
    d, a = b.temp_new_i32(), b.temp_new_i32()
    op = b.flip_i32(d, a)
    assert op.opdef is extra and op.args == (d, a) and tb.ops == [op]
    assert b.emit("flip_i32", d, a).opdef is extra
    with pytest.raises(IRError, match="flip_i32: argument 1"):
        b.flip_i32(d, b.temp_new_i64())
    with pytest.raises(IRError, match="flip_i32: expected"):
        b.flip_i32(d)
    # a builder over the base table does not know it
    base = Builder(TranslationBlock(pc=0), OpTable())
    with pytest.raises(AttributeError):
        base.flip_i32
    with pytest.raises(IRError, match="unknown IR op 'flip_i32'"):
        base.emit("flip_i32", d, a)


def test_plugin_op_with_constants_and_no_outputs(tb):
    extra = OpDef("hint_i32", 0, 1, 1, OpFlag.SIDE_EFFECTS, lambda cpu, a, k: None, (I32,),
                  "side-effecting hint", "test-plugin")
    b = Builder(tb, OpTable(list(BASE_OPS) + [extra]))
    a = b.temp_new_i32()
    op = b.hint_i32(a, 7)
    assert op.split() == ((), (a,), (7,))
    assert str(op) == "hint_i32 tmp0,$0x7"
    with pytest.raises(IRError, match="hint_i32: constant argument given a temp"):
        b.hint_i32(a, a)
    assert not extra.pure

