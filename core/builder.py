"""The builder: the only way a frontend emits IR (TCG's ``tcg_gen_*``).

A frontend never appends :class:`~core.ir.Op` objects itself.  It calls the builder,
which checks each op against the one op table (arity, temp widths, constants) and
appends it to the TB being translated.  Two layers:

* ``b.emit("add_i32", d, a, c)`` or ``b.add_i32(d, a, c)``: exactly one op of the table,
  any op including plugin ops (``b.qemu_ldlink_i32(...)``);
* width-generic conveniences (``b.add(d, a, 5)``, ``b.movi``, ``b.brcond(c, a, 5, l)``,
  ``b.qemu_ld``, ``b.call``...) that take the width from the destination temp and turn
  Python ints into constant temps, as ``tcg_gen_addi_i32`` does.
"""

from __future__ import annotations

from typing import Any, Sequence

from .errors import IRError  # defined with the other user-facing errors; imported from here too
from .ir import (
    I32,
    I64,
    Cond,
    Helper,
    Label,
    MemOp,
    Op,
    OpTable,
    Temp,
    TempKind,
    TempType,
    TranslationBlock,
    make_oi,
)


_GENERIC_BINARY = ("add", "sub", "mul", "and", "or", "xor", "andc", "orc", "shl", "shr",
                   "sar", "rotl", "rotr", "div", "divu", "rem", "remu", "clz")
_GENERIC_UNARY = ("mov", "neg", "not", "ext8s", "ext8u", "ext16s", "ext16u", "bswap16",
                  "bswap32")


