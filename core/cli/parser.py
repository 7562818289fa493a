"""The command line's grammar: each command's options, usage and help texts.

:func:`build_parser` builds the parser ``main`` uses, with the config flags the loaded
plugins contribute (:mod:`core.cli.flags`).  Which plugins load depends on the config
(``[plugins] disable``), so :func:`early_plugin_flags` first reads ``--config`` and
``--set`` with a lenient copy of the same grammar, as pytest reads ``-p`` before its
full parse.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Sequence

from ..config import KNOWN_SCHEDULES, load_config
from ..errors import PluginError, TcglabError
from .configure import COMPARE_SEEDS
from .flags import CORE_FLAGS, ConfigFlag, plugin_flags as flags_of_plugins

#: tcglab's own exit codes when the guest did not exit (a guest may exit with them too;
#: the reason in --json tells them apart).
EXIT_STOPPED = 3  # deadlock, or every vCPU powered off without an exit
EXIT_MAX_INSNS = 4  # the instruction budget ran out first

#: The commands that take config flags (and so plugins' options).
FLAG_COMMANDS = ("run", "trace", "compare")


def run_epilog(flags: Sequence[ConfigFlag]) -> str:
    """The epilog of ``tcglab run --help``, listing ``flags`` with their config keys."""
    pairs = ", ".join(f"{f.flag}\xa0{f.dotted_key}" for f in flags) + "."  # \xa0: no break
    overrides = textwrap.fill(pairs, width=88, initial_indent="  ", subsequent_indent="  ",
                              break_on_hyphens=False, break_long_words=False)
    overrides = overrides.replace("\xa0", " ")
    return f"""\
tcglab's options go before PROGRAM: everything after it is passed to the guest
(`tcglab run --vcpus 4 counter.elf 4 1000`).  The guest sees the command line
"PROGRAM GUEST_ARGS..." joined with spaces (SYS_GET_CMDLINE), as with qemu-system-arm
-kernel PROGRAM -append "GUEST_ARGS...", so an argument containing a space becomes two.

The flags are config overrides applied after --config and --set:
{overrides}

