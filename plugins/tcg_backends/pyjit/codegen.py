"""Python source for one compilation unit (a TB, or a loop of chained TBs), op by op.

The function is ``_tb(cpu, env, rem, mm)``: ``rem`` is the budget left, ``mm`` the vCPU's
softmmu lists and slow paths.  It returns ``(exit, executed, member)``: the exit the
interpreter would have returned (``goto_tb`` slot, ``EXIT_NOCHAIN`` or ``EXIT_BUDGET``),
the instructions run, and which TB of the unit it left from.

* Globals live in locals (``g<slot>``): loaded at entry if read before written, written
  back where Python outside the unit may read ``env`` (exits, calls, slow paths, slice
  ends), reloaded after a call that may have written ``env`` (a softmmu slow path
  writes none, see core.softmmu, as QEMU's memory helpers write no TCG global).
* The softmmu fast path is inline and hits exactly where ``SoftMMU.load``/``store``
  would: an access of 1, 2 or 4 bytes looks its page up in the softmmu's page dicts
  (the entries a tag compare would hit) and takes an item of the page; what misses there,
  and wider accesses, take the tag compare (the memop's ``adj``/``cmpmask``) and the
  struct access on the host memoryview; the slow path calls ``load_slow``/``store_slow``.
* Control flow inside a TB: forward branches become nested ``if`` blocks; anything else
  (backward or crossing branches) runs as a block-dispatch loop, slower and always right.
* A transition (a ``goto_tb`` to a TB of the unit, the TB itself included) falls
  through to the next TB's code or continues a ``while`` loop (one per loop of TBs,
  see :meth:`FunctionWriter._member_dispatch`), taken only where ``core.exec.cpu_exec``
  would have chained the same two TBs: budget left, the vCPU's exit-request word clear
  (``cpu.exit_request``: no queued work, no stop request, the vCPU running), the target
  valid and the current chain target, the TB flags equal (see :mod:`.flags`).
  Otherwise the unit returns and the dispatcher decides, as always.  ``w`` remembers
  that those checks passed and no Python outside the unit has run since (only slow
  paths and calls run any, and they clear it: only Python sets the word); edges that
  were chained when the unit was built are vouched for by the backend's cell ``_V``,
  cleared when any of them is unchained or relinked, so under ``w`` a transition is a
  subtraction and a compare.
* Exceptions leave with ``executed`` and the instruction's pc attached (``ip`` indexes a
  table of the raising sites) for the backend to finish as the interpreter: a guest
  exception, and as well any other (a helper's or a plugin's error, which ends the run:
  the instructions started count, the raising one included, see ``core.backend``).  The
  handler costs nothing while no exception is raised.

Only names made up here or in :mod:`.steps` and decimal numbers reach the source.
"""

from __future__ import annotations

from core.backend import EXIT_BUDGET, EXIT_NOCHAIN
from core.ir import MemOp
from core.softmmu import PAGE_BITS, PAGE_SIZE, TLB_SIZE, WORD_VIEWS

from .analysis import Block, Flow, Member, Unit, Variant
from .flags import FlagsMode
from .lower import cond_expr
from .peephole import merge_assignments
from .steps import Kind, Step

# ``left`` holds two counters in one int, so that a transition updates both with one
# subtraction: the budget left (times 2**COUNT_SHIFT) minus the TBs chained to so far.
# The backend passes a budget below 2**COUNT_SHIFT, so the count (at most one per
# instruction) fits, and ``left`` stays below 2**30: one of CPython's digits, the only
# ints 3.11 subtracts and compares on its fast paths (a unit returns to the dispatcher
# every 32767 instructions at most, which costs nothing measurable).
COUNT_SHIFT = 15
COUNT_MASK = (1 << COUNT_SHIFT) - 1


class Unstructured(Exception):
    """A TB's branches do not nest: it needs the block-dispatch form."""


