"""The A32 frontend on the bundled workload ELFs: nothing they execute is undefined."""

from __future__ import annotations

from pathlib import Path

from core.errors import GuestError
from core.loader import load_elf
from tests.support.a32 import make_machine

WORKLOADS = Path(__file__).resolve().parents[2] / "plugins" / "arm" / "workloads"


def _run(program: str, max_insns: int, argv: tuple[str, ...] = ()):
    m = make_machine(max_insns=max_insns, slice_=1000, ram_size="128M")
    image = load_elf(WORKLOADS / program, m.memory)
    m.frontend.boot(image, [str(WORKLOADS / program), *argv])
    return m


def test_compute_runs_200k_instructions_without_an_undefined_instruction():
    m = _run("compute.elf", 200_000)
    try:
        result = m.run()
    except GuestError as exc:  # without a platform the first semihosting call stops it
        assert "undefined instruction" not in str(exc) and "Thumb" not in str(exc)
        assert "SEMIHOST" in str(exc) or "SWI" in str(exc), str(exc)
        return
    assert result.reason in ("max-insns", "exit")
    assert result.insns >= 200_000 or result.reason == "exit"
    assert m.translator.translated > 10


def test_newlib_program_runs_to_its_exit(capsys):
    m = _run("hello_newlib.elf", 1_000_000, ("x",))
    assert m.platform is not None  # the frontend always brings the virt board
    result = m.run()
    assert (result.reason, result.exit_status) == ("exit", 0)
    assert "hello_newlib: malloc ok len=999" in capsys.readouterr().out
