"""``tcglab trace``: QEMU's ``-d in_asm,op,out_asm`` log, one entry per translated TB.

A :class:`TBLog` is a plugin object implementing ``tcglab_tb_translated``, a coarse
event: once per translation, never per execution, and a run without a listener never
calls pluggy per TB at all.  Each entry has the shape of QEMU's log::

    ----------------
    IN: main+0x8
    0x40000208:  e3a00001  mov r0, #1

    OP: TB pc=0x40000208 flags=0x13 insns=1 (as compiled, after IR passes: none)
     ---- 40000208
     movi_i32 r0,$0x1
     ...

    OUT: [backend=interp]
    interp: 6 ops, 0 locals

The IR logged is what the backend compiled: the translator runs its IR passes before
``compile`` and announces the TB after it, so ``op`` is QEMU's ``op_opt`` when a pass is
installed (the header names the passes).
"""

from __future__ import annotations

import bisect
import contextlib
import os
import sys
from typing import IO, TYPE_CHECKING, Iterable, Iterator

from .errors import TcglabError, did_you_mean
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .ir import TranslationBlock
    from .loader import LoadedImage
    from .machine import Machine
    from .plugins import PluginManager

#: What ``-d`` takes, in the order the sections of an entry appear.
LOG_ITEMS: dict[str, str] = {
    "in_asm": "the guest instructions of each TB, disassembled by the frontend",
    "op": "the TB's IR as the backend compiled it (after the translator's IR passes)",
    "out_asm": "the backend's output for the TB (Backend.describe)",
}

SEPARATOR = "-" * 16  # QEMU's line between TBs

#: The name the trace's plugin object is registered under.
PLUGIN_NAME = "tcglab-trace"


class TraceError(TcglabError):
    """A bad ``-d`` item list (an option error: exit status 2, as for the run flags)."""

    exit_code = 2


def parse_log_items(values: Iterable[str] | None, guest_args: Iterable[str] = ()
                    ) -> frozenset[str]:
    """The items of every ``-d A,B`` given; an unknown or missing item is a TraceError.

    ``guest_args`` only improve the message when ``-d`` is missing because it was
    written after PROGRAM, where it belongs to the guest.
    """
    allowed = ", ".join(LOG_ITEMS)
    if not values:
        if any(a.startswith(("-d", "--trace-file")) for a in guest_args):
            raise TraceError("-d and --trace-file go before PROGRAM (everything after it is "
                             "passed to the guest): tcglab trace -d in_asm,op PROGRAM ARGS...")
        raise TraceError(f"-d ITEMS is required: a comma-separated list of {allowed}")
    items: set[str] = set()
    for value in values:
        for item in (part.strip() for part in value.split(",")):
            if item not in LOG_ITEMS:
                raise TraceError(f"-d {value}: unknown log item {item!r}"
                                 f"{did_you_mean(item, LOG_ITEMS)}; allowed: {allowed}")
            items.add(item)
    return frozenset(items)


def check_trace_file(path: str, program: str) -> None:
    """Fail before the run if ``path`` cannot be written, or is the guest program."""
    from .output import check_writable

    check_writable(path, "--trace-file")
    with contextlib.suppress(OSError):
        if os.path.samefile(path, program):
            raise TcglabError(f"--trace-file {path}: is the guest program {program}; "
                              "name another file")


@contextlib.contextmanager
def open_log(path: str | None) -> Iterator[IO[str]]:
    """``path`` opened for writing (truncated), or stderr when it is None."""
    if path is None:
        yield sys.stderr
        return
    try:
        f = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise TcglabError(f"--trace-file {path}: cannot write: {exc.strerror or exc}") from None
    try:
        yield f
    except BaseException:
        with contextlib.suppress(OSError):  # the error already on its way wins
            f.close()
        raise
    try:
        f.close()  # flushes the tail of the log: a full disk shows here
    except OSError as exc:
        raise TcglabError(f"--trace-file {path}: cannot write the trace: "
                          f"{exc.strerror or exc}") from None


# --------------------------------------------------------------------------- one entry


def guest_disas(machine: "Machine", tb: "TranslationBlock") -> list[tuple[int, int, str]]:
    """``tb.disas``: ``(pc, encoding, text)`` per guest instruction, filled if empty.

    A frontend may fill ``tb.disas`` while it translates; otherwise each instruction's
    bytes are what lies between its pc and the next one's (``tb.insn_pcs``, ``tb.size``),
    read little-endian as the frontend's ``ld_code`` reads them, and its text is the
    frontend's ``disas(pc, encoding)``.  The bytes come through the debugger path
    (``SystemMemory.read_bytes``), not a vCPU's TLB: a trace must not change the
    counters of the run it describes, and the translator has just flushed the code page
    from every TLB.
    """
    if tb.disas or not tb.insn_pcs:
        return tb.disas
    for pc, size in zip(tb.insn_pcs, _insn_sizes(tb)):
        data = machine.memory.read_bytes(pc, size)
        encoding = int.from_bytes(data, "little")
        tb.disas.append((pc, encoding, machine.frontend.disas(pc, encoding)))
    return tb.disas


