"""The ``tcglab`` command line: ``plugins`` and ``run`` (see ``tcglab run --help``).

Every user error ends as one line on stderr (``tcglab: error: ...``) and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Sequence

import attrs

from .config import KNOWN_SCHEDULES, Config, load_config, parse_config
from .errors import TcglabError
from .plugins import PluginManager


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
    _add_config_args(p)
    for flag, _keys, _kind, metavar, text in RUN_FLAGS:
        p.add_argument(flag, metavar=metavar, help=text)
    p.add_argument("--stats", action="store_true",
                   help="print the counters per vCPU and per memory-policy to stderr after the run")
    p.add_argument("--json", dest="json_file", metavar="FILE",
                   help="write the run's result (reason, exit status, counters, config) "
                        "to FILE as JSON")
    p.add_argument("program", metavar="PROGRAM", help="guest ELF")
    p.add_argument("guest_args", nargs=argparse.REMAINDER, metavar="GUEST_ARGS",
                   help="arguments passed to the guest (everything after PROGRAM)")
    return parser


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.overrides)


def cmd_plugins(args: argparse.Namespace) -> int:
    config = _config(args)
    pm = PluginManager(config.plugins.disable)
    listing = pm.registry.listing()
    listing["plugins"] = pm.plugin_names()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for kind in ("frontends", "backends", "memory_policies", "ops"):
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
    """``raw`` as ``kind``; text that is not a number stays text, so the config check
    reports it ("expected an integer") with the flag's name."""
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


def run_exit_code(result) -> int:
    """tcglab's exit status for a finished run (see RUN_EPILOG)."""
    if result.reason == "deadlock" or result.reason == "all-off":
        return EXIT_STOPPED
    if result.reason == "max-insns":
        return EXIT_MAX_INSNS
    return result.exit_status & 0xFF


def _run_note(result, config: Config) -> str:
    """The one line tcglab prints on stderr when the guest did not simply exit, or ""."""
    if result.reason == "deadlock":
        return f"tcglab: {result.message}"
    if result.reason == "all-off":
        return "tcglab: every vCPU powered itself off without the guest exiting"
    if result.reason == "max-insns":
        return (f"tcglab: stopped after {result.insns} guest instructions (max_insns = "
                f"{config.schedule.max_insns}) before the guest exited")
    if result.reason == "reset":
        return "tcglab: the guest asked for a system reset (PSCI SYSTEM_RESET); " \
               "tcglab does not reboot, so the run ended as a power-off"
    return ""


def write_json_atomic(path: str, payload: dict) -> None:
    """Write ``payload`` to ``path`` through a temporary file and ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, default=str)
            f.write("\n")
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise TcglabError(f"--json {path}: cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


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
    pm = PluginManager(config.plugins.disable)
    if not pm.registry.frontends.items:
        raise TcglabError("no guest frontend is installed, so there is nothing to run "
                          f"{args.program} with; install or enable a frontend plugin "
                          "(see `tcglab plugins`)")
    from .loader import load_elf
    from .machine import Machine, RunResult

    machine = Machine(config, pm)
    image = load_elf(args.program, machine.memory)
    machine.frontend.boot(image, [args.program, *args.guest_args])
    error: TcglabError | None = None
    started = time.perf_counter()
    try:
        result = machine.run()
    except TcglabError as exc:  # a guest fault: still report the counters and the JSON
        error = exc
        result = RunResult("error", 1, machine.insns, str(exc), machine.stats(),
                           time.perf_counter() - started)
    finally:
        close = getattr(machine.platform, "close", None)
        if close is not None:
            close()
        sys.stdout.flush()
    code = 1 if error is not None else run_exit_code(result)
    note = _run_note(result, config)
    if note:
        print(note, file=sys.stderr)
    if args.stats:
        print_stats(result, machine)
    if args.json_file:
        payload = {"program": args.program, "argv": [args.program, *args.guest_args],
                   **attrs.asdict(result), "exit_code": code, "config": config_summary(config)}
        platform_counters = getattr(machine.platform, "counters", None)
        if platform_counters:
            payload["stats"] = {**payload["stats"], "platform": dict(platform_counters)}
        write_json_atomic(args.json_file, payload)
    if error is not None:
        raise error
    return code


COMMANDS = {"plugins": cmd_plugins, "run": cmd_run}


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
