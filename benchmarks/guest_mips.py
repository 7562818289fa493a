#!/usr/bin/env python3
"""Guest MIPS of tcglab's backends beside unicorn and qemu-system-arm, and the cost of
each atomic strategy, measured in one run on one machine and reported as ratios.

    python3 benchmarks/guest_mips.py [--quick] [--out DIR] [--readme README.md]

Engines, on the same ELF with the same arguments:

* every tcglab backend that is registered and can be built here (interp, pyjit,
  arm-host...);
* unicorn running the ELF natively, with a Python code hook, and with a Python
  memory-write hook (see ``unicorn_native.py``; single-CPU programs only);
* qemu-system-arm when installed: whole-process wall time, boot included, so its figure
  is a lower bound.

compute runs at 2 rounds (2.8M instructions, where translating and compiling still weigh
in) and at 10 rounds (14M, mostly steady state).  Runs use the default slice: none for
the one-vCPU compute, 64 instructions between counter's four vCPUs.

Guest MIPS = guest instructions / wall seconds of the run (machine construction and ELF
loading excluded for tcglab and unicorn).  The instruction count of an engine that does
not count (unicorn without a code hook, qemu) is tcglab's count for the same program,
which is exact for the single-CPU workloads.  Strategy overheads run compute (no
atomics: the cost of being ready for them) and counter at 4 vCPUs (an LL/SC loop) under
every strategy on the fastest tcglab backend, relative to ``none``.

Writes ``guest_mips.json`` and ``guest_mips.md`` to ``--out`` (default
``benchmarks/results``), and with ``--readme`` replaces the README's table between the
``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->`` markers.  ``--quick``
runs small arguments (the test suite runs it to prove the script works; its numbers
mean little).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from core.compare import RunSpec, run_one  # noqa: E402
from core.errors import TcglabError  # noqa: E402
from core.plugins import PluginManager  # noqa: E402

WORKLOADS = ROOT / "plugins" / "arm" / "workloads"
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"

#: (workload, vCPUs, full-mode args, quick-mode args or None to leave it out of --quick)
# (counter runs long enough, 157K instructions at 4 4000, for its time to be the loop's,
# not translation's or the clock's)
ENGINE_CASES = [("compute", 1, ["2"], ["1"]), ("compute", 1, ["10"], None),
                ("counter", 4, ["4", "4000"], ["4", "20"])]
STRATEGY_CASES = [("compute", 1, ["1"], None), ("counter", 4, ["4", "2000"], ["4", "10"])]
# the default slice: 64 instructions between several vCPUs, none for a lone one
SCHEDULE = {"policy": "round-robin"}


def machine_facts() -> dict:
    """What the numbers came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
             "implementation": platform.python_implementation(), "os": platform.platform()}
    try:
        import unicorn
        facts["unicorn"] = unicorn.__version__
    except ImportError:
        pass
    qemu = shutil.which("qemu-system-arm")
    if qemu:
        first = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
        facts["qemu"] = first.splitlines()[0] if first else "unknown"
    return facts


def usable_backends() -> list[str]:
    """Registered backends that can be built on this machine, interp first."""
    from core.config import parse_config
    from core.machine import Machine

    pm = PluginManager(autoload=False)
    names = sorted(pm.registry.backends.items, key=lambda n: (n != "interp", n))
    usable = []
    for name in names:
        try:
            Machine(parse_config({"machine": {"frontend": "arm", "backend": name}}, "<bench>"), pm)
        except TcglabError as exc:
            print(f"  backend {name}: skipped ({exc})", file=sys.stderr)
            continue
        usable.append(name)
    return usable


def tcglab_run(workload: str, vcpus: int, args: list[str], backend: str,
               strategy: str = "exclusive-bitmap") -> dict:
    elf = WORKLOADS / f"{workload}.elf"
    spec = RunSpec(0, workload, str(elf), tuple(args), str(elf), strategy, 0, {
        "machine": {"frontend": "arm", "backend": backend, "vcpus": vcpus,
                    "memory_policy": strategy},
        "schedule": dict(SCHEDULE)}, "<benchmark>")
    record = run_one(spec)
    if record["reason"] not in ("exit", "poweroff"):
        raise RuntimeError(f"{workload} on {backend} under {strategy}: {record['reason']}: "
                           f"{record['message']}")
    return record


def unicorn_run(workload: str, args: list[str], mode: str) -> tuple[float, str]:
    from unicorn_native import UnicornRun

    elf = WORKLOADS / f"{workload}.elf"
    run = UnicornRun(elf, [str(elf), *args])
    seconds = run.run(mode)
    return seconds, run.output.decode(errors="replace")


def qemu_run(workload: str, vcpus: int, args: list[str]) -> float | None:
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        return None
    elf = WORKLOADS / f"{workload}.elf"
    cmd = [qemu, "-M", "virt", "-cpu", "cortex-a15", "-smp", str(vcpus), "-nographic",
           "-nic", "none", "-semihosting", "-kernel", str(elf), "-append", " ".join(args)]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"qemu-system-arm {workload} exited {done.returncode}")
    return seconds


def row(engine: str, workload: str, vcpus: int, args: list[str], insns: int,
        seconds: float, note: str = "") -> dict:
    return {"engine": engine, "workload": workload, "vcpus": vcpus, "args": args,
            "insns": insns, "seconds": round(seconds, 6),
            "mips": insns / seconds / 1e6 if seconds > 0 else None, "note": note}


