"""Tests for core.config: defaults, a full file, every error path, overrides, plugin options."""

import attrs
import pytest
from attrs import define

from core.config import (
    KNOWN_SCHEDULES,
    Config,
    MachineConfig,
    PluginsConfig,
    ScheduleConfig,
    apply_override,
    describe_options,
    format_size,
    load_config,
    option,
    parse_config,
    parse_size,
    plugin_options,
)
from core.errors import ConfigError, TcglabError


def write(tmp_path, text, name="tcglab.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text, overrides=()):
    """The one-line message load_config raises for a file containing ``text``."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(str(path))
    return message.removeprefix(str(path))


def override_error(*overrides):
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- defaults and a valid file ----------------------------------------------------------


def test_defaults():
    config = load_config()
    assert config == Config()
    assert config.source == "<defaults>"
    assert config.machine == MachineConfig("arm", "interp", "exclusive-bitmap", 1, 128 * 1024 * 1024)
    assert config.schedule == ScheduleConfig("round-robin", 0, 0, 0, 3)
    assert config.plugins.disable == ()
    assert dict(config.plugins.options) == {}
    assert KNOWN_SCHEDULES == ("round-robin", "random", "pct")


def test_empty_file_gives_defaults_with_its_name(tmp_path):
    path = write(tmp_path, "")
    config = load_config(path)
    assert config.source == str(path)
    assert attrs.evolve(config, source="<defaults>") == Config()


def test_full_valid_file(tmp_path):
    path = write(
        tmp_path,
        """
        [machine]
        frontend = "riscv"
        backend = "pyjit"
        memory_policy = "arm_monitor"
        vcpus = 4
        ram_size = "256MiB"

        [schedule]
        policy = "pct"
        slice = 1
        seed = 42
        max_insns = 1_000_000
        pct_depth = 5

        [plugins]
        disable = ["arm_host", "store_test"]

        [plugins.exclusive-bitmap]
        flush = "async"

        [plugins.arm_monitor]
        granule = 64
        """,
    )
    config = load_config(str(path))
    assert config.source == str(path)
    assert config.machine == MachineConfig("riscv", "pyjit", "arm_monitor", 4, 256 << 20)
    assert config.schedule == ScheduleConfig("pct", 1, 42, 1_000_000, 5)
    assert config.plugins.disable == ("arm_host", "store_test")
    assert config.plugins.options["exclusive-bitmap"] == {"flush": "async"}
    assert config.plugins.options["arm_monitor"] == {"granule": 64}
    with pytest.raises(TypeError):  # frozen all the way down
        config.plugins.options["arm_monitor"]["granule"] = 8
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.machine.vcpus = 2
    hash(config)


def test_parse_config_directly():
    config = parse_config({"machine": {"vcpus": 2}, "plugins": {"x": {"a": 1}}}, "inline")
    assert config.machine.vcpus == 2 and config.source == "inline"
    assert config.plugins.options == {"x": {"a": 1}}
    with pytest.raises(ConfigError, match=r"^inline: \[machine\] vcpus = 99: must be from 1 to 64$"):
        parse_config({"machine": {"vcpus": 99}}, "inline")


def test_config_error_is_a_tcglab_error():
    assert issubclass(ConfigError, TcglabError)


# -- file-level errors ------------------------------------------------------------------


def test_file_not_found(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: cannot read config: No such file or directory"


def test_malformed_toml_names_line_and_drops_tomli_position(tmp_path):
    message = error_of(tmp_path, '[machine]\nvcpus = 4\nbackend = \nseed = 1\n')
    assert message == ":3: invalid TOML: Invalid value"
    assert "column" not in message and "(at" not in message


def test_malformed_toml_duplicate_key(tmp_path):
    message = error_of(tmp_path, "[machine]\nvcpus = 1\nvcpus = 2\n")
    assert message.startswith(":3: invalid TOML: ")


def test_not_utf8(tmp_path):
    path = tmp_path / "tcglab.toml"
    path.write_bytes(b'[machine]\nfrontend = "\xff"\n')
    with pytest.raises(ConfigError, match=r":2: invalid TOML: not UTF-8 \(byte 0xff\)$"):
        load_config(path)


def test_unknown_section_with_did_you_mean(tmp_path):
    message = error_of(tmp_path, "[mashine]\nvcpus = 2\n")
    assert message == (
        ": unknown section [mashine] (did you mean 'machine'?); allowed: machine, schedule, plugins"
    )


def test_unknown_section_without_close_match(tmp_path):
    message = error_of(tmp_path, "[zzz]\n")
    assert message == ": unknown section [zzz]; allowed: machine, schedule, plugins"


def test_key_outside_any_section_says_where_it_belongs(tmp_path):
    message = error_of(tmp_path, "vcpus = 2\n")
    assert message == (
        ": unknown top-level key 'vcpus' (it belongs under [machine]); "
        "allowed sections: machine, schedule, plugins"
    )


def test_section_that_is_not_a_table(tmp_path):
    assert error_of(tmp_path, "machine = 4\n") == ": machine = 4: expected a table [machine]"


# -- [machine] and [schedule] errors ----------------------------------------------------


def test_unknown_key_with_did_you_mean(tmp_path):
    message = error_of(tmp_path, "[machine]\nvcpu = 2\n")
    assert message == (
        ": [machine] unknown key 'vcpu' (did you mean 'vcpus'?); "
        "allowed: frontend, backend, memory_policy, vcpus, ram_size, optimize"
    )


def test_unknown_key_in_schedule(tmp_path):
    message = error_of(tmp_path, "[schedule]\npct_dpeth = 2\n")
    assert "[schedule] unknown key 'pct_dpeth' (did you mean 'pct_depth'?)" in message
    assert "allowed: policy, slice, seed, max_insns, pct_depth" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('vcpus = "four"', '[machine] vcpus = "four": expected an integer'),
        ("vcpus = true", "[machine] vcpus = true: expected an integer"),
        ("vcpus = 2.0", "[machine] vcpus = 2.0: expected an integer"),
        ("backend = 3", "[machine] backend = 3: expected a string"),
        ("frontend = [\"arm\"]", '[machine] frontend = ["arm"]: expected a string'),
    ],
)
def test_wrong_type(tmp_path, line, expected):
    assert error_of(tmp_path, f"[machine]\n{line}\n") == f": {expected}"


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("machine", "vcpus = 0", "[machine] vcpus = 0: must be from 1 to 64"),
        ("machine", "vcpus = 65", "[machine] vcpus = 65: must be from 1 to 64"),
        ("schedule", "slice = -1", "[schedule] slice = -1: must be >= 0"),
        ("schedule", "seed = -1", "[schedule] seed = -1: must be >= 0"),
        ("schedule", "max_insns = -5", "[schedule] max_insns = -5: must be >= 0"),
        ("schedule", "pct_depth = 0", "[schedule] pct_depth = 0: must be >= 1"),
    ],
)
def test_out_of_range(tmp_path, section, line, expected):
    assert error_of(tmp_path, f"[{section}]\n{line}\n") == f": {expected}"


def test_range_edges_are_allowed(tmp_path):
    path = write(tmp_path, "[machine]\nvcpus = 64\n[schedule]\nslice = 1\nseed = 0\npct_depth = 1\n")
    config = load_config(path)
    assert (config.machine.vcpus, config.schedule.slice, config.schedule.pct_depth) == (64, 1, 1)


def test_bad_choice_with_did_you_mean(tmp_path):
    message = error_of(tmp_path, '[schedule]\npolicy = "randon"\n')
    assert message == (
        ': [schedule] policy = "randon": must be one of round-robin, random, pct (did you mean \'random\'?)'
    )


def test_bad_choice_without_close_match(tmp_path):
    message = error_of(tmp_path, '[schedule]\npolicy = "rr"\n')
    assert message == ': [schedule] policy = "rr": must be one of round-robin, random, pct'


def test_string_values_with_newlines_stay_on_one_line(tmp_path):
    message = error_of(tmp_path, '[schedule]\npolicy = "a\\nb"\n')
    assert 'policy = "a\\nb"' in message


# -- ram_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128M", 128 << 20),
        ("128MiB", 128 << 20),
        ("128mib", 128 << 20),
        ("128m", 128 << 20),
        ("64K", 64 << 10),
        ("64k", 64 << 10),
        ("64KiB", 64 << 10),
        ("1G", 1 << 30),
        ("1GiB", 1 << 30),
        ("3g", 3 << 30),
        (" 2 M ", 2 << 20),
        ("1048576", 1 << 20),
        (65536, 65536),
    ],
)
def test_parse_size_forms(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["12Q", "", "M", "1.5G", "-1M", "1MB", "1 T", True, 1.0, [1]])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError, match='expected bytes as an integer or a size like "128M"'):
        parse_size(bad)


def test_format_size():
    assert [format_size(n) for n in (128 << 20, 1 << 30, 64 << 10, 4096, 1000, 0)] == [
        "128M", "1G", "64K", "4K", "1000", "0",
    ]


@pytest.mark.parametrize(
    ("value", "size"), [('"64K"', 64 << 10), ('"3GiB"', 3 << 30), ("1048576", 1 << 20), ('"1g"', 1 << 30)]
)
def test_ram_size_accepted(tmp_path, value, size):
    assert load_config(write(tmp_path, f"[machine]\nram_size = {value}\n")).machine.ram_size == size


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"12Q"', 'expected bytes as an integer or a size like "128M"'),
        ("true", 'expected bytes as an integer or a size like "128M"'),
        ("1.5", 'expected bytes as an integer or a size like "128M"'),
        ("65537", "must be a multiple of 4096 (the page size)"),
        ('"66K"', "must be a multiple of 4096 (the page size)"),
        ('"32K"', "must be from 64K to 3G"),
        ('"4G"', "must be from 64K to 3G"),
        ("0", "must be from 64K to 3G"),
    ],
)
def test_ram_size_errors(tmp_path, value, problem):
    message = error_of(tmp_path, f"[machine]\nram_size = {value}\n")
    assert message == f": [machine] ram_size = {value}: {problem}"


# -- [plugins] --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ['"arm_host"', '[1, 2]', '["a", 3]', "true"])
def test_plugins_disable_must_be_list_of_strings(tmp_path, value):
    message = error_of(tmp_path, f"[plugins]\ndisable = {value}\n")
    assert message == f": [plugins] disable = {value}: expected a list of strings"


def test_plugins_disable_as_table_is_wrong_type(tmp_path):
    message = error_of(tmp_path, "[plugins.disable]\nx = 1\n")
    assert message == ": [plugins] disable = {x = 1}: expected a list of strings"


def test_plugins_unknown_plain_key(tmp_path):
    message = error_of(tmp_path, '[plugins]\ndisabel = ["x"]\n')
    assert message == (
        ": [plugins] unknown key 'disabel' (did you mean 'disable'?); allowed: disable "
        "(plugin option tables are [plugins.<name>])"
    )


def test_plugins_non_table_value_is_unknown_key(tmp_path):
    message = error_of(tmp_path, "[plugins]\nexclusive-bitmap = 3\n")
    assert "[plugins] unknown key 'exclusive-bitmap'" in message
    assert "plugin option tables are [plugins.<name>]" in message


def test_unknown_plugin_names_are_exposed_not_checked(tmp_path):
    path = write(tmp_path, '[plugins]\ndisable = ["no-such-plugin"]\n[plugins.nope]\nanything = [1]\n')
    config = load_config(path)
    assert config.plugins.disable == ("no-such-plugin",)
    assert config.plugins.options["nope"] == {"anything": [1]}


# -- overrides --------------------------------------------------------------------------


def test_override_int_bool_bare_string_list_and_quoted_string(tmp_path):
    config = load_config(
        None,
        [
            "machine.vcpus=4",
            "machine.backend=pyjit",
            'machine.frontend="riscv"',
            "schedule.policy = random",
            "schedule.seed=7",
            'plugins.disable=["arm_host", "pyjit"]',
            "machine.ram_size=256M",
        ],
    )
    assert config.source == "<defaults>"
    assert config.machine == MachineConfig("riscv", "pyjit", "exclusive-bitmap", 4, 256 << 20)
    assert config.schedule.policy == "random" and config.schedule.seed == 7
    assert config.plugins.disable == ("arm_host", "pyjit")


def test_override_plugin_option_and_bool():
    config = load_config(None, ["plugins.exclusive-bitmap.flush=async", "plugins.demo.verbose=true"])
    assert config.plugins.options["exclusive-bitmap"] == {"flush": "async"}
    assert config.plugins.options["demo"] == {"verbose": True}


def test_overrides_apply_over_file_in_order(tmp_path):
    path = write(tmp_path, "[machine]\nvcpus = 2\nbackend = \"pyjit\"\n")
    config = load_config(path, ["machine.vcpus=3", "machine.vcpus=8"])
    assert config.machine.vcpus == 8 and config.machine.backend == "pyjit"
    assert config.source == str(path)


def test_apply_override_on_dict():
    data = {}
    apply_override(data, "machine.vcpus=4")
    apply_override(data, "machine.backend=interp")
    apply_override(data, "plugins.demo.level=[1, 2]")
    apply_override(data, "schedule.seed=0x10")
    apply_override(data, "machine.frontend=1 2")  # not TOML -> bare string
    assert data == {
        "machine": {"vcpus": 4, "backend": "interp", "frontend": "1 2"},
        "plugins": {"demo": {"level": [1, 2]}},
        "schedule": {"seed": 16},
    }


def test_apply_override_injection_is_a_bare_string():
    data = {}
    apply_override(data, "machine.backend=1\nvcpus = 9")
    assert data == {"machine": {"backend": "1\nvcpus = 9"}}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("machine.vcpus", "--set machine.vcpus: missing '=': expected section.key=value, e.g. machine.vcpus=4"),
        ("vcpus=4", "--set vcpus=4: missing section: expected section.key=value (did you mean machine.vcpus=4?)"),
        ("bogus=4", "--set bogus=4: missing section: expected section.key=value, e.g. machine.vcpus=4"),
        (".vcpus=4", "--set .vcpus=4: missing section: expected section.key=value, e.g. machine.vcpus=4"),
    ],
)
def test_override_syntax_errors(override, expected):
    assert override_error(override) == expected
    with pytest.raises(ConfigError, match="^--set "):
        apply_override({}, override)


def test_apply_override_custom_source():
    with pytest.raises(ConfigError, match=r"^-S machine: missing '='"):
        apply_override({}, "machine", source="-S")


def test_override_into_non_table():
    with pytest.raises(ConfigError) as info:
        apply_override({"machine": {"vcpus": 1}}, "machine.vcpus.x=1")
    assert str(info.value) == "--set machine.vcpus.x=1: machine.vcpus is not a table"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("machine.vcpus=0", "--set machine.vcpus=0: [machine] vcpus = 0: must be from 1 to 64"),
        ("machine.vcpus=four", '--set machine.vcpus=four: [machine] vcpus = "four": expected an integer'),
        ("machine.vcpu=4", "--set machine.vcpu=4: [machine] unknown key 'vcpu' (did you mean 'vcpus'?)"),
        ("mashine.vcpus=4", "--set mashine.vcpus=4: unknown section [mashine] (did you mean 'machine'?)"),
        ("schedule.policy=rr", '--set schedule.policy=rr: [schedule] policy = "rr": must be one of'),
        ("plugins.disable=arm_host", '--set plugins.disable=arm_host: [plugins] disable = "arm_host": expected'),
        ("machine.ram_size=12Q", '--set machine.ram_size=12Q: [machine] ram_size = "12Q": expected bytes'),
    ],
)
def test_override_value_errors_name_the_override(override, expected):
    assert override_error(override).startswith(expected)


def test_bad_override_is_blamed_not_the_file(tmp_path):
    path = write(tmp_path, "[machine]\nvcpus = 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["schedule.seed=1", "machine.vcpus=100"])
    assert str(info.value) == "--set machine.vcpus=100: [machine] vcpus = 100: must be from 1 to 64"


def test_bad_file_is_reported_before_overrides(tmp_path):
    message = error_of(tmp_path, "[machine]\nvcpus = 0\n", overrides=["machine.vcpus=2"])
    assert message == ": [machine] vcpus = 0: must be from 1 to 64"


# -- plugin options ---------------------------------------------------------------------


@define(frozen=True)
class DemoOptions:
    flush: str = option("sync", choices=("sync", "async"), doc="when to flush")
    granule: int = option(64, min=8, max=2048, doc="bytes per monitor granule")
    verbose: bool = option(False, doc="log every flush")
    ratio: float = option(0.5, min=0.0, max=1.0)
    regions: tuple[str, ...] = option((), choices=("ram", "rom"), doc="regions to watch")
    plain: int = 3  # a field without option() metadata still works


def demo_config(tmp_path, table_text, overrides=()):
    return load_config(write(tmp_path, f"[plugins.demo]\n{table_text}\n"), overrides)


def plugin_error(tmp_path, table_text, overrides=()):
    config = demo_config(tmp_path, table_text, overrides)
    with pytest.raises(ConfigError) as info:
        plugin_options(config, "demo", DemoOptions)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_plugin_options_defaults_when_absent():
    assert plugin_options(load_config(), "demo", DemoOptions) == DemoOptions()


def test_plugin_options_empty_table(tmp_path):
    assert plugin_options(demo_config(tmp_path, ""), "demo", DemoOptions) == DemoOptions()


def test_plugin_options_valid(tmp_path):
    config = demo_config(
        tmp_path,
        'flush = "async"\ngranule = 2048\nverbose = true\nratio = 1\nregions = ["rom"]\nplain = -1',
    )
    options = plugin_options(config, "demo", DemoOptions)
    assert options == DemoOptions("async", 2048, True, 1.0, ("rom",), -1)
    assert isinstance(options.ratio, float)


def test_plugin_options_unknown_key(tmp_path):
    message = plugin_error(tmp_path, 'flsuh = "async"')
    path = tmp_path / "tcglab.toml"
    assert message == (
        f"{path}: [plugins.demo] unknown key 'flsuh' (did you mean 'flush'?); "
        "allowed: flush, granule, verbose, ratio, regions, plain"
    )


def test_plugin_options_bad_choice(tmp_path):
    message = plugin_error(tmp_path, 'flush = "asinc"')
    assert message.endswith(
        '[plugins.demo] flush = "asinc": must be one of sync, async (did you mean \'async\'?)'
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('granule = "64"', 'granule = "64": expected an integer'),
        ("verbose = 1", "verbose = 1: expected a boolean (true or false)"),
        ('verbose = "yes"', 'verbose = "yes": expected a boolean (true or false)'),
        ("flush = false", "flush = false: expected a string"),
        ("ratio = true", "ratio = true: expected a number"),
        ('regions = "ram"', 'regions = "ram": expected a list of strings'),
    ],
)
def test_plugin_options_wrong_type(tmp_path, line, expected):
    assert plugin_error(tmp_path, line).endswith(f"[plugins.demo] {expected}")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("granule = 4", "granule = 4: must be from 8 to 2048"),
        ("granule = 4096", "granule = 4096: must be from 8 to 2048"),
        ("ratio = 1.5", "ratio = 1.5: must be from 0.0 to 1.0"),
        ('regions = ["ram", "rum"]', 'regions = ["ram", "rum"]: "rum" must be one of ram, rom (did you mean \'rom\'?)'),
    ],
)
def test_plugin_options_out_of_range(tmp_path, line, expected):
    assert plugin_error(tmp_path, line).endswith(f"[plugins.demo] {expected}")


def test_plugin_option_error_from_override_names_the_override(tmp_path):
    message = plugin_error(tmp_path, 'flush = "sync"', overrides=["plugins.demo.granule=1"])
    assert message == "--set plugins.demo.granule=1: [plugins.demo] granule = 1: must be from 8 to 2048"


def test_plugin_option_error_from_file_still_names_file_after_override(tmp_path):
    message = plugin_error(tmp_path, "granule = 1", overrides=['plugins.demo.flush="async"'])
    assert message == f"{tmp_path / 'tcglab.toml'}: [plugins.demo] granule = 1: must be from 8 to 2048"


def test_plugin_option_override_valid(tmp_path):
    config = demo_config(tmp_path, "granule = 16", overrides=["plugins.demo.flush=async"])
    assert plugin_options(config, "demo", DemoOptions) == DemoOptions(flush="async", granule=16)


def test_plugin_with_odd_name_is_quoted():
    config = load_config(None, ['plugins.my plugin.flush=never'])
    with pytest.raises(ConfigError, match=r'\[plugins\."my plugin"\] flush = "never": must be one of'):
        plugin_options(config, "my plugin", DemoOptions)


def test_plugin_options_required_field_and_own_validator():
    @define(frozen=True)
    class Strict:
        name: str = attrs.field()  # no default -> required
        low: int = option(0)
        high: int = option(10)

        @high.validator
        def _check(self, attribute, value):
            if value < self.low:
                raise ValueError(f"high ({value}) must be >= low ({self.low})")

    config = load_config(None, ["plugins.s.low=5"])
    with pytest.raises(ConfigError, match=r"^<defaults>: \[plugins\.s\] missing key 'name'$"):
        plugin_options(config, "s", Strict)
    config = parse_config({"plugins": {"s": {"low": 5, "high": 1, "name": "x"}}}, "f.toml")
    with pytest.raises(ConfigError, match=r"^f\.toml: \[plugins\.s\] high \(1\) must be >= low \(5\)$"):
        plugin_options(config, "s", Strict)


# -- describe_options -------------------------------------------------------------------


def test_describe_options():
    rows = describe_options(DemoOptions)
    assert rows[0] == ("flush", "str", '"sync"', "one of sync, async", "when to flush")
    assert rows[1] == ("granule", "int", "64", "from 8 to 2048", "bytes per monitor granule")
    assert rows[2] == ("verbose", "bool", "false", "", "log every flush")
    assert rows[4][:4] == ("regions", "list of str", "[]", "one of ram, rom")
    assert rows[5] == ("plain", "int", "3", "", "")


def test_describe_builtin_sections():
    ram = dict((row[0], row) for row in describe_options(MachineConfig))["ram_size"]
    assert ram[1:4] == ("int", '"128M"', "from 64K to 3G")
    policy = describe_options(ScheduleConfig)[0]
    assert policy[:4] == ("policy", "str", '"round-robin"', "one of round-robin, random, pct")
    assert [row[0] for row in describe_options(PluginsConfig)] == ["disable"]


def test_malformed_toml_with_old_tomli_error_without_lineno(tmp_path, monkeypatch):
    import tomli

    class OldStyleError(tomli.TOMLDecodeError):  # tomli < 2.1: only the message text
        def __init__(self, text):
            ValueError.__init__(self, text)

    def fail(text):
        raise OldStyleError("Invalid value (at line 7, column 5)")

    monkeypatch.setattr("core.config.tomli.loads", fail)
    assert error_of(tmp_path, "x") == ":7: invalid TOML: Invalid value"