class Builder:
    """Emits validated IR into one :class:`TranslationBlock`."""

    def __init__(self, tb: TranslationBlock, optable: OpTable):
        self.tb = tb
        self.optable = optable
        self._consts: dict[tuple[TempType, int], Temp] = {}

    # ---------------------------------------------------------------- temps and labels

    def temp_new(self, type: TempType = I32, name: str = "") -> Temp:
        """A fresh TB-local temp."""
        t = Temp(TempKind.LOCAL, type, self.tb.n_locals, name)
        self.tb.n_locals += 1
        self.tb.locals.append(t)
        return t

    def temp_new_i32(self, name: str = "") -> Temp:
        return self.temp_new(I32, name)

    def temp_new_i64(self, name: str = "") -> Temp:
        return self.temp_new(I64, name)

    def const(self, type: TempType, value: int) -> Temp:
        """A constant temp (interned per TB)."""
        value &= type.mask
        key = (type, value)
        t = self._consts.get(key)
        if t is None:
            t = self._consts[key] = Temp(TempKind.CONST, type, 0, "", value)
        return t

    def const_i32(self, value: int) -> Temp:
        return self.const(I32, value)

    def const_i64(self, value: int) -> Temp:
        return self.const(I64, value)

    def new_label(self) -> Label:
        label = Label(len(self.tb.labels))
        self.tb.labels.append(label)
        return label

    # ---------------------------------------------------------------- the one emitter

    def emit(self, name: str, *args: Any) -> Op:
        """Append op ``name`` with ``args`` (outputs, inputs, constants) after checking them."""
        opdef = self.optable.get(name)
        if opdef is None:
            raise IRError(f"unknown IR op {name!r}")
        if name == "call":
            raise IRError("emit calls with Builder.call(helper, out, *inputs)")
        if len(args) != opdef.nargs:
            raise IRError(f"{name}: expected {opdef.outputs} outputs, {opdef.inputs} inputs and "
                          f"{opdef.consts} constants, got {len(args)} arguments")
        n_temps = opdef.outputs + opdef.inputs
        for i, (arg, want) in enumerate(zip(args[:n_temps], opdef.types)):
            self._check_temp(name, i, arg, want, is_output=i < opdef.outputs)
        for c in args[n_temps:]:
            if isinstance(c, Temp):
                raise IRError(f"{name}: constant argument given a temp ({c})")
        if opdef.cond_branch or name.startswith(("setcond_", "movcond_")):
            cond = args[n_temps]
            if not isinstance(cond, Cond):
                raise IRError(f"{name}: condition must be a Cond, got {cond!r}")
        op = Op(opdef, tuple(args))
        self.tb.ops.append(op)
        return op

    def _check_temp(self, name: str, i: int, arg: Any, want: TempType, is_output: bool) -> None:
        if not isinstance(arg, Temp):
            raise IRError(f"{name}: argument {i} must be a temp, got {arg!r}")
        if arg.type is not want:
            raise IRError(f"{name}: argument {i} ({arg}) is {arg.type.suffix}, expected {want.suffix}")
        if is_output and arg.kind is TempKind.CONST:
            raise IRError(f"{name}: output {i} is a constant ({arg})")

    def __getattr__(self, name: str):
        # b.add_i32(...), b.qemu_ldlink_i32(...): any op of the table by its name.
        optable = self.__dict__.get("optable")
        if optable is not None and name in optable and name != "call":
            return lambda *args: self.emit(name, *args)
        raise AttributeError(name)

    # ---------------------------------------------------------------- width-generic forms

    def _val(self, x: Temp | int, type: TempType) -> Temp:
        return x if isinstance(x, Temp) else self.const(type, x)

    def binary(self, opname: str, d: Temp, a: Temp | int, b: Temp | int) -> Op:
        return self.emit(f"{opname}_{d.type.suffix}", d, self._val(a, d.type), self._val(b, d.type))

    def unary(self, opname: str, d: Temp, a: Temp | int) -> Op:
        return self.emit(f"{opname}_{d.type.suffix}", d, self._val(a, d.type))

    def movi(self, d: Temp, value: int) -> Op:
        return self.emit(f"movi_{d.type.suffix}", d, value & d.type.mask)

    def setcond(self, cond: Cond, d: Temp, a: Temp, b: Temp | int) -> Op:
        return self.emit(f"setcond_{a.type.suffix}", d, a, self._val(b, a.type), cond)

    def movcond(self, cond: Cond, d: Temp, c1: Temp, c2: Temp | int, v1: Temp | int,
                v2: Temp | int) -> Op:
        t = d.type
        return self.emit(f"movcond_{t.suffix}", d, c1, self._val(c2, t), self._val(v1, t),
                         self._val(v2, t), cond)

    def brcond(self, cond: Cond, a: Temp, b: Temp | int, label: Label) -> Op | None:
        if cond is Cond.ALWAYS:
            return self.br(label)
        if cond is Cond.NEVER:
            return None
        return self.emit(f"brcond_{a.type.suffix}", a, self._val(b, a.type), cond, label)

    def extract(self, d: Temp, a: Temp, pos: int, length: int) -> Op:
        self._check_field(d.type, pos, length)
        return self.emit(f"extract_{d.type.suffix}", d, a, pos, length)

    def sextract(self, d: Temp, a: Temp, pos: int, length: int) -> Op:
        self._check_field(d.type, pos, length)
        return self.emit(f"sextract_{d.type.suffix}", d, a, pos, length)

    def deposit(self, d: Temp, a: Temp | int, b: Temp | int, pos: int, length: int) -> Op:
        self._check_field(d.type, pos, length)
        return self.emit(f"deposit_{d.type.suffix}", d, self._val(a, d.type),
                         self._val(b, d.type), pos, length)

    @staticmethod
    def _check_field(t: TempType, pos: int, length: int) -> None:
        if not (0 <= pos and 1 <= length and pos + length <= int(t)):
            raise IRError(f"bit field pos={pos} len={length} does not fit {t.suffix}")

    def mulu2(self, lo: Temp, hi: Temp, a: Temp, b: Temp | int) -> Op:
        return self.emit(f"mulu2_{lo.type.suffix}", lo, hi, a, self._val(b, a.type))

    def muls2(self, lo: Temp, hi: Temp, a: Temp, b: Temp | int) -> Op:
        return self.emit(f"muls2_{lo.type.suffix}", lo, hi, a, self._val(b, a.type))

    def add2(self, rl: Temp, rh: Temp, al: Temp, ah: Temp | int, bl: Temp | int,
             bh: Temp | int) -> Op:
        t = rl.type
        return self.emit(f"add2_{t.suffix}", rl, rh, al, self._val(ah, t), self._val(bl, t),
                         self._val(bh, t))

    def sub2(self, rl: Temp, rh: Temp, al: Temp, ah: Temp | int, bl: Temp | int,
             bh: Temp | int) -> Op:
        t = rl.type
        return self.emit(f"sub2_{t.suffix}", rl, rh, al, self._val(ah, t), self._val(bl, t),
                         self._val(bh, t))

    def ld_env(self, d: Temp, slot: int) -> Op:
        return self.emit(f"ld_{d.type.suffix}", d, slot)

    def st_env(self, v: Temp | int, slot: int, type: TempType = I32) -> Op:
        v = self._val(v, type)
        return self.emit(f"st_{v.type.suffix}", v, slot)

    def qemu_ld(self, d: Temp, addr: Temp, memop: int, mmu_idx: int = 0) -> Op:
        return self.emit(f"qemu_ld_{d.type.suffix}", d, addr, make_oi(memop, mmu_idx))

    def qemu_st(self, v: Temp | int, addr: Temp, memop: int, mmu_idx: int = 0) -> Op:
        if not isinstance(v, Temp):
            v = self.const(I64 if (memop & MemOp.MO_SIZE) == MemOp.MO_64 else I32, v)
        return self.emit(f"qemu_st_{v.type.suffix}", v, addr, make_oi(memop, mmu_idx))

    def call(self, helper: Helper, out: Temp | None, *inputs: Temp | int) -> Op:
        """Call ``helper(cpu, *inputs)``; its result (if any) goes to ``out``."""
        if (out is None) != (helper.out_type is None):
            raise IRError(f"call {helper.name}: output {'missing' if out is None else 'given'} "
                          f"but the helper {'returns' if helper.out_type else 'returns nothing'}")
        if len(inputs) != len(helper.in_types):
            raise IRError(f"call {helper.name}: expected {len(helper.in_types)} inputs, "
                          f"got {len(inputs)}")
        ins = tuple(self._val(x, t) for x, t in zip(inputs, helper.in_types))
        for i, (x, t) in enumerate(zip(ins, helper.in_types)):
            self._check_temp(f"call {helper.name}", i, x, t, is_output=False)
        outs: tuple = ()
        if out is not None:
            self._check_temp(f"call {helper.name}", 0, out, helper.out_type, is_output=True)
            outs = (out,)
        op = Op(self.optable["call"], outs + ins + (helper,))
        self.tb.ops.append(op)
        return op

    # ---------------------------------------------------------------- control

    def insn_start(self, pc: int) -> Op:
        return self.emit("insn_start", pc)

    def set_label(self, label: Label) -> Op:
        if label.present:
            raise IRError(f"label {label} set twice")
        label.present = True
        return self.emit("set_label", label)

    def br(self, label: Label) -> Op:
        return self.emit("br", label)

    def goto_tb(self, slot: int) -> Op:
        if slot not in (0, 1):
            raise IRError(f"goto_tb slot must be 0 or 1, got {slot}")
        return self.emit("goto_tb", slot)

    def exit_tb(self, value: int = 0) -> Op:
        return self.emit("exit_tb", value)

    def mb(self, kind: int = 0) -> Op:
        return self.emit("mb", kind)


def _install_generic(names: Sequence[str], kind: str) -> None:
    for opname in names:
        if kind == "binary":
            def method(self, d, a, b, _op=opname):
                return self.binary(_op, d, a, b)
        else:
            def method(self, d, a, _op=opname):
                return self.unary(_op, d, a)
        method.__name__ = opname if opname not in ("and", "or", "not") else f"{opname}_"
        method.__doc__ = f"Emit {opname}_i32 or {opname}_i64 by the width of ``d``."
        setattr(Builder, method.__name__, method)


_install_generic(_GENERIC_BINARY, "binary")
_install_generic(_GENERIC_UNARY, "unary")
