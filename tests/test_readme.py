"""The README stays true: its config example is valid and complete, its commands are CI's."""

from __future__ import annotations

import re
from pathlib import Path

import tomli

from core.plugins import PluginManager
from core.config import MachineConfig, ScheduleConfig, describe_options, parse_config
from plugins.atomic_strategies.exclusive_bitmap import ExclusiveBitmapOptions

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_first_lines_are_the_two_setup_commands_and_ci_runs_the_second():
    first = code_blocks("sh")[0].strip().splitlines()
    assert len(first) == 2
    assert README.index("```sh") < README.index("\n## ")
    install_and_run, install_and_test = first
    assert install_and_run.startswith("python3 -m pip install . && tcglab ")
    assert "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_configuration_example_is_valid_and_documents_every_key():
    (example,) = [b for b in code_blocks("toml") if "[machine]" in b]
    data = tomli.loads(example)
    documented = {(section, key) for section, table in data.items() for key in table}
    for section, cls in (("machine", MachineConfig), ("schedule", ScheduleConfig)):
        for row in describe_options(cls):
            assert (section, row[0]) in documented, f"[{section}] {row[0]} missing from README"
    for row in describe_options(ExclusiveBitmapOptions):
        assert row[0] in data["plugins"]["exclusive-bitmap"], row[0]
    for name, cls, _plugin in PluginManager(autoload=False).registry.memory_policies:
        for row in describe_options(cls.Options):
            assert row[0] in data["plugins"].get(name, {}), f"[plugins.{name}] {row[0]}"
    assert "disable" in data["plugins"]
    # the example must be a config tcglab accepts (plugin tables are checked by the machine)
    config = parse_config(data, "README.md")
    assert config.machine.vcpus == data["machine"]["vcpus"]
