"""Per-vCPU counter records: the machine's (``CPUStats``) and each memory policy's.

A record is an attrs class whose fields are integer counters declared with
:func:`counter`, each with a one-line description.  Whoever keeps counters declares them
in a record of their own: a memory policy subclasses core's ``PolicyStats`` with the
counters only it keeps, and what the record declares is what reports show for it (no
column for a counter a policy does not keep).  A record is written by its vCPU only, a
plain attribute increment on the hot path.
"""

from __future__ import annotations

from typing import Any, Iterable

from attrs import define, field, fields


def counter(doc: str) -> Any:
    """A counter field starting at 0; ``doc`` says in one line what it counts."""
    return field(default=0, metadata={"doc": doc})


@define
class Counters:
    """Base of the counter records; subclasses declare fields with :func:`counter`."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The counters this record declares, in declaration order (base's first)."""
        return tuple(a.name for a in fields(cls))

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        """Each counter's one-line description, by name."""
        return {a.name: a.metadata.get("doc", "") for a in fields(cls)}

    @classmethod
    def total(cls, records: Iterable["Counters"]) -> dict[str, int]:
        """The sums of every counter over ``records`` (e.g. one per vCPU)."""
        out = dict.fromkeys(cls.names(), 0)
        for record in records:
            for name in out:
                out[name] += getattr(record, name)
        return out

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.names()}
