"""The A32 decode table: bit patterns -> handlers with named fields, as QEMU's a32.decode.

Each line of :data:`PATTERNS` is one encoding class: a 32-character pattern (spaces
ignored), the class name (also the fallback disassembly), the handler, and what the
line's own letters name.  ``0``/``1`` are fixed bits, ``-`` bits nobody reads, and a
letter is a bit of a field (:mod:`core.decodetree`): :data:`LETTERS` says what the
common letters name, a line names the others (``r="spsr"``), and the bits of one letter
concatenate (imm4:imm12).  Handlers receive the fields as keyword arguments
(``trans_movw(s, rd, imm)``) and never look at the instruction word; the other keyword
arguments of a line are constants for the handler (``subtract=True``).

Within the table the *first* matching line wins, so specific encodings come before the
general class they carve out of (MOVW before the data-processing immediates, the
miscellaneous space before data-processing register).  Should-be-one and should-be-zero
bits are fixed as QEMU's a32.decode fixes them: an encoding that gets them wrong is
UNPREDICTABLE, and it UNDEFs here as it does there.  Lines whose condition is fixed to
1111 form the unconditional table (:data:`A32_UNCOND`), the others :data:`A32`, as
QEMU's disas_a32_uncond and disas_a32.

Lookup is not a scan of the whole table: :class:`DecodeTable` buckets the lines by
instruction bits [27:20] and [7:4] (4096 buckets, built once), and only the few lines
whose fixed bits agree with the bucket are tried, in table order.
"""

from __future__ import annotations

from typing import Any

from core.decodetree import Handler, Pattern, compile_pattern, signed

from . import translate_branch as br
from . import translate_dp as dp
from . import translate_media as md
from . import translate_mem as mem
from . import translate_sys as sy

#: What a letter names unless its line says otherwise (decodetree's ``%field`` lines).
LETTERS: dict[str, str | None] = {
    "c": None,  # the condition: the frontend tests it before the handler runs
    "n": "rn", "d": "rd", "m": "rm", "t": "rt", "a": "ra",
    "i": "imm",
    "o": "op",
    "h": "stype",  # shift type: LSL LSR ASR ROR
    "s": "setflags",  # S
    "p": "p", "u": "u", "w": "w",  # P (index first), U (add), W (write back / unprivileged)
    "l": "load",  # L
    "b": "byte",  # B
}

#: Register fields: four adjacent bits, always (a letter typo breaks that).
REGISTERS = dict.fromkeys(("rn", "rd", "rm", "rt", "ra", "rs", "rdhi", "rdlo", "rt2"), 4)


def pattern(bits: str, name: str, handler: Handler, **named: Any) -> Pattern:
    """``pattern("cccc 0011 0000 iiii dddd iiii iiii iiii", "movw", dp.trans_movw)``."""
    return compile_pattern(bits, name, handler, LETTERS, REGISTERS, **named)


_KEY_MASK = 0x0FF0_00F0  # bits [27:20] and [7:4]


def _key(insn: int) -> int:
    return ((insn >> 16) & 0xFF0) | ((insn >> 4) & 0xF)


class DecodeTable:
    """Patterns in priority order, bucketed by bits [27:20] and [7:4]."""

    def __init__(self, patterns: list[Pattern]):
        self.patterns = patterns
        self.buckets: list[tuple[Pattern, ...]] = []
        for key in range(4096):
            probe = ((key & 0xFF0) << 16) | ((key & 0xF) << 4)
            self.buckets.append(tuple(p for p in patterns
                                      if (probe ^ p.value) & p.mask & _KEY_MASK == 0))

    def lookup(self, insn: int) -> Pattern | None:
        for p in self.buckets[_key(insn)]:
            if insn & p.mask == p.value:
                return p
        return None


