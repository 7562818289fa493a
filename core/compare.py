"""``tcglab compare``: run a grid of workloads x memory policies x seeds, and aggregate it.

One *run* is one guest program on one freshly built machine: a workload (a bundled
program by name, or any ELF) under one memory policy with one schedule seed.  A *cell*
is every seed of one workload under one policy.  A failing run (the program's own check
failed, a guest fault, a deadlock, the instruction budget ran out) is data, recorded
with its reason and message, never a crash of the grid.

The grid runs in this process (``jobs=1``: deterministic order) or over a pool of host
processes; every run builds its own :class:`~core.machine.Machine` from plain config data,
so the records do not depend on ``jobs`` (except their wall times).

Workloads come from plugins, through the ``tcglab_register_workloads`` hook (the ARM
plugin registers the bundled programs), so the core imports no plugin.  A workload may
name the frontend that runs it (a guest other than the config's): its runs use that
frontend, so one grid can hold the programs of several guests.

Writers, readers and the table are in :mod:`core.report`.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from attrs import define, field

from .config import parse_config
from .errors import TcglabError, did_you_mean
from .memory_policy import PolicyStats
from .outcome import RunReason, describe, failed_run

#: Instruction budget of a run when neither the workload nor the user gives one.
DEFAULT_MAX_INSNS = 20_000_000

#: The memory-policy counters every run records (core's ``PolicyStats``); a run also
#: records the counters its policy declares besides them (its ``Stats``), and only those.
POLICY_KEYS: tuple[str, ...] = PolicyStats.names()
#: The machine's per-vCPU counters every run records, summed over the vCPUs.
MACHINE_KEYS: tuple[str, ...] = ("slow_loads", "slow_stores", "tlb_fills", "tlb_flushes")

#: Run fields that are the same for every seed of a cell (copied into the cell).
CELL_KEYS: tuple[str, ...] = ("workload", "program", "args", "strategy", "vcpus", "backend",
                              "schedule", "slice", "jitter", "max_insns")


@define(frozen=True)
class Workload:
    """A guest program to compare strategies on.

    :param name: what ``tcglab compare NAME`` selects.
    :param elf: the guest ELF.
    :param args: the default guest arguments, a template that may use ``{vcpus}``.
    :param description: one line.
    :param in_default_grid: run when no workload is named (single-CPU programs: False).
    :param max_insns: instruction budget of a run with ``args`` at up to 4 vCPUs
        (generous: a multiple of what a correct strategy needs); 0 = no budget of its
        own.  A run that hits it is a failure ("max-insns"): typically a program spinning
        forever under a broken strategy.
    :param frontend: the guest frontend that runs it (its ``name``); empty: the config's
        ``[machine] frontend``.
    """

    name: str
    elf: Path = field(converter=Path)
    args: str = ""
    description: str = ""
    in_default_grid: bool = True
    max_insns: int = 0
    frontend: str = ""

    def guest_args(self, vcpus: int, template: str | None = None) -> tuple[str, ...]:
        """The arguments for ``vcpus`` vCPUs (``template`` instead of the default)."""
        text = self.args if template is None else template
        try:
            return tuple(text.format(vcpus=vcpus).split())
        except (KeyError, IndexError, ValueError) as exc:
            raise TcglabError(f"guest arguments {text!r}: bad template ({exc}); the only "
                              "placeholder is {vcpus}") from None

    def budget(self, vcpus: int) -> int:
        """The instruction budget at ``vcpus`` vCPUs: ``max_insns`` grows with the square
        of the vCPU count above 4 (at slice 1, contention makes retries grow with it)."""
        if not self.max_insns:
            return DEFAULT_MAX_INSNS
        return self.max_insns * max(vcpus, 4) ** 2 // 16


def bundled_workloads(registry: Any = None) -> dict[str, Workload]:
    """Every workload plugins registered (``tcglab_register_workloads``), by name."""
    if registry is None:
        from .plugins import PluginManager
        registry = PluginManager().registry
    return {name: w for name, (w, _plugin) in registry.workloads.items.items()}  # in order


@define(frozen=True)
class GridWorkload:
    """A workload as the grid runs it: program, arguments and budget resolved."""

    name: str
    program: str  # the ELF's path
    args: tuple[str, ...]
    argv0: str  # what the guest sees as the program name
    max_insns: int
    frontend: str = ""  # empty: the config's


def resolve_workloads(names: Sequence[str], vcpus: int, *, args: str | None = None,
                      max_insns: int | None = None,
                      catalog: Mapping[str, Workload] | None = None) -> list[GridWorkload]:
    """The grid's workloads: bundled names or ELF paths (none named: the default grid).

    ``args`` (a template, may use ``{vcpus}``) replaces every workload's arguments; an ELF
    given by path has none without it.  ``max_insns`` (the user's budget) replaces the
    workloads' own budgets; an ELF path without it gets :data:`DEFAULT_MAX_INSNS`.
    Raises a one-line :class:`TcglabError` listing the bundled names for an unknown one.
    """
    catalog = bundled_workloads() if catalog is None else catalog
    if not names:
        names = [w.name for w in catalog.values() if w.in_default_grid]
        if not names:
            raise TcglabError("no bundled workloads are installed; name an ELF file to run")
    out: list[GridWorkload] = []
    for name in names:
        if name in catalog:
            w = catalog[name]
            budget = w.budget(vcpus) if args is None else DEFAULT_MAX_INSNS
            gw = GridWorkload(w.name, str(w.elf), w.guest_args(vcpus, args), w.name,
                              budget if max_insns is None else max_insns, w.frontend)
        elif os.path.isfile(name):
            stem = Path(name).stem
            label = stem if stem not in catalog and all(o.name != stem for o in out) else name
            template = args or ""
            gw = GridWorkload(label, name, Workload(label, name).guest_args(vcpus, template),
                              name, DEFAULT_MAX_INSNS if max_insns is None else max_insns)
        else:
            known = ", ".join(catalog) or "none installed"
            hint = did_you_mean(name, catalog)
            what = "no such file" if ("/" in name or name.endswith(".elf")) else "unknown workload"
            raise TcglabError(f"{what} {name!r}{hint}; bundled workloads: {known} "
                              "(or give the path of a guest ELF)")
        if any(o.name == gw.name for o in out):
            raise TcglabError(f"workload {name!r} is named twice")
        out.append(gw)
    return out


def check_strategies(names: Sequence[str], known: Iterable[str]) -> list[str]:
    """``names`` if each is a registered memory policy, else a one-line error listing them."""
    known = list(known)
    seen: list[str] = []
    for name in names:
        if name not in known:
            raise TcglabError(
                f"--strategies: unknown memory policy {name!r}{did_you_mean(name, known)}; "
                f"registered: {', '.join(known) or 'none'} (a plugin providing it may not be "
                "installed, or may be disabled)")
        if name in seen:
            raise TcglabError(f"--strategies: {name!r} is named twice")
        seen.append(name)
    if not seen:
        raise TcglabError("--strategies: no memory policy named; registered: "
                          f"{', '.join(known)}" if known else
                          "no memory policy to compare: none is registered "
                          "(see `tcglab plugins`)")
    return seen


# -- one run ------------------------------------------------------------------------------


@define(frozen=True)
class RunSpec:
    """Everything one run needs, as plain (picklable) data.

    ``config`` is TOML-shaped data (as :func:`core.cli.configure.config_data` gives) that already
    holds this run's memory policy, seed and budget.
    """

    index: int
    workload: str
    program: str
    args: tuple[str, ...]
    argv0: str
    strategy: str
    seed: int
    config: dict = field(eq=False, hash=False)
    source: str = "<compare>"


def cell_config(data: Mapping[str, Any], strategy: str, seed: int, max_insns: int,
                frontend: str = "") -> dict:
    """A copy of config ``data`` with this cell's memory policy, seed and budget (and
    frontend, when the workload names one)."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    out.setdefault("machine", {})["memory_policy"] = strategy
    if frontend:
        out["machine"]["frontend"] = frontend
    out.setdefault("schedule", {}).update(seed=seed, max_insns=max_insns)
    return out


