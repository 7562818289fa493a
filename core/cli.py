"""The ``tcglab`` command line: ``plugins``, ``run``, ``compare`` and ``trace`` (see ``--help``
of each).

Every user error ends as one line on stderr (``tcglab: error: ...``) and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Sequence

import attrs

from .config import KNOWN_SCHEDULES, Config, load_config, parse_config
from .errors import TcglabError
from .outcome import RunReason, RunResult, describe, failed_run
from .output import check_writable, json_text, write_json
from .plugins import PluginManager

if TYPE_CHECKING:
    from .loader import LoadedImage
    from .machine import Machine


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", metavar="FILE", help="tcglab.toml to read (default: none)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set machine.vcpus=4 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcglab", description="QEMU's TCG in Python: run guest programs and compare "
                                   "ways of emulating LL/SC.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("plugins", help="list frontends, backends, memory policies and IR ops "
                                       "with the plugin that provides each")
    _add_config_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser(
        "run", help="run a guest program",
        usage="tcglab run [OPTIONS] PROGRAM [GUEST_ARGS...]",
        description="Run a guest ELF on the configured machine.  Guest output goes to\n"
                    "stdout; tcglab exits with the guest's exit status.",
        epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_args(p)
    _add_program_args(p)
    _add_compare_parser(sub)
    _add_trace_parser(sub)
    return parser


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """The options of ``tcglab run``, which ``tcglab trace`` takes too."""
    _add_config_args(p)
    for flag, _keys, _kind, metavar, text in RUN_FLAGS:
        p.add_argument(flag, metavar=metavar, help=text)
    p.add_argument("--stats", action="store_true",
                   help="print the counters per vCPU and per memory-policy to stderr after the run")
    p.add_argument("--json", dest="json_file", metavar="FILE",
                   help="write the run's result (reason, exit status, counters, config) "
                        "to FILE as JSON")


def _add_program_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", metavar="PROGRAM", help="guest ELF")
    p.add_argument("guest_args", nargs=argparse.REMAINDER, metavar="GUEST_ARGS",
                   help="arguments passed to the guest (everything after PROGRAM)")


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.overrides)


def cmd_plugins(args: argparse.Namespace) -> int:
    config = _config(args)
    pm = PluginManager(config.plugins.disable)
    listing = pm.registry.listing()
    listing["plugins"] = pm.plugin_names()
    if args.json:
        print(json_text(listing))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for kind in ("frontends", "backends", "memory_policies", "workloads", "ops"):
        table = Table(title=kind.replace("_", " "), title_justify="left")
        table.add_column("name")
        table.add_column("plugin")
        table.add_column("description")
        for row in listing[kind]:
            table.add_row(row["name"], row["plugin"], row["description"])
        if not listing[kind]:
            table.add_row("(none installed)", "", "")
        console.print(table)
    return 0


# -- tcglab run --------------------------------------------------------------------------

#: tcglab's own exit codes when the guest did not exit (a guest may exit with them too;
#: the reason in --json tells them apart).
EXIT_STOPPED = 3  # deadlock, or every vCPU powered off without an exit
EXIT_MAX_INSNS = 4  # the instruction budget ran out first

RUN_EPILOG = f"""\
tcglab's options go before PROGRAM: everything after it is passed to the guest
(`tcglab run --vcpus 4 counter.elf 4 1000`).  The guest sees the command line
"PROGRAM GUEST_ARGS..." joined with spaces (SYS_GET_CMDLINE), as with qemu-system-arm
-kernel PROGRAM -append "GUEST_ARGS...", so an argument containing a space becomes two.

The flags are config overrides applied after --config and --set:
  --vcpus machine.vcpus, --backend machine.backend, --strategy machine.memory_policy,
  --seed schedule.seed, --slice schedule.slice, --schedule schedule.policy,
  --max-insns schedule.max_insns, --semihosting-root plugins.arm.semihosting_root.