def cases(table: list[tuple], quick: bool):
    """(workload, vCPUs, args) of each case of ``table`` that runs in this mode."""
    for workload, vcpus, full_args, quick_args in table:
        args = quick_args if quick else full_args
        if args is not None:
            yield workload, vcpus, args


def measure_engines(backends: list[str], quick: bool) -> list[dict]:
    rows = []
    for workload, vcpus, args in cases(ENGINE_CASES, quick):
        reference = None
        for backend in backends:
            print(f"  {workload} x{vcpus} on tcglab {backend}", file=sys.stderr)
            rec = tcglab_run(workload, vcpus, args, backend)
            if reference is None:
                reference = rec
            elif rec["output"] != reference["output"]:
                raise RuntimeError(f"{workload} on {backend} printed {rec['output']!r}, "
                                   f"interp {reference['output']!r}")
            rows.append(row(f"tcglab {backend}", workload, vcpus, args, rec["insns"],
                            rec["wall_seconds"]))
        insns = reference["insns"]
        if vcpus == 1:
            for mode in ("native", "code-hook", "write-hook"):
                print(f"  {workload} on unicorn {mode}", file=sys.stderr)
                seconds, output = unicorn_run(workload, args, mode)
                if output.splitlines()[:1] != [reference["output"]]:
                    raise RuntimeError(f"{workload} on unicorn printed {output[:80]!r}")
                rows.append(row(f"unicorn {mode}", workload, vcpus, args, insns, seconds,
                                "instructions counted by tcglab"))
            seconds = qemu_run(workload, vcpus, args)
            if seconds is not None:
                rows.append(row("qemu-system-arm", workload, vcpus, args, insns, seconds,
                                "whole process, boot included"))
    for r in rows:
        base = next(b for b in rows if (b["workload"], b["args"]) == (r["workload"], r["args"])
                    and b["engine"] == "tcglab interp")
        r["vs_interp"] = round(r["mips"] / base["mips"], 2) if r["mips"] and base["mips"] else None
    return rows


def measure_strategies(backend: str, strategies: list[str], quick: bool) -> list[dict]:
    rows = []
    for workload, vcpus, args in cases(STRATEGY_CASES, quick):
        for strategy in strategies:
            print(f"  {workload} x{vcpus} under {strategy}", file=sys.stderr)
            rec = tcglab_run(workload, vcpus, args, backend, strategy)
            rows.append({"workload": workload, "vcpus": vcpus, "args": args, "backend": backend,
                         "strategy": strategy, "insns": rec["insns"],
                         "seconds": round(rec["wall_seconds"], 6), "passed": rec["passed"],
                         "slow_stores": rec["machine"]["slow_stores"]})
    for r in rows:
        base = next(b for b in rows if b["workload"] == r["workload"] and b["strategy"] == "none")
        r["time_vs_none"] = round(r["seconds"] / base["seconds"], 2) if base["seconds"] else None
        r["insns_vs_none"] = round(r["insns"] / base["insns"], 2) if base["insns"] else None
    return rows


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"Measured {results['date']} ({results['mode']} mode) on {m['cpu']}, "
             f"{m['cores']} cores, {m['implementation']} {m['python']}.", "",
             "| engine | workload | vCPUs | guest MIPS | × interp |",
             "|---|---|---:|---:|---:|"]
    for r in results["engines"]:
        lines.append(f"| {r['engine']} | {r['workload']} {' '.join(r['args'])} | {r['vcpus']} "
                     f"| {r['mips']:.3f} | {r['vs_interp']:.2f} |")
    lines += ["", f"Strategy cost on tcglab {results['strategies'][0]['backend']} "
              "(wall time and guest instructions relative to `none`):", "",
              "| workload | strategy | time × none | insns × none | slow stores | passed |",
              "|---|---|---:|---:|---:|---|"]
    for r in results["strategies"]:
        lines.append(f"| {r['workload']} {' '.join(r['args'])} ({r['vcpus']} vCPUs) "
                     f"| {r['strategy']} | {r['time_vs_none']:.2f} | {r['insns_vs_none']:.2f} "
                     f"| {r['slow_stores']} | {'yes' if r['passed'] else 'no'} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small arguments (proves it works)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--readme", type=Path, help="README whose benchmark table to replace")
    args = p.parse_args(argv)
    if not args.out.is_dir():
        p.error(f"--out {args.out}: no such directory")
    if args.readme:  # checked before the measurements, not after
        try:
            text = args.readme.read_text()
        except OSError as exc:
            p.error(f"--readme {args.readme}: {exc.strerror}")
        if BEGIN not in text or END not in text:
            p.error(f"--readme {args.readme}: no {BEGIN} ... {END} markers to put the table "
                    "between")
    backends = usable_backends()
    strategies = sorted(PluginManager(autoload=False).registry.memory_policies.items)
    fastest = next((b for b in ("pyjit", "arm-host") if b in backends), "interp")
    results = {"date": datetime.date.today().isoformat(),
               "mode": "quick" if args.quick else "full", "machine": machine_facts()}
    results["engines"] = measure_engines(backends, args.quick)
    results["strategies"] = measure_strategies(fastest, strategies, args.quick)
    table = markdown(results)
    (args.out / "guest_mips.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "guest_mips.md").write_text(table)
    if args.readme:
        update_readme(args.readme, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
