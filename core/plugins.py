"""The plugin manager: built-in plugins, entry-point plugins, and the config's disable list.

Built-in plugins are ordinary plugin modules registered by name from
:data:`BUILTIN_PLUGINS`, exactly as a third-party plugin is, so the built-ins prove the
public interface.  Third-party plugins are loaded from the ``tcglab`` entry-point group
unless ``TCGLAB_DISABLE_PLUGIN_AUTOLOAD`` is set (pytest's
``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).  ``[plugins] disable = [...]`` blocks plugins by
name before anything registers.

Loading checks what pluggy leaves to its user, each failure one line naming the plugin:
every ``@hookimpl`` names a hook of :mod:`core.hookspecs` (pluggy's ``check_pending()``,
as pytest calls it), registration hooks have no wrappers, and every plugin named in a
plugin's ``tcglab_requires`` is loaded too (:data:`REQUIRES`).

Every hook is called through pluggy's hook relay (``pm.hook.tcglab_x(...)``), so hook
order, ``tryfirst``/``trylast`` and wrapper implementations behave as pluggy documents.
What the relay cannot say is *which* implementation is running, and tcglab needs that
twice: the registry credits each name to the plugin that registered it (a duplicate
names both plugins), and an exception a plugin raises becomes a one-line
:class:`~core.errors.PluginError` naming the plugin and the hook.  So each hook
implementation's function is wrapped once, when its plugin registers
(:func:`_attributed`).  The alternatives see too little or do too much:
``add_hookcall_monitoring`` and a hookwrapper of our own see a whole hook call, not the
implementation inside it that raised, and ``subset_hook_caller`` per plugin would call
each plugin separately, which is the loop around pluggy this module used to be.  The
cost is one Python frame per implementation, on hooks that are never hot.
"""

from __future__ import annotations

import importlib
import os
import types
import re
from importlib import metadata
from typing import Callable, Iterable, Sequence

import pluggy

from . import hookspecs
from .errors import PluginError, TcglabError, did_you_mean
from .registry import Registry, calling_plugin

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

#: The hooks that fill the registry, called in this order once per plugin manager (ops
#: first: frontends and backends may look ops up).  They take no wrapper implementations.
REGISTRATION_HOOKS = ("tcglab_register_ops", "tcglab_register_frontends",
                      "tcglab_register_backends", "tcglab_register_memory_policies",
                      "tcglab_register_workloads")
#: Every hook that hands plugins a registry to fill, which a wrapper has no business
#: around: the registration hooks and the command line's options.
REGISTRY_HOOKS = REGISTRATION_HOOKS + ("tcglab_register_cli_options",)

#: The attribute a plugin (module or object) lists the plugins it needs in, by the names
#: ``[plugins] disable`` takes: ``tcglab_requires = ("llsc",)`` in a frontend that emits
#: the LL/SC ops.  Like pytest's ``pytest_plugins`` it is a plain module-level variable,
#: read when the plugin loads; a required plugin that is disabled or missing is an error
#: then, not at the first guest instruction that needs it.
REQUIRES = "tcglab_requires"


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _raised(exc: Exception, plugin: str, hook: str) -> PluginError:
    """``plugin 'x' raised in tcglab_y: ValueError: ...``, the one line the user sees."""
    detail = _one_line(str(exc))
    return PluginError(f"plugin {plugin!r} raised in {hook}: {type(exc).__name__}"
                       f"{': ' + detail if detail else ''}")


def _guarded(plugin: str, hook: str, step: Callable, *args):
    """One step of a wrapper implementation; its exceptions are the plugin's, except the
    StopIteration that ends a generator and TcglabErrors (already one line)."""
    try:
        return step(*args)
    except (TcglabError, StopIteration):
        raise
    except Exception as exc:
        raise _raised(exc, plugin, hook) from None


def _attributed(impl: pluggy.HookImpl, hook: str) -> Callable:
    """``impl``'s function, telling the registry which plugin is calling and turning what
    it raises (TcglabError aside) into a one-line PluginError naming plugin and hook."""
    function, plugin = impl.function, impl.plugin_name
    if impl.wrapper or impl.hookwrapper:
        return _attributed_wrapper(function, plugin, hook, old_style=impl.hookwrapper)

    def call(*args):
        token = calling_plugin.set(plugin)
        try:
            return function(*args)
        except TcglabError:
            raise
        except Exception as exc:
            raise _raised(exc, plugin, hook) from None
        finally:
            calling_plugin.reset(token)
    return call


