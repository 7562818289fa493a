"""The ``tcglab`` command line: ``plugins``, ``run``, ``compare`` and ``trace`` (see ``--help``
of each).

Every user error ends as one line on stderr (``tcglab: error: ...``) and a non-zero
exit status, never a traceback.

Modules, one job each: ``parser`` (each command's options and help, and the early parse
that finds which plugins load), ``flags`` (the options that set config keys, core's and
those plugins contribute), ``configure`` (options to a config), ``commands`` (what each
command does), ``render`` (tables and progress on the terminal).
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..errors import TcglabError
from ..plugins import PluginManager  # what every command builds its plugins with
from .commands import COMMANDS, run_exit_code
from .configure import COMPARE_DEFAULTS, run_config
from .parser import EXIT_MAX_INSNS, EXIT_STOPPED, build_parser, early_plugin_flags


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(early_plugin_flags(argv))
    except TcglabError as exc:  # a plugin's option is malformed or taken
        print(f"tcglab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args, PluginManager)
    except TcglabError as exc:
        print(f"tcglab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tcglab: interrupted", file=sys.stderr)
        return 130


__all__ = ["COMPARE_DEFAULTS", "EXIT_MAX_INSNS", "EXIT_STOPPED", "build_parser", "main",
           "run_config", "run_exit_code"]
