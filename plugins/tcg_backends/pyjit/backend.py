"""``PyJitBackend``: TBs compiled to Python functions once they are hot; chains of them run
without the dispatcher.

A TB goes through tiers, each paid for by how often it runs:

* tier 0 (:mod:`.tier0`): its IR run op by op, for its first ``compile_after`` runs;
* the *full* form: the TB's IR turned into steps, blocks and dataflow, the source of one
  function written and ``compile()`` d once, cached on the TB (:class:`CompiledTB`); it
  runs when the budget left covers every instruction the TB can run (no per-instruction
  counting; a jump back to its own start loops inside the function);
* the *checked* form, which stops at the instruction where the budget runs out, as the
  interpreter does; compiled once a slice has ended inside the TB ``checked_after`` times;
* a *region* (:mod:`.region`): once the TB is hot, the loop of chained TBs around it
  compiled as one function, which replaces the full forms of all of them.

Execution (:meth:`PyJitBackend.execute`) follows chained ``goto_tb`` exits itself, and
``exit_tb`` exits through the TB cache (QEMU's ``lookup_and_goto_ptr``), but only where
``core.exec.cpu_exec`` would have run the same TB next, counting as it would, so
interleavings, counters and results are the interpreter's, seed for seed.
"""

from __future__ import annotations

from types import FunctionType

from attrs import define, field

from core.backend import EXIT_NOCHAIN, Backend
from core.config import option
from core.cpu import GuestException
from core.errors import TcglabError
from core.flow import branches_back
from core.frontend import Frontend
from core.ir import Temp, TempKind, TranslationBlock

from . import tier0
from .analysis import Member, Unit, Variant, flag_writes_before, flow, member
from .codegen import COUNT_SHIFT, FunctionWriter, Unstructured
from .flags import FlagsGuard, FlagsMode
from .fuse import fuse
from .sink import sink
from .region import (REGION_AFTER, REGION_GROWTH, REGION_LAST, collect, edges, nest,
                     static_exit_pcs)
from .steps import Kind, Namespace, StepBuilder

_NEVER = 1 << 62  # a budget never this large: "take the other path"
# most instructions one call of a compiled unit runs (then it returns at a transition and
# execute chains on, as the dispatcher would): its budget and chained-TB count share one
# int below 2**30, which CPython subtracts and compares fastest (see .codegen)
_UNIT_BUDGET = (1 << COUNT_SHIFT) - 1


@define(frozen=True)
class PyJitOptions:
    """``[plugins.pyjit]``: when to spend time compiling.

    Writing and compiling a TB's Python costs about a millisecond, as much as running it
    about a hundred times in tier 0; the defaults compile what runs often enough to repay
    it.  Tests that must exercise the generated code set both counts to 0.
    """

    compile_after: int = option(48, min=0, doc="whole runs of a TB in tier 0 (its IR run "
                                                "op by op) before it is compiled; 0: at once")
    checked_after: int = option(32, min=0, doc="runs of a TB that a slice may end inside "
                                               "before its budget-checked form is compiled")
    regions: bool = option(True, doc="compile hot loops of chained TBs into one function")


@define(eq=False, slots=True)
class CompiledTB:
    """What pyjit caches on ``tb.compiled``."""

    bound: int  # most instructions one run can execute (_NEVER: it may loop inside)
    full: object | None = None  # the function for a budget >= max_insns
    max_insns: int = _NEVER  # _NEVER until the full form exists
    members: tuple = ()  # the TBs the full form may leave from (index = its 3rd result)
    checked: object | None = None  # the form that stops where the budget runs out
    tier0: tuple | None = None  # tier 0's closures and pcs (prepared on first use)
    runs: int = 0  # whole runs in tier 0 (compiled after options.compile_after)
    partial_runs: int = 0  # tier-0 runs the budget may end (options.checked_after)
    hits: int = 0  # entries of the full form
    next_region: int = REGION_AFTER  # hits at which a region is (re)built from it
    in_region: bool = False  # part of another TB's region (no region of its own)
    exit_next: object = None  # the TB its exit_tb led to last time
    sources: dict[str, str] = field(factory=dict)  # form -> generated source
    structured: bool = True  # its control flow nests (a region may include it)


