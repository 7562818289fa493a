"""The machine: RAM, vCPUs, the chosen frontend/backend/memory policy, and the run.

Built from a :class:`~core.config.Config` and the plugin registry; every component is
looked up by name, so an unknown name is a one-line error listing what is registered.
:meth:`Machine.run` interleaves the vCPUs slice by slice under the deterministic
scheduler until the guest exits, powers off, hits ``max_insns``, or deadlocks.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any

from .config import Config, plugin_options
from .cpu import EXIT_REQUEST_STOP, CPURunState, CPUState, cpu_exit
from .errors import ComponentCrash, ConfigError, TcglabError, did_you_mean
from .exec import cpu_exec
from .frontend import Frontend
from .memory_policy import NoOptions
from .outcome import RunReason, RunResult
from .plugins import PluginManager
from .scheduler import Scheduler
from .softmmu import SoftMMU, SystemMemory
from .translator import Translator

if TYPE_CHECKING:
    from .loader import LoadedImage


def guest_elf(frontend_cls: type) -> tuple[str, int]:
    """The ELF ``(e_machine, class)`` a frontend class runs (the registry has checked
    that it names its ``elf_machine``; the class defaults to 32)."""
    return frontend_cls.elf_machine, getattr(frontend_cls, "elf_class", Frontend.elf_class)


# generation-1 collections between full ones while a machine runs (CPython's default: 10)
FULL_COLLECTION_EVERY = 1000


class Machine:
    """One emulated machine, ready to :meth:`run`."""

    def __init__(self, config: Config | None = None, plugins: PluginManager | None = None):
        self.config = config = config or Config()
        self.plugins = plugins or PluginManager(config.plugins.disable)
        self.registry = reg = self.plugins.registry
        src = config.source
        fe_cls = reg.frontend(config.machine.frontend, f"{src}: [machine] frontend")
        be_cls = reg.backend(config.machine.backend, f"{src}: [machine] backend")
        pol_cls = reg.memory_policy(config.machine.memory_policy, f"{src}: [machine] memory_policy")
        self._check_option_tables()

        # the guest's board, as its frontend declares it: where RAM is, which ELF it runs
        elf_machine, elf_class = guest_elf(fe_cls)
        self.memory = SystemMemory(elf_machine, elf_class)
        self.ram = self.memory.add_ram("ram", fe_cls.ram_base,
                                       config.machine.ram_size)
        self.platform: Any = None  # set by a platform plugin/frontend (PSCI, semihosting)
        self._stop_requested = False  # no vCPU to tell yet: set directly, not by the setter
        self.exit_status = 0
        self.exit_reason: RunReason | None = None
        self.exclusive_cpu: CPUState | None = None
        self.current_cpu: CPUState | None = None
        self.insns = 0
        try:  # the components are plugins' code: what they raise is said in one line
            self.frontend = fe_cls(self)
            self.cpus = [CPUState(self, i, self.frontend.layout)
                         for i in range(config.machine.vcpus)]
            self.policy = pol_cls(self, plugin_options(config, pol_cls.name, pol_cls.Options))
            for cpu in self.cpus:
                cpu.mmu = SoftMMU(cpu, self)
                self.frontend.reset_cpu(cpu)
            self.backend = be_cls(self, plugin_options(config, be_cls.name, be_cls.Options))
            self.translator = Translator(self)
        except TcglabError:
            raise
        except Exception as exc:
            raise self.crash(exc) from exc
        self.memory.on_code_write = self.translator.invalidate_page
        self.plugins.call_event("tcglab_machine_created", machine=self)

    def _check_option_tables(self) -> None:
        """Validate every ``[plugins.<name>]`` table, not just the selected components'.

        A table belongs to a registered component (its class's ``Options``) or to a
        loaded plugin (its module's ``Options``); one with no options must be empty.
        """
        reg = self.registry
        owners: dict[str, type] = {}
        for table in (reg.frontends, reg.backends, reg.memory_policies):
            for name, cls, _plugin in table:
                owners[name] = getattr(cls, "Options", NoOptions)
        for name in self.plugins.plugin_names():
            owners.setdefault(name, getattr(self.plugins.get_plugin(name), "Options", NoOptions))
        for name in self.config.plugins.options:
            if name not in owners:
                raise ConfigError(
                    f"{self.config.source}: unknown plugin table [plugins.{name}]"
                    f"{did_you_mean(name, owners)}; known: {', '.join(sorted(owners))} "
                    "(a plugin providing it may not be installed, or may be disabled)")
            plugin_options(self.config, name, owners[name])

    # ---- loading a program ---------------------------------------------------------------

    def load_elf(self, path: Any) -> "LoadedImage":
        """Load the guest ELF ``path`` into RAM, checked against the frontend's
        ``elf_machine``/``elf_class``.  An ELF of another guest is a one-line error that
        names the registered frontends that do run it."""
        from .loader import LoaderError, elf_identity, load_elf

        try:
            return load_elf(path, self.memory)
        except LoaderError as exc:
            identity = elf_identity(path)
            if identity is None or identity[0] == self.memory.elf_machine:
                raise
            able = [name for name, cls, _p in self.registry.frontends
                    if guest_elf(cls) == identity]
            hint = (f" (frontend {' or '.join(repr(n) for n in able)} runs it: "
                    f"set [machine] frontend)") if able else \
                " (no registered frontend runs it; a plugin may not be installed)"
            raise LoaderError(f"{exc}{hint}") from None

    def boot(self, path: Any, argv: list[str]) -> "LoadedImage":
        """Load ``path`` (:meth:`load_elf`) and reset the board for it with ``argv``
        (``argv[0]`` is the program name the guest sees); returns the loaded image."""
        image = self.load_elf(path)
        self.frontend.boot(image, [str(a) for a in argv])
        return image

    # ---- control used by helpers and platforms ------------------------------------------

    @property
    def stop_requested(self) -> bool:
        """The run was asked to stop (by :meth:`request_exit`, or set directly)."""
        return self._stop_requested

    @stop_requested.setter
    def stop_requested(self, value: bool) -> None:
        # every vCPU leaves its TBs at its next TB boundary (as QEMU kicks them all)
        self._stop_requested = value
        if value:
            for cpu in self.cpus:
                cpu_exit(cpu, EXIT_REQUEST_STOP)

    def request_exit(self, status: int = 0,
                     reason: RunReason | str = RunReason.EXIT) -> None:
        """Stop the run after the current instruction with ``status`` as the guest's exit.

        ``reason`` is checked here, where the platform asks, so that a reason no run ends
        for is a one-line error at the call rather than after the run.
        """
        self.exit_reason = RunReason.parse(reason)
        self.stop_requested = True
        self.exit_status = status

    # ---- the run ------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run until the guest exits, every vCPU is off, ``max_insns``, or deadlock.

        While it runs, the collector walks the whole heap (modules, the loaded image,
        every machine still alive) a hundred times less often: a run allocates TBs, IR
        and compiled code at a high rate, and each full collection would otherwise walk
        all of that again (about 5% of a short pyjit run).  Young objects are collected as
        usual, and the caller's thresholds come back however the run ends.  (Freezing the
        older heap instead hid the garbage of earlier machines from every collection
        that happened during a run, which is when they happen: a test session grew to
        16 GB.)

        An exception of a plugin's own (not a :class:`~core.errors.TcglabError`) raised
        while the machine runs, on a hot path pluggy does not stand on, leaves as a
        one-line :class:`~core.errors.ComponentCrash` naming the plugin (see
        :meth:`crash`); the original is its ``__cause__``.
        """
        young, middle, full = gc.get_threshold()
        gc.set_threshold(young, middle, max(full, FULL_COLLECTION_EVERY))
        try:
            return self._run()
        except TcglabError:
            raise
        except Exception as exc:
            raise self.crash(exc) from exc
        finally:
            gc.set_threshold(young, middle, full)

    def crash(self, exc: Exception) -> ComponentCrash:
        """``exc`` as one line: the plugin whose code raised it (the innermost frame in a
        plugin's modules), where, and which vCPU was running (if one was)."""
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        who, where = "tcglab itself (not a plugin: a bug to report)", ""
        for frame in reversed(frames):  # innermost first
            plugin = self.plugins.plugin_of_module(frame.f_globals.get("__name__") or "")
            if plugin is not None:
                who = f"plugin {plugin!r}"
                where = (f" in {frame.f_code.co_name} ({frame.f_code.co_filename}:"
                         f"{frame.f_lineno})")
                break
        if not where and frames:
            last = frames[-1]
            where = f" in {last.f_code.co_name} ({last.f_code.co_filename}:{last.f_lineno})"
        cpu = self.current_cpu
        running = f" while vCPU {cpu.index} ran" if cpu is not None else ""
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        return ComponentCrash(f"{who} raised {text}{where}{running}")

    def _run(self) -> RunResult:
        sched_cfg = self.config.schedule
        scheduler = Scheduler(sched_cfg, len(self.cpus))
        max_insns = sched_cfg.max_insns
        started = time.perf_counter()
        reason, message = "", ""
        while True:
            if self._stop_requested:
                reason = self.exit_reason or RunReason.EXIT
                break
            if max_insns and self.insns >= max_insns:
                reason = RunReason.MAX_INSNS
                break
            runnable = [c.index for c in self.cpus if c.run_state is CPURunState.RUNNING]
            if not runnable:
                waiting = [c for c in self.cpus if c.run_state is CPURunState.HALTED]
                if not waiting:
                    reason = RunReason.ALL_OFF
                else:
                    reason = RunReason.DEADLOCK
                    message = "deadlock: every vCPU is waiting and nothing can wake one (" + \
                        ", ".join(f"vCPU {c.index} halted at pc={self.frontend.get_pc(c):#010x}"
                                  for c in waiting) + ")"
                break
            cpu = self.cpus[scheduler.pick(runnable)]
            budget = scheduler.slice_len()
            if max_insns:
                budget = min(budget, max_insns - self.insns)
            self.current_cpu = cpu
            cpu_exec(self, cpu, budget)  # adds to self.insns
        self.current_cpu = None
        result = RunResult(reason, self.exit_status, self.insns, message, self.stats(),
                           time.perf_counter() - started)
        self.plugins.call_event("tcglab_run_finished", machine=self, result=result)
        return result

    def stats(self) -> dict[str, Any]:
        """Every counter: per vCPU, the policy's per vCPU and in total, the translator's."""
        return {
            "insns": self.insns,
            "vcpus": [c.stats.as_dict() for c in self.cpus],
            "policy": {
                "name": self.policy.name,
                "per_vcpu": [s.as_dict() for s in self.policy.stats],
                "total": self.policy.totals(),
            },
            "translator": {"tbs": self.translator.translated,
                           "invalidated": self.translator.invalidated},
        }
