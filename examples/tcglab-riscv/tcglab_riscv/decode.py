"""The RV32IMA encoding table: one row per instruction, as a decodetree file.

Each :class:`Pattern` is ``(name, format, mask, match)``: an instruction word ``w``
is that instruction iff ``w & mask == match``.  The format names the fields the
translator and the disassembler read (:func:`fields`).  Rows are grouped by major
opcode (bits 6:0) for lookup; within a group the first match wins, so more specific
rows come first.  Encodings from the RISC-V Unprivileged ISA (20191213), chapter 24
("RV32/64G Instruction Set Listings"), and the Privileged ISA for MRET and WFI.
"""

from __future__ import annotations

from typing import NamedTuple


class Pattern(NamedTuple):
    name: str
    fmt: str  # R I S B U J SH CSR CSRI AMO LR FENCE NONE
    mask: int
    match: int


_M_OPC = 0x0000_007F
_M_F3 = 0x0000_707F
_M_F7 = 0xFE00_707F
_M_AMO = 0xF800_707F  # funct5 + funct3 + opcode: aq/rl are operands
_M_ALL = 0xFFFF_FFFF

RV32IMA: tuple[Pattern, ...] = (
    Pattern("lui", "U", _M_OPC, 0x37),
    Pattern("auipc", "U", _M_OPC, 0x17),
    Pattern("jal", "J", _M_OPC, 0x6F),
    Pattern("jalr", "I", _M_F3, 0x67),
    Pattern("beq", "B", _M_F3, 0x0063),
    Pattern("bne", "B", _M_F3, 0x1063),
    Pattern("blt", "B", _M_F3, 0x4063),
    Pattern("bge", "B", _M_F3, 0x5063),
    Pattern("bltu", "B", _M_F3, 0x6063),
    Pattern("bgeu", "B", _M_F3, 0x7063),
    Pattern("lb", "I", _M_F3, 0x0003),
    Pattern("lh", "I", _M_F3, 0x1003),
    Pattern("lw", "I", _M_F3, 0x2003),
    Pattern("lbu", "I", _M_F3, 0x4003),
    Pattern("lhu", "I", _M_F3, 0x5003),
    Pattern("sb", "S", _M_F3, 0x0023),
    Pattern("sh", "S", _M_F3, 0x1023),
    Pattern("sw", "S", _M_F3, 0x2023),
    Pattern("addi", "I", _M_F3, 0x0013),
    Pattern("slti", "I", _M_F3, 0x2013),
    Pattern("sltiu", "I", _M_F3, 0x3013),
    Pattern("xori", "I", _M_F3, 0x4013),
    Pattern("ori", "I", _M_F3, 0x6013),
    Pattern("andi", "I", _M_F3, 0x7013),
    Pattern("slli", "SH", _M_F7, 0x0000_1013),
    Pattern("srli", "SH", _M_F7, 0x0000_5013),
    Pattern("srai", "SH", _M_F7, 0x4000_5013),
    Pattern("add", "R", _M_F7, 0x0000_0033),
    Pattern("sub", "R", _M_F7, 0x4000_0033),
    Pattern("sll", "R", _M_F7, 0x0000_1033),
    Pattern("slt", "R", _M_F7, 0x0000_2033),
    Pattern("sltu", "R", _M_F7, 0x0000_3033),
    Pattern("xor", "R", _M_F7, 0x0000_4033),
    Pattern("srl", "R", _M_F7, 0x0000_5033),
    Pattern("sra", "R", _M_F7, 0x4000_5033),
    Pattern("or", "R", _M_F7, 0x0000_6033),
    Pattern("and", "R", _M_F7, 0x0000_7033),
    # M
    Pattern("mul", "R", _M_F7, 0x0200_0033),
    Pattern("mulh", "R", _M_F7, 0x0200_1033),
    Pattern("mulhsu", "R", _M_F7, 0x0200_2033),
    Pattern("mulhu", "R", _M_F7, 0x0200_3033),
    Pattern("div", "R", _M_F7, 0x0200_4033),
    Pattern("divu", "R", _M_F7, 0x0200_5033),
    Pattern("rem", "R", _M_F7, 0x0200_6033),
    Pattern("remu", "R", _M_F7, 0x0200_7033),
    # MISC-MEM: every fm/pred/succ/rs1/rd is FENCE (reserved encodings execute as one)
    Pattern("fence", "FENCE", _M_F3, 0x000F),
    Pattern("fence.i", "NONE", _M_F3, 0x100F),
    # SYSTEM
    Pattern("ecall", "NONE", _M_ALL, 0x0000_0073),
    Pattern("ebreak", "NONE", _M_ALL, 0x0010_0073),
    Pattern("mret", "NONE", _M_ALL, 0x3020_0073),
    Pattern("wfi", "NONE", _M_ALL, 0x1050_0073),
    Pattern("csrrw", "CSR", _M_F3, 0x1073),
    Pattern("csrrs", "CSR", _M_F3, 0x2073),
    Pattern("csrrc", "CSR", _M_F3, 0x3073),
    Pattern("csrrwi", "CSRI", _M_F3, 0x5073),
    Pattern("csrrsi", "CSRI", _M_F3, 0x6073),
    Pattern("csrrci", "CSRI", _M_F3, 0x7073),
    # A (word only: RV32)
    Pattern("lr.w", "LR", 0xF9F0_707F, 0x1000_202F),
    Pattern("sc.w", "AMO", _M_AMO, 0x1800_202F),
    Pattern("amoswap.w", "AMO", _M_AMO, 0x0800_202F),
    Pattern("amoadd.w", "AMO", _M_AMO, 0x0000_202F),
    Pattern("amoxor.w", "AMO", _M_AMO, 0x2000_202F),
    Pattern("amoand.w", "AMO", _M_AMO, 0x6000_202F),
    Pattern("amoor.w", "AMO", _M_AMO, 0x4000_202F),
    Pattern("amomin.w", "AMO", _M_AMO, 0x8000_202F),
    Pattern("amomax.w", "AMO", _M_AMO, 0xA000_202F),
    Pattern("amominu.w", "AMO", _M_AMO, 0xC000_202F),
    Pattern("amomaxu.w", "AMO", _M_AMO, 0xE000_202F),
)

