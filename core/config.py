"""``tcglab.toml`` -> validated, frozen attrs classes, with one-line errors.

Why this module exists: a run is defined by its configuration (which frontend, backend and
memory policy, how many vCPUs, how they are scheduled, which plugins are off and how the
others are tuned), and "same config and seed give the same run".  So the config must be
read in exactly one place, checked before anything runs, and every mistake reported as a
single :class:`~core.errors.ConfigError` line naming the file (or ``--set`` override), the
key, the value given and what is allowed, with a did-you-mean for typos.

Validation is generic: each section is an attrs class whose field *types* (``bool``,
``int``, ``float``, ``str``, ``tuple[T, ...]``) and field *metadata* (declared with
:func:`option`: choices, min, max, a ``parse`` hook, a ``show`` formatter) say what is
allowed.  The same machinery checks ``[machine]``, ``[schedule]`` and each plugin's own
options class (:func:`plugin_options`), so plugins get the same error style for free.

Plugin *names* (in ``[plugins] disable`` or ``[plugins.<name>]`` tables) are not checked
here: only the plugin manager knows which plugins exist.
"""

import json
import os
import re
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence, get_args, get_origin

import attrs
import tomli
from attrs import define, field

from core.errors import ConfigError, did_you_mean
from core.softmmu import PAGE_SIZE

KNOWN_SCHEDULES = ("round-robin", "random", "pct")
SECTIONS = ("machine", "schedule", "plugins")


# -- declaring options ------------------------------------------------------------------


def option(
    default: Any,
    *,
    choices: Sequence[Any] | None = None,
    min: Any = None,  # noqa: A002 - the natural names for option bounds
    max: Any = None,  # noqa: A002
    doc: str = "",
    parse: Callable[[Any], Any] | None = None,
    show: Callable[[Any], str] | None = None,
) -> Any:
    """An attrs field for a validated config option.

    :param default: value when the key is absent (use immutable values, e.g. tuples).
    :param choices: the allowed values; anything else is an error with a did-you-mean.
    :param min: smallest allowed value (inclusive).
    :param max: largest allowed value (inclusive).
    :param doc: one-line description, shown by :func:`describe_options`.
    :param parse: hook run on the raw TOML value before the type check; returns the value
        or raises ``ValueError("<what is expected>")`` (e.g. :func:`parse_size`).
    :param show: formats default and bounds for messages and docs (e.g. :func:`format_size`).
    """
    metadata = {
        "choices": tuple(choices) if choices is not None else None,
        "min": min,
        "max": max,
        "doc": doc,
        "parse": parse,
        "show": show,
    }
    return field(default=default, metadata=metadata)


_SIZE_RE = re.compile(r"(\d+)\s*(?:([kmg])(?:ib)?)?", re.IGNORECASE)
_SIZE_UNITS = (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))


