"""The bundled workloads' test cases (``plugins/arm/workloads/cases.txt``) and a runner.

Each case names a program, a CPU count and arguments; ``expected/<id>.txt`` holds the
architecturally correct output (lines starting with ``#`` are nondeterministic counts and
are dropped before comparing) followed by ``exit=N``.
"""

from __future__ import annotations

import io
from pathlib import Path

from attrs import define

from core.config import parse_config
from core.loader import load_elf
from core.machine import Machine
from core.plugins import PluginManager

WORKLOADS = Path(__file__).resolve().parents[2] / "plugins" / "arm" / "workloads"


@define(frozen=True)
class Case:
    id: str
    smp: int
    qemu: str  # "same", "differs" or "either"
    program: str
    args: tuple[str, ...]

    @property
    def elf(self) -> Path:
        return WORKLOADS / f"{self.program}.elf"

    def expected(self) -> str:
        return (WORKLOADS / "expected" / f"{self.id}.txt").read_text()


def cases() -> list[Case]:
    out = []
    for line in (WORKLOADS / "cases.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        id_, smp, qemu, program, *args = line.split()
        out.append(Case(id_, int(smp), qemu, program, tuple(args)))
    return out


def deterministic(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


def run_machine(elf: Path, args: list[str] | tuple[str, ...], config_data: dict
                ) -> tuple[str, "object", Machine]:
    """Boot ``elf`` with ``args`` on a machine built from ``config_data`` and run it;
    returns (deterministic output, RunResult, machine)."""
    m = Machine(parse_config(config_data, "<workload test>"), PluginManager(autoload=False))
    out = io.BytesIO()
    m.platform.stdout = m.platform.stderr = out
    m.frontend.boot(load_elf(elf, m.memory), [str(elf), *args])
    result = m.run()
    return deterministic(out.getvalue().decode(errors="replace")), result, m


def run_tcglab(elf: Path, args: list[str] | tuple[str, ...], vcpus: int, *,
               schedule: dict | None = None, policy: str = "exclusive-bitmap",
               backend: str = "interp", max_insns: int = 0,
               options: dict | None = None) -> tuple[str, int, "object"]:
    """Run ``elf`` on tcglab; returns (output with an ``exit=N`` line, status, RunResult)."""
    text, result, _m = run_machine(elf, args, {
        "machine": {"frontend": "arm", "vcpus": vcpus, "memory_policy": policy,
                    "backend": backend},
        "schedule": {"max_insns": max_insns, **(schedule or {})},
        "plugins": {policy: options} if options else {}})
    return text + f"exit={result.exit_status}\n", result.exit_status, result
