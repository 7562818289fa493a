"""What each command does: ``plugins``, ``run``, ``trace`` and ``compare``.

Each ``cmd_*`` takes the parsed options and the plugin manager class to build plugins
with (``core.cli.PluginManager``: a test may put its own there), and returns tcglab's exit
status; a user error is a :class:`~core.errors.TcglabError`, which ``main`` prints as one
line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Callable

import attrs

from ..config import Config
from ..errors import TcglabError
from ..outcome import RunReason, RunResult, describe, failed_run
from ..output import check_writable, json_text, write_json
from ..plugins import PluginManager
from . import render
from .configure import (COMPARE_SEEDS, base_config, compare_config, config_data, config_summary,
                        count, run_config)
from .parser import EXIT_MAX_INSNS, EXIT_STOPPED

if TYPE_CHECKING:
    from ..loader import LoadedImage
    from ..machine import Machine


#: What builds a command's plugins: PluginManager, or what a test puts in its place.
Plugins = Callable[..., PluginManager]


def cmd_plugins(args: argparse.Namespace, plugins: Plugins) -> int:
    config = base_config(args)
    pm = plugins(config.plugins.disable)
    listing = pm.registry.listing()
    listing["plugins"] = pm.plugin_names()
    if args.json:
        print(json_text(listing))
    else:
        render.print_plugins(listing)
    return 0


# -- tcglab run and tcglab trace ----------------------------------------------------------


def run_exit_code(result: RunResult) -> int:
    """tcglab's exit status for a finished run (see ``tcglab run --help``)."""
    if result.reason in (RunReason.DEADLOCK, RunReason.ALL_OFF):
        return EXIT_STOPPED
    if result.reason == RunReason.MAX_INSNS:
        return EXIT_MAX_INSNS
    return result.exit_status & 0xFF


#: The reasons ``tcglab run`` says nothing about: the guest ended the run itself (an
#: ERROR, or a plugin's CRASH, is reported as the error it is).
QUIET_REASONS = frozenset({RunReason.EXIT, RunReason.POWEROFF, RunReason.ERROR,
                           RunReason.CRASH})


def cmd_run(args: argparse.Namespace, plugins: Plugins) -> int:
    config = run_config(args)
    machine, _image = boot_program(args, config, plugins(config.plugins.disable))
    return finish_run(args, config, machine)


def boot_program(args: argparse.Namespace, config: Config,
                 pm: PluginManager) -> "tuple[Machine, LoadedImage]":
    """A machine built from ``config`` with PROGRAM loaded and booted with GUEST_ARGS;
    returns ``(machine, loaded image)``."""
    if not pm.registry.frontends.items:
        raise TcglabError("no guest frontend is installed, so there is nothing to run "
                          f"{args.program} with; install or enable a frontend plugin "
                          "(see `tcglab plugins`)")
    from ..machine import Machine

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
        render.print_stats(result)
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


def cmd_trace(args: argparse.Namespace, plugins: Plugins) -> int:
    from .. import trace

    items = trace.parse_log_items(args.log_items, args.guest_args)
    if args.trace_file:
        trace.check_trace_file(args.trace_file, args.program)
    config = run_config(args)
    log = trace.TBLog(items)
    pm = plugins(config.plugins.disable, extra=[(trace.PLUGIN_NAME, log)])
    trace.check_registered(pm, log)
    machine, image = boot_program(args, config, pm)
    with trace.open_log(args.trace_file) as stream:
        log.start(stream, f"--trace-file {args.trace_file}" if args.trace_file else "stderr",
                  image)
        return finish_run(args, config, machine)


# -- tcglab compare -----------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace, plugins: Plugins) -> int:
    import platform
    from datetime import datetime, timezone

    from .. import __version__
    from .. import compare as cmp
    from .. import report

    if args.list:
        render.print_workloads()
        return 0
    seeds = count(args.seeds, "--seeds", COMPARE_SEEDS, 1)
    seed_base = count(args.seed_base, "--seed-base", 0, 0)
    jobs = count(args.jobs, "--jobs", cmp.default_jobs(), 1)
    for path, flag in ((args.json_file, "--json"), (args.csv_file, "--csv"),
                       (args.plot_file, "--plot")):
        if path:
            check_writable(path, flag)
    if args.plot_file:
        report.require_matplotlib()

    config, explicit = compare_config(args)
    pm = plugins(config.plugins.disable)
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
    specs = cmp.grid_specs(workloads, strategies, seed_list, config_data(config),
                           config.source)
    started = time.perf_counter()
    runs = render.run_with_progress(specs, jobs, not args.no_progress)
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


COMMANDS = {"plugins": cmd_plugins, "run": cmd_run, "compare": cmd_compare, "trace": cmd_trace}
