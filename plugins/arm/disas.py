"""Text of A32 instructions for ``tcglab trace`` (``-d in_asm``).

Capstone gives real disassembly when it is installed; otherwise the decode table's
class name, refined to the mnemonic for the common classes, with the raw word.
"""

from __future__ import annotations

import functools

from .decode import decode
from .translate_dp import DP_NAMES

_CONDS = ("eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le",
          "", "")


@functools.lru_cache(maxsize=1)
def _capstone():
    try:
        import capstone
    except ImportError:
        return None
    return capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)


def disas(pc: int, insn: int) -> str:
    """One instruction: ``"add r0, r1, r2"`` (capstone) or ``"add<cond> (e0810002)"``."""
    cs = _capstone()
    if cs is not None:
        for ins in cs.disasm(insn.to_bytes(4, "little"), pc, 1):
            return f"{ins.mnemonic} {ins.op_str}".strip()
        return f".word {insn:#010x} (undefined)"
    return fallback(insn)


def fallback(insn: int) -> str:
    """The mnemonic our own decoder assigns (no operands), and the encoding."""
    p = decode(insn)
    if p is None:
        return f".word {insn:#010x} (undefined)"
    name = p.name
    if name in ("dp", "ldst", "ldm_stm", "b"):
        f = p.extract(insn)
        if name == "dp":
            name = DP_NAMES[f["op"]] + ("s" if f["setflags"] else "")
        elif name == "ldst":
            name = ("ldr" if f["load"] else "str") + ("b" if f["byte"] else "")
        elif name == "ldm_stm":
            mode = {(0, 1): "ia", (1, 1): "ib", (0, 0): "da", (1, 0): "db"}
            name = ("ldm" if f["load"] else "stm") + mode[f["p"], f["u"]]
        else:
            name = "bl" if f["link"] else "b"
    cond = _CONDS[insn >> 28]
    return f"{name}{cond} ({insn:08x})"