class PyJitBackend(Backend):
    """Compiles TBs to Python (registers in locals, inline TLB, chained and looping TBs)."""

    name = "pyjit"
    Options = PyJitOptions

    def __init__(self, machine, options=None):
        super().__init__(machine, options)
        fe = machine.frontend
        self._frontend = fe
        self._pc_direct = type(fe).get_pc is Frontend.get_pc  # get_pc is env[pc_slot]
        global_slots = frozenset(int(t.index) for t in fe.layout.globals.values())
        cpu0 = machine.cpus[0] if getattr(machine, "cpus", None) else None
        self.flags = FlagsGuard(fe, cpu0, global_slots)
        self._mm: dict = {}  # vCPU -> (its mmu, what generated code needs of it)
        self._ctx: tuple | None = None  # what execute needs of the machine (once it is built)
        self._falloff = TcglabError("pyjit: a TB ran past its last op")
        # src TB -> [(slot, dest, cell)]: the chains compiled units rely on without checking
        # them at every transition; a change to one clears the unit's cell (``_V``)
        self._vouched: dict[TranslationBlock, list] = {}

    # ------------------------------------------------------------------ compile

    def compile(self, tb: TranslationBlock) -> None:
        """Check every op can run and cache a CompiledTB; code is generated when hot."""
        for op in tb.ops:
            d = op.opdef
            if d.impl is None:
                raise TcglabError(f"{self.name}: op {d.name!r} has no native lowering and no "
                                  "reference semantics (impl) to call")
        bounded = not branches_back(tb.ops)
        bound = sum(1 for op in tb.ops if op.name == "insn_start") if bounded else _NEVER
        tb.compiled = CompiledTB(bound, members=(tb,))

    def _compile_full(self, tb: TranslationBlock, code: CompiledTB) -> None:
        ns = Namespace()
        m = self._member(tb, ns, 0)
        if m.bounded:
            code.full = self._build(Unit([m]), ns, checked=False, code=code, form="full")
            code.max_insns = code.bound = m.max_insns
        else:
            code.bound = _NEVER

    def _member(self, tb: TranslationBlock, ns: Namespace, index: int,
                first_uid: int = 0, first_block: int = 0) -> Member:
        slots = frozenset(int(t.index) for op in tb.ops for t in op.args
                          if isinstance(t, Temp) and t.kind is TempKind.GLOBAL)
        builder = StepBuilder(ns, slots, self.name, f"{index}_" if index else "", first_uid)
        m = member(tb, builder.build_all(tb.ops), index, first_block)
        fuse(m.blocks)
        return m

    def _compile_checked(self, tb: TranslationBlock, code: CompiledTB) -> None:
        ns = Namespace()
        m = self._member(tb, ns, 0)
        code.checked = self._build(Unit([m]), ns, checked=True, code=code, form="checked")

    def _run_cold(self, cpu, tb: TranslationBlock, code: CompiledTB, rem: int, mm: tuple):
        """A run without a full form for this budget: tier 0 until a form is worth it."""
        if rem >= code.bound:
            code.runs += 1
            if code.runs > self.options.compile_after:
                self._compile_full(tb, code)
                if code.full is not None and rem >= code.max_insns:
                    return code.full(cpu, cpu.env, min(rem, _UNIT_BUDGET), mm)
        elif code.checked is not None:
            return code.checked(cpu, cpu.env, rem, mm)
        else:
            code.partial_runs += 1
            opts = self.options
            if code.partial_runs > (opts.compile_after if code.bound == _NEVER
                                    else opts.checked_after):
                self._compile_checked(tb, code)
                return code.checked(cpu, cpu.env, rem, mm)
        if code.tier0 is None:
            code.tier0 = tier0.prepare(tb)
        return tier0.run(code.tier0, cpu, tb, rem, self._frontend.set_pc)

    def _edges(self, unit: Unit) -> dict[int, int]:
        if not self._pc_direct:  # the pc is not simply env[pc_slot]: no static exit pcs
            return {}
        pc_var = f"g{self._frontend.pc_slot}"
        info = []
        for m in unit.members:
            slots = {st.uid: st.value for st in m.steps if st.kind is Kind.GOTO}
            info.append((m.tb, slots, static_exit_pcs(m, pc_var)))
        return edges(info)

    def _build(self, unit: Unit, ns: Namespace, *, checked: bool, code: CompiledTB, form: str,
               loops: tuple = ()):
        guard = self.flags
        lookups = len(unit.members) > 1 and self._pc_direct and not checked
        edge_map = {} if checked else self._edges(unit)
        cell, verified = [True], self._vouch(unit, edge_map)
        variant = Variant(checked=checked, edges=edge_map, verified=frozenset(verified),
                          loops=loops, transition_writeback=guard.mode is FlagsMode.CALL,
                          lookup_var=f"g{self._frontend.pc_slot}" if lookups else "")
        fl = flow(unit, variant)
        if sink(unit, variant, fl.entry_live, frozenset(f"g{s}" for s in guard.slots)):
            fl = flow(unit, variant)
        member_flags, rewrites = [], set()
        for m in unit.members:
            f = m.tb.flags
            member_flags.append(str(f) if type(f) is int and f >= 0 else ns.name_for(f, "_k"))
            rewrites |= flag_writes_before(m, guard.slots)
        writer = FunctionWriter(unit, fl, variant, flags_mode=guard.mode,
                                member_flags=member_flags, rewrites_flags=rewrites,
                                flag_slots=guard.ordered,
                                paged_stores=not self.machine.policy.flags_every_store)
        source = writer.source()
        if len(unit.members) == 1 and writer.block_dispatch:
            code.structured = False
        ipc, cnt = writer.tables()
        env = dict(ns.values)
        env.update({"__builtins__": {}, "_BE": BaseException, "_KE": KeyError,
                    "_fl": guard.tb_flags, "_chk": guard.check,
                    "_sp": self._frontend.set_pc, "_IPC": ipc, "_CNT": cnt,
                    "_FALLOFF": self._falloff})
        for k, m in enumerate(unit.members):
            env[f"_T{k}"] = m.tb
            env[f"_J{k}"] = m.tb.jmp_dest
        env["_C"] = self.machine.translator.cache
        env["_MI"] = {m.tb: k for k, m in enumerate(unit.members)}
        env["_MX"] = tuple((m.max_insns - 1) << COUNT_SHIFT for m in unit.members)
        env["_V"] = cell
        for src, slot, dest in verified.values():
            self._vouched.setdefault(src, []).append((slot, dest, cell))
        env["_PC0"] = tuple(m.tb.pc for m in unit.members)
        code.sources[form] = source
        head = unit.members[0].tb
        exec(compile(source, f"<pyjit {form} {head.pc:#x}>", "exec"), env)
        return env["_tb"]

    @staticmethod
    def _vouch(unit: Unit, edge_map: dict[int, int]) -> dict:
        """The edges chained now (GOTO uid -> (src, slot, dest)): the unit checks them
        through one cell, which :meth:`tb_chained`/:meth:`tb_unchained` clear."""
        out = {}
        for m in unit.members:
            for st in m.steps:
                j = edge_map.get(st.uid)  # edges are GOTO steps
                if j is not None:
                    dest = unit.members[j].tb
                    if m.tb.jmp_dest[st.value] is dest and not dest.invalid:
                        out[st.uid] = (m.tb, st.value, dest)
        return out

    def _unvouch(self, src: TranslationBlock, slot: int | None = None,
                 now: TranslationBlock | None = None) -> None:
        """Clear the cells relying on ``src``'s exit ``slot`` (any slot: None) unless it
        still leads to the TB they rely on (``now``)."""
        for s, dest, cell in self._vouched.get(src, ()):
            if (slot is None or s == slot) and dest is not now:
                cell[0] = False

    def tb_chained(self, src: TranslationBlock, slot: int, dest: TranslationBlock) -> None:
        self._unvouch(src, slot, dest)  # relinked elsewhere: no longer the chain vouched for

    def tb_unchained(self, src: TranslationBlock, slot: int) -> None:
        self._unvouch(src, slot)

    def tb_invalidated(self, tb: TranslationBlock) -> None:
        self._unvouch(tb)  # its own exits were dropped without unchain events
        self._vouched.pop(tb, None)

    # ------------------------------------------------------------------ regions

    def _region(self, tb: TranslationBlock, code: "CompiledTB") -> None:
        """Replace ``tb``'s full form by the loop of chained TBs around it, if any; each
        TB of the loop then enters the region at its own code.

        Tried again at growing hit counts: the loop's other TBs may not be compiled or
        chained yet the first time, and a region grows as more of the loop gets hot.
        """
        code.next_region = code.hits * REGION_GROWTH if code.hits < REGION_LAST else _NEVER
        if code.in_region or not self.options.regions:
            return
        if any(d is not None and isinstance(d.compiled, CompiledTB)
               and len(d.compiled.members) > 1 for d in tb.jmp_dest):
            return  # it leads into a region already (a slice resuming mid-loop, say)

        def usable(other: TranslationBlock) -> bool:
            c = other.compiled
            return (isinstance(c, CompiledTB) and c.full is not None and c.structured
                    and c.hits >= REGION_AFTER // 2)  # warm: on the loop, not a side exit

        tbs = collect(tb, usable)
        if tbs is None or len(tbs) < 2:  # no loop, or the TB's own (its full form's already)
            return
        if {id(t) for t in tbs} == {id(t) for t in code.members}:
            return
        tbs, loops = nest(tbs)
        ns = Namespace()
        members, uid, block = [], 0, 0
        for k, other in enumerate(tbs):
            m = self._member(other, ns, k, uid, block)
            uid += len(m.steps)
            block += len(m.blocks)
            members.append(m)
        try:
            fn = self._build(Unit(members), ns, checked=False, code=code, form="region",
                             loops=loops)
        except Unstructured:
            code.sources.pop("region", None)
            code.next_region = _NEVER
            return
        members_now = tuple(tbs)
        # every TB of the region enters it at its own code: the same function (code
        # object) with another default start
        for k, other in enumerate(tbs):
            oc: CompiledTB = other.compiled
            oc.in_region = other is not tb
            oc.full = fn if k == 0 else FunctionType(fn.__code__, fn.__globals__, fn.__name__,
                                                     (k,), fn.__closure__)
            oc.members = members_now

    # ------------------------------------------------------------------ execute

    def _mmu_view(self, cpu) -> tuple:
        """What the generated code takes from a vCPU: its softmmu lists and slow paths, and
        its flags snapshot (see :mod:`.flags`); built once per vCPU."""
        mmu = cpu.mmu
        view = (mmu.addr_read, mmu.addr_write, mmu.host, mmu.addend, mmu.load_slow,
                mmu.store_slow, self.flags.new_snapshot(), mmu.read_pages, mmu.write_pages)
        self._mm[cpu] = (mmu, view)
        return view

    def _context(self) -> tuple:
        fe = self._frontend
        self._ctx = (fe, self.machine.translator.cache, fe.pc_slot,
                     self._pc_direct, self.flags.mode is FlagsMode.FIXED, fe.tb_flags)
        return self._ctx

    def execute(self, cpu, tb: TranslationBlock, budget: int):
        env = cpu.env
        mmu, mm = self._mm.get(cpu) or (None, None)
        if mmu is not cpu.mmu:
            mm = self._mmu_view(cpu)
        fe, cache, pc_slot, pc_direct, fixed, tb_flags = self._ctx or self._context()
        executed = 0
        chained = 0  # TBs entered through a chained goto_tb (counted as the dispatcher does)
        looked_up = 0  # TBs entered after exit_tb through the cache
        slot = EXIT_NOCHAIN
        try:
            while True:
                code = tb.compiled
                rem = budget - executed
                if rem >= code.max_insns:
                    slot, n, mi = code.full(cpu, env, min(rem, _UNIT_BUDGET), mm)
                    code.hits += 1
                    if code.hits == code.next_region:
                        self._region(tb, code)
                    tb = code.members[mi]  # the TB it left from
                else:
                    slot, n, mi = self._run_cold(cpu, tb, code, rem, mm)
                executed += n
                # go on only where cpu_exec would run another TB of this slice
                if slot > EXIT_NOCHAIN or executed >= budget or cpu.exit_request:
                    break
                pc = env[pc_slot] if pc_direct else fe.get_pc(cpu)
                flags = 0 if fixed else tb_flags(cpu)
                if slot == EXIT_NOCHAIN:
                    nxt = cache.get((pc, flags))
                    if nxt is None:  # the dispatcher translates it
                        break
                    looked_up += 1
                    tb.compiled.exit_next = nxt  # for regions: where its exit_tb went
                else:
                    nxt = tb.jmp_dest[slot]
                    if nxt is None or nxt.invalid or nxt.pc != pc or nxt.flags != flags:
                        break
                    chained += 1
                tb = nxt
        except BaseException as exc:
            # the guest's, or any other (which ends the run): counted alike (core.backend)
            insn_pc = exc.__dict__.pop("pyjit_pc", None)
            if insn_pc is None:  # raised outside a TB's code (which annotates its own)
                insn_pc, exc.executed = tb.pc, 0
            exc.executed += executed
            self._count(cpu, chained, looked_up)
            if isinstance(exc, GuestException):
                if exc.pc is None:
                    exc.pc = insn_pc
                if exc.restore:
                    fe.restore_state_to_opc(cpu, insn_pc)
            raise
        if chained or looked_up:
            self._count(cpu, chained, looked_up)
        return tb, slot, executed

    @staticmethod
    def _count(cpu, chained: int, looked_up: int) -> None:
        stats = cpu.stats
        stats.tbs_executed += chained + looked_up
        stats.tb_chain_hits += chained

    # ------------------------------------------------------------------ hooks

    def describe(self, tb: TranslationBlock) -> str:
        """The generated Python source (every form compiled so far; the full form is
        compiled now if the TB has not run often enough yet)."""
        code = tb.compiled
        if not isinstance(code, CompiledTB):
            return ""
        if code.full is None and code.bound != _NEVER:
            self._compile_full(tb, code)
        if code.full is None and code.checked is None:
            self._compile_checked(tb, code)
        parts = []
        for name, source in code.sources.items():
            when = {"full": f"budget >= {code.max_insns}", "checked": "budget checked per insn",
                    "region": f"a loop of {len(code.members)} chained TBs"}[name]
            parts.append(f"# {name} form, {when}")
            parts.append(source.rstrip("\n"))
        return "\n".join(parts)
