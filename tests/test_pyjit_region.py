"""pyjit's region layout (``region.nest``): loops laid out as nested runs of members."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from plugins.tcg_backends.pyjit.region import nest


def graph(n: int, edges: list[tuple[int, int]]) -> list[SimpleNamespace]:
    """Stand-ins for TBs: chained exits (two slots) and the TB an exit_tb led to."""
    tbs = [SimpleNamespace(name=k, jmp_dest=[None, None],
                           compiled=SimpleNamespace(exit_next=None)) for k in range(n)]
    for a, b in edges:
        t = tbs[a]
        if t.jmp_dest[0] is None:
            t.jmp_dest[0] = tbs[b]
        elif t.jmp_dest[1] is None:
            t.jmp_dest[1] = tbs[b]
        else:
            t.compiled.exit_next = tbs[b]
    return tbs


def names(order):
    return [t.name for t in order]


def test_a_loop_with_an_inner_loop_and_a_self_loop():
    # 0 -> 1 -> 2 -> 1 (inner), 2 -> 3 -> 3 (self) -> 0 (outer)
    order, loops = nest(graph(4, [(0, 1), (1, 2), (2, 1), (2, 3), (3, 3), (3, 0)]))
    assert names(order) == [0, 1, 2, 3]
    assert loops == ((0, 3), (1, 2), (3, 3))


def test_what_leads_into_a_loop_comes_before_it():
    # 0 -> 1 -> 2 -> 3 -> 1: 0 is no loop member, the loop's head is 1
    order, loops = nest(graph(4, [(0, 1), (1, 2), (2, 3), (3, 1)]))
    assert names(order) == [0, 1, 2, 3]
    assert loops == ((1, 3),)


def test_members_are_ordered_by_the_flow_not_by_their_index():
    # collected order 0, 2, 1 but the flow is 0 -> 2 -> 1 -> 0
    order, loops = nest(graph(3, [(0, 2), (2, 1), (1, 0)]))
    assert names(order) == [0, 2, 1] and loops == ((0, 2),)


@pytest.mark.parametrize("seed", range(40))
def test_every_jump_back_goes_to_the_head_of_a_loop_around_both(seed):
    """On random graphs: the order is a permutation, loops nest or are disjoint, and an
    edge to an earlier (or the same) member targets the first member of a loop holding
    both ends -- so a jump back is always a loop's ``continue``."""
    rng = random.Random(seed)
    n = rng.randrange(2, 14)
    edges = [(a, rng.randrange(n)) for a in range(n) for _ in range(rng.randrange(1, 4))]
    order, loops = nest(graph(n, edges))
    assert sorted(names(order)) == list(range(n))
    for a in loops:
        for b in loops:
            assert a[1] < b[0] or b[1] < a[0] or (a[0] <= b[0] and b[1] <= a[1]) \
                or (b[0] <= a[0] and a[1] <= b[1])
    pos = {t.name: k for k, t in enumerate(order)}
    for a, b in edges:
        if pos[b] <= pos[a]:
            assert any(h == pos[b] and h <= pos[a] <= t for h, t in loops), (edges, a, b)
