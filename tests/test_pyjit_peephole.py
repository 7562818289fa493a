"""pyjit's peephole on generated lines: merges that keep every assigned value, and the
cases it must leave alone."""

from __future__ import annotations

import random

import pytest

from plugins.tcg_backends.pyjit.peephole import merge_assignments

M = 4294967295


@pytest.mark.parametrize("lines,merged", [
    # a copy of the value just assigned: one chained assignment
    (["    g16 = (g3 - g1) & 4294967295", "    g17 = g16"],
     ["    g16 = g17 = (g3 - g1) & 4294967295"]),
    # reassigned from itself once: the first expression moves in, parenthesised
    (["    g19 = g16 ^ g3", "    g19 = g19 & (g3 ^ g1)"],
     ["    g19 = (g16 ^ g3) & (g3 ^ g1)"]),
    (["  t1 = (g7 << (t0 & 31)) & 4294967295", "  t1 = t1 if t0 < 32 else 0"],
     ["  t1 = ((g7 << (t0 & 31)) & 4294967295) if t0 < 32 else 0"]),
])
def test_merges(lines, merged):
    assert merge_assignments(lines) == merged


@pytest.mark.parametrize("lines", [
    ["    g1 = g2 + 1", "        g1 = g1 + 1"],  # another block
    ["    g1 = g2 + 1", "    g1 = g1 + g1"],  # read twice: evaluating E twice
    ["    g1 = _ls(g2, 2)", "    g1 = g1 if g3 else 0"],  # a call may not be skipped
    ["    g1 = _h4[_i][g2 >> 2]", "    g1 = g1 & 255"],  # a subscript neither
    ["    g1 = g2 = g3 + 1", "    g1 = g1 + 1"],  # g2 must keep the first value
    ["    g1 = g3 + 1", "    g2 = g1 + 1"],  # g1 is read later, maybe
    ["    if g1 == 0:", "    g1 = g1 + 1"],
    ["    env[3] = g1", "    g4 = g1"],
])
def test_leaves_alone(lines):
    assert merge_assignments(lines) == lines


def test_merged_code_assigns_the_same_values():
    """Random straight-line code over a few locals: the merged source, run, leaves every
    local as the original does."""
    rng = random.Random(7)
    names = ["g1", "g2", "g3", "t0"]
    ops = ["+", "-", "^", "&", "|"]
    for _ in range(300):
        lines = []
        for _ in range(rng.randrange(2, 9)):
            x, a, b = rng.choice(names), rng.choice(names), rng.choice(names)
            form = rng.randrange(4)
            if form == 0:
                lines.append(f"{x} = {a}")
            elif form == 1:
                lines.append(f"{x} = {x} {rng.choice(ops)} ({a} ^ {rng.randrange(99)})")
            elif form == 2:
                lines.append(f"{x} = 1 if {a} >= {b} else 0")
            else:
                lines.append(f"{x} = ({a} {rng.choice(ops)} {b}) & {M}")
        start = {n: rng.randrange(1 << 32) for n in names}
        before, after = dict(start), dict(start)
        exec("\n".join(lines), {}, before)
        merged = merge_assignments(lines)
        exec("\n".join(merged), {}, after)
        assert before == after, (lines, merged)
    assert merge_assignments(["g1 = g2 ^ 5", "g1 = g1 & 3"]) == ["g1 = (g2 ^ 5) & 3"]