def parse_size(value: Any) -> int:
    """Bytes from an int or a string like ``"128M"``, ``"128MiB"``, ``"64K"``, ``"1GiB"``.

    Suffixes are case-insensitive powers of 1024; a string of digits alone is bytes.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE_RE.fullmatch(value.strip())
        if match:
            unit = dict(_SIZE_UNITS).get((match[2] or "").upper(), 1)
            return int(match[1]) * unit
    raise ValueError('expected bytes as an integer or a size like "128M"')


def format_size(size: int) -> str:
    """``134217728`` -> ``"128M"``: the largest K/M/G unit that divides it exactly."""
    for suffix, unit in _SIZE_UNITS:
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def _parse_ram_size(value: Any) -> int:
    size = parse_size(value)
    if size % PAGE_SIZE:
        raise ValueError(f"must be a multiple of {PAGE_SIZE} (the page size)")
    return size


# -- the configuration ------------------------------------------------------------------


@define(frozen=True)
class NoOptions:
    """A plugin component without options: its ``[plugins.<name>]`` table must be empty."""


@define(frozen=True)
class MachineConfig:
    """``[machine]``: what to build.  Plugin names are checked by the plugin manager."""

    frontend: str = option("arm", doc="guest frontend (plugin name)")
    backend: str = option("interp", doc="TCG backend (plugin name), e.g. interp, arm_host, pyjit")
    memory_policy: str = option("exclusive-bitmap", doc="atomic-emulation strategy (plugin name)")
    vcpus: int = option(1, min=1, max=64, doc="number of vCPUs")
    ram_size: int = option(
        128 << 20,
        min=64 << 10,
        max=3 << 30,
        parse=_parse_ram_size,
        show=format_size,
        doc=f'guest RAM in bytes, or a size like "128M"; a multiple of {PAGE_SIZE}',
    )
    optimize: bool = option(True, doc="run the IR optimiser (constant folding, copy "
                                      "propagation, dead code) on each TB before the backend")


@define(frozen=True)
class ScheduleConfig:
    """``[schedule]``: how the deterministic scheduler interleaves the vCPUs."""

    policy: str = option("round-robin", choices=KNOWN_SCHEDULES, doc="how the next vCPU is chosen")
    slice: int = option(0, min=0, doc="guest instructions per slice (1 = switch every insn); "
                                      "0: 64, or unsliced when the machine has one vCPU")
    seed: int = option(0, min=0, doc="seed for the random and pct policies")
    max_insns: int = option(0, min=0, doc="total guest instructions to run; 0 = unbounded")
    pct_depth: int = option(3, min=1, doc="PCT bug depth d (d-1 priority change points)")
    jitter: bool = option(False, doc="draw each slice's length uniformly from 1..slice "
                                     "(seeded), so switches fall anywhere and some runs are long")


def _read_only(tables: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    return MappingProxyType({name: MappingProxyType(dict(t)) for name, t in tables.items()})


@define(frozen=True)
class PluginsConfig:
    """``[plugins]``: plugins to leave out, and each plugin's raw ``[plugins.<name>]`` table.

    The tables are validated against the plugin's options class by :func:`plugin_options`.
    ``option_sources`` records the ``--set`` override a plugin option came from, so that
    its errors name the override rather than the file.
    """

    disable: tuple[str, ...] = option((), doc="plugins not to load, by name")
    options: Mapping[str, Mapping[str, Any]] = field(factory=dict, converter=_read_only, hash=False)
    option_sources: Mapping[str, Mapping[str, str]] = field(
        factory=dict, converter=_read_only, hash=False, repr=False
    )


@define(frozen=True)
class Config:
    """A whole validated configuration; ``source`` is the file name or ``"<defaults>"``."""

    machine: MachineConfig = field(factory=MachineConfig)
    schedule: ScheduleConfig = field(factory=ScheduleConfig)
    plugins: PluginsConfig = field(factory=PluginsConfig)
    source: str = "<defaults>"


_SECTION_CLASSES = {"machine": MachineConfig, "schedule": ScheduleConfig, "plugins": PluginsConfig}
_PLUGINS_TABLES = ("options", "option_sources")  # PluginsConfig fields that are not TOML keys


# -- loading ----------------------------------------------------------------------------


def load_config(path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read and validate ``path`` (``None``: defaults), then apply ``--set`` overrides in order.

    Each override is validated as it is applied, so its errors name the override text.
    """
    if path is None:
        source, data = "<defaults>", {}
    else:
        source = str(path)
        data = _read_toml(path, source)
    config = parse_config(data, source)
    option_sources: dict[str, dict[str, str]] = {}
    for text in overrides:
        keys, value = _split_override(text, "--set")
        _assign(data, keys, value, f"--set {text}")
        config = parse_config(data, f"--set {text}")
        if keys[0] == "plugins" and keys[1] in config.plugins.options:  # a plugin option
            changed = keys[2:3] or list(config.plugins.options[keys[1]])
            option_sources.setdefault(keys[1], {}).update(dict.fromkeys(changed, f"--set {text}"))
    plugins = attrs.evolve(config.plugins, option_sources=option_sources)
    return attrs.evolve(config, plugins=plugins, source=source)


