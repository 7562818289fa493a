"""A32 text emission: register names, condition codes, immediates, and the line buffer.

Every instruction the backend emits is one 4-byte A32 word (no literal pools, no
pseudo-instructions that expand), so :class:`Asm` knows the offset of each line as it
writes it: that is how exits and helper call sites are mapped back to guest pcs without
a symbol table from the assembler.
"""

from __future__ import annotations

from core.ir import M32, Cond

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, SP, LR, PC = range(16)
REG_NAMES = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",
             "r12", "sp", "lr", "pc")

# IR condition -> A32 condition suffix (signed and unsigned comparisons after cmp)
COND = {Cond.EQ: "eq", Cond.NE: "ne", Cond.LT: "lt", Cond.GE: "ge", Cond.LE: "le",
        Cond.GT: "gt", Cond.LTU: "lo", Cond.GEU: "hs", Cond.LEU: "ls", Cond.GTU: "hi",
        Cond.ALWAYS: ""}
INVERT = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le",
          "lo": "hs", "hs": "lo", "ls": "hi", "hi": "ls", "mi": "pl", "pl": "mi"}

INDENT = "        "


def rn(reg: int) -> str:
    return REG_NAMES[reg]


def encodable(value: int) -> bool:
    """True if ``value`` is an A32 modified immediate (8 bits rotated right by an even amount)."""
    value &= M32
    for rot in range(0, 32, 2):
        if ((value << rot) | (value >> (32 - rot))) & M32 < 256:
            return True
    return False


def imm(value: int) -> str:
    value &= M32
    return f"#{value}" if value < 10 else f"#{value:#x}"


class Asm:
    """Lines of GNU as text and the byte offset of the next instruction."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    @property
    def offset(self) -> int:
        return 4 * self.count

    def insn(self, text: str, comment: str = "") -> int:
        """Append one instruction; returns its offset."""
        off = 4 * self.count
        if comment:
            text = f"{text:<31} @ {comment}"
        self.lines.append(INDENT + text)
        self.count += 1
        return off

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")

    def directive(self, text: str) -> None:
        """A directive that emits no bytes (.equ, .syntax, ...)."""
        self.lines.append(INDENT + text)

    def comment(self, text: str) -> None:
        self.lines.append(f"{INDENT}@ {text}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    # ------------------------------------------------------------------ common shapes

    def mov_imm(self, rd: int, value: int, cond: str = "") -> None:
        """rd = value: mov, mvn, or movw (+ movt)."""
        value &= M32
        if encodable(value):
            self.insn(f"mov{cond} {rn(rd)}, {imm(value)}")
        elif encodable(~value):
            self.insn(f"mvn{cond} {rn(rd)}, {imm(~value)}")
        else:
            self.insn(f"movw{cond} {rn(rd)}, #{value & 0xFFFF:#x}")
            if value >> 16:
                self.insn(f"movt{cond} {rn(rd)}, #{value >> 16:#x}")

    def mem(self, op: str, rt: int, base: int, off: int, scratch: int = R12,
            comment: str = "") -> None:
        """``op rt, [base, #off]`` for ldr/str; offsets beyond imm12 go through ``scratch``."""
        if off <= 4095:
            addr = f"[{rn(base)}, {imm(off)}]" if off else f"[{rn(base)}]"
            self.insn(f"{op} {rn(rt)}, {addr}", comment)
            return
        high, low = off & ~0xFFF, off & 0xFFF
        if encodable(high):
            self.insn(f"add {rn(scratch)}, {rn(base)}, {imm(high)}")
        else:
            self.mov_imm(scratch, high)
            self.insn(f"add {rn(scratch)}, {rn(base)}, {rn(scratch)}")
        self.insn(f"{op} {rn(rt)}, [{rn(scratch)}, {imm(low)}]", comment)
