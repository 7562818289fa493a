"""User-facing errors: one line each, naming the culprit and what is allowed.

Every error a user can cause (bad config, unknown plugin, bad guest program, a guest
fault) is a :class:`TcglabError`; the CLI prints its message on one line and exits
non-zero without a traceback.  Anything else escaping is a bug in tcglab.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class TcglabError(Exception):
    """Base of every error the CLI reports as one line (``tcglab: error: ...``)."""

    exit_code = 1


class ConfigError(TcglabError):
    """Malformed or invalid configuration (TOML file, ``--set`` override, plugin options)."""

    exit_code = 2


class PluginError(TcglabError):
    """A plugin is unknown, duplicated, or raised while registering."""

    exit_code = 2


class ComponentCrash(PluginError):
    """A component a plugin supplies (frontend, backend, memory policy, helper) raised an
    exception of its own while the machine ran: the run cannot go on, and the message
    names the plugin and where it raised (``raise ... from`` keeps the original)."""


class GuestError(TcglabError):
    """The guest did something the machine cannot continue from (fault, undefined insn)."""


class IRError(TcglabError, ValueError):
    """An op was emitted with the wrong shape, or is not in the op table.

    A frontend or plugin bug, named precisely; it reaches the user as one line all the
    same (an op missing because its plugin is disabled looks like this when the frontend
    did not declare ``tcglab_requires``).  Also a ValueError, as it always was.
    """


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