Exit status: the guest's (SYS_EXIT_EXTENDED status modulo 256, SYS_EXIT 0 or 1, 0 for
PSCI SYSTEM_OFF); {EXIT_STOPPED} if the guest stopped without exiting (deadlock, or every
vCPU off); {EXIT_MAX_INSNS} if --max-insns ran out first; 1 for a guest fault; 2 for a bad
program, config or option.
"""

#: (flag, config keys, value kind, metavar, help) of the run flags that override the config.
RUN_FLAGS: tuple[tuple[str, tuple[str, ...], type, str, str], ...] = (
    ("--vcpus", ("machine", "vcpus"), int, "N", "number of vCPUs"),
    ("--backend", ("machine", "backend"), str, "NAME", "TCG backend, e.g. interp"),
    ("--strategy", ("machine", "memory_policy"), str, "NAME",
     "memory policy (atomic-emulation strategy), e.g. exclusive-bitmap"),
    ("--seed", ("schedule", "seed"), int, "K", "seed of the random and pct schedules"),
    ("--slice", ("schedule", "slice"), int, "N", "guest instructions per scheduling slice"),
    ("--jitter", ("schedule", "jitter"), bool, "on|off",
     "draw each slice's length from 1..N (seeded), so switches fall anywhere"),
    ("--schedule", ("schedule", "policy"), str, "POLICY",
     f"how the next vCPU is chosen: {', '.join(KNOWN_SCHEDULES)}"),
    ("--max-insns", ("schedule", "max_insns"), int, "N",
     "stop after N guest instructions in total (0 = unbounded)"),
    ("--semihosting-root", ("plugins", "arm", "semihosting_root"), str, "DIR",
     "directory the guest may open files in (default: none, host files refused)"),
)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _flag_value(raw: str, kind: type) -> object:
    """``raw`` as ``kind``; text that is not a number (or a boolean) stays text, so the
    config check reports it ("expected an integer") with the flag's name."""
    if kind is bool:
        return {"true": True, "on": True, "yes": True, "false": False, "off": False,
                "no": False}.get(raw.strip().lower(), raw)
    if kind is int:
        try:
            return int(raw.strip(), 0)
        except ValueError:
            return raw
    return raw


def _config_data(config: Config) -> dict:
    """A validated config back as TOML-shaped data, to apply more overrides to."""
    plugins: dict = {"disable": list(config.plugins.disable)}
    plugins.update({name: dict(table) for name, table in config.plugins.options.items()})
    return {"machine": attrs.asdict(config.machine),
            "schedule": attrs.asdict(config.schedule),
            "plugins": plugins}


def run_config(args: argparse.Namespace) -> Config:
    """The config of ``tcglab run``: --config, then --set, then the run flags, in order.

    Each flag is validated as it is applied, so an error names it
    (``--vcpus 0: [machine] vcpus = 0: must be from 1 to 64``); a plugin option set by a
    flag is recorded in ``option_sources`` so that its errors name the flag too.
    """
    config = load_config(args.config, args.overrides)
    flags = [(flag, keys, getattr(args, _dest(flag), None), kind)
             for flag, keys, kind, _m, _h in RUN_FLAGS]
    flags = [f for f in flags if f[2] is not None]
    if not flags:
        return config
    data = _config_data(config)
    sources = {name: dict(table) for name, table in config.plugins.option_sources.items()}
    for flag, keys, raw, kind in flags:
        where = f"{flag} {raw}"
        table = data
        for key in keys[:-1]:
            table = table.setdefault(key, {})
        table[keys[-1]] = _flag_value(raw, kind)
        parse_config(data, where)
        if keys[0] == "plugins":
            sources.setdefault(keys[1], {})[keys[2]] = where
    final = parse_config(data, config.source)
    plugins = attrs.evolve(final.plugins, option_sources=sources)
    return attrs.evolve(final, plugins=plugins)


def config_summary(config: Config) -> dict:
    """The config as JSON-ready data (for ``--json``)."""
    return {"source": config.source,
            "machine": attrs.asdict(config.machine),
            "schedule": attrs.asdict(config.schedule),
            "plugins": {"disable": list(config.plugins.disable),
                        "options": {n: dict(t) for n, t in config.plugins.options.items()}}}


def run_exit_code(result: RunResult) -> int:
    """tcglab's exit status for a finished run (see RUN_EPILOG)."""
    if result.reason in (RunReason.DEADLOCK, RunReason.ALL_OFF):
        return EXIT_STOPPED
    if result.reason == RunReason.MAX_INSNS:
        return EXIT_MAX_INSNS
    return result.exit_status & 0xFF