Exit status: the guest's own, modulo 256, as its platform reports it (0 when the guest
powers the machine off); {EXIT_STOPPED} if the guest stopped without exiting (deadlock, or
every vCPU off); {EXIT_MAX_INSNS} if --max-insns ran out first; 1 for a guest fault; 2 for a
bad program, config or option.
"""


COMPARE_EPILOG = """\
Runs every WORKLOAD under every memory policy (--strategies) for --seeds schedule seeds,
each run on a fresh machine, and prints one row per workload and strategy:
  check         "ok" if the program's own check passed (exit status 0) in every seed,
                else "FAIL k/n" (the failed runs are listed below the table)
  SC, SC failed, spurious
                store-conditionals executed, failed, and failed although no other vCPU
                wrote the reserved bytes (the memory policy's counters)
  slow path     slow-path loads + stores (softmmu), TLB flushes (softmmu, all vCPUs)
  own counters  what the strategy counts besides the SCs (`tcglab plugins` says what
                each counter counts)
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


class _EarlyParser(argparse.ArgumentParser):
    """The lenient grammar of the early parse: it neither prints nor exits."""

    def error(self, message: str):  # type: ignore[override]
        raise _EarlyParseFailed(message)


class _EarlyParseFailed(Exception):
    pass


def build_parser(plugin_flags: Sequence[ConfigFlag] | None = None, *,
                 early: bool = False) -> argparse.ArgumentParser:
    """The parser of every command.  ``plugin_flags``: the config flags plugins contribute
    (None: those of the plugins a default config loads).  ``early``: the lenient grammar
    of :func:`early_plugin_flags` (no --help, PROGRAM optional, errors raised)."""
    if plugin_flags is None:
        from ..plugins import PluginManager

        plugin_flags = flags_of_plugins(PluginManager())
    plugin_flags = tuple(plugin_flags)
    parser = (_EarlyParser if early else argparse.ArgumentParser)(
        prog="tcglab", description="QEMU's TCG in Python: run guest programs and compare "
                                   "ways of emulating LL/SC.", add_help=not early)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    help_ = {"add_help": not early}

    p = sub.add_parser("plugins", help="list frontends, backends, memory policies and IR ops "
                                       "with the plugin that provides each", **help_)
    _add_config_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser(
        "run", help="run a guest program",
        usage="tcglab run [OPTIONS] PROGRAM [GUEST_ARGS...]",
        description="Run a guest ELF on the configured machine.  Guest output goes to\n"
                    "stdout; tcglab exits with the guest's exit status.",
        epilog=run_epilog(CORE_FLAGS + plugin_flags),
        formatter_class=argparse.RawDescriptionHelpFormatter, **help_)
    _add_run_args(p, plugin_flags, "run")
    _add_program_args(p, early)
    _add_compare_parser(sub, plugin_flags, help_)
    _add_trace_parser(sub, plugin_flags, help_, early)
    return parser


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", metavar="FILE", help="tcglab.toml to read (default: none)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set machine.vcpus=4 (repeatable)")


#: An option as ``(names, add_argument keywords)``: the options that follow the plugins'
#: are data, so that a plugin's flag is checked against them before any is added.
Options = Sequence[tuple[tuple[str, ...], dict]]

#: The options of ``run`` and ``trace`` after the config flags.
RUN_OUTPUT_OPTIONS: Options = (
    (("--stats",), {"action": "store_true", "help": "print the counters per vCPU and per "
                                                    "memory-policy to stderr after the run"}),
    (("--json",), {"dest": "json_file", "metavar": "FILE",
                   "help": "write the run's result (reason, exit status, counters, config) "
                           "to FILE as JSON"}),
)

#: The options of ``compare`` after the config flags.
COMPARE_OUTPUT_OPTIONS: Options = (
    (("--jobs", "-j"), {"metavar": "N", "help": "host processes (default: the number of "
                                                "CPUs; 1 = in this process, in order)"}),
    (("--json",), {"dest": "json_file", "metavar": "FILE",
                   "help": "write meta, every run and every cell as JSON"}),
    (("--csv",), {"dest": "csv_file", "metavar": "FILE", "help": "write one row per cell"}),
    (("--plot",), {"dest": "plot_file", "metavar": "FILE.png",
                   "help": "draw SC failures and overhead per workload (needs matplotlib: "
                           "pip install 'tcglab[plot]')"}),
    (("--no-progress",), {"action": "store_true", "help": "no progress bar"}),
)


def _add_plugin_flags(p: argparse.ArgumentParser, flags: Sequence[ConfigFlag],
                      command: str, then: Options) -> None:
    """Add ``flags`` (the plugins'), then the options ``then``; a plugin's flag that is
    already an option of ``command`` is a one-line PluginError."""
    later = {name for names, _kw in then for name in names}
    for f in flags:
        try:
            if f.flag in later:
                raise argparse.ArgumentError(None, f.flag)
            p.add_argument(f.flag, dest=f.dest, metavar=f.metavar, help=f.help)
        except argparse.ArgumentError:
            raise PluginError(f"a plugin's command-line option {f.flag} (config key "
                              f"{f.dotted_key}) is already an option of tcglab {command}; "
                              "the plugin must name it otherwise") from None
    for names, keywords in then:
        p.add_argument(*names, **keywords)


def _add_run_args(p: argparse.ArgumentParser, plugin_flags: Sequence[ConfigFlag],
                  command: str) -> None:
    """The options of ``tcglab run``, which ``tcglab trace`` takes too."""
    p.set_defaults(config_flags=CORE_FLAGS + tuple(plugin_flags))
    _add_config_args(p)
    for f in CORE_FLAGS:
        p.add_argument(f.flag, metavar=f.metavar, help=f.help)
    _add_plugin_flags(p, plugin_flags, command, then=RUN_OUTPUT_OPTIONS)


def _add_program_args(p: argparse.ArgumentParser, early: bool = False) -> None:
    p.add_argument("program", metavar="PROGRAM", help="guest ELF", nargs="?" if early else None)
    p.add_argument("guest_args", nargs=argparse.REMAINDER, metavar="GUEST_ARGS",
                   help="arguments passed to the guest (everything after PROGRAM)")


def _add_compare_parser(sub, plugin_flags: tuple[ConfigFlag, ...], help_: dict) -> None:
    p = sub.add_parser(
        "compare", help="run workloads under several memory policies and seeds; tabulate",
        usage="tcglab compare [OPTIONS] [WORKLOAD...]",
        description="Compare memory policies (atomic-emulation strategies) on guest "
                    "workloads.",
        epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        **help_)
    p.set_defaults(config_flags=CORE_FLAGS + plugin_flags)
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
    _add_plugin_flags(p, plugin_flags, "compare", then=COMPARE_OUTPUT_OPTIONS)


def _add_trace_parser(sub, plugin_flags: tuple[ConfigFlag, ...], help_: dict,
                      early: bool) -> None:
    from ..trace import LOG_ITEMS

    p = sub.add_parser(
        "trace", help="run a guest program and log each TB's guest code, IR and backend "
                      "output (QEMU's -d in_asm,op,out_asm)",
        usage="tcglab trace -d ITEMS [--trace-file FILE] [OPTIONS] PROGRAM [GUEST_ARGS...]",
        description="Run a guest ELF and log every translated TB, like QEMU's "
                    "-d in_asm,op,out_asm.",
        epilog=TRACE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        **help_)
    p.add_argument("-d", dest="log_items", action="append", metavar="ITEMS",
                   help=f"what to log, comma-separated: {', '.join(LOG_ITEMS)} (repeatable)")
    p.add_argument("--trace-file", metavar="FILE",
                   help="write the log to FILE instead of stderr")
    _add_run_args(p, plugin_flags, "trace")
    _add_program_args(p, early)


# -- the early parse ----------------------------------------------------------------------


def early_plugin_flags(argv: Sequence[str]) -> tuple[ConfigFlag, ...]:
    """The config flags of the plugins that ``argv``'s config leaves enabled.

    An early, lenient parse reads --config and --set; the flags of the plugins they do
    not disable are what :func:`build_parser` adds.  It parses again with those flags when
    one of them could have hidden a --config or --set (a flag's value read as PROGRAM).
    A config or plugin manager that fails here is left for the command to report: the
    flags are then those of every plugin that loads.  A command that takes no config
    flags loads no plugin here.
    """
    flags: tuple[ConfigFlag, ...] = ()
    disable: tuple[str, ...] | None = None
    for _ in range(2):
        try:
            args = build_parser(flags, early=True).parse_known_args(list(argv))[0]
        except _EarlyParseFailed:
            return flags
        if args.command not in FLAG_COMMANDS:
            return ()
        try:
            wanted = load_config(args.config, args.overrides).plugins.disable
        except TcglabError:
            wanted = ()
        if wanted == disable:
            break
        disable = wanted
        flags = _flags_of_enabled(disable)
    return flags


def _flags_of_enabled(disable: tuple[str, ...]) -> tuple[ConfigFlag, ...]:
    from ..plugins import PluginManager

    for attempt in (disable, ()):
        try:
            pm = PluginManager(attempt)
        except TcglabError:
            continue
        return flags_of_plugins(pm)
    return ()
