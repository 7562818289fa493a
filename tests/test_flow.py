"""core/flow.py: basic blocks, edges and the dataflow fixed points every client shares
(the optimiser, arm-host's liveness of locals, pyjit's dirty globals and liveness)."""

from __future__ import annotations

import pytest

from core import flow
from core.builder import Builder
from core.cpu import StateLayout
from core.ir import BASE_OPS, Cond, OpTable, Temp, TempKind, TranslationBlock
from core.optimize import optimize_tb
from plugins.tcg_backends.arm_host.liveness import analyze

PC = 0x4000_0000


def new_tb():
    table = OpTable(BASE_OPS)
    layout = StateLayout()
    for name in ("r0", "r1", "pc"):
        layout.add(name)
    tb = TranslationBlock(PC)
    return tb, Builder(tb, table), layout.globals, table


def temps(xs) -> frozenset:
    return frozenset(t for t in xs if isinstance(t, Temp) and t.kind is not TempKind.CONST)


def live_out_of_blocks(tb, exit_reads=frozenset()):
    """Plain use/def liveness over ``tb`` with core.flow; ``exit_reads`` are read where
    the TB is left.  Returns (graph, live-out of each block as the last transfer saw it,
    live-in of each block)."""
    g = flow.op_graph(tb.ops)
    seen_out = {}

    def transfer(b, out):
        seen_out[b] = out
        s, e = g.blocks[b]
        live = set(out)
        for op in reversed(tb.ops[s:e]):
            outs, ins, _ = op.split()
            if op.opdef.bb_exit:
                live |= exit_reads
            live -= temps(outs)
            live |= temps(ins)
        return frozenset(live)

    live_in = g.backward(transfer)
    return g, seen_out, live_in


def loop_tb():
    """b0: t2 = 5, t0 = 0;  b1 (L): t0 += t2; if t0 < 100 goto L;  b2: r0 = t0; exit."""
    tb, b, g, _table = new_tb()
    t0, t2 = b.temp_new(), b.temp_new()
    b.insn_start(PC)
    b.movi(t2, 5)
    b.movi(t0, 0)
    head = b.new_label()
    b.set_label(head)
    b.add(t0, t0, t2)
    b.brcond(Cond.LTU, t0, 100, head)
    b.mov(g["r0"], t0)
    b.movi(g["pc"], PC + 4)
    b.exit_tb(0)
    return tb, g, t0, t2


def test_blocks_of_a_loop_and_the_back_edge():
    tb, _g, _t0, _t2 = loop_tb()
    graph = flow.op_graph(tb.ops)
    assert len(graph.blocks) == 3
    (s1, e1) = graph.blocks[1]
    assert tb.ops[s1].name == "set_label" and tb.ops[e1 - 1].name == "brcond_i32"
    assert graph.succs == [[1], [1, 2], []]  # the target first, then the fall-through
    assert graph.preds == [[], [0, 1], [1]]


def test_liveness_across_a_loop_needs_the_fixed_point():
    """t2 is read only inside the loop: it is live out of the loop body because of the
    back edge, which one backward pass over the blocks does not see."""
    tb, _g, t0, t2 = loop_tb()
    _graph, seen_out, live_in = live_out_of_blocks(tb)
    assert seen_out[1] == frozenset({t0, t2})  # the last visit saw the final live-out
    assert live_in[1] == frozenset({t0, t2})
    assert live_in[0] == frozenset()  # both are written before the loop
    assert seen_out[2] == frozenset()


def test_arm_host_liveness_keeps_a_loop_invariant_live_at_the_label():
    tb, _g, _t0, t2 = loop_tb()
    live = analyze(tb)
    (label_id,) = live.live_in_label
    assert t2.index in live.live_in_label[label_id]
    brcond = next(i for i, op in enumerate(tb.ops) if op.name == "brcond_i32")
    assert t2.index in live.live_out[brcond]


def join_tb():
    """b0: if r1 == 0 goto L1;  b1: t0 = 1; goto L2;  b2 (L1): t0 = 2;  b3 (L2): r0 = t0."""
    tb, b, g, _table = new_tb()
    t0 = b.temp_new()
    b.insn_start(PC)
    other, join = b.new_label(), b.new_label()
    b.brcond(Cond.EQ, g["r1"], 0, other)
    b.movi(t0, 1)
    b.br(join)
    b.set_label(other)
    b.movi(t0, 2)
    b.set_label(join)
    b.mov(g["r0"], t0)
    b.movi(g["pc"], PC + 4)
    b.exit_tb(0)
    return tb, g, t0