#: The reasons ``tcglab run`` says nothing about: the guest ended the run itself (an
#: ERROR is reported as the error it is).
QUIET_REASONS = frozenset({RunReason.EXIT, RunReason.POWEROFF, RunReason.ERROR})


def print_stats(result, machine, file=None) -> None:
    """Rich tables of the counters, per vCPU and per memory policy, on ``file`` (stderr)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stderr)
    stats = result.stats
    n = len(stats.get("vcpus", []))

    def table(title: str, rows: list[dict[str, int]], total: dict[str, int] | None = None) -> Table:
        t = Table(title=title, title_justify="left")
        t.add_column("counter")
        for i in range(n):
            t.add_column(f"vCPU {i}", justify="right")
        t.add_column("total", justify="right")
        keys = list(rows[0]) if rows else []
        for key in keys:
            values = [r.get(key, 0) for r in rows]
            tot = total.get(key, sum(values)) if total else sum(values)
            t.add_row(key, *(str(v) for v in values), str(tot))
        return t

    console.print(table("vCPUs", stats.get("vcpus", [])))
    policy = stats.get("policy", {})
    if policy:
        console.print(table(f"memory policy {policy.get('name', '')}", policy.get("per_vcpu", []),
                            policy.get("total")))
    tr = stats.get("translator", {})
    wall = result.wall_seconds
    rate = f", {result.insns / wall:,.0f} insns/s" if wall > 0 else ""
    console.print(f"reason={result.reason} exit_status={result.exit_status} "
                  f"insns={result.insns} tbs={tr.get('tbs', 0)} "
                  f"invalidated={tr.get('invalidated', 0)} wall={wall:.3f}s{rate}",
                  soft_wrap=True, highlight=False)


def cmd_run(args: argparse.Namespace) -> int:
    config = run_config(args)
    machine, _image = boot_program(args, config, PluginManager(config.plugins.disable))
    return finish_run(args, config, machine)


def boot_program(args: argparse.Namespace, config: Config,
                 pm: PluginManager) -> "tuple[Machine, LoadedImage]":
    """A machine built from ``config`` with PROGRAM loaded and booted with GUEST_ARGS;
    returns ``(machine, loaded image)``."""
    if not pm.registry.frontends.items:
        raise TcglabError("no guest frontend is installed, so there is nothing to run "
                          f"{args.program} with; install or enable a frontend plugin "
                          "(see `tcglab plugins`)")
    from .machine import Machine

    machine = Machine(config, pm)
    image = machine.boot(args.program, [args.program, *args.guest_args])
    return machine, image


def finish_run(args: argparse.Namespace, config: Config, machine: "Machine") -> int:
    """Run a booted machine to its end and report as ``tcglab run`` does (the note on
    stderr, --stats, --json); returns the exit status, or raises the guest's fault."""
    error: TcglabError | None = None
    started = time.perf_counter()
    try:
        result = machine.run()
    except TcglabError as exc:  # a guest fault: still report the counters and the JSON
        error = exc
        result = failed_run(exc, machine, started)
    finally:
        close = getattr(machine.platform, "close", None)
        if close is not None:
            close()
        sys.stdout.flush()
    code = 1 if error is not None else run_exit_code(result)
    if result.reason not in QUIET_REASONS:
        print(f"tcglab: {describe(result, config.schedule.max_insns)}", file=sys.stderr)
    if args.stats:
        print_stats(result, machine)
    if args.json_file:
        payload = {"program": args.program, "argv": [args.program, *args.guest_args],
                   **attrs.asdict(result), "exit_code": code, "config": config_summary(config)}
        platform_counters = getattr(machine.platform, "counters", None)
        if platform_counters:
            payload["stats"] = {**payload["stats"], "platform": dict(platform_counters)}
        write_json(args.json_file, payload)
    if error is not None:
        raise error
    return code


# -- tcglab compare ----------------------------------------------------------------------

#: compare's defaults for values a config may also set: they apply unless --config or
#: --set gives the key (a flag beats both).
COMPARE_DEFAULTS: dict[str, tuple[tuple[str, str], str]] = {
    "vcpus": (("machine", "vcpus"), "4"),
    "schedule": (("schedule", "policy"), "random"),
    "slice": (("schedule", "slice"), "8"),
    "jitter": (("schedule", "jitter"), "on"),
}
COMPARE_SEEDS = 3

