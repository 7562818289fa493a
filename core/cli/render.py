"""What the commands show on the terminal: tables (rich) and compare's progress bar.

Kept apart from the commands so that rich is imported only when something is drawn.
"""

from __future__ import annotations

import sys
from typing import Any


def print_plugins(listing: dict[str, Any]) -> None:
    """One table per kind of component, with the plugin that provides each."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for kind in ("frontends", "backends", "memory_policies", "workloads", "ops"):
        table = Table(title=kind.replace("_", " "), title_justify="left")
        table.add_column("name")
        table.add_column("plugin")
        table.add_column("description")
        for row in listing[kind]:
            table.add_row(row["name"], row["plugin"], row["description"])
        if not listing[kind]:
            table.add_row("(none installed)", "", "")
        console.print(table)
        if kind == "memory_policies" and listing[kind]:
            console.print(_policy_counters_table(listing[kind]))


def _policy_counters_table(policies: list[dict[str, Any]]) -> Any:
    """Each counter the memory policies declare: which keep it, and what it counts."""
    from rich.table import Table

    # one row per meaning: two policies may count different things under one name
    kept_by: dict[tuple[str, str], list[str]] = {}
    for row in policies:
        for name, doc in row.get("counters", {}).items():
            kept_by.setdefault((name, doc), []).append(row["name"])
    table = Table(title="memory policy counters", title_justify="left")
    for column in ("counter", "kept by", "what it counts"):
        table.add_column(column)
    for (name, doc), owners in kept_by.items():
        table.add_row(name, "every policy" if len(owners) == len(policies) else
                      ", ".join(owners), doc)
    return table


def print_stats(result, file=None) -> None:
    """Rich tables of the counters, per vCPU and per memory policy, on ``file`` (stderr)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stderr)
    stats = result.stats
    n = len(stats.get("vcpus", []))

    def table(title: str, rows: list[dict[str, int]], total: dict[str, int] | None = None) -> Table:
        t = Table(title=title, title_justify="left")
        t.add_column("counter")
        for i in range(n):
            t.add_column(f"vCPU {i}", justify="right")
        t.add_column("total", justify="right")
        keys = list(rows[0]) if rows else []
        for key in keys:
            values = [r.get(key, 0) for r in rows]
            tot = total.get(key, sum(values)) if total else sum(values)
            t.add_row(key, *(str(v) for v in values), str(tot))
        return t

    console.print(table("vCPUs", stats.get("vcpus", [])))
    policy = stats.get("policy", {})
    if policy:
        console.print(table(f"memory policy {policy.get('name', '')}", policy.get("per_vcpu", []),
                            policy.get("total")))
    tr = stats.get("translator", {})
    wall = result.wall_seconds
    rate = f", {result.insns / wall:,.0f} insns/s" if wall > 0 else ""
    console.print(f"reason={result.reason} exit_status={result.exit_status} "
                  f"insns={result.insns} tbs={tr.get('tbs', 0)} "
                  f"invalidated={tr.get('invalidated', 0)} wall={wall:.3f}s{rate}",
                  soft_wrap=True, highlight=False)


def print_workloads() -> None:
    """The bundled workloads with compare's default arguments and budgets."""
    from rich.console import Console
    from rich.table import Table

    from ..compare import bundled_workloads

    table = Table(title="bundled workloads (args: compare's defaults)", title_justify="left")
    for col in ("name", "args", "default grid", "max insns", "description"):
        table.add_column(col, justify="right" if col == "max insns" else "left")
    for w in bundled_workloads().values():
        table.add_row(w.name, w.args, "yes" if w.in_default_grid else "no",
                      f"{w.max_insns:,}" if w.max_insns else "-", w.description)
    Console().print(table)


def run_with_progress(specs, jobs: int, show: bool) -> list[dict]:
    """compare's grid, under a progress bar on stderr when ``show``."""
    from .. import compare as cmp

    if not show:
        return cmp.run_grid(specs, jobs)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    failed = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True) as progress:
        task = progress.add_task("compare", total=len(specs), failed=0)

        def on_result(spec, record) -> None:
            nonlocal failed
            failed += not record["passed"]
            progress.update(task, advance=1, failed=failed,
                            description=f"{spec.workload}/{spec.strategy} seed {spec.seed}")
        return cmp.run_grid(specs, jobs, on_result)