def _read_toml(path: str | os.PathLike, source: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise _error(f"{source}: cannot read config: {e.strerror or e}") from None
    try:
        return tomli.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise _error(f"{source}:{line}: invalid TOML: not UTF-8 (byte {raw[e.start]:#04x})") from None
    except tomli.TOMLDecodeError as e:
        text = str(e)
        message = getattr(e, "msg", None) or re.sub(r"\s*\(at [^)]*\)\s*$", "", text)
        line = getattr(e, "lineno", None)
        if line is None:
            match = re.search(r"\(at line (\d+)", text)
            line = int(match[1]) if match else None
        where = f"{source}:{line}" if line else source
        raise _error(f"{where}: invalid TOML: {message}") from None


def parse_config(data: Mapping[str, Any], source: str) -> Config:
    """Validate already-parsed TOML ``data``; errors are prefixed with ``source``."""
    for name, value in data.items():
        if name not in SECTIONS:
            if isinstance(value, Mapping):
                hint = did_you_mean(name, SECTIONS)
                raise _error(f"{source}: unknown section [{_key(name)}]{hint}; allowed: {', '.join(SECTIONS)}")
            home = _section_of(name)
            hint = f" (it belongs under [{home}])" if home else did_you_mean(name, SECTIONS)
            raise _error(
                f"{source}: unknown top-level key {name!r}{hint}; allowed sections: {', '.join(SECTIONS)}"
            )
        if not isinstance(value, Mapping):
            raise _error(f"{source}: {name} = {_show(value)}: expected a table [{name}]")

    machine = _build(MachineConfig, data.get("machine", {}), "machine", source)
    schedule = _build(ScheduleConfig, data.get("schedule", {}), "schedule", source)

    table = data.get("plugins", {})
    keys = {k: v for k, v in table.items() if k == "disable" or not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if k not in keys}
    hint = " (plugin option tables are [plugins.<name>])"
    settings = _validated(PluginsConfig, keys, "plugins", source, skip=_PLUGINS_TABLES, hint=hint)
    plugins = PluginsConfig(**settings, options=tables)
    return Config(machine, schedule, plugins, source)


def apply_override(data: dict[str, Any], override: str, source: str = "--set") -> None:
    """Apply ``"section.key=value"`` (or ``"plugins.<name>.key=value"``) to ``data`` in place.

    The value is parsed as a TOML value (``4``, ``true``, ``"x"``, ``[1, 2]``); if it is not
    valid TOML it is taken as a bare string, so ``machine.backend=interp`` works.  Only the
    syntax is checked here; :func:`parse_config` validates the result.
    """
    keys, value = _split_override(override, source)
    _assign(data, keys, value, f"{source} {override}")


def _split_override(text: str, source: str) -> tuple[list[str], Any]:
    name, eq, raw = text.partition("=")
    keys = [k.strip() for k in name.split(".")]
    if not eq:
        raise _error(f"{source} {text}: missing '=': expected section.key=value, e.g. machine.vcpus=4")
    if len(keys) < 2 or not all(keys):
        home = _section_of(name.strip())
        hint = f" (did you mean {home}.{name.strip()}={raw}?)" if home else ", e.g. machine.vcpus=4"
        raise _error(f"{source} {text}: missing section: expected section.key=value{hint}")
    try:
        parsed = tomli.loads(f"v = {raw.strip()}")
    except tomli.TOMLDecodeError:
        return keys, raw.strip()
    return keys, parsed["v"] if parsed.keys() == {"v"} else raw.strip()


def _assign(data: dict[str, Any], keys: list[str], value: Any, where: str) -> None:
    table = data
    for depth, key in enumerate(keys[:-1], 1):
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise _error(f"{where}: {'.'.join(keys[:depth])} is not a table")
    table[keys[-1]] = value


def _section_of(key: str) -> str | None:
    """The section that has a key named ``key``, for "it belongs under [machine]" hints."""
    for section, cls in _SECTION_CLASSES.items():
        if key in attrs.fields_dict(cls) and key not in _PLUGINS_TABLES:
            return section
    return None


# -- plugin options ---------------------------------------------------------------------


def plugin_options(config: Config, plugin: str, options_cls: type) -> Any:
    """Build ``options_cls`` (an attrs class) from ``[plugins.<plugin>]``; absent -> defaults."""
    table = config.plugins.options.get(plugin, {})
    sources = config.plugins.option_sources.get(plugin, {})
    return _build(options_cls, table, f"plugins.{_key(plugin)}", config.source, sources=sources)


def describe_options(options_cls: type) -> list[tuple[str, str, str, str, str]]:
    """``(name, type name, default, allowed, doc)`` for each option, all strings, for docs/CLI."""
    attrs.resolve_types(options_cls)
    rows = []
    for f in attrs.fields(options_cls):
        if not f.init or (options_cls is PluginsConfig and f.name in _PLUGINS_TABLES):
            continue
        default = f.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        show = f.metadata.get("show")
        if default is attrs.NOTHING:
            shown = "(required)"
        else:
            shown = _show(show(default) if show else default)
        rows.append((f.name, _type_name(f.type), shown, _allowed(f.metadata), f.metadata.get("doc", "")))
    return rows


# -- the generic validator --------------------------------------------------------------

# type -> (expected ..., plural for lists, short name)
_TYPES: dict[type, tuple[str, str, str]] = {
    bool: ("a boolean (true or false)", "booleans", "bool"),
    int: ("an integer", "integers", "int"),
    float: ("a number", "numbers", "float"),
    str: ("a string", "strings", "str"),
}


def _build(cls: type, table: Mapping[str, Any], section: str, source: str, **kwargs: Any) -> Any:
    settings = _validated(cls, table, section, source, **kwargs)
    try:
        return cls(**settings)
    except ValueError as e:  # a cross-field check in the class's own attrs validators
        raise _error(f"{source}: [{section}] {e}") from None


def _validated(
    cls: type,
    table: Mapping[str, Any],
    section: str,
    source: str,
    *,
    skip: Sequence[str] = (),
    hint: str = "",
    sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Check ``table`` against the fields of attrs class ``cls``; return ``__init__`` kwargs."""
    attrs.resolve_types(cls)
    fields = [f for f in attrs.fields(cls) if f.init and f.name not in skip]
    names = [f.name for f in fields]

    def where(key: str) -> str:
        return f"{(sources or {}).get(key, source)}: [{section}]"

    for key in table:
        if key not in names:
            allowed = ", ".join(names) or "(none)"
            raise _error(f"{where(key)} unknown key {key!r}{did_you_mean(key, names)}; allowed: {allowed}{hint}")

    settings = {}
    for f in fields:
        if f.name not in table:
            if f.default is attrs.NOTHING:
                raise _error(f"{where(f.name)} missing key {f.name!r}")
            continue
        raw = table[f.name]
        try:
            settings[f.alias] = _check_value(raw, f)
        except ValueError as e:
            raise _error(f"{where(f.name)} {_key(f.name)} = {_show(raw)}: {e}") from None
    return settings


def _check_value(raw: Any, f: attrs.Attribute) -> Any:
    parse = f.metadata.get("parse")
    value = _convert(parse(raw) if parse else raw, f.type)
    if not isinstance(value, tuple):
        _check_allowed(value, f.metadata)
    for item in value if isinstance(value, tuple) else ():
        try:
            _check_allowed(item, f.metadata)
        except ValueError as e:  # name the offending item: ["a", "zz"]: "zz" must be one of ...
            raise ValueError(f"{_show(item)} {e}") from None
    return value


def _convert(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` or ``ValueError("expected ...")``; a bool is never a number."""
    if tp is None or tp is Any:
        return value
    if get_origin(tp) is tuple:
        args = get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"unsupported option type {tp!r}: use tuple[T, ...]")
        expected = f"expected a list of {_TYPES.get(args[0], ('', 'values'))[1]}"
        if not isinstance(value, (list, tuple)):
            raise ValueError(expected)
        try:
            return tuple(_convert(item, args[0]) for item in value)
        except ValueError:
            raise ValueError(expected) from None
    if tp not in _TYPES:
        raise TypeError(f"unsupported option type {tp!r}: use bool, int, float, str or tuple[T, ...]")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, tp) and not (tp is not bool and isinstance(value, bool)):
        return value
    raise ValueError(f"expected {_TYPES[tp][0]}")