PATTERNS = [
    # ====================================================================== cond != 1111
    # -- data-processing immediate carve-outs (ARM ARM A5.2.3) --
    pattern("cccc 0011 0000 iiii dddd iiii iiii iiii", "movw", dp.trans_movw),
    pattern("cccc 0011 0100 iiii dddd iiii iiii iiii", "movt", dp.trans_movt),
    pattern("cccc 0011 0010 0000 1111 ---- iiii iiii", "hint", sy.trans_hint),
    pattern("cccc 0011 0r10 ffff 1111 iiii iiii iiii", "msr", sy.trans_msr_imm,
            r="spsr", f="mask"),
    # -- multiply (A5.2.5) --
    pattern("cccc 0000 000s dddd 0000 mmmm 1001 nnnn", "mul", dp.trans_mul),
    pattern("cccc 0000 001s dddd aaaa mmmm 1001 nnnn", "mla", dp.trans_mul),
    pattern("cccc 0000 0110 dddd aaaa mmmm 1001 nnnn", "mls", dp.trans_mul, subtract=True),
    pattern("cccc 0000 0100 hhhh llll mmmm 1001 nnnn", "umaal", dp.trans_mull,
            h="rdhi", l="rdlo", umaal=True),
    pattern("cccc 0000 1xas hhhh llll mmmm 1001 nnnn", "mull", dp.trans_mull,
            x="signed", a="accumulate", h="rdhi", l="rdlo"),
    # -- synchronization primitives (A5.2.10) --
    pattern("cccc 0001 0b00 nnnn tttt 0000 1001 mmmm", "swp", mem.trans_swp, m="rt2"),
    pattern("cccc 0001 1zz0 nnnn dddd 1111 1001 tttt", "strex", mem.trans_strex, z="size"),
    pattern("cccc 0001 1zz1 nnnn tttt 1111 1001 1111", "ldrex", mem.trans_ldrex, z="size"),
    # -- extra load/store (A5.2.8): halfword, signed byte/halfword, dual --
    pattern("cccc 000p u1wl nnnn tttt iiii 1oo1 iiii", "ldst_extra", mem.trans_ldst_extra),
    pattern("cccc 000p u0wl nnnn tttt 0000 1oo1 mmmm", "ldst_extra", mem.trans_ldst_extra),
    # -- miscellaneous (A5.2.12) and halfword multiply (A5.2.7): op 10xx with S = 0 --
    pattern("cccc 0001 0r00 1111 dddd 0000 0000 0000", "mrs", sy.trans_mrs, r="spsr"),
    pattern("cccc 0001 0r10 ffff 1111 0000 0000 nnnn", "msr", sy.trans_msr_reg,
            r="spsr", f="mask"),
    pattern("cccc 0001 0010 1111 1111 1111 0001 mmmm", "bx", br.trans_bx),
    pattern("cccc 0001 0010 1111 1111 1111 0011 mmmm", "blx", br.trans_blx_reg),
    pattern("cccc 0001 0110 1111 dddd 1111 0001 mmmm", "clz", md.trans_clz),
    pattern("cccc 0001 0oo0 nnnn dddd 0000 0101 mmmm", "qadd", md.trans_qaddsub),
    pattern("cccc 0001 0000 iiii iiii iiii 0111 iiii", "hlt", sy.trans_hlt),
    pattern("cccc 0001 0010 iiii iiii iiii 0111 iiii", "bkpt", sy.trans_bkpt),
    pattern("cccc 0001 0100 iiii iiii iiii 0111 iiii", "hvc", sy.trans_hvc),
    pattern("cccc 0001 0oo0 dddd aaaa mmmm 1yx0 nnnn", "smulxy", dp.trans_mul_halfword,
            x="n_top", y="m_top"),
    pattern("cccc 0001 0--0 ---- ---- ---- ---- ----", "undef", sy.trans_udf),
    # -- data-processing (A5.2.1, A5.2.2, A5.2.3) --
    pattern("cccc 000o ooos nnnn dddd iiii ihh0 mmmm", "dp", dp.trans_dp_reg),
    pattern("cccc 000o ooos nnnn dddd rrrr 0hh1 mmmm", "dp", dp.trans_dp_rsr, r="rs"),
    pattern("cccc 001o ooos nnnn dddd iiii iiii iiii", "dp", dp.trans_dp_imm),
    # -- load/store word and unsigned byte (A5.3) --
    pattern("cccc 010p ubwl nnnn tttt iiii iiii iiii", "ldst", mem.trans_ldst_imm),
    pattern("cccc 011p ubwl nnnn tttt iiii ihh0 mmmm", "ldst", mem.trans_ldst_reg),
    # -- media (A5.4) --
    pattern("cccc 0110 0ppp nnnn dddd 1111 ooo1 mmmm", "parallel", md.trans_parallel,
            p="op1", o="op2"),
    pattern("cccc 0110 1000 nnnn dddd 1111 1011 mmmm", "sel", md.trans_sel),
    pattern("cccc 0111 1000 dddd aaaa mmmm 0001 nnnn", "usad8", md.trans_usad8),
    pattern("cccc 0110 1000 nnnn dddd iiii ix01 mmmm", "pkh", md.trans_pkh, x="tb"),
    pattern("cccc 0110 1u1s ssss dddd iiii ih01 nnnn", "sat", md.trans_sat,
            u="unsigned", s="sat_imm", h="asr"),
    pattern("cccc 0110 1u10 ssss dddd 1111 0011 nnnn", "sat16", md.trans_sat16,
            u="unsigned", s="sat_imm"),
    pattern("cccc 0110 1ooo nnnn dddd rr00 0111 mmmm", "extend", md.trans_extend, r="rot"),
    pattern("cccc 0110 1011 1111 dddd 1111 0011 mmmm", "rev", md.trans_rev),
    pattern("cccc 0110 1011 1111 dddd 1111 1011 mmmm", "rev16", md.trans_rev16),
    pattern("cccc 0110 1111 1111 dddd 1111 0011 mmmm", "rbit", md.trans_rbit),
    pattern("cccc 0110 1111 1111 dddd 1111 1011 mmmm", "revsh", md.trans_revsh),
    pattern("cccc 0111 0000 dddd aaaa mmmm 00x1 nnnn", "smlad", md.trans_smlad, x="swap"),
    pattern("cccc 0111 0000 dddd aaaa mmmm 01x1 nnnn", "smlsd", md.trans_smlad, x="swap",
            subtract=True),
    pattern("cccc 0111 0100 hhhh llll mmmm 0sx1 nnnn", "smlald", md.trans_smlald,
            h="rdhi", l="rdlo", s="subtract", x="swap"),
    pattern("cccc 0111 0001 dddd 1111 mmmm 0001 nnnn", "sdiv", md.trans_div),
    pattern("cccc 0111 0011 dddd 1111 mmmm 0001 nnnn", "udiv", md.trans_div, unsigned=True),
    pattern("cccc 0111 0101 dddd aaaa mmmm 00r1 nnnn", "smmla", md.trans_smmul, r="rounding"),
    pattern("cccc 0111 0101 dddd aaaa mmmm 11r1 nnnn", "smmls", md.trans_smmul, r="rounding",
            subtract=True),
    pattern("cccc 0111 101w wwww dddd llll l101 nnnn", "sbfx", md.trans_bfx,
            w="widthm1", l="lsb"),
    pattern("cccc 0111 111w wwww dddd llll l101 nnnn", "ubfx", md.trans_bfx,
            w="widthm1", l="lsb", unsigned=True),
    pattern("cccc 0111 110m mmmm dddd llll l001 nnnn", "bfi", md.trans_bfi, m="msb", l="lsb"),
    pattern("1110 0111 1111 iiii iiii iiii 1111 iiii", "udf", sy.trans_udf),
    # -- branch and block transfer (A5.5) --
    pattern("cccc 100p uswl nnnn rrrr rrrr rrrr rrrr", "ldm_stm", mem.trans_ldm_stm,
            s="user", r="reglist"),
    pattern("cccc 101l iiii iiii iiii iiii iiii iiii", "b", br.trans_b,
            l="link", i=signed("imm")),
    # -- coprocessor and supervisor call (A5.6) --
    pattern("cccc 1110 oool nnnn tttt pppp qqq1 mmmm", "mcr_mrc", sy.trans_coproc,
            o="opc1", l="read", n="crn", p="coproc", q="opc2", m="crm"),
    pattern("cccc 1111 iiii iiii iiii iiii iiii iiii", "svc", sy.trans_svc),
    # ====================================================================== cond == 1111
    pattern("1111 0001 0000 oox0 0000 000f ff0m mmmm", "cps", sy.trans_cps,
            o="imod", x="change_mode", f="aif", m="mode"),
    pattern("1111 0001 0000 0001 0000 00e0 0000 0000", "setend", sy.trans_setend,
            e="big_endian"),
    pattern("1111 0101 0111 1111 1111 0000 0001 1111", "clrex", mem.trans_clrex),
    pattern("1111 0101 0111 1111 1111 0000 0100 oooo", "dsb", sy.trans_barrier, o="option"),
    pattern("1111 0101 0111 1111 1111 0000 0101 oooo", "dmb", sy.trans_barrier, o="option"),
    pattern("1111 0101 0111 1111 1111 0000 0110 oooo", "isb", sy.trans_isb, o="option"),
    # preload hints (PLD, PLDW, PLI) and the unallocated memory hints: NOPs
    pattern("1111 0101 -r01 nnnn 1111 iiii iiii iiii", "pld", sy.trans_nop, r="read"),
    pattern("1111 0111 -r01 nnnn 1111 iiii ihh0 mmmm", "pld", sy.trans_nop, r="read"),
    pattern("1111 0100 -101 nnnn 1111 iiii iiii iiii", "pli", sy.trans_nop),
    pattern("1111 0110 -101 nnnn 1111 iiii ihh0 mmmm", "pli", sy.trans_nop),
    pattern("1111 0100 -001 ---- ---- ---- ---- ----", "hint", sy.trans_nop),
    pattern("1111 0110 -001 ---- ---- ---- ---0 ----", "hint", sy.trans_nop),
    pattern("1111 101h iiii iiii iiii iiii iiii iiii", "blx", br.trans_blx_imm,
            h="halfword", i=signed("imm")),
]

#: the conditional instructions (cond != 1111)
A32 = DecodeTable([p for p in PATTERNS if p.mask >> 28 != 0xF or p.value >> 28 != 0xF])
#: the unconditional space (cond == 1111)
A32_UNCOND = DecodeTable([p for p in PATTERNS if p.mask >> 28 == 0xF and p.value >> 28 == 0xF])


def decode(insn: int) -> Pattern | None:
    """The encoding class of ``insn``, or None when no table line matches (UNDEFINED)."""
    table = A32_UNCOND if insn >> 28 == 0xF else A32
    return table.lookup(insn)
