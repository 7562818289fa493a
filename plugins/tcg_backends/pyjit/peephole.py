"""Peephole on the generated lines: two assignments in a row become one statement.

IR gives each op its own line, and globals (the flags above all) are often assigned and
then at once reassigned or copied: ``VF = NF ^ a`` then ``VF = VF & (a ^ b)``, or
``NF = a - b`` then ``ZF = NF``.  :mod:`.fuse` joins temps; globals it leaves alone, as
they are read later.  Here, on the final source, two adjacent lines of one block::

    X = E            X = E                     X = E
    Y = X       ->   X = Y = E                 X = R(X)   ->   X = R((E))

the second when ``R`` reads ``X`` once and ``E`` is plain arithmetic on names and numbers
(no call, no subscript: evaluating it inside ``R``, or not at all, changes nothing).
A load and a store of a local saved per merge; the values assigned are the same.
"""

from __future__ import annotations

import re

_ASSIGN = re.compile(r"^( *)([A-Za-z_][A-Za-z0-9_]*) = (.+)$")
_ARITHMETIC = re.compile(r"^[A-Za-z0-9_ ()&|^+\-*~<>=!]+$")  # names, numbers, operators
_CALL = re.compile(r"[A-Za-z0-9_]\s*\(")  # a name before "(" (or a keyword: refused too)


def merge_assignments(lines: list[str]) -> list[str]:
    """``lines`` with adjacent assignments merged (see the module docstring)."""
    out: list[str] = []
    for line in lines:
        prev = _ASSIGN.match(out[-1]) if out else None
        cur = _ASSIGN.match(line) if prev else None
        if cur and prev.group(1) == cur.group(1) and " = " not in prev.group(3):
            indent, x, expr = prev.groups()
            y, rhs = cur.group(2), cur.group(3)
            if rhs == x and y != x:
                out[-1] = f"{indent}{x} = {y} = {expr}"
                continue
            if y == x and " = " not in rhs and _pure(expr):
                word = re.compile(rf"\b{re.escape(x)}\b")
                if len(word.findall(rhs)) == 1:
                    out[-1] = f"{indent}{x} = {word.sub(lambda _m: f'({expr})', rhs)}"
                    continue
        out.append(line)
    return out


def _pure(expr: str) -> bool:
    """Arithmetic on names and numbers only: no call, subscript or attribute."""
    return bool(_ARITHMETIC.match(expr)) and not _CALL.search(expr)


__all__ = ["merge_assignments"]