def _attributed_wrapper(function: Callable, plugin: str, hook: str, *, old_style: bool):
    """A wrapper implementation (``wrapper=True``, or old-style ``hookwrapper=True``) as a
    new-style wrapper whose every step is guarded as :func:`_attributed` guards a call.

    An old-style wrapper gets its :class:`pluggy.Result` here, as pluggy would give it;
    run by pluggy itself, a raising teardown would also print pluggy's multi-line
    ``PluggyTeardownRaisedWarning`` beside the one-line error.
    """
    def wrapper(*args):
        teardown = _guarded(plugin, hook, function, *args)
        try:
            _guarded(plugin, hook, next, teardown)
        except StopIteration:
            raise PluginError(f"plugin {plugin!r}: wrapper {hook} returned without "
                              "yielding (a wrapper yields once)") from None
        try:
            result = yield
            outcome = pluggy.Result(result, None)
        except BaseException as exc:  # another implementation raised: seen at the yield
            outcome = pluggy.Result(None, exc)
        try:
            if old_style:
                _guarded(plugin, hook, teardown.send, outcome)
            elif outcome.exception is not None:
                _guarded(plugin, hook, teardown.throw, outcome.exception)
            else:
                _guarded(plugin, hook, teardown.send, outcome.get_result())
        except StopIteration as done:
            return outcome.get_result() if old_style else done.value
        finally:
            teardown.close()
        raise PluginError(f"plugin {plugin!r}: wrapper {hook} yielded twice "
                          "(a wrapper yields once)")
    return wrapper


