"""The plugin as a distribution: pip installs it into a fresh environment that has
tcglab, ``tcglab plugins`` lists ``riscv32`` from it, uninstalling removes it, and
``[plugins] disable = ["riscv32"]`` hides it.

The environment is a venv whose site-packages sees this interpreter's packages (as
``python3 -m venv --system-site-packages`` would) minus any tcglab-riscv already
installed there, so that installing and uninstalling in the venv is all that decides
whether the plugin is present; tcglab's own ``core`` comes from this checkout
(PYTHONPATH).  Building the plugin needs ``wheel`` (or network access for pip's build
isolation).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import core
from core import cli

PLUGIN_DIR = Path(__file__).resolve().parents[1]
TCGLAB_ROOT = Path(core.__file__).resolve().parents[1]


def _run(cmd, env=None, check=True):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env,
                          timeout=300)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("rvdist")
    farm = root / "site"  # this interpreter's packages, without tcglab-riscv
    farm.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "tcglab_riscv" in entry.name.lower().replace("-", "_"):
            continue
        (farm / entry.name).symlink_to(entry)
    env_dir = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", env_dir])
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    (site / "_host_packages.pth").write_text(f"{farm}\n")
    env = {**os.environ, "PYTHONPATH": str(TCGLAB_ROOT)}
    env.pop("TCGLAB_DISABLE_PLUGIN_AUTOLOAD", None)
    return python, env, root


def _plugins(python, env, *extra) -> dict:
    return json.loads(_run([python, "-m", "core.cli", "plugins", "--json", *extra],
                           env=env).stdout)


def test_install_list_disable_uninstall(venv):
    python, env, root = venv
    before = _plugins(python, env)
    assert "riscv32" not in [f["name"] for f in before["frontends"]]

    pip = [python, "-m", "pip", "install", "--no-deps", "--no-input", "--quiet"]
    if importlib.util.find_spec("wheel") is not None:
        pip.append("--no-build-isolation")  # offline: setuptools and wheel are here
    source = root / "src"  # a copy: setuptools builds in the source tree (build/, egg-info)
    shutil.copytree(PLUGIN_DIR, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    _run([*pip, source], env=env)

    listing = _plugins(python, env)
    frontends = {f["name"]: f["plugin"] for f in listing["frontends"]}
    assert frontends.get("riscv32") == "riscv32" and "riscv32" in listing["plugins"]
    dist = _run([python, "-c", "from importlib.metadata import entry_points as e; "
                 "print([ep.dist.name for ep in e(group='tcglab') if ep.name == 'riscv32'])"],
                env=env).stdout
    assert "tcglab-riscv" in dist or "tcglab_riscv" in dist
    assert any(w["name"] == "rv-counter" for w in listing["workloads"])

    config = root / "disable.toml"
    config.write_text('[plugins]\ndisable = ["riscv32"]\n')
    hidden = _plugins(python, env, "--config", config)
    assert "riscv32" not in [f["name"] for f in hidden["frontends"]]
    assert "riscv32" not in hidden["plugins"]

    _run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "tcglab-riscv"], env=env)
    after = _plugins(python, env)
    assert "riscv32" not in [f["name"] for f in after["frontends"]]


def test_disable_in_this_process(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[plugins]\ndisable = ["riscv32"]\n')
    assert cli.main(["plugins", "--json", "--config", str(config)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert "riscv32" not in [f["name"] for f in listing["frontends"]]
    assert cli.main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert "riscv32" in [f["name"] for f in listing["frontends"]]
