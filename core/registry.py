"""The typed registry that registration hooks fill, and the only place lookups by name happen.

Names are unique per kind across all plugins; a duplicate fails naming both plugins.
Looking up an unknown name fails listing what is registered and saying that a plugin may
not be installed or may be disabled.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Generic, Iterator, TypeVar

from attrs import evolve

from .errors import PluginError, did_you_mean
from .ir import BASE_OPS, OpDef, OpTable

T = TypeVar("T")

#: The plugin whose hook implementation is running.  Every implementation is called with
#: the same registry (pluggy's hook relay calls them all with one set of arguments), so
#: the plugin manager says who is calling here, around each call, and :class:`Registry`
#: credits what is added to that plugin.  Outside any hook it is ``"core"``.
calling_plugin: ContextVar[str] = ContextVar("tcglab_calling_plugin", default="core")


class _Table(Generic[T]):
    """Name -> (item, providing plugin) for one kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self.items: dict[str, tuple[T, str]] = {}

    def add(self, name: str, item: T, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name: {item!r}")
        if name in self.items:
            other = self.items[name][1]
            raise PluginError(f"{self.kind} {name!r} is registered by both plugin {other!r} "
                              f"and plugin {plugin!r}")
        self.items[name] = (item, plugin)

    def get(self, name: str, what: str = "") -> T:
        try:
            return self.items[name][0]
        except KeyError:
            known = ", ".join(sorted(self.items)) or "none"
            where = f"{what}: " if what else ""
            raise PluginError(
                f"{where}unknown {self.kind.replace('_', ' ')} {name!r}"
                f"{did_you_mean(name, self.items)}; registered: {known} "
                f"(a plugin providing it may not be installed, or may be disabled)") from None

    def __iter__(self) -> Iterator[tuple[str, T, str]]:
        for name in sorted(self.items):
            item, plugin = self.items[name]
            yield name, item, plugin

    def __contains__(self, name: object) -> bool:
        return name in self.items


class Registry:
    """Frontends, backends, memory policies and IR ops, each with the plugin that gave it."""

    def __init__(self) -> None:
        self.frontends: _Table[type] = _Table("frontend")
        self.backends: _Table[type] = _Table("backend")
        self.memory_policies: _Table[type] = _Table("memory_policy")
        self.workloads: _Table[Any] = _Table("workload")
        self.optable = OpTable()
        self.op_providers: dict[str, str] = {d.name: "core" for d in BASE_OPS}

    @property
    def current_plugin(self) -> str:
        """The plugin registering now (see :data:`calling_plugin`)."""
        return calling_plugin.get()

    # the registration API plugins call ------------------------------------------------

    def add_frontend(self, cls: type) -> None:
        """Register a :class:`core.frontend.Frontend` subclass under ``cls.name``.

        Core assumes no guest, so the class must say where its RAM is and which ELF files
        it runs (``ram_base``, ``elf_machine``).
        """
        name = getattr(cls, "name", None)
        missing = [attr for attr, kind in (("ram_base", int), ("elf_machine", str))
                   if not isinstance(getattr(cls, attr, None), kind)]
        if missing:
            raise PluginError(f"plugin {self.current_plugin!r}: frontend {name!r} "
                              f"({getattr(cls, '__qualname__', cls)}) does not set "
                              f"{' and '.join(missing)} (where its RAM is, which ELF "
                              "e_machine it runs, e.g. 0x40000000 and 'EM_ARM')")
        self.frontends.add(getattr(cls, "name", None), cls, self.current_plugin)

    def add_backend(self, cls: type) -> None:
        """Register a :class:`core.backend.Backend` subclass under ``cls.name``."""
        self.backends.add(getattr(cls, "name", None), cls, self.current_plugin)

    def add_memory_policy(self, cls: type) -> None:
        """Register a :class:`core.memory_policy.MemoryPolicy` subclass under ``cls.name``."""
        self.memory_policies.add(getattr(cls, "name", None), cls, self.current_plugin)

    def add_workload(self, workload: Any) -> None:
        """Register a guest workload (:class:`core.compare.Workload`) under its ``name``."""
        self.workloads.add(getattr(workload, "name", None), workload, self.current_plugin)

    def add_op(self, opdef: OpDef) -> None:
        """Add an op to the one op table; it must carry reference semantics."""
        if not isinstance(opdef, OpDef):
            raise PluginError(f"plugin {self.current_plugin!r} passed {opdef!r} to add_op; "
                              "expected a core.ir.OpDef")
        if opdef.name in self.op_providers:
            raise PluginError(f"op {opdef.name!r} is registered by both plugin "
                              f"{self.op_providers[opdef.name]!r} and plugin {self.current_plugin!r}")
        if opdef.impl is None:
            raise PluginError(f"plugin {self.current_plugin!r}: op {opdef.name!r} has no "
                              "reference semantics (impl)")
        try:
            self.optable.add(evolve(opdef, provider=self.current_plugin))
        except ValueError as exc:
            raise PluginError(f"plugin {self.current_plugin!r}: {exc}") from None
        self.op_providers[opdef.name] = self.current_plugin

    # lookups ----------------------------------------------------------------------------

    def frontend(self, name: str, what: str = "") -> type:
        return self.frontends.get(name, what)

    def backend(self, name: str, what: str = "") -> type:
        return self.backends.get(name, what)

    def memory_policy(self, name: str, what: str = "") -> type:
        return self.memory_policies.get(name, what)

    def listing(self) -> dict[str, list[dict[str, Any]]]:
        """Everything registered, by kind, with its plugin and a one-line description."""
        def doc(obj: Any) -> str:
            text = getattr(obj, "description", None) or ""  # a workload says what it does
            text = (text or getattr(obj, "__doc__", None) or "").strip()
            return text.splitlines()[0] if text else ""
        out: dict[str, list[dict[str, Any]]] = {}
        for kind, table in (("frontends", self.frontends), ("backends", self.backends),
                            ("memory_policies", self.memory_policies),
                            ("workloads", self.workloads)):
            out[kind] = [{"name": n, "plugin": p, "description": doc(c)} for n, c, p in table]
        for row, (_n, cls, _p) in zip(out["memory_policies"], self.memory_policies):
            stats = getattr(cls, "Stats", None)  # what the policy counts, as it declares it
            row["counters"] = stats.descriptions() if stats is not None else {}
        out["ops"] = [{"name": d.name, "plugin": self.op_providers[d.name], "description": d.doc}
                      for d in sorted(self.optable, key=lambda d: d.name)]
        return out
