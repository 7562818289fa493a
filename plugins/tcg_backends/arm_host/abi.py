"""Where a helper's arguments go (the AAPCS, as QEMU's tcg_out_call lays them out).

Argument 0 is always ``env`` (r0), as in QEMU, where a helper finds its vCPU from env.
Then i32 arguments take the next core register r1..r3, an i64 the next even pair
(r2:r3); once an argument spills to the stack every later one goes there, 4-aligned for
i32 and 8-aligned for i64.  The generated call sites and the Python trap that decodes
the arguments both use :func:`arg_locations`, so they cannot disagree.
"""

from __future__ import annotations

from core.errors import TcglabError
from core.ir import TempType

from .layout import CALL_ARGS_SIZE

# ("reg", n) | ("pair", n) | ("stack", offset) | ("stack64", offset)
Location = tuple[str, int]


def arg_locations(types: tuple[TempType, ...], what: str) -> list[Location]:
    """Locations of ``types`` passed after env (which is r0)."""
    out: list[Location] = []
    ncrn, nsaa = 1, 0
    for t in types:
        if t is TempType.I64:
            if ncrn % 2:
                ncrn += 1
            if ncrn <= 2:
                out.append(("pair", ncrn))
                ncrn += 2
            else:
                ncrn = 4
                nsaa = (nsaa + 7) & ~7
                out.append(("stack64", nsaa))
                nsaa += 8
        elif ncrn <= 3:
            out.append(("reg", ncrn))
            ncrn += 1
        else:
            out.append(("stack", nsaa))
            nsaa += 4
    if nsaa > CALL_ARGS_SIZE:
        raise TcglabError(f"backend arm-host: {what} needs {nsaa} bytes of stack arguments, "
                          f"more than the {CALL_ARGS_SIZE} the frame reserves")
    return out
