"""``tcglab trace`` (core/trace.py, core/cli/): QEMU's ``-d in_asm,op,out_asm`` per TB.

The log is checked against independent sources: the guest code against the bytes of the
ELF file (read with pyelftools, not through the machine), the IR and backend text against
what a second plugin sees of the same TBs at the same moment, and the run itself against
``tcglab run``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from attrs import define, field
from elftools.elf.elffile import ELFFile

import core.cli as cli
from core.config import parse_config
from core.errors import TcglabError
from core.hookspecs import hookimpl
from core.machine import Machine
from tests.toyisa import RAM_BASE
from core.plugins import PluginManager
from core.trace import LOG_ITEMS, PLUGIN_NAME, SEPARATOR, TBLog
from tests import toyisa
from tests.support.arm_workloads import WORKLOADS
from tests.support.oracles import oracles_required

ELF = WORKLOADS / "counter.elf"
ARGS = ("1", "10")  # one vCPU, ten increments: ~10k guest instructions, ~100 TBs
ROOT = Path(__file__).resolve().parent.parent
SECTION = {"IN:": "in_asm", "OP:": "op", "OUT:": "out_asm"}
INSN = re.compile(r"^0x([0-9a-f]{8}):  ([0-9a-f]+)  (.*)$")


@define
class Seen:
    """A TB as another ``tcglab_tb_translated`` plugin saw it, when it was announced."""

    pc: int
    insn_pcs: list[int]
    dump: str
    describe: str


@define
class Recorder:
    tbs: list[Seen] = field(factory=list)
    frontend: object = None

    @hookimpl
    def tcglab_tb_translated(self, machine, tb) -> None:
        self.frontend = machine.frontend
        self.tbs.append(Seen(tb.pc, list(tb.insn_pcs), tb.dump(), machine.backend.describe(tb)))


@define
class Outcome:
    status: int
    out: str
    err: str
    seen: Recorder


def tcglab(*argv: str) -> Outcome:
    """``tcglab ARGV`` in-process (no entry-point plugins), with a :class:`Recorder`."""
    recorder = Recorder()

    def plugin_manager(disable=(), *, extra=()):
        return PluginManager(disable, autoload=False, extra=[*extra, ("recorder", recorder)])

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        mp.setattr(cli, "PluginManager", plugin_manager)
        status = cli.main(list(argv))
    return Outcome(status, out.getvalue(), err.getvalue(), recorder)


def trace(*options: str, program: Path = ELF, args: tuple[str, ...] = ARGS) -> Outcome:
    return tcglab("trace", *options, str(program), *args)


def entries(log: str) -> list[dict[str, list[str]]]:
    """The log split per TB, each into its sections (header line first, no blank tail)."""
    out: list[dict[str, list[str]]] = []
    section: list[str] | None = None
    for line in log.splitlines():
        if line == SEPARATOR:
            out.append({})
            section = None
        elif line.split(" ", 1)[0] in SECTION and out:
            section = out[-1].setdefault(SECTION[line.split(" ", 1)[0]], [])
            section.append(line)
        else:
            assert section is not None, f"a line outside any section: {line!r}"
            section.append(line)
    for entry in out:
        for lines in entry.values():
            while lines and lines[-1] == "":
                lines.pop()
    return out


def elf_code(path: Path) -> tuple[int, dict[str, int], list[tuple[int, bytes]]]:
    """(entry, symbols, [(address, bytes)] of the PT_LOAD segments), from the file."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        segments = [(s["p_paddr"], s.data()) for s in elf.iter_segments()
                    if s["p_type"] == "PT_LOAD"]
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        return elf["e_entry"], symbols, segments


def elf_word(segments: list[tuple[int, bytes]], pc: int) -> int:
    for base, data in segments:
        if base <= pc and pc + 4 <= base + len(data):
            return int.from_bytes(data[pc - base:pc - base + 4], "little")
    raise AssertionError(f"{pc:#010x} is not in the ELF's file-backed segments")


@pytest.fixture(scope="module")
def combined() -> Outcome:
    r = trace("-d", "in_asm,op,out_asm")
    assert r.status == 0, r.err
    return r


@pytest.fixture(scope="module")
def plain_run() -> Outcome:
    r = tcglab("run", str(ELF), *ARGS)
    assert r.status == 0, r.err
    return r


# --------------------------------------------------------------------------- content


