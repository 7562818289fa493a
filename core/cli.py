"""The ``tcglab`` command line: ``plugins`` and ``run``.

Every user error ends as one line on stderr (``tcglab: error: ...``) and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .config import Config, load_config
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

    p = sub.add_parser("run", help="run a guest program")
    _add_config_args(p)
    p.add_argument("program", help="guest ELF")
    p.add_argument("guest_args", nargs=argparse.REMAINDER, help="arguments passed to the guest")
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


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args)
    pm = PluginManager(config.plugins.disable)
    if not pm.registry.frontends.items:
        raise TcglabError("no guest frontend is installed, so there is nothing to run "
                          f"{args.program} with; install or enable a frontend plugin "
                          "(see `tcglab plugins`)")
    from .loader import load_elf
    from .machine import Machine

    machine = Machine(config, pm)
    image = load_elf(args.program, machine.memory)
    machine.frontend.boot(image, [args.program, *args.guest_args])
    result = machine.run()
    if result.reason == "deadlock":
        raise TcglabError(result.message)
    return result.exit_status


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