_PLUGIN_MANAGERS: dict[tuple[str, ...], Any] = {}


def _plugin_manager(disable: tuple[str, ...]) -> Any:
    """One plugin manager per process (and disable list): the registry is read-only."""
    pm = _PLUGIN_MANAGERS.get(disable)
    if pm is None:
        from .plugins import PluginManager

        pm = _PLUGIN_MANAGERS[disable] = PluginManager(disable)
    return pm


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run ``spec`` on a fresh machine and return its record (see :func:`make_record`).

    Guest output is captured (its first line is recorded).  A guest fault, a deadlock,
    the budget running out, or any exception from a component is recorded as the run's
    reason and message; only KeyboardInterrupt escapes.
    """
    from .machine import Machine

    config = parse_config(spec.config, spec.source)
    out = io.BytesIO()
    machine = None
    started = time.perf_counter()
    try:
        machine = Machine(config, _plugin_manager(config.plugins.disable))
        platform = machine.platform
        if platform is not None and hasattr(platform, "stdout"):
            platform.stdout = out
            platform.stderr = out
        machine.boot(spec.program, [spec.argv0, *spec.args])
        started = time.perf_counter()
        result = machine.run()
    except Exception as exc:  # data, not a crash: a guest fault, or a broken component
        result = failed_run(exc, machine, started)
    finally:
        close = getattr(getattr(machine, "platform", None), "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                pass
    return make_record(spec, config, result, out.getvalue())


def make_record(spec: RunSpec, config: Any, result: Any, output: bytes) -> dict[str, Any]:
    """The record of one run: identity, outcome, and counters (policy and machine).

    A run passed when the guest exited with status 0 (the program's own check); a failed
    run's ``message`` says why (:func:`core.outcome.describe`)."""
    stats = result.stats or {}
    policy = dict.fromkeys(POLICY_KEYS, 0)
    policy.update({k: int(v) for k, v in stats.get("policy", {}).get("total", {}).items()})
    machine = dict.fromkeys(MACHINE_KEYS, 0)
    for vcpu in stats.get("vcpus", []):
        for key in MACHINE_KEYS:
            machine[key] += int(vcpu.get(key, 0))
    lines = output.decode("utf-8", "replace").splitlines()
    sched = config.schedule
    passed = result.reason == RunReason.EXIT and result.exit_status == 0
    return {
        "workload": spec.workload,
        "program": spec.program,
        "args": list(spec.args),
        "argv": [spec.argv0, *spec.args],
        "strategy": spec.strategy,
        "vcpus": config.machine.vcpus,
        "seed": spec.seed,
        "backend": config.machine.backend,
        "schedule": sched.policy,
        "slice": sched.slice,
        "jitter": sched.jitter,
        "max_insns": sched.max_insns,
        "passed": passed,
        "reason": result.reason,
        "exit_status": result.exit_status,
        "message": "" if passed else describe(result, sched.max_insns),
        "insns": result.insns,
        "wall_seconds": result.wall_seconds,
        "policy": policy,
        "machine": machine,
        "output": lines[0].rstrip("\r") if lines else "",
    }


# -- the grid -----------------------------------------------------------------------------


def grid_specs(workloads: Sequence[GridWorkload], strategies: Sequence[str],
               seeds: Sequence[int], config: Mapping[str, Any],
               source: str = "<compare>") -> list[RunSpec]:
    """Every run of the grid, in order: workload, then strategy, then seed."""
    specs = []
    for w in workloads:
        for s in strategies:
            for seed in seeds:
                specs.append(RunSpec(len(specs), w.name, w.program, w.args, w.argv0, s, seed,
                                     cell_config(config, s, seed, w.max_insns, w.frontend),
                                     source))
    return specs


def check_workloads(workloads: Sequence[GridWorkload], strategies: Sequence[str],
                    config: Any, plugins: Any) -> None:
    """Report what is wrong with the grid before anything runs: build a machine for every
    strategy (their options are checked) and load every workload's ELF into a machine of
    its own frontend (a missing frontend, or an ELF for another guest, is a one-line
    error).  ``config`` is the base :class:`~core.config.Config`, ``plugins`` the
    :class:`~core.plugins.PluginManager`."""
    import attrs

    from .machine import Machine

    def machine_for(strategy: str, frontend: str = "") -> Any:
        m = config.machine
        return Machine(attrs.evolve(config, machine=attrs.evolve(
            m, memory_policy=strategy, frontend=frontend or m.frontend)), plugins)

    for strategy in strategies:
        machine_for(strategy)
    if not strategies:
        return
    machines: dict[str, Any] = {}
    for w in workloads:
        if w.frontend not in machines:
            machines[w.frontend] = machine_for(strategies[0], w.frontend)
        machines[w.frontend].load_elf(w.program)


def _worker_init() -> None:
    # Ctrl-C is the parent's to handle: it terminates the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_indexed(spec: RunSpec) -> tuple[int, dict[str, Any]]:
    return spec.index, run_one(spec)


def default_jobs() -> int:
    """The number of host CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_grid(specs: Sequence[RunSpec], jobs: int = 1,
             on_result: Callable[[RunSpec, dict[str, Any]], None] | None = None,
             ) -> list[dict[str, Any]]:
    """Run every spec; the records come back in spec order whatever ``jobs`` is.

    ``jobs == 1`` (or a single run) runs in this process, in order.  Otherwise a pool of
    ``jobs`` spawned processes runs them; ``on_result(spec, record)`` is called in this
    process as each finishes.  On KeyboardInterrupt (or any exception from
    ``on_result``) the pool is terminated and joined before the exception propagates.
    """
    records: list[dict[str, Any] | None] = [None] * len(specs)
    jobs = max(1, min(jobs, len(specs)))
    if jobs == 1:
        for spec in specs:
            records[spec.index] = record = run_one(spec)
            if on_result is not None:
                on_result(spec, record)
        return records  # type: ignore[return-value]
    pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_worker_init)
    try:
        for index, record in pool.imap_unordered(_run_indexed, specs, chunksize=1):
            records[index] = record
            if on_result is not None:
                on_result(specs[index], record)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return records  # type: ignore[return-value]


# -- aggregation --------------------------------------------------------------------------


def failure_label(run: Mapping[str, Any]) -> str:
    """Why a run failed, in a few words: ``exit 1``, ``max-insns``, ``deadlock``, ..."""
    if run["reason"] == RunReason.EXIT:
        return f"exit {run['exit_status']}"
    return str(run["reason"])


def aggregate(runs: Sequence[Mapping[str, Any]], baseline: str | None = "none") -> list[dict]:
    """One cell per (workload, strategy), in the order the runs first name them.

    A cell copies the run fields every seed shares, sums the counters, instructions and
    wall time over the seeds, and adds: ``seeds``, ``runs``, ``passed`` (seeds that
    passed), ``passed_all``, ``failed_seeds`` and ``failure_reasons`` (aligned lists),
    ``mips`` (guest instructions per host second / 1e6), ``baseline``, ``overhead``
    (this cell's wall time / the baseline strategy's cell's, same workload; None when
    the baseline is not in the grid) and ``overhead_per_insn`` (the same per guest
    instruction, which discounts runs that did more or less work).
    """
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        key = (run["workload"], run["strategy"])
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = {k: (list(run[k]) if k == "args" else run[k]) for k in CELL_KEYS}
            cell.update(seeds=[], runs=0, passed=0, passed_all=True, failed_seeds=[],
                        failure_reasons=[], insns=0, wall_seconds=0.0,
                        policy=dict.fromkeys(run["policy"], 0),
                        machine=dict.fromkeys(run["machine"], 0))
        cell["seeds"].append(run["seed"])
        cell["runs"] += 1
        if run["passed"]:
            cell["passed"] += 1
        else:
            cell["passed_all"] = False
            cell["failed_seeds"].append(run["seed"])
            cell["failure_reasons"].append(failure_label(run))
        cell["insns"] += run["insns"]
        cell["wall_seconds"] += run["wall_seconds"]
        for group in ("policy", "machine"):
            for k, v in run[group].items():
                cell[group][k] = cell[group].get(k, 0) + v
    out = list(cells.values())
    for cell in out:
        wall = cell["wall_seconds"]
        cell["mips"] = cell["insns"] / wall / 1e6 if wall > 0 else 0.0
        base = cells.get((cell["workload"], baseline)) if baseline else None
        cell["baseline"] = baseline if base is not None else None
        cell["overhead"] = cell["overhead_per_insn"] = None
        if base is not None and base["wall_seconds"] > 0:
            cell["overhead"] = wall / base["wall_seconds"]
            if cell["insns"] and base["insns"]:
                cell["overhead_per_insn"] = (wall / cell["insns"]) / \
                    (base["wall_seconds"] / base["insns"])
    return out