def test_in_asm_starts_at_the_elf_entry_and_is_the_elf_s_code(combined):
    entry, symbols, segments = elf_code(ELF)
    log = entries(combined.err)
    assert len(log) == len(combined.seen.tbs) > 10
    first = log[0]["in_asm"]
    assert first[0] in {f"IN: {name}" for name, value in symbols.items() if value == entry}
    assert INSN.match(first[1]).group(1) == f"{entry:08x}"
    fe = combined.seen.frontend
    for tb, seen in zip(log, combined.seen.tbs):
        lines = tb["in_asm"][1:]
        pcs = [int(INSN.match(line).group(1), 16) for line in lines]
        assert pcs == seen.insn_pcs and pcs[0] == seen.pc
        for pc, line in zip(pcs, lines):
            word = elf_word(segments, pc)
            assert line == f"{pc:#010x}:  {word:08x}  {fe.disas(pc, word)}"


def test_op_has_an_insn_start_per_guest_pc_and_is_the_compiled_ir(combined):
    optable = PluginManager(autoload=False).registry.optable
    for tb, seen in zip(entries(combined.err), combined.seen.tbs):
        head, *body = tb["op"]
        assert head.startswith(f"OP: TB pc={seen.pc:#010x} ")
        assert "(as compiled, after IR passes: " in head
        markers = [int(line[len(" ---- "):], 16) for line in body if line.startswith(" ---- ")]
        assert markers == seen.insn_pcs
        for line in body:
            name = line.split()[0]
            assert name == "----" or name in optable, line
        assert body == seen.dump.splitlines()[1:]


def test_out_asm_is_the_backend_s_describe(combined):
    for tb, seen in zip(entries(combined.err), combined.seen.tbs):
        head, *text = tb["out_asm"]
        assert head == "OUT: [backend=interp]"
        assert "\n".join(text) == seen.describe.rstrip("\n") != ""


@pytest.mark.parametrize("options", [["-d", "in_asm"], ["-d", "op"], ["-d", "out_asm"],
                                     ["-d", "out_asm,in_asm"], ["-d", "op", "-d", "in_asm"]])
def test_each_item_logs_its_part_of_the_combined_log(options, combined):
    r = trace(*options)
    assert r.status == 0 and r.out == combined.out
    wanted = {item for value in options[1::2] for item in value.split(",")}
    full = entries(combined.err)
    log = entries(r.err)
    assert len(log) == len(full)
    for tb, whole in zip(log, full):
        assert list(tb) == [item for item in LOG_ITEMS if item in wanted]  # QEMU's order
        assert tb == {item: whole[item] for item in tb}


def test_trace_file_holds_the_log_and_stdout_the_guest_output(tmp_path, combined, plain_run):
    path = tmp_path / "tb.log"
    r = trace("-d", "in_asm,op,out_asm", "--trace-file", str(path))
    assert r.status == 0
    assert r.err == ""
    assert r.out == combined.out == plain_run.out != ""
    assert path.read_text() == combined.err


def test_tracing_leaves_the_run_unchanged(tmp_path):
    """Same exit, output and counters (TLB fills included) as ``tcglab run``."""
    results = []
    for argv in (["run"], ["trace", "-d", "in_asm,op,out_asm", "--trace-file",
                           str(tmp_path / "t.log")]):
        json_file = tmp_path / f"{argv[0]}.json"
        r = tcglab(*argv, "--json", str(json_file), str(ELF), *ARGS)
        payload = json.loads(json_file.read_text())
        del payload["wall_seconds"]
        results.append((r.status, r.out, payload))
    assert results[0] == results[1]
    assert results[0][2]["stats"]["vcpus"][0]["tlb_fills"] > 0


def test_readme_example_is_what_trace_prints(combined):
    pytest.importorskip("capstone")  # the README shows capstone's text
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Tracing translation"):]
    example = re.search(r"```\n\$ tcglab trace (.*?)\n(.*?)\.\.\.\n```", section, re.S)
    assert example.group(1) == f"-d in_asm,op,out_asm {ELF.relative_to(ROOT)} {' '.join(ARGS)}"
    assert combined.err.startswith(example.group(2))


# --------------------------------------------------------------------------- backends

BACKENDS = [name for name, _cls, _plugin in PluginManager(autoload=False).registry.backends]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_traces_the_same_guest_code(backend, combined):
    try:
        Machine(parse_config({"machine": {"frontend": "arm", "backend": backend}}, "<test>"),
                PluginManager(autoload=False))
    except (TcglabError, ImportError) as exc:
        if oracles_required():  # CI installs every backend's runtime
            pytest.fail(f"backend {backend!r} cannot be built and TCGLAB_REQUIRE_ORACLES=1: {exc}")
        pytest.skip(f"backend {backend!r} cannot be built here: {exc}")
    r = trace("-d", "in_asm,op,out_asm", "--set", f"machine.backend={backend}")
    assert r.status == 0, r.err
    assert r.out == combined.out
    log = entries(r.err)
    assert [tb["in_asm"] for tb in log] == [tb["in_asm"] for tb in entries(combined.err)]
    assert len(log) == len(r.seen.tbs)
    for tb, seen in zip(log, r.seen.tbs):
        head, *text = tb["out_asm"]
        assert head == f"OUT: [backend={backend}]"
        assert "\n".join(text) == (seen.describe.rstrip("\n") or
                                   f"(backend {backend!r} does not describe its code)")