class SymbolTable:
    """Guest addresses to ``name`` or ``name+0xoff`` (gdb's ``<fn+off>``), per segment."""

    def __init__(self, image: "LoadedImage | None" = None):
        self.segments: list[tuple[int, int]] = []
        self.addrs: list[int] = []
        self.names: list[str] = []
        if image is None:
            return
        self.segments = [(vaddr, vaddr + memsz) for vaddr, _f, memsz in image.segments]
        best: dict[int, str] = {}
        for name, value in image.symbols.items():
            if name.startswith("$") or self._segment(value) is None:
                continue  # ARM mapping symbols ($a, $d), file symbols and absolutes
            # several names at one address: prefer the public one, then the first by name
            if value not in best or (name.startswith("_"), name) < \
                    (best[value].startswith("_"), best[value]):
                best[value] = name
        self.addrs = sorted(best)
        self.names = [best[a] for a in self.addrs]

    def _segment(self, addr: int) -> tuple[int, int] | None:
        for seg in self.segments:
            if seg[0] <= addr < seg[1]:
                return seg
        return None

    def lookup(self, addr: int) -> str:
        """The symbol at or before ``addr`` in its segment, or ``""``."""
        i = bisect.bisect_right(self.addrs, addr) - 1
        seg = self._segment(addr)
        if i < 0 or seg is None or self.addrs[i] < seg[0]:
            return ""
        off = addr - self.addrs[i]
        return self.names[i] + (f"+{off:#x}" if off else "")


def format_tb(machine: "Machine", tb: "TranslationBlock", items: frozenset[str],
              symbols: SymbolTable | None = None) -> str:
    """The log entry for ``tb``: a separator, then each of ``items``' sections."""
    lines = [SEPARATOR]
    if "in_asm" in items:
        lines.append(f"IN: {symbols.lookup(tb.pc) if symbols else ''}")
        sizes = dict(zip(tb.insn_pcs, _insn_sizes(tb)))
        for pc, encoding, text in guest_disas(machine, tb):
            lines.append(f"{pc:#010x}:  {encoding:0{2 * sizes.get(pc, 4)}x}  {text}")
        lines.append("")
    if "op" in items:
        passes = ", ".join(getattr(p, "__name__", type(p).__name__)
                           for p in machine.translator.passes) or "none"
        head, _, body = tb.dump().partition("\n")
        lines.append(f"{head} (as compiled, after IR passes: {passes})")
        if body:
            lines.append(body)
        lines.append("")
    if "out_asm" in items:
        backend = machine.backend
        lines.append(f"OUT: [backend={backend.name}]")
        text = backend.describe(tb).rstrip("\n")
        lines.append(text or f"(backend {backend.name!r} does not describe its code)")
        lines.append("")
    return "\n".join(lines) + "\n"


def _insn_sizes(tb: "TranslationBlock") -> list[int]:
    """Bytes of each guest instruction of ``tb``: from its pc to the next one's."""
    ends = [*tb.insn_pcs[1:], tb.pc + tb.size]
    return [end - pc for pc, end in zip(tb.insn_pcs, ends)]


# --------------------------------------------------------------------------- the plugin


class TBLog:
    """Writes :func:`format_tb` of every translated TB to a stream (a plugin object).

    Register it with ``PluginManager(extra=[(PLUGIN_NAME, log)])`` before the machine is
    built (the translator asks once whether anyone listens), then :meth:`start` it with
    the stream once the program is loaded.
    """

    def __init__(self, items: frozenset[str]):
        self.items = items
        self.stream: IO[str] | None = None
        self.where = "stderr"
        self.symbols = SymbolTable()

    def start(self, stream: IO[str], where: str, image: "LoadedImage | None" = None) -> None:
        self.stream = stream
        self.where = where
        self.symbols = SymbolTable(image)

    @hookimpl
    def tcglab_tb_translated(self, machine: "Machine", tb: "TranslationBlock") -> None:
        if self.stream is None:
            return
        text = format_tb(machine, tb, self.items, self.symbols)
        try:
            self.stream.write(text)
        except OSError as exc:
            raise TcglabError(f"{self.where}: cannot write the trace: "
                              f"{exc.strerror or exc}") from None


def check_registered(pm: "PluginManager", log: TBLog) -> None:
    """Fail if ``[plugins] disable`` kept ``log`` from being registered."""
    if pm.get_plugin(PLUGIN_NAME) is not log:
        raise TraceError(f"[plugins] disable lists {PLUGIN_NAME!r}, the plugin that writes "
                         "the trace; remove it to trace")


__all__ = ["LOG_ITEMS", "PLUGIN_NAME", "SymbolTable", "TBLog", "TraceError", "check_trace_file",
           "format_tb", "guest_disas", "open_log", "parse_log_items", "check_registered"]