def test_a_label_joins_two_paths():
    tb, g, t0 = join_tb()
    graph, _seen, live_in = live_out_of_blocks(tb)
    assert graph.succs == [[2, 1], [3], [3], []]
    assert graph.preds[3] == [1, 2]
    assert t0 in live_in[3] and t0 not in live_in[0]  # written on both paths
    assert live_in[0] == frozenset({g["r1"]})


def test_forward_dataflow_joins_what_every_path_brings():
    """Which temps may have been written on some path to each block (pyjit's dirty
    globals are this problem)."""
    tb, _g, t0 = join_tb()
    graph = flow.op_graph(tb.ops)

    def transfer(b, written):
        s, e = graph.blocks[b]
        for op in tb.ops[s:e]:
            written = written | temps(op.split()[0])
        return written

    out = flow.forward(range(len(graph.blocks)), graph.preds, graph.succs, transfer)
    assert t0 not in out[0] and t0 in out[1] and t0 in out[2] and t0 in out[3]


def test_globals_are_live_at_a_tb_exit():
    tb, g, _t0, _t2 = loop_tb()
    globals_ = frozenset(g.values())
    _graph, seen_out, live_in = live_out_of_blocks(tb, exit_reads=globals_)
    # the exit reads every global; r0 and pc are written in the last block, r1 is not
    assert g["r1"] in live_in[2] and g["r0"] not in live_in[2]
    assert g["r1"] in live_in[0]


def test_the_optimiser_keeps_global_writes_an_exit_reads_and_drops_dead_local_ones():
    tb, b, g, table = new_tb()
    t = b.temp_new()
    b.insn_start(PC)
    b.movi(t, 7)  # read by nothing: dead
    b.add(g["r0"], g["r1"], 1)  # overwritten before the exit: dead
    b.add(g["r0"], g["r1"], 2)  # read by the exit: stays
    b.movi(g["pc"], PC + 4)
    b.exit_tb(0)
    optimize_tb(tb, table)
    writes = [op for op in tb.ops if op.split()[0]]
    assert [op.split()[0][0] for op in writes] == [g["r0"], g["pc"]]
    assert writes[0].args[2].value == 2


def test_a_branch_to_a_label_never_set():
    tb, b, g, _table = new_tb()
    b.insn_start(PC)
    b.br(b.new_label())
    graph = flow.op_graph(tb.ops)
    assert graph.succs == [[]]  # no edge
    missing = []
    flow.graph(len(tb.ops), lambda i: None,
               lambda i: (7, False) if tb.ops[i].name == "br" else None, missing.append)
    assert missing == [7]
    with pytest.raises(KeyError):
        flow.graph(1, lambda i: None, lambda i: (3, False), lambda label: {}[label])


def test_reachable_and_predecessors_on_a_map_of_any_blocks():
    succs = {10: [11, 12], 11: [13], 12: [13], 13: [10], 20: [13]}
    reach = flow.reachable(succs, [10])
    assert reach == {10, 11, 12, 13}
    preds = flow.predecessors(sorted(reach), succs)
    assert preds == {10: [13], 11: [10], 12: [10], 13: [11, 12]}


def test_an_empty_sequence_has_no_blocks():
    graph = flow.graph(0, lambda i: None, lambda i: None)
    assert graph.blocks == [] and graph.backward(lambda b, out: out) == {}



def test_a_loop_branches_back():
    tb, _g, _t0, _t2 = loop_tb()
    assert flow.branches_back(tb.ops)


def test_forward_branches_and_a_branch_to_a_label_set_nowhere():
    tb, b, g, _table = new_tb()
    skip = b.new_label()
    b.insn_start(PC)
    b.brcond(Cond.EQ, g["r0"], 0, skip)  # forward: runs each op at most once
    b.movi(g["r1"], 1)
    b.set_label(skip)
    b.exit_tb(0)
    assert not flow.branches_back(tb.ops)
    b.brcond(Cond.NE, g["r1"], 0, b.new_label())
    # a label never set cannot be shown to lie ahead: the conservative answer
    assert flow.branches_back(tb.ops)