class FunctionWriter:
    """Writes the source of one variant of one unit."""

    def __init__(self, unit: Unit, flow: Flow, variant: Variant, *, flags_mode: FlagsMode,
                 member_flags: list[str], rewrites_flags: set[int],
                 flag_slots: tuple[int, ...] = (), paged_stores: bool = True):
        self.unit = unit
        self.flow = flow
        self.variant = variant
        self.flags_mode = flags_mode  # how a transition checks the TB flags
        self.member_flags = member_flags  # source atom of each member's tb.flags
        self.rewrites_flags = rewrites_flags  # exits a store to a slot tb_flags reads may precede
        self.flag_slots = flag_slots  # the slots the flags snapshot holds (witness mode)
        self.paged_stores = paged_stores  # False: every store misses (see _access)
        self.loop = bool(variant.edges)
        self.multi = len(unit.members) > 1
        self.track_w = self.loop and flags_mode is FlagsMode.WITNESS  # the snapshot is used
        # the loops (member index ranges, see .region.nest) around the code being written,
        # innermost last; the function's own ``while`` is (0, last member)
        self.ranges: list[tuple[int, int]] = [(0, len(unit.members) - 1)]
        self.block_dispatch = False
        self.lines: list[str] = []
        self.sites: list[tuple[int, int]] = []  # (insn pc, count) per raising site
        self._site_index: dict[tuple[int, int], int] = {}
        self.member_of: dict[int, int] = {}
        for mi, m in enumerate(unit.members):
            for st in m.steps:
                self.member_of[st.uid] = mi
        self.uses_mmu = any(st.kind in (Kind.QLD, Kind.QST) for m in unit.members
                            for st in m.steps)

    # ---------------------------------------------------------------- the function

    def source(self) -> str:
        if self.multi:
            body = self._member_dispatch()
        else:
            try:
                body = self._single()
            except Unstructured:
                self.block_dispatch = True
                body = self._block_dispatch()
        dynamic = self.flow.counts is None
        # a unit of several TBs may be entered at any of them (``_b``): what any entry
        # reads before writing is loaded (or zeroed) whichever it is
        entry_live = frozenset().union(*self.flow.entry_live.values()) if self.multi \
            else self.flow.entry_live[0]
        head = ["def _tb(cpu, env, rem, mm, _b=0):" if self.multi
                else "def _tb(cpu, env, rem, mm):"]
        if self.uses_mmu or self.track_w:
            head.append("    _ar, _aw, _hs, _ad, _ls, _ss, _sn, _rp, _wp = mm")
        self.lines = []
        self._load_globals([name for name in entry_live if name[0] == "g"], 1)
        head += self.lines
        for name in sorted(entry_live, key=_var_order):
            if name[0] != "g":
                head.append(f"    {name} = 0")
        head.append("    ip = 0")
        if dynamic:  # the count and the instruction's pc depend on the path: track both
            head.append("    n = 0")
            head.append(f"    ipc = {self.unit.members[0].tb.pc}" if not self.multi else
                        "    ipc = _PC0[_b]")
        if self.loop:  # left: the budget not used by the TBs run before this one
            head.append(f"    left = rem << {COUNT_SHIFT}")
            if self.variant.lookup_var:
                head.append("    lk = 0")
        if self.loop:
            head.append("    w = 0")
        head.append("    try:")
        # every exit breaks out of the loop to here: one writeback, one return
        self.lines = []
        self._writeback(self.flow.exit_writeback, 2)
        if self.variant.checked:
            self._line(f"if _xs == {EXIT_BUDGET}:", 2)
            self._line("_sp(cpu, _xp)", 3)
        self._stats_flush(2)
        self._line("return (_xs, _xn, _xm)", 2)
        shared_exit = self.lines
        counted = "n" if dynamic else "_CNT[ip]"
        tail = ["    except _BE as _e:",
                f"        _e.executed = {self._used() + ' + ' if self.loop else ''}{counted}",
                f"        _e.pyjit_pc = {'ipc' if dynamic else '_IPC[ip]'}"]
        if self.loop:
            self.lines = []
            self._stats_flush(2)
            tail += self.lines
        tail.append("        raise")
        return "\n".join(merge_assignments(head + body + shared_exit + tail)) + "\n"

    def tables(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(_IPC, _CNT): insn pc and instruction count of each raising site ``ip``."""
        sites = self.sites or [(self.unit.members[0].tb.pc, 0)]
        return tuple(p for p, _ in sites), tuple(c for _, c in sites)

    def _reset(self) -> None:
        self.lines = []
        self.sites, self._site_index = [], {}

    def _single(self) -> list[str]:
        self._reset()
        self._line("while True:", 2)
        self._member_body(self.unit.members[0], 3)
        return self.lines

    def _member_dispatch(self) -> list[str]:
        """Several TBs, laid out in order (loops contiguous, see .region.nest): member
        ``k`` under ``if _b <= k``, each loop of members in its own ``while True``.

        While member ``k`` runs, ``_b <= k``.  So a jump to the next member that ends its
        member's code falls through (one compare, no store), a jump further on sets
        ``_b`` and falls through the tests in between, and a jump back to a loop's head
        sets ``_b`` and continues that loop: a compare, not a walk from the first member.
        Leaving a loop (``_b`` below its first member, or -1 for the exit) goes through
        the test after it, loop by loop outwards.
        """
        self._reset()
        self._line("while True:", 2)
        last = len(self.unit.members) - 1
        self._members(0, last, 3, outermost=True)
        return self.lines

    def _members(self, lo: int, hi: int, depth: int, outermost: bool = False) -> None:
        loops = self.variant.loops
        k = lo
        while k <= hi:
            inner = max((r for r in loops if r[0] == k and r[1] <= hi and r != (lo, hi)),
                        key=lambda r: r[1], default=None)
            if inner is not None:
                self._loop(inner, depth)
                k = inner[1] + 1
                continue
            if outermost and k == hi:  # _b never exceeds the last member: no test
                self._member_body(self.unit.members[k], depth)
            else:
                self._line(f"if _b <= {k}:", depth)
                self._member_body(self.unit.members[k], depth + 1)
            k += 1

    def _loop(self, loop: tuple[int, int], depth: int) -> None:
        h, t = loop
        outer_lo = self.ranges[-1][0]
        self.ranges.append(loop)
        if h == t:  # a TB jumping to itself: tested once, before its loop
            self._line(f"if _b <= {h}:", depth)
            depth += 1
            self._line("while True:", depth)
            self._member_body(self.unit.members[h], depth + 1)
        else:
            self._line("while True:", depth)
            self._members(h, t, depth + 1)
        self._line("break", depth + 1)  # past its last member: _b is further on
        self.ranges.pop()
        # left backwards (or for the exit): the loop around goes on, or leaves in turn
        self._line(f"if _b < {h}:", depth)
        if outer_lo < h:
            self._line(f"if _b < {outer_lo}:", depth + 1)
            self._line("break", depth + 2)
            self._line("continue", depth + 1)
        else:
            self._line("break", depth + 1)

    def _member_body(self, m: Member, depth: int) -> None:
        by_index = {b.index: b for b in m.blocks}
        reach = set(m.reachable)
        if by_index[m.reachable[-1]].falls_off:
            raise Unstructured  # the dispatch form raises at run time, as the interpreter
        self._region(by_index, reach, m.entry, m.entry + len(m.blocks), depth, tail=True)

    # ---------------------------------------------------------------- structure

    def _region(self, by_index: dict[int, Block], reach: set[int], start: int, end: int,
                depth: int, tail: bool = False) -> None:
        """Emit blocks [start, end) at ``depth``; control leaves only to ``end`` or out.

        ``tail``: nothing of the member follows this code, so a transition at its end
        may fall out of the member's code (see :meth:`_member_dispatch`).
        """
        bi = start
        while bi < end:
            b = by_index[bi]
            if bi not in reach:
                bi += 1
                continue
            t = b.term
            for st in b.steps[:-1] if t is not None else b.steps:
                self._step(st, depth)
            if t is None or t.kind in (Kind.GOTO, Kind.EXIT):
                if t is not None:
                    last = tail and not any(x in reach for x in range(bi + 1, end))
                    self._step(t, depth, tail=last)
                bi += 1
                continue
            target = b.succs[0]
            if t.kind is Kind.BR:
                if target == bi + 1:
                    bi += 1
                    continue
                if target == end and not any(x in reach for x in range(bi + 1, end)):
                    return
                raise Unstructured
            # BRCOND: the fall-through path is the region [bi + 1, target)
            if target <= bi or target > end:
                raise Unstructured
            last = by_index[target - 1] if target - 1 > bi else None
            else_end = None
            if (last is not None and last.term is not None and last.term.kind is Kind.BR
                    and last.succs[0] > target and target - 1 in reach):
                else_end = last.succs[0]
            for inner in range(bi + 1, target):
                if inner not in reach:
                    continue
                for s in by_index[inner].succs:
                    if s <= bi or s > target:
                        if not (inner == target - 1 and s == else_end):
                            raise Unstructured
                    elif s == target and else_end is not None:
                        raise Unstructured  # would skip into the else part
            if else_end is not None and else_end > end:
                raise Unstructured
            cond = self._branch_cond(t, depth)
            self._line(f"if not ({cond}):", depth)
            if (tail and else_end is None and target > bi + 1 and bi + 1 in reach
                    and not _reaches(by_index, reach, bi + 1, target)):
                # the fall-through path ends in exits: the rest goes under ``else``, so
                # both end the member's code
                for lo, hi, word in ((bi + 1, target, None), (target, end, "else:")):
                    if word is not None:
                        if not any(x in reach for x in range(lo, hi)):
                            break
                        self._line(word, depth)
                    mark = len(self.lines)
                    self._region(by_index, reach, lo, hi, depth + 1, tail=True)
                    if len(self.lines) == mark:
                        self._line("pass", depth + 1)
                return
            mark = len(self.lines)
            if else_end is None:
                self._region(by_index, reach, bi + 1, target, depth + 1)
            else:
                self._region(by_index, reach, bi + 1, target - 1, depth + 1)
                for st in last.steps[:-1]:
                    self._step(st, depth + 1)
            if len(self.lines) == mark:
                self._line("pass", depth + 1)
            if else_end is not None:
                self._line("else:", depth)
                mark = len(self.lines)
                self._region(by_index, reach, target, else_end, depth + 1)
                if len(self.lines) == mark:
                    self._line("pass", depth + 1)
                bi = else_end
            else:
                bi = target

    def _block_dispatch(self) -> list[str]:
        """Any control flow in one TB: ``while True`` over ``if _b == <block>`` arms."""
        self._reset()
        m = self.unit.members[0]
        by_index = {b.index: b for b in m.blocks}
        self._line(f"_b = {m.entry}", 2)
        self._line("while True:", 2)
        for k, bi in enumerate(m.reachable):
            b = by_index[bi]
            self._line(f"{'if' if k == 0 else 'elif'} _b == {bi}:", 3)
            t = b.term
            for st in b.steps[:-1] if t is not None else b.steps:
                self._step(st, 4)
            if t is None:
                if b.falls_off:
                    self._line("raise _FALLOFF", 4)
                else:
                    self._goto_block(b.succs[0], 4)
            elif t.kind is Kind.BR:
                self._goto_block(b.succs[0], 4)
            elif t.kind is Kind.BRCOND:
                cond = self._branch_cond(t, 4)
                self._line(f"if {cond}:", 4)
                self._goto_block(b.succs[0], 5)
                if len(b.succs) > 1:
                    self._goto_block(b.succs[1], 4)
                else:
                    self._line("raise _FALLOFF", 4)
            else:
                self._step(t, 4)
        return self.lines

    def _goto_block(self, bi: int, depth: int) -> None:
        self._line(f"_b = {bi}", depth)
        self._line("continue", depth)

    # ---------------------------------------------------------------- ops

    def _line(self, text: str, depth: int) -> None:
        self.lines.append("    " * depth + text)

    def _site(self, st: Step, depth: int) -> None:
        """Mark a place that may raise: ``ip`` finds the insn pc and count."""
        if self.flow.counts is None:  # both tracked at run time (n, ipc)
            key = (0, 0)
        else:
            key = (self.flow.insn_pcs[st.uid], self.flow.counts[st.uid])
        idx = self._site_index.get(key)
        if idx is None:
            idx = self._site_index[key] = len(self.sites)
            self.sites.append(key)
        self._line(f"ip = {idx}", depth)

    def _lost_witness(self, depth: int) -> None:
        if self.loop:
            self._line("w = 0", depth)

    def _writeback(self, names, depth: int) -> None:
        """``env[slot] = g<slot>`` for each name; a run of adjacent slots is one slice
        assignment (a smaller source compiles faster, and runs faster too)."""
        for first, last in _runs(int(name[1:]) for name in names):
            if first == last:
                self._line(f"env[{first}] = g{first}", depth)
            else:
                self._line(f"env[{first}:{last + 1}] = {_names(first, last)}", depth)

    def _reload(self, st: Step, depth: int) -> None:
        keep = [name for name in self.flow.live_after[st.uid] - frozenset(st.defs)
                if name[0] == "g"]
        self._load_globals(keep, depth)

    def _load_globals(self, names, depth: int) -> None:
        """``g<slot> = env[slot]`` for each name, as one slice unpacking from the lowest
        slot to the highest: the slots between are loaded too, which is harmless (env is
        exact wherever globals are loaded; a global is written back only after it is
        assigned again)."""
        slots = sorted(int(name[1:]) for name in names)
        if len(slots) == 1:
            self._line(f"g{slots[0]} = env[{slots[0]}]", depth)
        elif slots:
            self._line(f"{_names(slots[0], slots[-1])} = env[{slots[0]}:{slots[-1] + 1}]", depth)

    def _count(self, st: Step) -> str:
        counts = self.flow.counts
        here = "n" if counts is None else str(counts[st.uid])
        return f"{self._used()} + {here}" if self.loop else here

    @staticmethod
    def _used() -> str:
        """The instructions run by the TBs before this one, from ``left``."""
        return f"rem + (-left >> {COUNT_SHIFT})"  # rem - ceil(left / 2**COUNT_SHIFT)

    def _step(self, st: Step, depth: int, tail: bool = False) -> None:
        k = st.kind
        if st.uid in self.flow.dead or st.deferred or k in (Kind.LABEL, Kind.NOP, Kind.BR):
            return
        if k is Kind.INSN:
            if self.variant.checked:
                self._line("if n == rem:", depth)
                self._exit(EXIT_BUDGET, "n", self.member_of[st.uid], depth + 1, pc=st.value)
            if self.flow.counts is None:
                self._line("n += 1", depth)
                self._line(f"ipc = {st.value}", depth)
        elif k is Kind.NATIVE:
            dead = () if len(st.defs) < 2 else set(st.defs) - self.flow.live_after[st.uid]
            for text in st.lines:  # a line per output (add2, mulu2, ...): not the dead ones
                if text.partition(" = ")[0] not in dead:
                    self._line(text, depth)
        elif k is Kind.CALL:
            self._call(st, depth)
        elif k is Kind.QLD:
            self._load(st, depth)
        elif k is Kind.QST:
            self._store(st, depth)
        elif k is Kind.EXIT:
            if self.variant.lookup_var and self.flags_mode is not FlagsMode.CALL:
                self._lookup_exit(st, depth)
            else:
                self._leave(st, EXIT_NOCHAIN, depth)
        elif k is Kind.GOTO:
            if st.uid in self.variant.edges:
                self._transition(st, depth, tail)
            else:
                self._leave(st, st.value, depth)

    def _leave(self, st: Step, exit_value: int, depth: int) -> None:
        self._exit(exit_value, self._count(st), self.member_of[st.uid], depth)

    def _exit(self, exit_value: int, count: str, member: int, depth: int,
              pc: int | None = None) -> None:
        """Leave through the shared exit after the loop."""
        self._line(f"_xs = {exit_value}", depth)
        self._line(f"_xn = {count}", depth)
        self._line(f"_xm = {member}", depth)
        if pc is not None:
            self._line(f"_xp = {pc}", depth)
        if len(self.ranges) > 1:
            self._line("_b = -1", depth)  # then out of the loops around too
        self._line("break", depth)

    def _call(self, st: Step, depth: int) -> None:
        self._site(st, depth)
        if st.writeback:
            self._writeback(self.flow.dirty[st.uid], depth)
        call = f"{st.func}({', '.join(st.args)})"
        if st.writeback:
            self._lost_witness(depth)
        if not st.defs:
            self._line(call, depth)
            if st.clobbers:
                self._reload(st, depth)
            return
        targets = ", ".join(st.defs)
        if not st.clobbers:
            self._line(f"{targets} = {call}", depth)
            return
        self._line(f"_v = {call}", depth)
        self._reload(st, depth)
        self._line(f"{targets} = _v", depth)

    def _branch_cond(self, st: Step, depth: int) -> str:
        if st.cond is not None:
            return cond_expr(st.cond, st.ins[0], st.ins[1], st.bits)
        self._site(st, depth)
        if st.writeback:
            self._writeback(self.flow.dirty[st.uid], depth)
            self._lost_witness(depth)
        self._line(f"_v = {st.func}({', '.join(st.args)})", depth)
        if st.clobbers:
            self._reload(st, depth)
        return "_v"

    @staticmethod
    def _tag(addr: str, adj: int, cmpmask: int) -> str:
        if addr[0].isdigit():
            return str((int(addr) + adj) & cmpmask)
        return f"{addr} & {cmpmask}" if adj == 0 else f"({addr} + {adj}) & {cmpmask}"

    @staticmethod
    def _index(addr: str) -> str:
        """The TLB index of ``addr`` (as SoftMMU: page number modulo the TLB size)."""
        if addr[0].isdigit():
            return str((int(addr) >> PAGE_BITS) & (TLB_SIZE - 1))
        return f"({addr} >> {PAGE_BITS}) & {TLB_SIZE - 1}"

    def _access(self, st: Step, addr: str, write: bool, depth: int, fast, by_struct,
                slow: str) -> None:
        """An inline softmmu access, as ``SoftMMU.load``/``store`` would do it.

        A little-endian access of 1, 2 or 4 bytes looks its page up in the softmmu's page
        dicts (``read_pages``/``write_pages``: the entries the tag compare would hit),
        keyed by the address masked as that compare masks it, and takes an item of the
        page: ``fast(item)`` is the line.  What misses (another page, a flagged entry, a
        misaligned address) goes on to the compare, where a misaligned access the memop
        allows, inside its page, takes the struct path (``by_struct(offset)``); anything
        else is the slow path.  Wider or byte-swapped accesses take the compare directly,
        and so do stores under a policy that flags every store
        (``MemoryPolicy.flags_every_store``), where a lookup would only raise.
        """
        size, fn, adj, cmpmask = st.mem
        const = addr[0].isdigit()
        shift = size.bit_length() - 1
        misaligned = size > 1 and cmpmask & (size - 1) != size - 1  # the memop allows it
        paged = (size == 1 or WORD_VIEWS) and size <= 4 and not st.value & MemOp.MO_BSWAP \
            and not (const and int(addr) & (size - 1)) and (self.paged_stores or not write)
        if paged:
            mask = cmpmask | (size - 1)
            if const:
                key, item = str(int(addr) & mask), str((int(addr) & (PAGE_SIZE - 1)) >> shift)
            else:
                key = f"{addr} & {mask}"
                item = f"{addr} & {PAGE_SIZE - 1}"
                if shift:
                    item = f"({item}) >> {shift}"
            self._line("try:", depth)
            self._line(fast(f"{'_wp' if write else '_rp'}[{key}][{shift}][{item}]"), depth + 1)
            self._line("except _KE:", depth)
            depth += 1
        if not paged or (misaligned and not const):
            self._line(f"_i = {self._index(addr)}", depth)
            self._line(f"if {'_aw' if write else '_ar'}[_i] == {self._tag(addr, adj, cmpmask)}:",
                       depth)
            self._line(by_struct(f"{addr} + _ad[_i]"), depth + 1)
            self._line("else:", depth)
            depth += 1
        self._site(st, depth)
        self._writeback(self.flow.dirty[st.uid], depth)
        self._lost_witness(depth)
        # (a slow path writes no env slot of this vCPU: the locals stay right)
        self._line(slow, depth)

    def _load(self, st: Step, depth: int) -> None:
        (addr,) = st.ins
        (dest,) = st.defs
        size, fn, _adj, _cmpmask = st.mem
        fix = st.signed_fix
        half = 1 << (8 * size - 1)

        def fast(item: str) -> str:
            if st.value & MemOp.MO_SIGN:
                return f"{dest} = ((({item} ^ {half}) - {half}){fix})"
            return f"{dest} = {item}{fix}"

        def by_struct(off: str) -> str:
            if size == 1:
                return fast(f"_hs[_i][{off}]")
            return f"{dest} = {fn}(_hs[_i], {off})[0]{fix}"

        self._access(st, addr, False, depth, fast, by_struct,
                     f"{dest} = _ls({addr}, {st.value}){fix}")

    def _store(self, st: Step, depth: int) -> None:
        value, addr = st.ins
        size, fn, _adj, _cmpmask = st.mem
        vmask = (1 << (8 * size)) - 1
        if value[0].isdigit():
            v = str(int(value) & vmask)
        else:
            v = value if 8 * size >= st.bits else f"{value} & {vmask}"

        def by_struct(off: str) -> str:
            return f"_hs[_i][{off}] = {v}" if size == 1 else f"{fn}(_hs[_i], {off}, {v})"

        self._access(st, addr, True, depth, lambda item: f"{item} = {v}", by_struct,
                     f"_ss({addr}, {value}, {st.value})")

    def _stats_flush(self, depth: int) -> None:
        """Count the TBs entered inside the unit as cpu_exec would have: chained ones
        (``it``) are chain hits, ones found after exit_tb (``lk``) are not."""
        if self.loop:
            lookups = " + lk" if self.variant.lookup_var else ""
            self._line(f"it = -left & {COUNT_MASK}", depth)
            self._line(f"if it{' or lk' if lookups else ''}:", depth)
            self._line("_st = cpu.stats", depth + 1)
            self._line(f"_st.tbs_executed += it{lookups}", depth + 1)
            self._line("_st.tb_chain_hits += it", depth + 1)

    def _state_checks(self, st: Step, want: str) -> tuple[list[str], list[str]]:
        """(checks ``w`` stands for, flag checks needed anyway) before entering a TB
        whose flags must be ``want``, leaving through exit ``st``."""
        src = self.member_of[st.uid]
        state = ["not cpu.exit_request"]  # the vCPU's exit-request word (core.cpu)
        flags = []
        if self.flags_mode is FlagsMode.CALL:
            flags.append(f"_fl(cpu) == {want}")
        elif self.flags_mode is FlagsMode.WITNESS:
            # the snapshot: the flags tb_flags gave with the slots it read then; equal
            # slots now mean the same flags.  Else ask again (which renews the snapshot).
            snap = " and ".join([f"_sn[0] == {want}"] + [f"env[{s}] == _sn[{k + 1}]"
                                                          for k, s in enumerate(self.flag_slots)])
            probe = f"(({snap}) or _chk(cpu, {want}, _sn))"
            # under w the flags are those of the TB running: the target's too if equal
            # and the TB itself stores to no slot tb_flags reads
            if st.uid in self.rewrites_flags or want != self.member_flags[src]:
                flags.append(probe)
            else:
                state.append(probe)
        return state, flags

    def _continue_in(self, target: str, depth: int, src: int = -1) -> None:
        """Go on in member ``target`` (a number, or a variable holding one)."""
        if self.multi:
            h = self.ranges[-1][0]
            if target == str(src) == str(h):  # the loop's head to itself: _b <= src holds
                self._line("continue", depth)
                return
            self._line(f"_b = {target}", depth)
            if not target.isdigit() and h > 0:  # found at run time: maybe before the loop
                self._line(f"if _b < {h}:", depth)
                self._line("break", depth + 1)
            elif target.isdigit() and int(target) < h:  # before this loop: leave it
                self._line("break", depth)
                return
            self._line("continue", depth)
        elif self.block_dispatch:
            self._line(f"_b = {self.unit.members[0].entry}", depth)
            self._line("continue", depth)
        else:
            self._line("continue", depth)

    def _lookup_exit(self, st: Step, depth: int) -> None:
        """exit_tb: the dispatcher would look the pc up in the TB cache; if it finds a TB
        of this unit, go on there (counted in ``lk``: no chain hit)."""
        src = self.member_of[st.uid]
        if self.flow.counts is None:
            self._line(f"left -= n << {COUNT_SHIFT}", depth)
            self._line("n = 0", depth)
        else:
            self._line(f"left -= {self.flow.counts[st.uid] << COUNT_SHIFT}", depth)
        want = self.member_flags[src]
        self._line(f"_k = _MI.get(_C.get(({self.variant.lookup_var}, {want})))", depth)
        state, flags = self._state_checks(st, want)
        # _MX[k]: (max_insns - 1) << COUNT_SHIFT, so that ">" means "left covers it"
        checks = ["_k is not None", "left > _MX[_k]", f"(w or (w := ({' and '.join(state)})))"]
        self._line(f"if {' and '.join(checks + flags)}:", depth)
        self._line("lk += 1", depth + 1)
        if self.flow.counts is None:
            self._line("ipc = _PC0[_k]", depth + 1)
        zero = sorted({x for live in self.flow.entry_live.values() for x in live if x[0] == "t"},
                      key=_var_order)
        for name in zero:
            self._line(f"{name} = 0", depth + 1)
        self._continue_in("_k", depth + 1)
        self._exit(EXIT_NOCHAIN, self._used(), src, depth)

    def _transition(self, st: Step, depth: int, tail: bool = False) -> None:
        """Jump to the unit's TB ``j`` where the dispatcher would chain to it, else leave.

        ``w`` says no Python ran outside the unit since the last full check (the
        exit-request word, flags, ``_V``): nothing else can change those.  An edge not
        chained when the unit was built (a TB's self-loop compiled before its first
        chaining, say) checks its chain every time: ``_J[slot] is _T`` also says the target
        is valid, since invalidating a TB unchains it (``Translator._invalidate``).
        """
        src = self.member_of[st.uid]
        j = self.variant.edges[st.uid]
        dirty = self.flow.dirty[st.uid]
        slot = st.value
        if self.flags_mode is FlagsMode.CALL:  # tb_flags may read any slot: env must be current
            self._writeback(dirty, depth)
        # one subtraction: the TB's instructions from the budget, one more chained TB
        if self.flow.counts is None:
            self._line(f"left -= (n << {COUNT_SHIFT}) + 1", depth)
            self._line("n = 0", depth)
        else:
            self._line(f"left -= {(self.flow.counts[st.uid] << COUNT_SHIFT) + 1}", depth)
        # the target runs whole here, or the dispatcher runs it (checked) as the slice ends:
        # left covers max_insns, whatever the count of chained TBs in its low bits
        checks = [f"left > {(self.unit.members[j].max_insns - 1) << COUNT_SHIFT}"]
        state, flags = self._state_checks(st, self.member_flags[j])
        if st.uid in self.variant.verified:
            state.insert(0, "_V[0]")
        else:
            checks.append(f"_J{src}[{slot}] is _T{j}")
        checks.append(f"(w or (w := ({' and '.join(state)})))")
        zero = [name for name in sorted(self.flow.entry_live[j], key=_var_order)
                if name[0] == "t"]
        if tail and self.multi and j > src:
            # the member's code ends here: fall through to member j's test (storing _b
            # unless j is next in the same loop: _b <= src holds, and the loop's end
            # would read it)
            self._line(f"if not ({' and '.join(checks + flags)}):", depth)
            self._leave_untaken(st, src, slot, depth + 1)
            if j > src + 1 or src == self.ranges[-1][1]:
                self._line(f"_b = {j}", depth)
            if self.flow.counts is None:
                self._line(f"ipc = {self.unit.members[j].tb.pc}", depth)
            for name in zero:
                self._line(f"{name} = 0", depth)
            return
        self._line(f"if {' and '.join(checks + flags)}:", depth)
        if self.flow.counts is None:
            self._line(f"ipc = {self.unit.members[j].tb.pc}", depth + 1)
        for name in zero:
            self._line(f"{name} = 0", depth + 1)
        self._continue_in(str(j), depth + 1, src)
        self._leave_untaken(st, src, slot, depth)

    def _leave_untaken(self, st: Step, src: int, slot: int, depth: int) -> None:
        """The transition is not taken: leave through its exit instead."""
        self._line("left += 1", depth)  # not chained after all
        for d in st.tail:  # what only the exit reads (see .sink)
            if d.uid not in self.flow.dead:
                for text in d.lines:
                    self._line(text, depth)
        self._exit(slot, self._used(), src, depth)


def _reaches(by_index: dict[int, Block], reach: set[int], start: int, target: int) -> bool:
    """Whether control can pass from the blocks [start, target) to block ``target``."""
    return any(target in by_index[x].succs for x in range(start, target) if x in reach)


def _runs(slots) -> list[tuple[int, int]]:
    """Sorted runs of adjacent numbers: (first, last) each."""
    runs: list[tuple[int, int]] = []
    for slot in sorted(slots):
        if runs and runs[-1][1] == slot - 1:
            runs[-1] = (runs[-1][0], slot)
        else:
            runs.append((slot, slot))
    return runs


def _names(first: int, last: int) -> str:
    return ", ".join(f"g{slot}" for slot in range(first, last + 1))


def _var_order(name: str) -> tuple:
    return (name[0],) + tuple(int(x) for x in name[1:].split("_"))