COMPARE_EPILOG = """\
Runs every WORKLOAD under every memory policy (--strategies) for --seeds schedule seeds,
each run on a fresh machine, and prints one row per workload and strategy:
  check         "ok" if the program's own check passed (exit status 0) in every seed,
                else "FAIL k/n" (the failed runs are listed below the table)
  SC, SC failed, spurious
                store-conditionals executed, failed, and failed although no other vCPU
                wrote the reserved bytes (the memory policy's counters)
  slow path     slow-path loads + stores (softmmu), TLB flushes (softmmu, all vCPUs)
  insns, MIPS   guest instructions (all seeds) and guest MIPS (insns / wall time)
  overhead      the cell's wall time / the baseline strategy's cell's, same workload
                ("-" when the baseline is not in the grid); per insn: the same per
                guest instruction (fairer when a run spun until its budget ran out)
Sums are over the seeds.  A failed run (the check failed, a guest fault, a deadlock, the
instruction budget ran out) is data, not an error: compare exits 0 when the grid ran.

WORKLOAD is a bundled program (default: all of the default grid; `tcglab compare
--list` shows them with their arguments) or the path of a guest ELF.  --args "..." gives
the guest arguments (it may use {vcpus}) for every workload named: ELF paths have none
without it.  The guest's command line is "NAME ARGS..." ("PATH ARGS..." for an ELF path,
as with `tcglab run`).

The config (--config, then --set) is the base of every run; compare sets the memory
policy, seed and instruction budget per run.  --vcpus, --schedule, --slice and --jitter
default to 4, random, 8 and on unless the config sets them.  --max-insns defaults to each bundled
workload's budget (about four times what its default arguments need), else 20000000; a
run that reaches it failed with reason "max-insns".

--json, --csv and --plot are written after the grid, atomically (Ctrl-C leaves no
partial file).  JSON: {"meta", "runs", "cells"}; CSV: one row per cell.
"""


def _add_compare_parser(sub) -> None:
    p = sub.add_parser(
        "compare", help="run workloads under several memory policies and seeds; tabulate",
        usage="tcglab compare [OPTIONS] [WORKLOAD...]",
        description="Compare memory policies (atomic-emulation strategies) on guest "
                    "workloads.",
        epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_args(p)
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                   help="bundled workload name or guest ELF path (default: the default grid)")
    p.add_argument("--list", action="store_true",
                   help="list the bundled workloads with their default arguments and exit")
    p.add_argument("--strategies", metavar="A,B,...",
                   help="memory policies to compare (default: every registered one)")
    p.add_argument("--baseline", metavar="NAME",
                   help="the strategy overhead is relative to (default: none)")
    p.add_argument("--seeds", metavar="K", help=f"seeds per cell (default {COMPARE_SEEDS})")
    p.add_argument("--seed-base", metavar="S",
                   help="first seed: the seeds are S..S+K-1 (default 0)")
    p.add_argument("--vcpus", metavar="N", help="number of vCPUs (default 4)")
    p.add_argument("--backend", metavar="NAME", help="TCG backend, e.g. interp")
    p.add_argument("--schedule", metavar="POLICY",
                   help=f"{', '.join(KNOWN_SCHEDULES)} (default: random)")
    p.add_argument("--slice", metavar="N",
                   help="guest instructions per scheduling slice (default 8, with jitter: "
                        "each slice 1..8 long, so a store can land between any LL and SC "
                        "and a vCPU can be held off for a whole pop-pop-push)")
    p.add_argument("--jitter", metavar="on|off",
                   help="draw each slice's length from 1..--slice (default on)")
    p.add_argument("--max-insns", metavar="N",
                   help="instruction budget per run (default: the workload's; 0 = none)")
    p.add_argument("--args", dest="guest_args", metavar="ARGS",
                   help='guest arguments for every workload named, e.g. "{vcpus} 500"')
    p.add_argument("--semihosting-root", metavar="DIR",
                   help="directory the guest may open files in (default: none)")
    p.add_argument("--jobs", "-j", metavar="N",
                   help="host processes (default: the number of CPUs; 1 = in this "
                        "process, in order)")
    p.add_argument("--json", dest="json_file", metavar="FILE",
                   help="write meta, every run and every cell as JSON")
    p.add_argument("--csv", dest="csv_file", metavar="FILE", help="write one row per cell")
    p.add_argument("--plot", dest="plot_file", metavar="FILE.png",
                   help="draw SC failures and overhead per workload (needs matplotlib: "
                        "pip install 'tcglab[plot]')")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _count(raw: str | None, flag: str, default: int, minimum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw.strip(), 0)
    except ValueError:
        raise TcglabError(f"{flag} {raw}: expected an integer") from None
    if value < minimum:
        raise TcglabError(f"{flag} {raw}: must be >= {minimum}")
    return value


