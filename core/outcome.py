"""How a run ended: :class:`RunReason`, :class:`RunResult`, and the one sentence for each.

``tcglab run`` prints the sentence on stderr, ``tcglab trace`` too (it runs as ``run``
does), and ``tcglab compare`` records it as a failed run's message; all three take it
from :func:`describe`, so a reason reads the same everywhere.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Any

from attrs import define, field

from .errors import ComponentCrash, PluginError, TcglabError


class RunReason(str, Enum):
    """Why a run stopped.  The values are what ``--json`` and compare's records hold (a
    member is a ``str``, so it is written, compared and pickled as its value)."""

    EXIT = "exit"  # the guest exited (e.g. semihosting SYS_EXIT), with its exit status
    POWEROFF = "poweroff"  # the guest powered the machine off (e.g. PSCI SYSTEM_OFF)
    RESET = "reset"  # the guest asked for a reset, which tcglab ends as a power-off
    ALL_OFF = "all-off"  # every vCPU powered itself off, the guest never exited
    MAX_INSNS = "max-insns"  # the instruction budget ran out first
    DEADLOCK = "deadlock"  # every vCPU waits and nothing can wake one
    ERROR = "error"  # a TcglabError ended it: a guest fault, a bad program
    CRASH = "crash"  # any other exception from a component (compare records it)

    # the value, not "RunReason.EXIT", in f-strings and str() (what enum.StrEnum does)
    __str__ = str.__str__
    __format__ = str.__format__

    @classmethod
    def parse(cls, value: "str | RunReason") -> "RunReason":
        """``value`` as a RunReason; an unknown one is a one-line error listing them (a
        platform plugin names the reason when it asks the machine to stop)."""
        try:
            return cls(value)
        except ValueError:
            raise PluginError(f"unknown run reason {value!r}; a run stops for one of: "
                              f"{', '.join(r.value for r in cls)}") from None


#: One sentence per reason (no "tcglab:" prefix, no final period).  A run's own message,
#: when it has one (a deadlock's halted vCPUs, an error's text), is said instead.
SENTENCES: dict[RunReason, str] = {
    RunReason.EXIT: "the guest exited with status {exit_status}",
    RunReason.POWEROFF: "the guest powered the machine off",
    RunReason.RESET: "the guest asked for a system reset; tcglab does not reboot, so the "
                     "run ended as a power-off",
    RunReason.ALL_OFF: "every vCPU powered itself off without the guest exiting",
    RunReason.MAX_INSNS: "stopped after {insns} guest instructions (max_insns = {max_insns}) "
                         "before the guest exited",
    RunReason.DEADLOCK: "deadlock: every vCPU is waiting and nothing can wake one",
    RunReason.ERROR: "the run stopped on an error",
    RunReason.CRASH: "a component raised an unexpected exception",
}


@define
class RunResult:
    """Why a run stopped, the guest's exit status, and every counter."""

    reason: RunReason = field(converter=RunReason.parse)
    exit_status: int = 0
    insns: int = 0
    message: str = ""
    stats: dict[str, Any] = field(factory=dict)
    wall_seconds: float = 0.0  # not part of the deterministic result


def describe(result: RunResult, max_insns: int = 0) -> str:
    """Why ``result``'s run stopped, in one line: its own message when it has one, else
    its reason's sentence (``max_insns``: the budget the run had, for MAX_INSNS)."""
    if result.message:
        return " ".join(str(result.message).split())
    return SENTENCES[result.reason].format(exit_status=result.exit_status,
                                           insns=result.insns, max_insns=max_insns)


def failed_run(exc: BaseException, machine: Any, started: float) -> RunResult:
    """The result of a run that ``exc`` ended: ERROR for a :class:`TcglabError`, CRASH for
    anything else, with exit status 1 and the counters so far (``machine`` may be None
    when building it failed; ``started`` is when the run began, for its wall time)."""
    if isinstance(exc, ComponentCrash):  # a plugin's own exception, already one line
        reason, message = RunReason.CRASH, str(exc)
    elif isinstance(exc, TcglabError):
        reason, message = RunReason.ERROR, str(exc)
    else:
        reason, message = RunReason.CRASH, f"{type(exc).__name__}: {exc}"
    return RunResult(reason, 1, machine.insns if machine is not None else 0, message,
                     machine.stats() if machine is not None else {},
                     time.perf_counter() - started)


__all__ = ["RunReason", "RunResult", "SENTENCES", "describe", "failed_run"]
