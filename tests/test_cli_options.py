"""Command-line options that plugins contribute (``tcglab_register_cli_options``), as
pytest plugins add theirs with ``pytest_addoption``: ``--help`` lists them while the plugin
is loaded, they set the plugin's config key, and the ARM plugin's ``--semihosting-root``
goes with the ARM plugin."""

from __future__ import annotations

import types

import pytest
from attrs import define

from core import cli
from core.cli.parser import early_plugin_flags
from core.config import option
from core.hookspecs import hookimpl
from core.plugins import AUTOLOAD_ENV, BUILTIN_PLUGINS

PROBE = "cli-probe"  # the throwaway plugin's name
MODULE = "tcglab_cli_probe_plugin"


@define(frozen=True)
class ProbeOptions:
    level: int = option(0, min=0, doc="how hard to probe")


def install_probe(monkeypatch, register) -> None:
    """Load a plugin module whose ``tcglab_register_cli_options`` is ``register``, as a
    built-in (the module exists only for this test)."""
    module = types.ModuleType(MODULE)
    module.Options = ProbeOptions
    module.tcglab_register_cli_options = hookimpl(register)
    monkeypatch.setitem(__import__("sys").modules, MODULE, module)
    monkeypatch.setitem(BUILTIN_PLUGINS, PROBE, MODULE)


@pytest.fixture(autouse=True)
def no_entry_points(monkeypatch):
    monkeypatch.setenv(AUTOLOAD_ENV, "1")


@pytest.fixture
def probe(monkeypatch):
    def register(registry):
        registry.add_option("--probe-level", f"plugins.{PROBE}.level", kind=int, metavar="N",
                            help="how hard the probe probes")
    install_probe(monkeypatch, register)


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def parse(*argv: str):
    return cli.build_parser(early_plugin_flags(argv)).parse_args(list(argv))


@pytest.mark.parametrize("command", ["run", "trace", "compare"])
def test_a_plugin_option_is_in_help_while_the_plugin_is_loaded(probe, capsys, command):
    text = help_text(capsys, command)
    assert "--probe-level N" in text and "how hard the probe probes" in text
    text = help_text(capsys, command, "--set", f'plugins.disable=["{PROBE}"]')
    assert "--probe-level" not in text


def test_run_help_lists_the_option_with_its_config_key(probe, capsys):
    assert f"--probe-level plugins.{PROBE}.level" in help_text(capsys, "run")


@pytest.mark.parametrize("command", [["run", "x.elf"], ["compare"]])
def test_a_plugin_option_sets_its_config_key_after_set(probe, command):
    args = parse(command[0], "--set", f"plugins.{PROBE}.level=1", "--probe-level", "0x10",
                 *command[1:])
    config = cli.run_config(args)
    assert config.plugins.options[PROBE]["level"] == 16
    assert config.plugins.option_sources[PROBE]["level"] == "--probe-level 0x10"


def test_a_plugin_option_before_set_does_not_hide_it(probe):
    config = cli.run_config(parse("run", "--probe-level", "2", "--set", "machine.vcpus=3",
                                  "x.elf", "--set", "guest"))
    assert (config.machine.vcpus, config.plugins.options[PROBE]["level"]) == (3, 2)


def test_a_disabled_plugins_option_is_unknown(probe, capsys):
    status = None
    with pytest.raises(SystemExit) as exit_:
        status = cli.main(["run", "--set", f'plugins.disable=["{PROBE}"]', "--probe-level", "1",
                           "x.elf"])
    assert status is None and exit_.value.code == 2
    assert "unrecognized arguments: --probe-level" in capsys.readouterr().err


def test_semihosting_root_comes_with_the_arm_plugin(capsys, tmp_path):
    assert "--semihosting-root DIR" in help_text(capsys, "run")
    assert "--semihosting-root" not in help_text(capsys, "run", "--set",
                                                 'plugins.disable=["arm"]')
    toml = tmp_path / "tcglab.toml"
    toml.write_text('[plugins]\ndisable = ["arm"]\n')
    assert "--semihosting-root" not in help_text(capsys, "trace", "--config", str(toml))
    assert "--semihosting-root" not in help_text(capsys, "compare", "-c", str(toml))


def test_a_broken_config_still_shows_every_option(capsys, tmp_path):
    """The command reports the config's error; --help does not depend on it."""
    toml = tmp_path / "bad.toml"
    toml.write_text("[plugins\n")
    assert "--semihosting-root DIR" in help_text(capsys, "run", "--config", str(toml))


@pytest.mark.parametrize(("flag", "key", "kind", "says"), [
    ("--vcpus", f"plugins.{PROBE}.level", int, "already an option of tcglab run"),
    ("--json", f"plugins.{PROBE}.level", str, "already an option of tcglab run"),
    ("probe", f"plugins.{PROBE}.level", int, "an option is '--' and a name"),
    ("--probe", "level", int, "expected a dotted config key"),
    ("--probe", f"plugins.{PROBE}.level", float, "kind must be one of str, int, bool"),
])
def test_a_bad_plugin_option_is_a_one_line_error(monkeypatch, capsys, flag, key, kind, says):
    install_probe(monkeypatch, lambda registry: registry.add_option(flag, key, kind=kind))
    assert cli.main(["run", "x.elf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcglab: error: ") and err.count("\n") == 1 and says in err
    assert flag in err


def test_the_same_option_from_two_plugins_is_an_error_naming_both(monkeypatch, capsys):
    install_probe(monkeypatch, lambda registry: registry.add_option(
        "--semihosting-root", f"plugins.{PROBE}.level"))  # the arm plugin adds it too
    assert cli.main(["run", "x.elf"]) == 2
    err = capsys.readouterr().err
    assert "--semihosting-root is added by both plugin" in err and err.count("\n") == 1
    assert f"plugin {PROBE!r}" in err and "plugin 'arm'" in err


def test_an_option_hook_cannot_be_a_wrapper(monkeypatch, capsys):
    def register(registry):
        yield
    module = types.ModuleType(MODULE)
    module.Options = ProbeOptions
    module.tcglab_register_cli_options = hookimpl(wrapper=True)(register)
    monkeypatch.setitem(__import__("sys").modules, MODULE, module)
    monkeypatch.setitem(BUILTIN_PLUGINS, PROBE, MODULE)
    assert cli.main(["run", "x.elf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tcglab_register_cli_options" in err
    assert "cannot be a wrapper" in err


def test_a_plugin_that_raises_is_named_in_one_line(monkeypatch, capsys):
    def register(registry):
        raise RuntimeError("no options today")
    install_probe(monkeypatch, register)
    assert cli.main(["run", "x.elf"]) == 2
    assert capsys.readouterr().err == (f"tcglab: error: plugin {PROBE!r} raised in "
                                       "tcglab_register_cli_options: RuntimeError: "
                                       "no options today\n")
