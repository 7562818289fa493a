"""The contract a backend implements: compile a TB's IR once, then execute it.

A backend's ``execute(cpu, tb, budget)`` runs at most ``budget`` guest instructions of
``tb`` (counting ``insn_start`` ops) and returns ``(exit, executed)``: ``exit`` is the
``goto_tb`` slot (0 or 1) the TB left through, :data:`EXIT_NOCHAIN` for ``exit_tb``, or
:data:`EXIT_BUDGET` when the slice ended inside the TB (the guest pc then points at the
next instruction to run).  Guest exceptions propagate as
:class:`~core.cpu.GuestException` with ``pc`` and ``executed`` filled in.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .cpu import CPUState
    from .ir import TranslationBlock
    from .machine import Machine

EXIT_GOTO0 = 0
EXIT_GOTO1 = 1
EXIT_NOCHAIN = 2
EXIT_BUDGET = 3


class Backend(abc.ABC):
    """Base class of backends; subclasses set ``name`` and implement compile/execute."""

    name: ClassVar[str] = ""

    def __init__(self, machine: "Machine"):
        self.machine = machine

    @abc.abstractmethod
    def compile(self, tb: "TranslationBlock") -> None:
        """Prepare ``tb`` for execution; store the result in ``tb.compiled``."""

    @abc.abstractmethod
    def execute(self, cpu: "CPUState", tb: "TranslationBlock", budget: int) -> tuple[int, int]:
        """Run up to ``budget`` guest instructions of ``tb``; see the module docstring."""

    def describe(self, tb: "TranslationBlock") -> str:
        """The backend's output for ``tcglab trace -d out_asm``."""
        return ""