# --------------------------------------------------------------------------- the API


def drop_dead_movi(tb) -> None:
    """An IR pass: drop ``movi r1, 7`` (the test program overwrites r1 at once)."""
    tb.ops[:] = [op for op in tb.ops if not (op.name == "movi_i32" and op.args[1:] == (7,))]


def test_a_frontend_s_own_disas_is_used_and_op_is_after_the_passes():
    log = TBLog(frozenset(LOG_ITEMS))
    pm = PluginManager(autoload=False, extra=[("toyisa", toyisa), (PLUGIN_NAME, log)])
    m = Machine(parse_config({"machine": {"frontend": "toy", "ram_size": "1M",
                                          "optimize": False}}, "<test>"), pm)
    program = [("MOVI", 1, 0, 7), ("MOVI", 1, 0, 9), ("EXIT", 0, 1, 0)]
    m.memory.write_bytes(RAM_BASE, toyisa.assemble(program))
    m.translator.passes.append(drop_dead_movi)
    stream = io.StringIO()
    log.start(stream, "<test>")
    assert m.run().exit_status == 9
    (tb,) = entries(stream.getvalue())
    words = [toyisa.enc(*insn) for insn in program]
    assert tb["in_asm"] == ["IN: "] + [
        f"{RAM_BASE + 4 * i:#010x}:  {w:08x}  {m.frontend.disas(RAM_BASE + 4 * i, w)}"
        for i, w in enumerate(words)]
    assert tb["op"][0].endswith("(as compiled, after IR passes: drop_dead_movi)")
    movis = [line for line in tb["op"] if line.startswith(" movi_i32 r1,")]
    assert movis == [" movi_i32 r1,$0x9"]


# --------------------------------------------------------------------------- errors


def one_line_error(r: Outcome) -> str:
    assert r.err.endswith("\n") and r.err.count("\n") == 1, r.err
    assert r.err.startswith("tcglab: error: ")
    return r.err[len("tcglab: error: "):].rstrip("\n")


@pytest.mark.parametrize("value, bad", [("in_asm,opt", "opt"), ("out-asm", "out-asm"),
                                        ("op,", "")])
def test_an_unknown_log_item_is_a_one_line_error_listing_the_allowed(value, bad):
    r = trace("-d", value)
    assert r.status == 2 and r.out == ""
    message = one_line_error(r)
    assert message.startswith(f"-d {value}: unknown log item {bad!r}")
    assert message.endswith("allowed: " + ", ".join(LOG_ITEMS))
    assert not r.seen.tbs  # nothing ran


def test_d_after_the_program_is_explained():
    r = trace(args=("-d", "in_asm"))
    assert r.status == 2
    assert "-d and --trace-file go before PROGRAM" in one_line_error(r)
    r = trace()
    assert r.status == 2 and one_line_error(r).startswith("-d ITEMS is required")


def test_a_trace_file_in_a_missing_directory_is_a_one_line_error(tmp_path):
    path = tmp_path / "no" / "tb.log"
    r = trace("-d", "op", "--trace-file", str(path))
    assert r.status == 1 and r.out == ""
    assert one_line_error(r) == f"--trace-file {path}: no such directory: {path.parent}"
    assert not path.parent.exists() and not r.seen.tbs


def test_a_trace_file_naming_the_program_is_refused(tmp_path):
    elf = tmp_path / "counter.elf"
    elf.write_bytes(ELF.read_bytes())
    r = trace("-d", "op", "--trace-file", str(elf), program=elf)
    assert r.status == 1
    assert "is the guest program" in one_line_error(r)
    assert elf.read_bytes() == ELF.read_bytes()


def test_a_trace_file_that_fills_up_is_a_one_line_error():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    r = trace("-d", "out_asm", "--max-insns", "1", "--trace-file", "/dev/full")
    assert r.status == 1
    assert r.err.splitlines()[-1] == ("tcglab: error: --trace-file /dev/full: cannot write "
                                      "the trace: No space left on device")
