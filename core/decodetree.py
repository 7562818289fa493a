"""Decode patterns whose letters are fields: a frontend's decoder, as QEMU's decodetree.

A pattern is 32 characters (spaces ignored): ``0`` and ``1`` are fixed bits, ``-`` a bit
nobody reads, and a letter a bit of a named field.  Every bit of one letter belongs to
one field, most significant first, even when the bits are apart: in
``cccc 0011 0000 iiii dddd iiii iiii iiii`` the field of ``i`` is imm4:imm12, as
decodetree's ``%imm16 16:4 0:12``.

What a letter names comes from the frontend's alphabet (decodetree's ``%field`` lines:
``"d": "rd"``), unless the pattern names it itself (``r="spsr"``); a letter the
alphabet maps to None is read by the frontend, not by handlers (the A32 condition).
``signed("imm")`` names a field that is sign-extended.  The pattern's other keyword
arguments are constants handed to the handler with the fields (decodetree's
``name=value`` on a pattern line).

Everything is worked out once, when the table is built: the fields, and per pattern an
extractor compiled to Python (shifts, masks, concatenation, sign extension), so that
translating an instruction is ``pattern.translate(ctx, insn)``: one call that extracts
the fields and calls ``handler(ctx, rd=..., imm=...)``.  The handler's signature is
checked at the same time, so a letter that names no field, a field the handler does
not take, or an argument no pattern gives is an error naming the pattern, not a wrong
translation found later.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, NamedTuple

from attrs import frozen

from .errors import TcglabError

Handler = Callable[..., None]


class DecodePatternError(TcglabError):
    """A decode pattern is malformed (a frontend's table, found when it is built)."""


class Signed(NamedTuple):
    """The name of a field that is sign-extended (decodetree's ``imm:s24``)."""

    name: str


def signed(name: str) -> Signed:
    """``i=signed("imm")``: the field of ``i`` is a two's-complement number."""
    return Signed(name)


class Field(NamedTuple):
    """A named field: its bit runs ``(lsb, width)``, most significant run first."""

    name: str
    parts: tuple[tuple[int, int], ...]
    signed: bool = False

    @property
    def width(self) -> int:
        return sum(width for _lsb, width in self.parts)

    def expr(self, word: str = "insn") -> str:
        """Python source computing the field from ``word`` (a 32-bit int)."""
        terms = []
        shift = self.width  # where the next run goes in the result
        for lsb, width in self.parts:
            shift -= width
            mask = ((1 << width) - 1) << shift
            if lsb > shift:
                term = f"({word} >> {lsb - shift})"
            elif lsb < shift:
                term = f"({word} << {shift - lsb})"
            else:
                term = word
            if not (lsb + width == 32 and lsb >= shift):  # bits above bit 31 are zero
                term = f"({term} & {mask:#x})"
            terms.append(term)
        value = " | ".join(terms)
        if self.signed:
            sign = 1 << (self.width - 1)
            return f"((({value}) ^ {sign:#x}) - {sign:#x})"
        return value if len(terms) == 1 else f"({value})"


@frozen(eq=False)
class Pattern:
    """One encoding class: ``insn & mask == value``; ``translate(ctx, insn)`` runs it."""

    name: str
    mask: int
    value: int
    handler: Handler
    fields: tuple[Field, ...]
    consts: Mapping[str, Any]
    #: insn -> {field name: value}, the arguments ``translate`` passes (disassembly, tests)
    extract: Callable[[int], dict[str, int]]
    #: (ctx, insn) -> handler(ctx, **fields, **consts), compiled for this pattern
    translate: Callable[[Any, int], None]


def compile_pattern(bits: str, name: str, handler: Handler, alphabet: Mapping[str, str | None],
                    widths: Mapping[str, int] | None = None, **named: Any) -> Pattern:
    """Parse ``bits``, name its letters, check ``handler`` and compile the extractor.

    :param alphabet: what each letter names where the pattern does not say
        (None: the frontend reads it, the handler does not get it).
    :param widths: fields that must be one run of exactly that many bits (registers).
    :param named: one-letter keys name that letter's field (a str, or ``signed(str)``);
        longer keys are constants passed to the handler.
    """
    spaced = bits
    bits = bits.replace(" ", "")
    where = f"decode pattern {name!r} ({spaced!r})"
    if len(bits) != 32:
        raise DecodePatternError(f"{where} has {len(bits)} bits, expected 32")
    letters = {k: v for k, v in named.items() if len(k) == 1}
    consts = {k: v for k, v in named.items() if len(k) > 1}
    mask = value = 0
    runs: dict[str, list[tuple[int, int]]] = {}  # letter -> [(lsb, width)], MSB first
    previous = ""
    for i, ch in enumerate(bits):
        pos = 31 - i
        mask <<= 1
        value <<= 1
        if ch in "01":
            mask |= 1
            value |= ch == "1"
        elif ch != "-":
            parts = runs.setdefault(ch, [])
            if ch == previous:
                lsb, width = parts[-1]
                parts[-1] = (pos, width + 1)
            else:
                parts.append((pos, 1))
        previous = ch
    fields = []
    for letter, parts in runs.items():
        label = letters[letter] if letter in letters else alphabet.get(letter, "")
        if label == "":
            raise DecodePatternError(
                f"{where}: letter {letter!r} names no field; name it on the pattern "
                f"({letter}=\"...\") or use one of {' '.join(sorted(alphabet))}")
        if label is None:
            continue
        field = Field(label.name, tuple(parts), True) if isinstance(label, Signed) \
            else Field(label, tuple(parts))
        want = (widths or {}).get(field.name)
        if want is not None and (len(field.parts) != 1 or field.width != want):
            raise DecodePatternError(
                f"{where}: field {field.name!r} ({letter!r}) must be {want} adjacent bits, "
                f"not {field.width} in {len(field.parts)} run(s)")
        fields.append(field)
    for letter in letters:
        if letter not in runs:
            raise DecodePatternError(f"{where} names letter {letter!r}, which it does not use")
    names = [f.name for f in fields]
    for dup in {n for n in names if names.count(n) > 1} | (set(names) & set(consts)):
        raise DecodePatternError(f"{where} gives {dup!r} twice")
    _check_handler(where, handler, [*names, *consts])
    return Pattern(name, mask, value, handler, tuple(fields), dict(consts),
                   *_compile(name, handler, fields, consts))


def _check_handler(where: str, handler: Handler, given: list[str]) -> None:
    """The handler takes the context, then exactly the fields and constants given."""
    params = list(inspect.signature(handler).parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    takes = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for arg in given:
        if arg not in takes:
            raise DecodePatternError(
                f"{where}: {handler.__qualname__} takes no {arg!r} "
                f"(it takes {', '.join(sorted(takes)) or 'nothing'})")
    for p in params:
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) \
                and p.name not in given:
            raise DecodePatternError(
                f"{where}: {handler.__qualname__} needs {p.name!r}, which the pattern "
                f"does not give (it gives {', '.join(given) or 'nothing'})")


def _compile(name: str, handler: Handler, fields: list[Field], consts: dict[str, Any]
             ) -> tuple[Callable[[int], dict[str, int]], Callable[[Any, int], None]]:
    """The extractor and the translate function of one pattern, as Python source."""
    args = [f"{f.name}={f.expr()}" for f in fields]
    namespace: dict[str, Any] = {"_handler": handler}
    for const, val in consts.items():
        namespace[f"_k_{const}"] = val
        args.append(f"{const}=_k_{const}")
    source = (f"def extract(insn):\n    return dict({', '.join(args[:len(fields)])})\n"
              f"def translate(ctx, insn):\n    return _handler(ctx, {', '.join(args)})\n")
    exec(compile(source, f"<decode pattern {name}>", "exec"), namespace)
    return namespace["extract"], namespace["translate"]
