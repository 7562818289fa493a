"""How a run ended (core/outcome.py): every reason has its sentence, and run, compare and
trace say the same thing for the same run."""

from __future__ import annotations

import json

import pytest

from core import cli
from core import compare as cmp
from core.config import parse_config
from core.errors import TcglabError
from core.outcome import RunReason, RunResult, describe, failed_run
from tests.support.toy import toy_machine


@pytest.mark.parametrize("reason", list(RunReason))
def test_every_reason_has_its_own_sentence(reason):
    text = describe(RunResult(reason, exit_status=3, insns=10), max_insns=10)
    others = {describe(RunResult(r, exit_status=3, insns=10), 10) for r in RunReason if r != reason}
    assert text and "\n" not in text and text not in others
    assert "{" not in text  # every placeholder filled


def test_a_runs_own_message_is_its_description_on_one_line():
    result = RunResult(RunReason.DEADLOCK, message="deadlock: vCPU 0\n  halted")
    assert describe(result) == "deadlock: vCPU 0 halted"


def test_the_numbers_are_the_runs():
    assert describe(RunResult("exit", exit_status=7)) == "the guest exited with status 7"
    text = describe(RunResult("max-insns", insns=1234), max_insns=1000)
    assert "1234" in text and "max_insns = 1000" in text


def test_a_reason_is_its_string_in_text_and_json():
    result = RunResult("all-off")
    assert result.reason is RunReason.ALL_OFF and result.reason == "all-off"
    assert f"{result.reason}" == str(result.reason) == "all-off"
    assert json.dumps({"reason": result.reason}) == '{"reason": "all-off"}'


def test_an_unknown_reason_is_a_one_line_error_listing_the_known_ones():
    with pytest.raises(TcglabError, match=r"unknown run reason 'halt'; .*deadlock") as exc:
        RunResult("halt")
    assert "\n" not in str(exc.value)


def test_a_failed_run_is_an_error_or_a_crash():
    assert failed_run(TcglabError("bad"), None, 0.0).reason is RunReason.ERROR
    crash = failed_run(RuntimeError("boom"), None, 0.0)
    assert (crash.reason, crash.message, crash.exit_status) == \
        (RunReason.CRASH, "RuntimeError: boom", 1)


@pytest.mark.parametrize("reason", [r for r in RunReason if r != RunReason.EXIT])
def test_compare_records_why_a_run_failed_as_run_says_it(reason):
    config = parse_config({"schedule": {"max_insns": 50}}, "<test>")
    result = RunResult(reason, insns=50)
    spec = cmp.RunSpec(0, "loop", "loop.elf", (), "loop", "exclusive-bitmap", 0, {})
    record = cmp.make_record(spec, config, result, b"")
    assert not record["passed"] and record["reason"] == reason
    assert record["message"] == describe(result, 50)


def test_compare_says_nothing_about_a_passed_run():
    config = parse_config({}, "<test>")
    spec = cmp.RunSpec(0, "w", "w.elf", (), "w", "exclusive-bitmap", 0, {})
    record = cmp.make_record(spec, config, RunResult("exit"), b"w: OK\n")
    assert record["passed"] and record["message"] == ""


@pytest.mark.parametrize(("reason", "code"), [("deadlock", cli.EXIT_STOPPED),
                                              ("all-off", cli.EXIT_STOPPED),
                                              ("max-insns", cli.EXIT_MAX_INSNS),
                                              ("exit", 5), ("poweroff", 5)])
def test_run_exit_status_by_reason(reason, code):
    assert cli.run_exit_code(RunResult(reason, exit_status=5)) == code


def test_a_platform_asking_to_stop_for_an_unknown_reason_fails_at_the_call():
    m = toy_machine([("HALT",)])
    with pytest.raises(TcglabError, match="unknown run reason 'power-off'") as err:
        m.request_exit(0, "power-off")  # a typo of "poweroff": caught before the run
    assert "\n" not in str(err.value) and not m.stop_requested
    m.request_exit(0, "poweroff")  # a platform may still name a reason by its value
    assert m.run().reason is RunReason.POWEROFF
