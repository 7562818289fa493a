"""The ``virt`` board (plugins/arm/platform.py) and ``tcglab run`` (core/cli/).

Without the ARM frontend: a fake register adapter (:class:`FakeRegs`) stands in for
``machine.frontend`` in the unit tests, and :class:`ToyVirt` (the toy ISA of
tests/toyisa.py plus the ARM frontend's platform contract: ``svc 0x123456`` and
``hvc #0`` words trap to the platform) runs whole programs through ``Machine.run`` and
``tcglab run``.  The last tests run the real workloads once the ARM frontend exists.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from attrs import define

import core.cli as cli
from core.config import load_config, parse_config, plugin_options
from core.cpu import EXCP, CpuLoopExit, CPURunState, GuestException
from core.errors import ConfigError, GuestError
from core.hookspecs import hookimpl
from core.loader import LoadedImage
from core.machine import Machine
from plugins.arm.platform import VIRT_RAM_BASE as RAM_BASE
from core.plugins import BUILTIN_PLUGINS, PluginManager
from plugins.arm.cpu import ArmExcp
from plugins.arm.platform import (PSCI_AFFINITY_INFO, PSCI_CPU_OFF, PSCI_CPU_ON,
                                  PSCI_CPU_SUSPEND, PSCI_FEATURES, PSCI_MIGRATE_INFO_TYPE,
                                  PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_VERSION,
                                  ArmPlatformOptions, VirtPlatform)
from tests import toyisa
from tests.support.toy import DATA, toy_machine
from tests.support.virt_board import M32, Board, FakeRegs, one_line

SVC_SEMIHOST = 0xEF12_3456  # svc 0x123456 (A32)
HVC_0 = 0xE140_0070  # hvc #0
WORKLOADS = Path(__file__).resolve().parents[2] / "plugins" / "arm" / "workloads"


@pytest.fixture
def board():
    return Board()


# --------------------------------------------------------------------------- boot


def test_boot_starts_vcpu0_at_the_entry_and_leaves_the_others_off(board):
    assert board.regs.started == [(0, RAM_BASE + 0x40, 0)]
    assert [c.run_state for c in board.m.cpus] == [CPURunState.RUNNING] + [CPURunState.OFF] * 3
    assert board.p.argv == ["prog.elf"]
    assert board.p.cmdline() == b"prog.elf"


def test_boot_joins_argv_with_spaces_as_qemu_append():
    b = Board(argv=["/x/counter.elf", "4", "1000"])
    assert b.p.cmdline() == b"/x/counter.elf 4 1000"


def test_regs_default_to_the_machines_frontend():
    m = toy_machine([("HALT",)])
    p = VirtPlatform(m, options=ArmPlatformOptions())
    assert p.regs is m.frontend
    fake = FakeRegs(m)
    p.regs = fake
    assert p.regs is fake


def test_platform_can_be_built_before_the_machine_has_vcpus():
    """The frontend builds it in its __init__: only the config may be read then."""
    class Early:
        config = load_config(None)

    p = VirtPlatform(Early())
    assert p.options.semihosting_root == ""


# --------------------------------------------------------------------------- options


def test_options_come_from_plugins_arm(tmp_path):
    config = parse_config({"plugins": {"arm": {"semihosting_root": str(tmp_path)}}}, "<t>")
    assert plugin_options(config, "arm", ArmPlatformOptions).semihosting_root == str(tmp_path)
    assert plugin_options(parse_config({}, "<t>"), "arm", ArmPlatformOptions) == \
        ArmPlatformOptions("")


def test_options_reject_unknown_keys_in_one_line():
    config = parse_config({"plugins": {"arm": {"semihosting_rot": "x"}}}, "t.toml")
    with pytest.raises(ConfigError) as err:
        plugin_options(config, "arm", ArmPlatformOptions)
    assert "did you mean 'semihosting_root'" in one_line(err.value)


def test_a_root_that_is_not_a_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        Board(root=str(tmp_path / "missing"))
    assert one_line(err.value) == \
        f'<test>: [plugins.arm] semihosting_root = "{tmp_path / "missing"}": does not exist'
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ConfigError) as err:
        Board(root=str(tmp_path / "file"))
    assert one_line(err.value) == \
        f'<test>: [plugins.arm] semihosting_root = "{tmp_path / "file"}": not a directory'


@pytest.mark.parametrize("root", ["~nosuchuser-tcglab/x", "~nosuchuser-tcglab"])
def test_a_root_with_an_unknown_user_is_a_config_error(root):
    with pytest.raises(ConfigError) as err:  # expanduser() raises RuntimeError
        Board(root=root)
    assert one_line(err.value) == (
        f'<test>: [plugins.arm] semihosting_root = "{root}": cannot expand '
        "'~nosuchuser-tcglab': no such user or home directory")


# --------------------------------------------------------------------------- PSCI


def test_psci_version_is_1_1(board):
    assert board.hvc(PSCI_VERSION) == 0x0001_0001


def test_psci_features(board):
    for fn in (PSCI_VERSION, PSCI_CPU_ON, PSCI_CPU_OFF, PSCI_SYSTEM_OFF, PSCI_AFFINITY_INFO,
               PSCI_FEATURES, PSCI_SYSTEM_RESET, PSCI_CPU_SUSPEND, PSCI_MIGRATE_INFO_TYPE):
        assert board.hvc(PSCI_FEATURES, fn) == 0, hex(fn)
    assert board.hvc(PSCI_FEATURES, 0x8400_0005) == -1  # MIGRATE
    assert board.hvc(PSCI_FEATURES, 0xC400_0003) == -1  # SMC64 from AArch32
    assert board.hvc(PSCI_FEATURES, 0x1234) == -1


def test_cpu_on_starts_the_target_with_the_context_in_r0(board):
    assert board.hvc(PSCI_CPU_ON, 2, RAM_BASE + 0x200, 0xC0FFEE) == 0
    target = board.m.cpus[2]
    assert target.run_state is CPURunState.RUNNING
    assert board.reg(15, cpu=2) == RAM_BASE + 0x200 and board.reg(0, cpu=2) == 0xC0FFEE
    assert board.regs.started[-1] == (2, RAM_BASE + 0x200, 0xC0FFEE)
    assert board.reg(15) == RAM_BASE + 0x104  # the caller goes on after the hvc
    assert board.m.cpus[1].run_state is CPURunState.OFF


def test_cpu_on_accepts_the_mpidr_with_bit_31(board):
    assert board.hvc(PSCI_CPU_ON, 0x8000_0003, RAM_BASE, 3) == 0
    assert board.m.cpus[3].run_state is CPURunState.RUNNING


@pytest.mark.parametrize("mpidr", [4, 0x8000_0004, 0x100, 0x8000_0100, 0xFF])
def test_cpu_on_an_absent_cpu_is_invalid_parameters(board, mpidr):
    assert board.hvc(PSCI_CPU_ON, mpidr, RAM_BASE, 0) == -2
    assert board.regs.started == [(0, RAM_BASE + 0x40, 0)]


def test_cpu_on_a_running_or_waiting_cpu_is_already_on(board):
    assert board.hvc(PSCI_CPU_ON, 0, RAM_BASE, 0) == -4  # itself
    assert board.hvc(PSCI_CPU_ON, 1, RAM_BASE, 0) == 0
    assert board.hvc(PSCI_CPU_ON, 1, RAM_BASE, 0) == -4
    board.m.cpus[1].run_state = CPURunState.HALTED  # WFI is still "on"
    assert board.hvc(PSCI_CPU_ON, 1, RAM_BASE, 0) == -4


def test_smc64_function_ids_from_aarch32_are_invalid_parameters(board):
    """QEMU: a 64-bit function id from an AArch32 caller is INVALID_PARAMETERS."""
    assert board.hvc(0xC400_0003, 1, RAM_BASE, 0) == -2
    assert board.m.cpus[1].run_state is CPURunState.OFF
    assert board.hvc(0xC400_0004, 1, 0) == -2
    assert board.hvc(0xC400_0077) == -1  # not a PSCI function at all


def test_cpu_off_powers_the_caller_off_and_cpu_on_restarts_it(board):
    assert board.hvc(PSCI_CPU_ON, 1, RAM_BASE + 0x300, 1) == 0
    board.regs.r[1][0] = PSCI_CPU_OFF
    assert board.p.handle_exception(board.m.cpus[1], CpuLoopExit(ArmExcp.HVC, info=0))
    assert board.m.cpus[1].run_state is CPURunState.OFF
    assert board.reg(0, cpu=1) == PSCI_CPU_OFF  # never returns: r0 untouched
    assert board.hvc(PSCI_AFFINITY_INFO, 1, 0) == 1
    assert board.hvc(PSCI_CPU_ON, 1, RAM_BASE + 0x400, 7) == 0
    assert board.reg(15, cpu=1) == RAM_BASE + 0x400 and board.reg(0, cpu=1) == 7


def test_cpu_on_and_off_drop_the_reservation(board, monkeypatch):
    dropped = []
    monkeypatch.setattr(board.m.policy, "clrex", lambda cpu: dropped.append(cpu.index))
    board.hvc(PSCI_CPU_ON, 2, RAM_BASE, 0)
    board.hvc(PSCI_CPU_OFF, cpu=2)
    assert dropped == [2, 2]


def test_affinity_info(board):
    assert board.hvc(PSCI_AFFINITY_INFO, 0, 0) == 0
    assert board.hvc(PSCI_AFFINITY_INFO, 0x8000_0001, 0) == 1
    board.m.cpus[1].run_state = CPURunState.HALTED
    assert board.hvc(PSCI_AFFINITY_INFO, 1, 0) == 0
    assert board.hvc(PSCI_AFFINITY_INFO, 9, 0) == -2
    assert board.hvc(PSCI_AFFINITY_INFO, 3, 1) == 0  # above level 0: always on


def test_system_off_stops_the_machine_with_status_0(board):
    board.hvc(PSCI_SYSTEM_OFF)
    m = board.m
    assert m.stop_requested and m.exit_status == 0 and m.exit_reason == "poweroff"
    assert board.cpu.run_state is CPURunState.OFF


def test_system_reset_is_a_power_off_with_its_own_reason(board):
    board.hvc(PSCI_SYSTEM_RESET)
    assert board.m.stop_requested and board.m.exit_status == 0
    assert board.m.exit_reason == "reset"


def test_cpu_suspend_is_wfi(board):
    assert board.hvc(PSCI_CPU_SUSPEND, 0) == 0
    assert board.cpu.run_state is CPURunState.HALTED
    board.cpu.run_state = CPURunState.RUNNING
    assert board.hvc(PSCI_CPU_SUSPEND, 0x0102_0000) == -2
    assert board.cpu.run_state is CPURunState.RUNNING


def test_migrate_info_type_says_no_trusted_os(board):
    assert board.hvc(PSCI_MIGRATE_INFO_TYPE) == 2


@pytest.mark.parametrize("fn", [0x8400_0005, 0x8400_0077, 0x1234, 0, 0xFFFF_FFFF])
def test_unknown_psci_functions_are_not_supported(board, fn):
    assert board.hvc(fn) == -1
    assert not board.m.stop_requested


def test_other_exceptions_are_left_to_the_machine(board):
    for excp in (ArmExcp.SVC, ArmExcp.UDEF, ArmExcp.PREFETCH_ABORT, EXCP.DATA_FAULT):
        assert board.p.handle_exception(board.cpu, GuestException(excp)) is False


# --------------------------------------------------------------------------- heap


def test_heap_is_the_largest_gap_after_the_image(board):
    end = RAM_BASE + (1 << 20)
    assert board.p.heap_region() == (RAM_BASE + 0x2000, end)


def test_heap_gap_between_segments_and_ties():
    # code at 0..0x1000, data at 0x80000..0x81000 of 1 MiB: the gap before the data wins
    b = Board(segments=((RAM_BASE, 0x1000, 0x1000), (RAM_BASE + 0x80000, 0x10, 0x1000)))
    assert b.p.heap_region() == (RAM_BASE + 0x1000, RAM_BASE + 0x80000)
    b = Board(segments=((RAM_BASE + 0x40000, 0x10, 0x10),))
    assert b.p.heap_region() == (RAM_BASE + 0x40010, RAM_BASE + (1 << 20))
    b = Board(segments=((RAM_BASE + 0x80000, 0x10, 0x80000),))  # a tie: the first gap
    assert b.p.heap_region() == (RAM_BASE, RAM_BASE + 0x80000)


# --------------------------------------------------------------------------- the toy "virt" machine


class ToyVirt(toyisa.ToyFrontend):
    """The toy ISA with the ARM frontend's platform contract.

    The A32 words of ``svc 0x123456`` and ``hvc #0`` are undefined toy instructions; this
    frontend turns them into ``ArmExcp.SEMIHOST`` / ``ArmExcp.HVC`` with the pc after them, as
    the ARM frontend raises them.
    """

    name = "toyvirt"

    def __init__(self, machine):
        super().__init__(machine)
        machine.platform = VirtPlatform(machine)

    def get_reg(self, cpu, n):
        return cpu.env[self.pc_slot if n == 15 else n]

    def set_reg(self, cpu, n, value):
        cpu.env[self.pc_slot if n == 15 else n] = value & M32

    def cpsr_read(self, cpu):
        return 0x1D3

    def cpsr_write(self, cpu, value, mask):
        pass

    def start_cpu(self, cpu, entry, r0):
        cpu.env[:16] = [0] * 16
        cpu.env[0] = r0
        cpu.env[self.pc_slot] = entry
        cpu.run_state = CPURunState.RUNNING

    def boot(self, image, argv):
        self.machine.platform.boot(image, argv)

    def handle_exception(self, cpu, exc):
        if exc.excp is toyisa.ToyExcp.UDEF:
            pc = self.get_pc(cpu)
            word = int.from_bytes(self.machine.memory.read_bytes(pc, 4), "little")
            kind = {SVC_SEMIHOST: ArmExcp.SEMIHOST, HVC_0: ArmExcp.HVC}.get(word)
            if kind is not None:
                self.set_pc(cpu, pc + 4)
                return self.machine.platform.handle_exception(cpu, CpuLoopExit(kind))
        return False


class _ToyVirtPlugin:
    """The plugin "arm": like the real one, its options are the platform's."""

    Options = ArmPlatformOptions

    @hookimpl
    def tcglab_register_frontends(self, registry):
        registry.add_frontend(ToyVirt)