def _check_allowed(value: Any, meta: Mapping[str, Any]) -> None:
    choices, low, high = meta.get("choices"), meta.get("min"), meta.get("max")
    if (
        (choices is not None and value not in choices)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        hint = did_you_mean(value, choices) if choices and isinstance(value, str) else ""
        raise ValueError(f"must be {_allowed(meta)}{hint}")


def _allowed(meta: Mapping[str, Any]) -> str:
    """``"one of a, b"``, ``"from 1 to 64"``, ``">= 1"``, ``"<= 9"``, or ``""``."""
    show = meta.get("show") or str
    choices, low, high = meta.get("choices"), meta.get("min"), meta.get("max")
    parts = []
    if choices is not None:
        parts.append("one of " + ", ".join(map(str, choices)))
    if low is not None and high is not None:
        parts.append(f"from {show(low)} to {show(high)}")
    elif low is not None:
        parts.append(f">= {show(low)}")
    elif high is not None:
        parts.append(f"<= {show(high)}")
    return " and ".join(parts)


def _type_name(tp: Any) -> str:
    if get_origin(tp) is tuple:
        return f"list of {_type_name(get_args(tp)[0])}"
    return _TYPES[tp][2] if tp in _TYPES else "any"


# -- message helpers --------------------------------------------------------------------


def _error(message: str) -> ConfigError:
    """A ConfigError that is guaranteed to be one line."""
    return ConfigError(message.replace("\r", "\\r").replace("\n", "\\n"))


def _key(name: str) -> str:
    """A TOML key as written: bare if it can be, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def _show(value: Any) -> str:
    """A value as TOML would write it (``"four"``, ``true``, ``[1, 2]``), on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_show, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_show(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