class PluginManager:
    """Loads plugins, checks them, and builds the :class:`Registry` from their registration hooks."""

    def __init__(self, disable: Sequence[str] = (), *, autoload: bool | None = None,
                 builtins: dict[str, str] | None = None, extra: Iterable[tuple[str, object]] = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_ENV)
        builtins = BUILTIN_PLUGINS if builtins is None else builtins
        installed = _entry_points()
        entry_points = installed if autoload else []
        extra = list(extra)
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
                self._register(name, importlib.import_module(modname))
        for ep in entry_points:
            if self.pm.is_blocked(ep.name) or self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party plugin is the user's problem to see
                raise PluginError(f"plugin {ep.name!r} (entry point {ep.value}) failed to load: "
                                  f"{type(exc).__name__}: {_one_line(str(exc))}") from None
            self._register(ep.name, plugin)
        for name, plugin in extra:
            if not self.pm.is_blocked(name):
                self._register(name, plugin)
        self._check_hook_names()
        self._check_requirements(known, autoload)
        self.registry = self._build_registry()

    # loading ------------------------------------------------------------------------------

    def _register(self, name: str, plugin: object) -> None:
        """Register ``plugin`` under ``name`` and attribute its hook implementations."""
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:  # e.g. an argument the spec lacks
            text = str(exc)
            hook = re.search(r"hook '(\w+)'", text)
            where = f" {hook.group(1)}" if hook else ""
            raise PluginError(f"plugin {name!r}:{where} {text.splitlines()[-1]}") from None
        except ValueError as exc:  # pluggy: the name or the object is already registered
            raise PluginError(f"plugin {name!r} cannot be registered: "
                              f"{str(exc).splitlines()[0]}") from None
        for caller in self.pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if caller.name in REGISTRY_HOOKS and (impl.wrapper or impl.hookwrapper):
                    raise PluginError(
                        f"plugin {name!r}: {caller.name} is a registration hook and cannot "
                        "be a wrapper (wrapper=True or hookwrapper=True); wrappers are for "
                        "event hooks")
                impl.function = _attributed(impl, caller.name)
                # an old-style wrapper now runs inside a new-style one (see _attributed_wrapper)
                impl.wrapper, impl.hookwrapper = impl.wrapper or impl.hookwrapper, False

    def _check_hook_names(self) -> None:
        """pluggy's ``check_pending()`` as one line: an ``@hookimpl`` whose name is no spec
        (``tcglab_register_backend``), naming the plugin and the nearest spec; and a
        ``tcglab_*`` attribute that pluggy would ignore (no ``@hookimpl``, or a misspelled
        :data:`REQUIRES`)."""
        hooks = vars(self.pm.hook)
        specs = sorted(n for n, c in hooks.items() if not n.startswith("_") and c.has_spec())
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            for hook_name, caller in sorted(hooks.items()):
                if hook_name.startswith("_") or caller.has_spec():
                    continue
                for impl in caller.get_hookimpls():
                    if not impl.optionalhook:
                        raise PluginError(
                            f"plugin {impl.plugin_name!r} implements unknown hook {hook_name!r}"
                            f"{did_you_mean(hook_name, specs)}; the hooks are those of "
                            "core.hookspecs") from None
            raise  # pluggy found what the walk above did not: a bug here, not the plugin's
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            for attr in dir(plugin):
                if not attr.startswith(f"{hookspecs.PROJECT}_") or attr == REQUIRES:
                    continue
                if callable(getattr(plugin, attr, None)):
                    if self.pm.parse_hookimpl_opts(plugin, attr) is None:
                        raise PluginError(f"plugin {name!r}: {attr} is not decorated with "
                                          "@hookimpl (from core.hookspecs), so it would never "
                                          "be called")
                else:
                    raise PluginError(f"plugin {name!r}: {attr} is neither a hook nor "
                                      f"{REQUIRES}{did_you_mean(attr, [REQUIRES, *specs])}")

    def _check_requirements(self, known: Sequence[str], autoload: bool) -> None:
        """Every plugin a loaded plugin lists in :data:`REQUIRES` is loaded too."""
        loaded = self.plugin_names()
        for name in loaded:
            required = getattr(self.pm.get_plugin(name), REQUIRES, ())
            if isinstance(required, str) or not all(isinstance(r, str) for r in required):
                raise PluginError(f"plugin {name!r}: {REQUIRES} = {required!r}: expected a "
                                  "tuple of plugin names, e.g. (\"llsc\",)")
            for other in required:
                if other in loaded:
                    continue
                if self.pm.is_blocked(other):
                    why = (f"which [plugins] disable turns off (enable {other!r}, or disable "
                           f"{name!r} too)")
                elif other in known and not autoload:
                    why = f"which is installed but not loaded ({AUTOLOAD_ENV} is set)"
                else:
                    why = f"which is not installed{did_you_mean(other, known)}"
                raise PluginError(f"plugin {name!r} requires plugin {other!r}, {why}")

    def _build_registry(self) -> Registry:
        registry = Registry()
        for hook_name in REGISTRATION_HOOKS:
            getattr(self.pm.hook, hook_name)(registry=registry)
        return registry

    # use -----------------------------------------------------------------------------------

    @property
    def hook(self):
        return self.pm.hook

    def has_impl(self, hook_name: str) -> bool:
        """True if some plugin implements ``hook_name`` (lets callers skip a per-TB hook)."""
        return bool(getattr(self.pm.hook, hook_name).get_hookimpls())

    def plugin_of_module(self, module: str) -> str | None:
        """The loaded plugin whose code module ``module`` is (the plugin's own module, or
        one inside its package), or None for core and everything else."""
        best, best_len = None, 0
        for name, plugin in self.pm.list_name_plugin():
            home = getattr(plugin, "__name__", None) if isinstance(plugin, types.ModuleType) \
                else getattr(plugin, "__module__", None)
            if home and (module == home or module.startswith(home + ".")) \
                    and len(home) > best_len:
                best, best_len = name, len(home)
        return best

    def plugin_names(self) -> list[str]:
        """Names of the loaded plugins (blocked ones are not loaded)."""
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    def get_plugin(self, name: str) -> object | None:
        return self.pm.get_plugin(name)

    def call_event(self, hook_name: str, **kwargs) -> None:
        """Call a coarse event hook through the hook relay, wrappers included; a plugin that
        raises is a one-line PluginError naming it and the hook."""
        getattr(self.pm.hook, hook_name)(**kwargs)