def toy_plugins(disable=()) -> PluginManager:
    """The built-ins (but a real ARM frontend) plus ToyVirt as the plugin named "arm"."""
    builtins = {k: v for k, v in BUILTIN_PLUGINS.items() if k != "arm"}
    return PluginManager(disable, autoload=False, builtins=builtins,
                         extra=[("arm", _ToyVirtPlugin())])


def virt_machine(vcpus: int = 2, root: str = "", **schedule) -> Machine:
    data = {"machine": {"frontend": "toyvirt", "vcpus": vcpus, "ram_size": "1M"},
            "schedule": {"slice": 1, **schedule},
            "plugins": {"arm": {"semihosting_root": root}} if root else {}}
    return Machine(parse_config(data, "<test>"), toy_plugins())


SEC = RAM_BASE + 0x800  # the secondary's code
EXIT_BLOCK = DATA + 0x100


def smp_program() -> tuple[bytes, bytes]:
    """vCPU 0 starts vCPU 1 with context 0x55, waits for it to store the context at DATA,
    then exits with that value; vCPU 1 stores r0 and powers itself off."""
    li = toyisa.li
    main = [*li(0, PSCI_CPU_ON), *li(1, 0x8000_0001), *li(2, SEC), *li(3, 0x55), ("RAW", HVC_0),
            ("ADDI", 9, 0, 0),  # r9 = CPU_ON's result
            *li(5, DATA), "wait", ("LDW", 6, 5, 0), ("BZ", 6, "wait"),
            *li(1, EXIT_BLOCK), *li(4, 0x20026), ("STW", 4, 1, 0), ("STW", 6, 1, 4),
            *li(0, 0x20), ("RAW", SVC_SEMIHOST), ("HALT",)]
    secondary = [*li(5, DATA), ("STW", 0, 5, 0), *li(0, PSCI_CPU_OFF), ("RAW", HVC_0), ("HALT",)]
    return toyisa.assemble(main), toyisa.assemble(secondary)


