"""From options to a config: ``--config``, then ``--set``, then the config flags.

``run`` and ``trace`` take the flags' values as they are; ``compare`` first fills in its
own defaults for the keys neither the config nor a flag sets (:data:`COMPARE_DEFAULTS`).
"""

from __future__ import annotations

import argparse

import attrs

from ..config import Config, load_config, parse_config
from ..errors import TcglabError
from .flags import CORE_FLAGS, ConfigFlag

#: compare's defaults for values a config may also set: they apply unless --config or
#: --set gives the key (a flag beats both).
COMPARE_DEFAULTS: dict[str, tuple[tuple[str, str], str]] = {
    "vcpus": (("machine", "vcpus"), "4"),
    "schedule": (("schedule", "policy"), "random"),
    "slice": (("schedule", "slice"), "8"),
    "jitter": (("schedule", "jitter"), "on"),
}
COMPARE_SEEDS = 3


def base_config(args: argparse.Namespace) -> Config:
    """--config, then --set."""
    return load_config(args.config, args.overrides)


def config_data(config: Config) -> dict:
    """A validated config back as TOML-shaped data, to apply more overrides to."""
    plugins: dict = {"disable": list(config.plugins.disable)}
    plugins.update({name: dict(table) for name, table in config.plugins.options.items()})
    return {"machine": attrs.asdict(config.machine),
            "schedule": attrs.asdict(config.schedule),
            "plugins": plugins}


def run_config(args: argparse.Namespace) -> Config:
    """The config of ``tcglab run``: --config, then --set, then the config flags, in order.

    Each flag is validated as it is applied, so an error names it
    (``--vcpus 0: [machine] vcpus = 0: must be from 1 to 64``); a plugin option set by a
    flag is recorded in ``option_sources`` so that its errors name the flag too.  The
    flags are those the parser added (``args.config_flags``; core's when it has none).
    """
    config = base_config(args)
    given: tuple[ConfigFlag, ...] = getattr(args, "config_flags", CORE_FLAGS)
    flags = [(f, getattr(args, f.dest, None)) for f in given]
    flags = [(f, raw) for f, raw in flags if raw is not None]
    if not flags:
        return config
    data = config_data(config)
    sources = {name: dict(table) for name, table in config.plugins.option_sources.items()}
    for flag, raw in flags:
        where = f"{flag.flag} {raw}"
        table = data
        for key in flag.key[:-1]:
            table = table.setdefault(key, {})
        table[flag.key[-1]] = flag.value(raw)
        parse_config(data, where)
        if flag.key[0] == "plugins":
            sources.setdefault(flag.key[1], {})[flag.key[2]] = where
    final = parse_config(data, config.source)
    plugins = attrs.evolve(final.plugins, option_sources=sources)
    return attrs.evolve(final, plugins=plugins)


def config_summary(config: Config) -> dict:
    """The config as JSON-ready data (for ``--json``)."""
    return {"source": config.source,
            "machine": attrs.asdict(config.machine),
            "schedule": attrs.asdict(config.schedule),
            "plugins": {"disable": list(config.plugins.disable),
                        "options": {n: dict(t) for n, t in config.plugins.options.items()}}}


# -- tcglab compare -----------------------------------------------------------------------


def count(raw: str | None, flag: str, default: int, minimum: int) -> int:
    """The integer option ``flag`` (``default`` when not given), at least ``minimum``."""
    if raw is None:
        return default
    try:
        value = int(raw.strip(), 0)
    except ValueError:
        raise TcglabError(f"{flag} {raw}: expected an integer") from None
    if value < minimum:
        raise TcglabError(f"{flag} {raw}: must be >= {minimum}")
    return value


def _explicit_keys(args: argparse.Namespace) -> set[tuple[str, ...]]:
    """The (section, key) pairs --config or --set give (the config is valid by now)."""
    import tomli

    from ..config import apply_override

    keys: set[tuple[str, ...]] = set()
    tables: list[dict] = []
    if args.config:
        with open(args.config, "rb") as f:
            tables.append(tomli.load(f))
    for text in args.overrides:
        data: dict = {}
        apply_override(data, text)
        tables.append(data)
    for data in tables:
        for section, table in data.items():
            if isinstance(table, dict):
                keys.update((section, key) for key in table)
    return keys


def compare_config(args: argparse.Namespace) -> tuple[Config, set[tuple[str, ...]]]:
    """The base config of every compare run, and the keys the user set in it."""
    base_config(args)  # its errors first, naming the file or --set
    explicit = _explicit_keys(args)
    for dest, (keys, default) in COMPARE_DEFAULTS.items():
        if getattr(args, dest) is None and keys not in explicit:
            setattr(args, dest, default)
    return run_config(args), explicit
