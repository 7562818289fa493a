"""Text of one RV32IMA instruction for ``tcglab trace`` (``-d in_asm``), from the
decode table: GNU objdump's operand order, ABI register names, no pseudo-instructions."""

from __future__ import annotations

from . import decode as d
from .cpu import ABI_NAMES, CSR_NAMES


def _r(n: int) -> str:
    return ABI_NAMES[n]


def disas(pc: int, w: int) -> str:
    p = d.lookup(w)
    if p is None:
        return f".word {w:#010x}"
    n, f = p.name, p.fmt
    if f == "R":
        return f"{n} {_r(d.rd(w))}, {_r(d.rs1(w))}, {_r(d.rs2(w))}"
    if f == "I":
        if n in ("jalr",) or n.startswith("l"):
            return f"{n} {_r(d.rd(w))}, {d.imm_i(w)}({_r(d.rs1(w))})"
        return f"{n} {_r(d.rd(w))}, {_r(d.rs1(w))}, {d.imm_i(w)}"
    if f == "S":
        return f"{n} {_r(d.rs2(w))}, {d.imm_s(w)}({_r(d.rs1(w))})"
    if f == "B":
        return f"{n} {_r(d.rs1(w))}, {_r(d.rs2(w))}, {(pc + d.imm_b(w)) & 0xFFFF_FFFF:#x}"
    if f == "U":
        return f"{n} {_r(d.rd(w))}, {d.imm_u(w) >> 12:#x}"
    if f == "J":
        return f"{n} {_r(d.rd(w))}, {(pc + d.imm_j(w)) & 0xFFFF_FFFF:#x}"
    if f == "SH":
        return f"{n} {_r(d.rd(w))}, {_r(d.rs1(w))}, {d.shamt(w)}"
    if f in ("CSR", "CSRI"):
        csr = CSR_NAMES.get(d.csr(w), f"{d.csr(w):#x}")
        src = str(d.rs1(w)) if f == "CSRI" else _r(d.rs1(w))
        return f"{n} {_r(d.rd(w))}, {csr}, {src}"
    if f in ("AMO", "LR"):
        order = (".aq" if d.aq(w) else "") + (".rl" if d.rl(w) else "")
        if f == "LR":
            return f"{n}{order} {_r(d.rd(w))}, ({_r(d.rs1(w))})"
        return f"{n}{order} {_r(d.rd(w))}, {_r(d.rs2(w))}, ({_r(d.rs1(w))})"
    if f == "FENCE":
        def bits(v: int) -> str:
            return "".join(c for c, m in zip("iorw", (8, 4, 2, 1)) if v & m) or "0"
        return f"{n} {bits((w >> 24) & 15)}, {bits((w >> 20) & 15)}"
    return n