def test_psci_and_semihosting_through_the_run_loop():
    m = virt_machine(vcpus=2)
    main, secondary = smp_program()
    m.memory.write_bytes(RAM_BASE, main)
    m.memory.write_bytes(SEC, secondary)
    m.frontend.boot(LoadedImage("smp", RAM_BASE, ((RAM_BASE, 0x1000, 0x1000),), {}), ["smp"])
    assert m.cpus[1].run_state is CPURunState.OFF
    result = m.run()
    assert (result.reason, result.exit_status) == ("exit", 0x55)
    assert m.cpus[0].env[9] == 0  # CPU_ON succeeded
    assert m.cpus[1].run_state is CPURunState.OFF
    assert m.platform.counters == {"psci_calls": 2, "semihosting_calls": 1}


def test_an_unknown_semihosting_call_stops_the_run_in_one_line():
    m = virt_machine(vcpus=1)
    m.memory.write_bytes(RAM_BASE, toyisa.assemble([*toyisa.li(0, 0x77), ("RAW", SVC_SEMIHOST)]))
    m.frontend.boot(LoadedImage("x", RAM_BASE, ((RAM_BASE, 0x100, 0x100),), {}), ["x"])
    with pytest.raises(GuestError) as err:
        m.run()
    assert one_line(err.value) == \
        f"vCPU 0: unsupported semihosting call 0x77 at pc={RAM_BASE + 8:#010x}"