def _explicit_keys(args: argparse.Namespace) -> set[tuple[str, ...]]:
    """The (section, key) pairs --config or --set give (the config is valid by now)."""
    import tomli

    from .config import apply_override

    keys: set[tuple[str, ...]] = set()
    tables: list[dict] = []
    if args.config:
        with open(args.config, "rb") as f:
            tables.append(tomli.load(f))
    for text in args.overrides:
        data: dict = {}
        apply_override(data, text)
        tables.append(data)
    for data in tables:
        for section, table in data.items():
            if isinstance(table, dict):
                keys.update((section, key) for key in table)
    return keys


def compare_config(args: argparse.Namespace) -> tuple[Config, set[tuple[str, ...]]]:
    """The base config of every compare run, and the keys the user set in it."""
    load_config(args.config, args.overrides)  # its errors first, naming the file or --set
    explicit = _explicit_keys(args)
    for dest, (keys, default) in COMPARE_DEFAULTS.items():
        if getattr(args, dest) is None and keys not in explicit:
            setattr(args, dest, default)
    return run_config(args), explicit


def _list_workloads() -> int:
    from rich.console import Console
    from rich.table import Table

    from .compare import bundled_workloads

    table = Table(title="bundled workloads (args: compare's defaults)", title_justify="left")
    for col in ("name", "args", "default grid", "max insns", "description"):
        table.add_column(col, justify="right" if col == "max insns" else "left")
    for w in bundled_workloads().values():
        table.add_row(w.name, w.args, "yes" if w.in_default_grid else "no",
                      f"{w.max_insns:,}" if w.max_insns else "-", w.description)
    Console().print(table)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import platform
    from datetime import datetime, timezone

    from . import __version__
    from . import compare as cmp
    from . import report

    if args.list:
        return _list_workloads()
    seeds = _count(args.seeds, "--seeds", COMPARE_SEEDS, 1)
    seed_base = _count(args.seed_base, "--seed-base", 0, 0)
    jobs = _count(args.jobs, "--jobs", cmp.default_jobs(), 1)
    for path, flag in ((args.json_file, "--json"), (args.csv_file, "--csv"),
                       (args.plot_file, "--plot")):
        if path:
            check_writable(path, flag)
    if args.plot_file:
        report.require_matplotlib()

    config, explicit = compare_config(args)
    pm = PluginManager(config.plugins.disable)
    registered = [name for name, _cls, _plugin in pm.registry.memory_policies]
    wanted = [s.strip() for s in args.strategies.split(",") if s.strip()] \
        if args.strategies is not None else registered
    strategies = cmp.check_strategies(wanted, registered)
    baseline = "none"
    if args.baseline is not None:
        baseline = args.baseline
        if baseline not in registered:
            cmp.check_strategies([baseline], registered)  # the one-line error
    if args.max_insns is not None or ("schedule", "max_insns") in explicit:
        max_insns: int | None = config.schedule.max_insns
    else:
        max_insns = None
    workloads = cmp.resolve_workloads(args.workloads, config.machine.vcpus,
                                      args=args.guest_args, max_insns=max_insns)

    # Everything that can be wrong with the grid is reported before anything runs.
    cmp.check_workloads(workloads, strategies, config, pm)

    seed_list = list(range(seed_base, seed_base + seeds))
    specs = cmp.grid_specs(workloads, strategies, seed_list, _config_data(config),
                           config.source)
    started = time.perf_counter()
    runs = _run_with_progress(specs, jobs, not args.no_progress)
    elapsed = time.perf_counter() - started
    cells = cmp.aggregate(runs, baseline)
    meta = {
        "tcglab": __version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "jobs": min(jobs, len(specs)),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": elapsed,
        "grid": {
            "workloads": [{"name": w.name, "program": w.program, "args": list(w.args),
                           "max_insns": w.max_insns} for w in workloads],
            "strategies": strategies,
            "vcpus": config.machine.vcpus,
            "seeds": seed_list,
            "backend": config.machine.backend,
            "schedule": config.schedule.policy,
            "slice": config.schedule.slice,
            "jitter": config.schedule.jitter,
            "pct_depth": config.schedule.pct_depth,
            "baseline": baseline,
        },
        "config": config_summary(config),
    }
    data = {"meta": meta, "runs": runs, "cells": cells}
    report.print_table(data)
    print(f"tcglab compare: {len(runs)} runs in {elapsed:.1f}s on "
          f"{meta['jobs']} process{'es' if meta['jobs'] != 1 else ''}", file=sys.stderr)
    if args.json_file:
        write_json(args.json_file, data)
    if args.csv_file:
        report.write_csv(args.csv_file, cells)
    if args.plot_file:
        report.write_plot(args.plot_file, data)
    return 0


