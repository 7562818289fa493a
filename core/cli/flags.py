"""Config flags: command-line options that each set one config key, core's and plugins'.

A config flag is a ``--set`` with a name and a help line: ``--vcpus 4`` is
``--set machine.vcpus=4``, applied after ``--config`` and ``--set``.  Core declares the
flags of the machine and the schedule (:data:`CORE_FLAGS`); a plugin contributes flags
for its own options through the ``tcglab_register_cli_options`` hook, as pytest plugins
do with ``pytest_addoption``, so core names no guest's or strategy's option: the ARM
plugin adds ``--semihosting-root``.  ``run``, ``trace`` and ``compare`` take every flag
of the plugins that are loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field

from ..config import KNOWN_SCHEDULES
from ..errors import PluginError
from ..registry import calling_plugin

if TYPE_CHECKING:
    from ..plugins import PluginManager

#: The value types a config flag may have (as TOML gives them: text, an integer, a bool).
KINDS: tuple[type, ...] = (str, int, bool)


@define(frozen=True)
class ConfigFlag:
    """``flag VALUE`` sets config key ``key`` (``("plugins", "arm", "semihosting_root")``).

    ``dest`` is the attribute argparse stores the value under: the flag's name for core's,
    a name no option of core can have for a plugin's (so theirs cannot collide).
    """

    flag: str
    key: tuple[str, ...]
    kind: type
    metavar: str
    help: str
    dest: str = field()

    @dest.default
    def _flag_dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def dotted_key(self) -> str:
        return ".".join(self.key)

    def value(self, raw: str) -> object:
        """``raw`` as this flag's kind; text that is not a number (or a boolean) stays
        text, so the config check reports it ("expected an integer") with the flag's name."""
        if self.kind is bool:
            return {"true": True, "on": True, "yes": True, "false": False, "off": False,
                    "no": False}.get(raw.strip().lower(), raw)
        if self.kind is int:
            try:
                return int(raw.strip(), 0)
            except ValueError:
                return raw
        return raw


#: The flags of ``tcglab run`` and ``tcglab trace`` that core declares.
CORE_FLAGS: tuple[ConfigFlag, ...] = (
    ConfigFlag("--vcpus", ("machine", "vcpus"), int, "N", "number of vCPUs"),
    ConfigFlag("--backend", ("machine", "backend"), str, "NAME", "TCG backend, e.g. interp"),
    ConfigFlag("--strategy", ("machine", "memory_policy"), str, "NAME",
               "memory policy (atomic-emulation strategy), e.g. exclusive-bitmap"),
    ConfigFlag("--seed", ("schedule", "seed"), int, "K", "seed of the random and pct schedules"),
    ConfigFlag("--slice", ("schedule", "slice"), int, "N",
               "guest instructions per scheduling slice"),
    ConfigFlag("--jitter", ("schedule", "jitter"), bool, "on|off",
               "draw each slice's length from 1..N (seeded), so switches fall anywhere"),
    ConfigFlag("--schedule", ("schedule", "policy"), str, "POLICY",
               f"how the next vCPU is chosen: {', '.join(KNOWN_SCHEDULES)}"),
    ConfigFlag("--max-insns", ("schedule", "max_insns"), int, "N",
               "stop after N guest instructions in total (0 = unbounded)"),
)


class CliOptionRegistry:
    """What ``tcglab_register_cli_options(registry)`` receives: plugins call
    :meth:`add_option`; :attr:`flags` holds what they added, in order."""

    def __init__(self) -> None:
        self.flags: list[ConfigFlag] = []
        self.added_by: dict[str, str] = {}  # flag -> the plugin that added it

    def add_option(self, flag: str, key: str, *, kind: type = str, metavar: str = "VALUE",
                   help: str = "") -> None:  # noqa: A002 - argparse's name for it
        """Add ``flag VALUE``, which sets config key ``key`` to VALUE as ``kind``.

        :param flag: the option, ``--`` and a name, e.g. ``--semihosting-root``.
        :param key: the config key, dotted as ``--set`` takes it, e.g.
            ``plugins.arm.semihosting_root`` (the plugin's ``Options`` validates it).
        :param kind: ``str``, ``int`` or ``bool`` (``on``/``off``, ``true``/``false``).
        :param metavar: what ``--help`` calls the value.
        :param help: one line for ``--help``.
        """
        where = f"command-line option {flag!r} (config key {key!r})"
        keys = tuple(str(key).split("."))
        if not (isinstance(flag, str) and flag.startswith("--") and len(flag) > 2
                and " " not in flag):
            raise PluginError(f"{where}: an option is '--' and a name, e.g. '--my-root'")
        if len(keys) < 2 or not all(keys):
            raise PluginError(f"{where}: expected a dotted config key such as "
                              "'plugins.<name>.<key>'")
        if kind not in KINDS:
            raise PluginError(f"{where}: kind must be one of "
                              f"{', '.join(k.__name__ for k in KINDS)}, not {kind!r}")
        plugin = calling_plugin.get()
        for other in self.flags:
            if other.flag == flag:
                raise PluginError(f"{where}: {flag} is added by both plugin "
                                  f"{self.added_by[flag]!r} (for {other.dotted_key!r}) and "
                                  f"plugin {plugin!r}")
        self.added_by[flag] = plugin
        self.flags.append(ConfigFlag(flag, keys, kind, metavar, help,
                                     dest=f"plugin option {flag}"))


def plugin_flags(pm: "PluginManager") -> tuple[ConfigFlag, ...]:
    """The config flags the loaded plugins contribute, through the hook relay (which,
    as for every hook, turns what a plugin raises into one line naming it)."""
    registry = CliOptionRegistry()
    pm.hook.tcglab_register_cli_options(registry=registry)
    return tuple(registry.flags)


__all__ = ["CORE_FLAGS", "CliOptionRegistry", "ConfigFlag", "KINDS", "plugin_flags"]
