"""The plugin manager: built-in plugins, entry-point plugins, and the config's disable list.

Built-in plugins are ordinary plugin modules registered by name from
:data:`BUILTIN_PLUGINS`, exactly as a third-party plugin is, so the built-ins prove the
public interface.  Third-party plugins are loaded from the ``tcglab`` entry-point group
unless ``TCGLAB_DISABLE_PLUGIN_AUTOLOAD`` is set (pytest's
``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).  ``[plugins] disable = [...]`` blocks plugins by
name before anything registers.
"""

from __future__ import annotations

import importlib
import os
from importlib import metadata
from typing import Iterable, Sequence

import pluggy

from . import hookspecs
from .errors import PluginError, TcglabError, did_you_mean
from .registry import Registry

ENTRY_POINT_GROUP = "tcglab"
AUTOLOAD_ENV = "TCGLAB_DISABLE_PLUGIN_AUTOLOAD"

#: name -> module of every built-in plugin.  Names are what ``[plugins] disable`` takes.
BUILTIN_PLUGINS: dict[str, str] = {
    "llsc": "plugins.llsc",
    "interp": "plugins.tcg_backends.interp",
    "pyjit": "plugins.tcg_backends.pyjit",
    "arm-host": "plugins.tcg_backends.arm_host",
    "exclusive-bitmap": "plugins.atomic_strategies.exclusive_bitmap",
    "cmpxchg": "plugins.atomic_strategies.cmpxchg",
    "stop-the-world": "plugins.atomic_strategies.stop_the_world",
    "store-test": "plugins.atomic_strategies.store_test",
    "arm-monitor": "plugins.atomic_strategies.arm_monitor",
    "none": "plugins.atomic_strategies.none",
    "arm": "plugins.arm",
}

_REGISTRATION_HOOKS = ("tcglab_register_ops", "tcglab_register_frontends",
                       "tcglab_register_backends", "tcglab_register_memory_policies",
                       "tcglab_register_workloads")


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


class PluginManager:
    """Loads plugins and builds the :class:`Registry` from their registration hooks."""

    def __init__(self, disable: Sequence[str] = (), *, autoload: bool | None = None,
                 builtins: dict[str, str] | None = None, extra: Iterable[tuple[str, object]] = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_ENV)
        builtins = BUILTIN_PLUGINS if builtins is None else builtins
        installed = _entry_points()
        entry_points = installed if autoload else []
        # an installed but not autoloaded plugin is still a known name to disable
        known = list(builtins) + [ep.name for ep in installed] + [n for n, _ in extra]
        for name in disable:
            if name not in known:
                raise PluginError(f"[plugins] disable: unknown plugin {name!r}"
                                  f"{did_you_mean(name, known)}; known plugins: "
                                  f"{', '.join(sorted(known)) or 'none'}")
            self.pm.set_blocked(name)
        for name, modname in builtins.items():
            if not self.pm.is_blocked(name):
                self.pm.register(importlib.import_module(modname), name=name)
        for ep in entry_points:
            if self.pm.is_blocked(ep.name) or self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party plugin is the user's problem to see
                raise PluginError(f"plugin {ep.name!r} (entry point {ep.value}) failed to load: "
                                  f"{type(exc).__name__}: {exc}") from None
            self.pm.register(plugin, name=ep.name)
        for name, plugin in extra:
            if not self.pm.is_blocked(name):
                self.pm.register(plugin, name=name)
        self.registry = self._build_registry()

    def _build_registry(self) -> Registry:
        registry = Registry()
        for hook_name in _REGISTRATION_HOOKS:
            hook = getattr(self.pm.hook, hook_name)
            # call plugin by plugin so the registry knows who registered what
            for impl in reversed(hook.get_hookimpls()):
                registry.current_plugin = impl.plugin_name
                try:
                    impl.function(registry=registry)
                except TcglabError:
                    raise
                except Exception as exc:
                    raise PluginError(f"plugin {impl.plugin_name!r} raised in {hook_name}: "
                                      f"{type(exc).__name__}: {exc}") from None
        registry.current_plugin = "core"
        return registry

    @property
    def hook(self):
        return self.pm.hook

    def has_impl(self, hook_name: str) -> bool:
        """True if some plugin implements ``hook_name`` (lets callers skip a per-TB hook)."""
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    def plugin_names(self) -> list[str]:
        """Names of the loaded plugins (blocked ones are not loaded)."""
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    def get_plugin(self, name: str) -> object | None:
        return self.pm.get_plugin(name)

    def call_event(self, hook_name: str, **kwargs) -> None:
        """Call a coarse event hook; a plugin that raises becomes a one-line PluginError."""
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except TcglabError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name!r} raised in {hook_name}: "
                                  f"{type(exc).__name__}: {exc}") from None