def _run_with_progress(specs, jobs: int, show: bool) -> list[dict]:
    from . import compare as cmp

    if not show:
        return cmp.run_grid(specs, jobs)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    failed = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True) as progress:
        task = progress.add_task("compare", total=len(specs), failed=0)

        def on_result(spec, record) -> None:
            nonlocal failed
            failed += not record["passed"]
            progress.update(task, advance=1, failed=failed,
                            description=f"{spec.workload}/{spec.strategy} seed {spec.seed}")
        return cmp.run_grid(specs, jobs, on_result)


# -- tcglab trace ------------------------------------------------------------------------

TRACE_EPILOG = """\
Runs PROGRAM exactly as `tcglab run` does (same options, same exit status, guest output
on stdout) and logs every TB when it is translated, as QEMU's -d does:
  in_asm    the TB's guest instructions (address, encoding, the frontend's disassembly:
            capstone for ARM where installed, else tcglab's decoder)
  op        the TB's IR as the backend compiled it, after the translator's IR passes
            (named in the header; with passes installed this is QEMU's op_opt)
  out_asm   the backend's output for the TB (interp: a summary; code-generating
            backends: their code)
A TB is logged once, when translated, not each time it runs; retranslations (after
self-modifying code) and single-instruction TBs for exclusive steps are logged too.
The log goes to stderr, or to --trace-file (created or truncated; its directory must
exist).  Use --backend or --set machine.backend=NAME to trace another backend: two
backends' logs differ only in out_asm (and in op if their IR passes differ).
"""


def _add_trace_parser(sub) -> None:
    from .trace import LOG_ITEMS

    p = sub.add_parser(
        "trace", help="run a guest program and log each TB's guest code, IR and backend "
                      "output (QEMU's -d in_asm,op,out_asm)",
        usage="tcglab trace -d ITEMS [--trace-file FILE] [OPTIONS] PROGRAM [GUEST_ARGS...]",
        description="Run a guest ELF and log every translated TB, like QEMU's "
                    "-d in_asm,op,out_asm.",
        epilog=TRACE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", dest="log_items", action="append", metavar="ITEMS",
                   help=f"what to log, comma-separated: {', '.join(LOG_ITEMS)} (repeatable)")
    p.add_argument("--trace-file", metavar="FILE",
                   help="write the log to FILE instead of stderr")
    _add_run_args(p)
    _add_program_args(p)


def cmd_trace(args: argparse.Namespace) -> int:
    from . import trace

    items = trace.parse_log_items(args.log_items, args.guest_args)
    if args.trace_file:
        trace.check_trace_file(args.trace_file, args.program)
    config = run_config(args)
    log = trace.TBLog(items)
    pm = PluginManager(config.plugins.disable, extra=[(trace.PLUGIN_NAME, log)])
    trace.check_registered(pm, log)
    machine, image = boot_program(args, config, pm)
    with trace.open_log(args.trace_file) as stream:
        log.start(stream, f"--trace-file {args.trace_file}" if args.trace_file else "stderr",
                  image)
        return finish_run(args, config, machine)


COMMANDS = {"plugins": cmd_plugins, "run": cmd_run, "compare": cmd_compare, "trace": cmd_trace}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TcglabError as exc:
        print(f"tcglab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tcglab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
