"""A tiny RV32IMA encoder for the tests: enough to write snippets without a toolchain.

``asm("addi a0, zero, 5", "lr.w a1, (a0)", ...)`` returns the little-endian bytes.
Operands: ABI or x-names, decimal/hex immediates, ``imm(reg)`` for memory; branch and
jump offsets are relative byte offsets (no labels).
"""

from __future__ import annotations

import re
import struct

from tcglab_riscv.cpu import ABI_NAMES, CSR_NAMES
from tcglab_riscv.decode import RV32IMA

_REGS = {name: i for i, name in enumerate(ABI_NAMES)} | {f"x{i}": i for i in range(32)} | \
    {"fp": 8}
_CSRS = {name: num for num, name in CSR_NAMES.items()}
_PAT = {p.name: p for p in RV32IMA}


def reg(text: str) -> int:
    return _REGS[text.strip()]


def _imm(text: str) -> int:
    text = text.strip()
    return _CSRS[text] if text in _CSRS else int(text, 0)


def enc_r(match: int, rd: int, rs1: int, rs2: int) -> int:
    return match | (rd << 7) | (rs1 << 15) | (rs2 << 20)


def enc_i(match: int, rd: int, rs1: int, imm: int) -> int:
    return match | (rd << 7) | (rs1 << 15) | ((imm & 0xFFF) << 20)


def enc_s(match: int, rs1: int, rs2: int, imm: int) -> int:
    return match | ((imm & 31) << 7) | (rs1 << 15) | (rs2 << 20) | (((imm >> 5) & 0x7F) << 25)


def enc_b(match: int, rs1: int, rs2: int, imm: int) -> int:
    return match | (((imm >> 11) & 1) << 7) | (((imm >> 1) & 0xF) << 8) | (rs1 << 15) | \
        (rs2 << 20) | (((imm >> 5) & 0x3F) << 25) | (((imm >> 12) & 1) << 31)


def enc_j(match: int, rd: int, imm: int) -> int:
    return match | (rd << 7) | (((imm >> 12) & 0xFF) << 12) | (((imm >> 11) & 1) << 20) | \
        (((imm >> 1) & 0x3FF) << 21) | (((imm >> 20) & 1) << 31)


def encode(line: str) -> int:
    line = line.strip()
    if line.startswith(".word"):
        return int(line.split()[1], 0)
    mnemonic, _, rest = line.partition(" ")
    ops = [o.strip() for o in rest.split(",")] if rest.strip() else []
    if mnemonic == "csrr":  # pseudo-instructions
        mnemonic, ops = "csrrs", [ops[0], ops[1], "zero"]
    elif mnemonic == "csrw":
        mnemonic, ops = "csrrw", ["zero", ops[0], ops[1]]
    aq = rl = 0
    base = mnemonic
    for suffix in (".aqrl", ".aq", ".rl"):
        if mnemonic.endswith(suffix) and mnemonic[:-len(suffix)] in _PAT:
            base = mnemonic[:-len(suffix)]
            aq, rl = ("aq" in suffix), ("rl" in suffix)
    p = _PAT[base]
    m = p.match
    f = p.fmt
    if f == "R":
        return enc_r(m, reg(ops[0]), reg(ops[1]), reg(ops[2]))
    if f == "I":
        mem = re.fullmatch(r"(.*)\((\w+)\)", ops[1])
        if mem:
            return enc_i(m, reg(ops[0]), reg(mem.group(2)), _imm(mem.group(1) or "0"))
        return enc_i(m, reg(ops[0]), reg(ops[1]), _imm(ops[2]))
    if f == "S":
        mem = re.fullmatch(r"(.*)\((\w+)\)", ops[1])
        return enc_s(m, reg(mem.group(2)), reg(ops[0]), _imm(mem.group(1) or "0"))
    if f == "B":
        return enc_b(m, reg(ops[0]), reg(ops[1]), _imm(ops[2]))
    if f == "U":
        return m | (reg(ops[0]) << 7) | ((_imm(ops[1]) & 0xFFFFF) << 12)
    if f == "J":
        return enc_j(m, reg(ops[0]), _imm(ops[1]))
    if f == "SH":
        return enc_i(m, reg(ops[0]), reg(ops[1]), _imm(ops[2]))
    if f == "CSR":
        return m | (reg(ops[0]) << 7) | (_imm(ops[1]) << 20) | (reg(ops[2]) << 15)
    if f == "CSRI":
        return m | (reg(ops[0]) << 7) | (_imm(ops[1]) << 20) | ((_imm(ops[2]) & 31) << 15)
    order = (aq << 26) | (rl << 25)
    if f == "LR":
        addr = re.fullmatch(r"\((\w+)\)", ops[1]).group(1)
        return m | order | (reg(ops[0]) << 7) | (reg(addr) << 15)
    if f == "AMO":
        addr = re.fullmatch(r"\((\w+)\)", ops[2]).group(1)
        return m | order | (reg(ops[0]) << 7) | (reg(ops[1]) << 20) | (reg(addr) << 15)
    if f == "FENCE":
        return m | (0xFF << 20) if not ops else m | (0xFF << 20)
    return m


def asm(*lines: str) -> bytes:
    out = []
    for chunk in lines:
        for line in chunk.replace(";", "\n").splitlines():
            if line.strip():
                out.append(encode(line))
    return b"".join(struct.pack("<I", w) for w in out)