# --------------------------------------------------------------------------- tcglab run


def _args(*argv: str):
    return cli.build_parser().parse_args(["run", *argv])


def test_run_flags_become_config_overrides(tmp_path):
    args = _args("--vcpus", "4", "--backend", "interp", "--strategy", "none", "--seed", "7",
                 "--slice", "16", "--schedule", "pct", "--max-insns", "0x1000",
                 "--semihosting-root", str(tmp_path), "prog.elf", "4", "1000")
    config = cli.run_config(args)
    assert config.machine.vcpus == 4 and config.machine.backend == "interp"
    assert config.machine.memory_policy == "none"
    s = config.schedule
    assert (s.seed, s.slice, s.policy, s.max_insns) == (7, 16, "pct", 0x1000)
    assert config.plugins.options["arm"]["semihosting_root"] == str(tmp_path)
    assert config.plugins.option_sources["arm"]["semihosting_root"] == \
        f"--semihosting-root {tmp_path}"
    assert (args.program, args.guest_args) == ("prog.elf", ["4", "1000"])


def test_run_flags_apply_after_config_and_set(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text('[machine]\nvcpus = 2\nram_size = "64M"\n[schedule]\nslice = 5\n'
                    '[plugins.arm]\nsemihosting_root = "/nowhere"\n')
    args = _args("--config", str(toml), "--set", "machine.vcpus=3", "--set", "schedule.seed=9",
                 "--vcpus", "8", "x.elf")
    config = cli.run_config(args)
    assert config.machine.vcpus == 8  # the flag wins over --set and the file
    assert config.machine.ram_size == 64 << 20 and config.schedule.slice == 5
    assert config.schedule.seed == 9
    assert config.plugins.options["arm"]["semihosting_root"] == "/nowhere"
    assert config.source == str(toml)
    # without run flags the config is exactly load_config's
    assert cli.run_config(_args("--config", str(toml), "x.elf")) == load_config(str(toml))


def test_guest_args_are_everything_after_the_program():
    args = _args("--stats", "prog.elf", "--vcpus", "2", "-x")
    assert args.stats and args.vcpus is None
    assert args.guest_args == ["--vcpus", "2", "-x"]


@pytest.mark.parametrize("argv, message", [
    (["--vcpus", "0"], "--vcpus 0: [machine] vcpus = 0: must be from 1 to 64"),
    (["--vcpus", "four"], '--vcpus four: [machine] vcpus = "four": expected an integer'),
    (["--schedule", "rr"], '--schedule rr: [schedule] policy = "rr": must be one of '
                           "round-robin, random, pct"),
    (["--slice", "-1"], "--slice -1: [schedule] slice = -1: must be >= 0"),
])
def test_bad_run_flags_are_one_line_errors_naming_the_flag(argv, message):
    with pytest.raises(ConfigError) as err:
        cli.run_config(_args(*argv, "x.elf"))
    assert one_line(err.value).startswith(message)


def test_a_plugin_option_flag_is_named_in_its_errors(tmp_path):
    @define(frozen=True)
    class NoRoot:
        """An options class without semihosting_root: it rejects the key."""

    config = cli.run_config(_args("--semihosting-root", str(tmp_path / "no"), "x.elf"))
    with pytest.raises(ConfigError) as err:
        plugin_options(config, "arm", NoRoot)
    assert one_line(err.value).startswith(
        f"--semihosting-root {tmp_path / 'no'}: [plugins.arm] unknown key 'semihosting_root'")


def test_run_without_a_frontend_still_says_so(capsys, monkeypatch):
    monkeypatch.setattr(cli, "PluginManager",
                        lambda disable=(): PluginManager(disable, autoload=False, builtins={}))
    assert cli.main(["run", "--vcpus", "2", "x.elf", "1"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("tcglab: error: no guest frontend is installed") and err.count("\n") == 1


def toy_elf(path: Path, segments: list[tuple[int, bytes, int]], entry: int = RAM_BASE) -> Path:
    """A minimal ELF32 (EM_ARM) with one PT_LOAD per ``(vaddr, bytes, memsz)``."""
    phoff, n = 52, len(segments)
    ehdr = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01", 2, 40, 1, entry, phoff, 0,
                       0x05000000, 52, 32, n, 40, 0, 0)
    offset, phdrs, payload = phoff + 32 * n, b"", b""
    for vaddr, data, memsz in segments:
        phdrs += struct.pack("<8I", 1, offset + len(payload), vaddr, vaddr, len(data),
                             max(memsz, len(data)), 7, 4)
        payload += data
    path.write_bytes(ehdr + phdrs + payload)
    return path


CMD_BLOCK, CMD_BUF = DATA, DATA + 0x40


def cmdline_program() -> bytes:
    """Prints its command line and a newline, then exits with status 5."""
    li = toyisa.li
    return toyisa.assemble([
        *li(1, CMD_BLOCK), *li(0, 0x15), ("RAW", SVC_SEMIHOST),
        *li(1, CMD_BUF), *li(0, 0x04), ("RAW", SVC_SEMIHOST),
        *li(1, CMD_BLOCK + 8), *li(0, 0x03), ("RAW", SVC_SEMIHOST),
        *li(1, EXIT_BLOCK), *li(0, 0x20), ("RAW", SVC_SEMIHOST), ("HALT",)])


@pytest.fixture
def toy_cli(monkeypatch, tmp_path):
    """``tcglab run`` with ToyVirt as the frontend; returns a runner of ``main``."""
    monkeypatch.setattr(cli, "PluginManager", toy_plugins)
    data = struct.pack("<2I", CMD_BUF, 0x100) + b"\n\0\0\0"
    data = data.ljust(0x100, b"\0") + struct.pack("<2I", 0x20026, 5)
    elf = toy_elf(tmp_path / "cmd.elf", [(RAM_BASE, cmdline_program(), 0x1000),
                                         (DATA, data, 0x1000)])

    def run(*argv: str, program: Path = elf) -> int:
        flags = [a for a in argv if not a.startswith("@")]
        guest = [a[1:] for a in argv if a.startswith("@")]
        return cli.main(["run", "--set", "machine.frontend=toyvirt", "--set", "machine.ram_size=1M",
                         *flags, str(program), *guest])
    return run


def test_cli_run_prints_guest_output_and_exits_with_its_status(toy_cli, capfd, tmp_path):
    assert toy_cli("@a", "@b c") == 5
    out, err = capfd.readouterr()
    assert out == f"{tmp_path / 'cmd.elf'} a b c\n"
    assert err == ""


def test_cli_run_json_and_stats(toy_cli, capfd, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    target = tmp_path / "out" / "r.json"
    target.parent.mkdir()
    assert toy_cli("--json", str(target), "--stats", "--vcpus", "2", "--slice", "3", "@x") == 5
    out, err = capfd.readouterr()
    assert out.endswith(" x\n")
    assert "vCPUs" in err and "memory policy exclusive-bitmap" in err and "reason=exit" in err
    result = json.loads(target.read_text())
    assert result["reason"] == "exit" and result["exit_status"] == 5 and result["exit_code"] == 5
    assert result["argv"] == [str(tmp_path / "cmd.elf"), "x"]
    assert result["insns"] > 0 and result["message"] == "" and result["wall_seconds"] >= 0
    assert len(result["stats"]["vcpus"]) == 2
    assert result["stats"]["platform"] == {"psci_calls": 0, "semihosting_calls": 4}
    assert result["config"]["machine"]["vcpus"] == 2
    assert result["config"]["schedule"]["slice"] == 3
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]  # no temporary left


def test_cli_run_deadlock_exits_3(toy_cli, capfd, tmp_path):
    elf = toy_elf(tmp_path / "halt.elf", [(RAM_BASE, toyisa.assemble([("HALT",)]), 0x100)])
    assert toy_cli("--json", str(tmp_path / "d.json"), program=elf) == cli.EXIT_STOPPED == 3
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("tcglab: deadlock: every vCPU is waiting")
    assert json.loads((tmp_path / "d.json").read_text())["reason"] == "deadlock"


def test_cli_run_all_off_exits_3(toy_cli, capfd, tmp_path):
    code = toyisa.assemble([*toyisa.li(0, PSCI_CPU_OFF), ("RAW", HVC_0)])
    elf = toy_elf(tmp_path / "off.elf", [(RAM_BASE, code, 0x100)])
    assert toy_cli(program=elf) == 3
    assert capfd.readouterr().err == \
        "tcglab: every vCPU powered itself off without the guest exiting\n"


def test_cli_run_system_off_exits_0_and_reset_notes_it(toy_cli, capfd, tmp_path):
    for fn, note in ((PSCI_SYSTEM_OFF, ""), (PSCI_SYSTEM_RESET, "system reset")):
        code = toyisa.assemble([*toyisa.li(0, fn), ("RAW", HVC_0), ("HALT",)])
        elf = toy_elf(tmp_path / "p.elf", [(RAM_BASE, code, 0x100)])
        assert toy_cli(program=elf) == 0
        err = capfd.readouterr().err
        assert (note in err and err.count("\n") == 1) if note else err == ""


def test_cli_run_max_insns_exits_4(toy_cli, capfd, tmp_path):
    elf = toy_elf(tmp_path / "loop.elf", [(RAM_BASE, toyisa.assemble(["l", ("B", "l")]), 0x100)])
    assert toy_cli("--max-insns", "100", program=elf) == cli.EXIT_MAX_INSNS == 4
    err = capfd.readouterr().err
    assert err == "tcglab: stopped after 100 guest instructions (max_insns = 100) before the " \
                  "guest exited\n"


def test_cli_run_guest_fault_is_one_line_and_still_writes_json(toy_cli, capfd, tmp_path):
    code = toyisa.assemble([*toyisa.li(1, 0x1000), ("LDW", 2, 1, 0)])
    elf = toy_elf(tmp_path / "f.elf", [(RAM_BASE, code, 0x100)])
    assert toy_cli("--json", str(tmp_path / "f.json"), program=elf) == 1
    out, err = capfd.readouterr()
    assert err.startswith("tcglab: error: vCPU 0: data abort") and err.count("\n") == 1
    result = json.loads((tmp_path / "f.json").read_text())
    assert result["reason"] == "error" and "data abort" in result["message"]


def test_cli_run_bad_program_is_one_line(toy_cli, capfd, tmp_path):
    (tmp_path / "junk.elf").write_bytes(b"junk")
    assert toy_cli(program=tmp_path / "junk.elf") == 2
    assert capfd.readouterr().err.startswith("tcglab: error: ")


def test_cli_run_json_to_an_unwritable_place_is_one_line(toy_cli, capfd, tmp_path):
    assert toy_cli("--json", str(tmp_path / "no" / "dir" / "r.json")) == 1
    err = capfd.readouterr().err
    assert err.startswith("tcglab: error: --json ") and "cannot write" in err
    assert err.count("\n") == 1


def test_cli_run_bad_semihosting_root_names_the_flag(toy_cli, capfd, tmp_path):
    assert toy_cli("--semihosting-root", str(tmp_path / "nope")) == 2
    assert capfd.readouterr().err == \
        f"tcglab: error: --semihosting-root {tmp_path / 'nope'}: [plugins.arm] " \
        f'semihosting_root = "{tmp_path / "nope"}": does not exist\n'


def test_cli_run_semihosting_root_flag_reaches_the_platform(toy_cli, capfd, tmp_path):
    """The guest opens "f.txt" under --semihosting-root, reads 5 bytes, prints them."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f.txt").write_bytes(b"hello")
    li = toyisa.li
    code = toyisa.assemble([
        *li(1, DATA), *li(0, 0x01), ("RAW", SVC_SEMIHOST),      # open
        *li(5, DATA + 0x20), ("STW", 0, 5, 0),                  # read block: fd
        *li(1, DATA + 0x20), *li(0, 0x06), ("RAW", SVC_SEMIHOST),
        *li(1, DATA + 0x40), *li(0, 0x04), ("RAW", SVC_SEMIHOST),
        *li(1, 0x20026), *li(0, 0x18), ("RAW", SVC_SEMIHOST)])
    data = struct.pack("<3I", DATA + 0x10, 0, 5).ljust(0x10, b"\0") + b"f.txt\0".ljust(0x10, b"\0")
    data += struct.pack("<3I", 0, DATA + 0x40, 5)
    elf = toy_elf(tmp_path / "open.elf", [(RAM_BASE, code, 0x100), (DATA, data, 0x100)])
    assert toy_cli("--semihosting-root", str(tmp_path / "root"), program=elf) == 0
    assert capfd.readouterr().out == "hello"
    assert toy_cli(program=elf) == 0  # no root: the open fails, nothing is read
    assert capfd.readouterr().out == ""


# --------------------------------------------------------------------------- real workloads


@pytest.mark.parametrize("vcpus", [1, 2, 4])
def test_counter_workload(vcpus, capfd):
    status = cli.main(["run", "--vcpus", str(vcpus), "--max-insns", "20000000",
                       str(WORKLOADS / "counter.elf")])
    out, err = capfd.readouterr()
    assert err == ""
    assert out == f"counter: cpus={vcpus} iters=1000 total={vcpus * 1000} OK\n"
    assert status == 0


def test_counter_workload_args_and_too_many_cpus(capfd):
    assert cli.main(["run", "--vcpus", "4", "--max-insns", "20000000",
                     str(WORKLOADS / "counter.elf"), "2", "500"]) == 0
    lines = [l for l in capfd.readouterr().out.splitlines() if not l.startswith("#")]
    expected = (WORKLOADS / "expected" / "counter-2of4.txt").read_text().splitlines()
    assert lines == expected[:-1] and expected[-1] == "exit=0"
    status = cli.main(["run", "--max-insns", "20000000", str(WORKLOADS / "counter.elf"), "4"])
    lines = [l for l in capfd.readouterr().out.splitlines() if not l.startswith("#")]
    expected = (WORKLOADS / "expected" / "counter-toomany-1.txt").read_text().splitlines()
    assert lines == expected[:-1] and f"exit={status}" == expected[-1]


def test_hello_newlib_workload(capfd):
    status = cli.main(["run", "--vcpus", "4", "--max-insns", "50000000",
                       str(WORKLOADS / "hello_newlib.elf"), "foo", "42", "bar"])
    out = capfd.readouterr().out
    expected = (WORKLOADS / "expected" / "hello_newlib-args-4.txt").read_text().splitlines()
    assert out.splitlines() == expected[:-1] and f"exit={status}" == expected[-1]


def test_semihosting_root_with_the_arm_frontend(capfd, tmp_path):
    status = cli.main(["run", "--semihosting-root", str(tmp_path), "--max-insns", "20000000",
                       str(WORKLOADS / "counter.elf"), "1", "10"])
    out, err = capfd.readouterr()
    assert (status, err) == (0, "")
    assert out == "counter: cpus=1 iters=10 total=10 OK\n"
