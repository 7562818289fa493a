"""The contract a backend implements: compile a TB's IR once, then execute it.

A backend's ``execute(cpu, tb, budget)`` runs at most ``budget`` guest instructions,
starting with ``tb`` (counting ``insn_start`` ops), and returns ``(last, exit,
executed)``: ``last`` is the TB it left from (``tb`` itself unless the backend followed
chained ``goto_tb`` exits by itself), ``exit`` is the ``goto_tb`` slot (0 or 1) ``last``
left through, :data:`EXIT_NOCHAIN` for ``exit_tb``, or :data:`EXIT_BUDGET` when the
slice ended inside a TB (the guest pc then points at the next instruction to run), and
``executed`` counts every guest instruction run in the call.  Guest exceptions
propagate as :class:`~core.cpu.GuestException` with ``pc`` and ``executed`` filled in;
any other exception (a helper's or a plugin's error) ends the run and leaves with its
``executed`` attribute set the same way: the guest instructions the call started before
it was raised, the one running then included (the interpreter counts an instruction as it
starts it), across every TB the call chained to; none when it was raised before the
first.  So the run's counters are the same on every backend whatever ends it.  A backend
never adds to the instruction counters itself: ``core.exec.cpu_exec`` counts what it
reports.

A backend that follows chained exits itself (as QEMU's generated code jumps straight
from TB to TB) must behave exactly as if the dispatcher had: it stops where the
dispatcher would (the budget counts across TBs), and it returns to the dispatcher at a
TB boundary whenever the vCPU's exit-request word ``cpu.exit_request`` is set (queued
work, a stop request, the vCPU no longer running: see :class:`~core.cpu.CPUState`),
testing that word and nothing else wherever it follows a chain (one test per layer that
follows chains: arm-host's generated code; pyjit's loop between its compiled units and
its generated code inside one), and the word may be mirrored where its code reads it, as
arm-host mirrors it into host memory; it counts each TB it entered
that way in ``cpu.stats.tbs_executed`` and ``cpu.stats.tb_chain_hits``.  So the same
seed gives the same interleaving on every backend.

The translator tells the backend when it chains a TB's exit to another TB
(:meth:`Backend.tb_chained`, QEMU's ``tb_set_jmp_target``), when it undoes that because
the destination was invalidated (:meth:`Backend.tb_unchained`), and when a TB is dropped
(:meth:`Backend.tb_invalidated`), so code-generating backends can patch their code.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

from .config import NoOptions

if TYPE_CHECKING:
    from .cpu import CPUState
    from .ir import TranslationBlock
    from .machine import Machine

EXIT_GOTO0 = 0
EXIT_GOTO1 = 1
EXIT_NOCHAIN = 2
EXIT_BUDGET = 3


class Backend(abc.ABC):
    """Base class of backends; subclasses set ``name`` and implement compile/execute.

    ``Options`` is an attrs class validated from the ``[plugins.<name>]`` table, as for
    memory policies.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions

    def __init__(self, machine: "Machine", options: Any = None):
        self.machine = machine
        self.options = self.Options() if options is None else options

    @abc.abstractmethod
    def compile(self, tb: "TranslationBlock") -> None:
        """Prepare ``tb`` for execution; store the result in ``tb.compiled``."""

    @abc.abstractmethod
    def execute(self, cpu: "CPUState", tb: "TranslationBlock",
                budget: int) -> "tuple[TranslationBlock, int, int]":
        """Run up to ``budget`` guest instructions from ``tb``; see the module docstring."""

    def tb_chained(self, src: "TranslationBlock", slot: int, dest: "TranslationBlock") -> None:
        """``src``'s exit ``slot`` now leads to ``dest`` (patch a direct jump here)."""

    def tb_unchained(self, src: "TranslationBlock", slot: int) -> None:
        """``src``'s exit ``slot`` no longer leads to a TB (reset the jump)."""

    def tb_invalidated(self, tb: "TranslationBlock") -> None:
        """``tb`` was dropped from the cache and will not run again (free its code)."""

    def describe(self, tb: "TranslationBlock") -> str:
        """The backend's output for ``tcglab trace -d out_asm``."""
        return ""