_BY_OPCODE: dict[int, tuple[Pattern, ...]] = {}
for _p in RV32IMA:
    _BY_OPCODE[_p.match & _M_OPC] = _BY_OPCODE.get(_p.match & _M_OPC, ()) + (_p,)


def lookup(insn: int) -> Pattern | None:
    """The pattern of a 32-bit instruction word, or None (illegal / not implemented).

    Compressed encodings (low bits != 0b11) are never matched: this is RV32IMA, no C.
    """
    for p in _BY_OPCODE.get(insn & _M_OPC, ()):
        if insn & p.mask == p.match:
            return p
    return None


# --------------------------------------------------------------------------- fields


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def rd(w: int) -> int:
    return (w >> 7) & 31


def rs1(w: int) -> int:
    return (w >> 15) & 31


def rs2(w: int) -> int:
    return (w >> 20) & 31


def imm_i(w: int) -> int:
    return _sext(w >> 20, 12)


def imm_s(w: int) -> int:
    return _sext(((w >> 25) << 5) | ((w >> 7) & 31), 12)


def imm_b(w: int) -> int:
    v = (((w >> 31) & 1) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3F) << 5) | \
        (((w >> 8) & 0xF) << 1)
    return _sext(v, 13)


def imm_u(w: int) -> int:
    return w & 0xFFFF_F000


def imm_j(w: int) -> int:
    v = (((w >> 31) & 1) << 20) | (((w >> 12) & 0xFF) << 12) | (((w >> 20) & 1) << 11) | \
        (((w >> 21) & 0x3FF) << 1)
    return _sext(v, 21)


def shamt(w: int) -> int:
    return (w >> 20) & 31


def csr(w: int) -> int:
    return w >> 20


def aq(w: int) -> bool:
    return bool(w & (1 << 26))


def rl(w: int) -> bool:
    return bool(w & (1 << 25))
