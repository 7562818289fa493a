"""What ``tcglab compare`` writes: the table, JSON, CSV and a plot, and readers for them.

* JSON (written by :func:`core.output.write_json`, like every JSON tcglab writes):
  ``{"meta": {...}, "runs": [run, ...], "cells": [cell, ...]}`` (a run is one seed of
  one workload under one strategy, see :func:`core.compare.make_record`; a cell is every
  seed of a workload under a strategy, see :func:`core.compare.aggregate`).
* CSV: one row per cell, flat columns; the nested counters become ``policy.<name>`` and
  ``machine.<name>`` (the union over the cells: a counter a cell's policy does not
  declare is an empty field); list fields (``args``, ``seeds``, ``failed_seeds``,
  ``failure_reasons``) are JSON text; a missing overhead is an empty field.

:func:`load_json` and :func:`load_csv` read them back to exactly what was written.  Every
file is written atomically (:func:`core.output.write_atomic`), so an interrupted write
leaves the old file or none, never half of one.
"""

from __future__ import annotations

import csv
import json
from typing import Any, Mapping, Sequence

from .compare import failure_label
from .errors import TcglabError
from .memory_policy import PolicyStats
from .outcome import RunReason
from .output import write_atomic

# -- JSON ---------------------------------------------------------------------------------


def load_json(path: str) -> dict[str, Any]:
    """What ``tcglab compare --json`` wrote (``{"meta", "runs", "cells"}``)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not {"meta", "runs", "cells"} <= data.keys():
        raise TcglabError(f"{path}: not a tcglab compare JSON file (expected meta, runs, cells)")
    return data


# -- CSV ----------------------------------------------------------------------------------

#: The cell columns before the counters, with how each is written: str, int, float,
#: bool, "list" (JSON text), "float?" / "str?" (empty = None).
CELL_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("workload", str), ("strategy", str), ("program", str), ("args", "list"),
    ("vcpus", int), ("backend", str), ("schedule", str), ("slice", int),
    ("jitter", bool), ("max_insns", int),
    ("seeds", "list"), ("runs", int), ("passed", int), ("passed_all", bool),
    ("failed_seeds", "list"), ("failure_reasons", "list"),
    ("insns", int), ("wall_seconds", float), ("mips", float),
    ("baseline", "str?"), ("overhead", "float?"), ("overhead_per_insn", "float?"),
)
_GROUPS = ("policy", "machine")


def csv_columns(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    """The CSV header: :data:`CELL_COLUMNS`, then ``policy.*`` and ``machine.*``."""
    cols = [name for name, _ in CELL_COLUMNS]
    for group in _GROUPS:
        seen: dict[str, None] = {}
        for cell in cells:
            seen.update(dict.fromkeys(cell.get(group, {})))
        cols += [f"{group}.{k}" for k in seen]
    return cols


def _csv_text(value: Any, kind: Any) -> str:
    if kind == "list":
        return json.dumps(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind in (float, "float?"):
        return repr(float(value))
    return str(value)


def _csv_value(text: str, kind: Any, column: str, path: str) -> Any:
    try:
        if kind == "list":
            return json.loads(text)
        if kind in ("str?", "float?") and text == "":
            return None
        if kind is bool:
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if kind is int:
            return int(text)
        if kind in (float, "float?"):
            return float(text)
        return text
    except ValueError:
        raise TcglabError(f"{path}: column {column}: bad value {text!r}") from None


def write_csv(path: str, cells: Sequence[Mapping[str, Any]], what: str = "--csv") -> None:
    """One row per cell."""
    columns = csv_columns(cells)
    kinds = dict(CELL_COLUMNS)

    def write(f: Any) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for cell in cells:
            row = []
            for col in columns:
                group, dot, key = col.partition(".")
                if dot:  # empty: not a counter of this cell's policy
                    row.append(str(cell.get(group, {}).get(key, "")))
                else:
                    row.append(_csv_text(cell.get(col), kinds[col]))
            w.writerow(row)
    write_atomic(path, write, what=what)


def load_csv(path: str) -> list[dict[str, Any]]:
    """The cells :func:`write_csv` wrote, with their types and nesting restored."""
    kinds = dict(CELL_COLUMNS)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise TcglabError(f"{path}: empty CSV file") from None
        missing = [name for name in kinds if name not in header]
        if missing:
            raise TcglabError(f"{path}: not a tcglab compare CSV file (missing columns: "
                              f"{', '.join(missing)})")
        cells = []
        for row in reader:
            cell: dict[str, Any] = {g: {} for g in _GROUPS}
            for col, text in zip(header, row):
                group, dot, key = col.partition(".")
                if dot and group in _GROUPS:
                    if text != "":
                        cell[group][key] = _csv_value(text, int, col, path)
                elif col in kinds:
                    cell[col] = _csv_value(text, kinds[col], col, path)
            cells.append(cell)
    return cells


# -- the table ----------------------------------------------------------------------------


def check_text(cell: Mapping[str, Any]) -> str:
    """``ok`` if every seed passed, else ``FAIL k/n``."""
    if cell["passed_all"]:
        return "ok"
    return f"FAIL {cell['runs'] - cell['passed']}/{cell['runs']}"


def _n(value: int) -> str:
    return f"{value:,}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


TABLE_COLUMNS = ("workload", "strategy", "check", "SC", "SC failed", "spurious",
                 "slow path", "TLB flushes", "own counters", "insns", "MIPS",
                 "overhead", "per insn")
#: the columns of text (left-justified); the others are numbers
_TEXT_COLUMNS = ("workload", "strategy", "check", "own counters")


def own_counters_text(policy: Mapping[str, int]) -> str:
    """The counters a policy declares beyond core's (``PolicyStats``), a ``name value``
    line each (``tcglab plugins`` says what each counts): one per line keeps the table
    about as narrow as it was before policies declared counters."""
    common = PolicyStats.names()
    return "\n".join(f"{k} {_n(v)}" for k, v in policy.items() if k not in common)


def table_rows(cells: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The table's rows as text (one per cell), in :data:`TABLE_COLUMNS` order."""
    rows = []
    for c in cells:
        pol, mach = c["policy"], c["machine"]
        rows.append((
            c["workload"], c["strategy"], check_text(c),
            _n(pol.get("sc_ok", 0) + pol.get("sc_fail", 0)), _n(pol.get("sc_fail", 0)),
            _n(pol.get("sc_spurious", 0)),
            _n(mach.get("slow_loads", 0) + mach.get("slow_stores", 0)),
            _n(mach.get("tlb_flushes", 0)), own_counters_text(pol), _n(c["insns"]),
            f"{c['mips']:.3f}",
            _ratio(c["overhead"]), _ratio(c["overhead_per_insn"]),
        ))
    return rows


def failure_lines(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per failed run: which, why, and the guest's first output line."""
    out = []
    for r in runs:
        if r["passed"]:
            continue
        detail = r["message"]
        if r["reason"] == RunReason.EXIT:  # the guest's own verdict says more
            detail = r["output"] or detail
        out.append(f"{r['workload']} / {r['strategy']} seed {r['seed']}: {failure_label(r)}"
                   f"{': ' + detail if detail else ''}")
    return out


def print_table(data: Mapping[str, Any], console: Any = None) -> None:
    """The comparison table (and the failed runs) on ``console`` (default: stdout)."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console(width=None if Console().is_terminal else 200)
    meta = data.get("meta", {})
    grid = meta.get("grid", {})
    title = (f"{grid.get('vcpus', '?')} vCPUs, {grid.get('backend', '?')} backend, "
             f"{grid.get('schedule', '?')} schedule, slice {grid.get('slice', '?')}"
             f"{' (jittered)' if grid.get('jitter') else ''}, "
             f"seeds {_seed_range(grid.get('seeds', []))}")
    table = Table(title=title, title_justify="left")
    for name in TABLE_COLUMNS:
        table.add_column(name, justify="left" if name in _TEXT_COLUMNS else "right")
    previous = None
    for cell, row in zip(data["cells"], table_rows(data["cells"])):
        if previous is not None and cell["workload"] != previous:
            table.add_section()
        previous = cell["workload"]
        check = row[2]
        style = "green" if cell["passed_all"] else "bold red"
        table.add_row(*row[:2], f"[{style}]{check}[/]", *row[3:])
    # Never squeeze the table into a narrow terminal (names and numbers would be cut):
    # render it at its natural width and let long lines wrap.
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update_width(1000), table).maximum
    if natural > console.width:
        saved, console.width = console.width, natural
        try:
            console.print(table, crop=False)
        finally:
            console.width = saved
    else:
        console.print(table)
    baseline = grid.get("baseline")
    if baseline:
        present = any(c.get("baseline") for c in data["cells"])
        note = "" if present else f" ({baseline} is not in the grid)"
        console.print(f"overhead: wall time / the {baseline} cell's, same workload; per insn: "
                      f"wall time per guest instruction / the {baseline} cell's{note}",
                      highlight=False)
    lines = failure_lines(data["runs"])
    if lines:
        console.print("failed runs:", highlight=False)
        for line in lines:
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def _seed_range(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 1:
        return f"{seeds[0]}..{seeds[-1]}"
    return ",".join(map(str, seeds)) or "-"


# -- the plot -----------------------------------------------------------------------------

PLOT_HINT = "pip install 'tcglab[plot]'"


def require_matplotlib(what: str = "--plot") -> None:
    """A one-line error now (before any run) if matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise TcglabError(f"{what} needs matplotlib, which is not installed: {PLOT_HINT}") \
            from None


def write_plot(path: str, data: Mapping[str, Any], what: str = "--plot") -> None:
    """Grouped bars per workload, one bar per strategy: SC failures (top) and overhead
    against the baseline, or MIPS when the baseline is not in the grid (bottom).  A cell
    whose check failed in some seed is hatched and marked with its failure count."""
    require_matplotlib(what)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cells = data["cells"]
    workloads = list(dict.fromkeys(c["workload"] for c in cells))
    strategies = list(dict.fromkeys(c["strategy"] for c in cells))
    by_key = {(c["workload"], c["strategy"]): c for c in cells}
    use_overhead = any(c.get("overhead") is not None for c in cells)
    grid = data.get("meta", {}).get("grid", {})

    fig = Figure(figsize=(max(7.0, 1.6 * len(workloads) + 3.5), 7.0), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    width = 0.8 / max(1, len(strategies))
    xs = range(len(workloads))
    colors: dict[str, Any] = {}
    for i, strategy in enumerate(strategies):
        offs = [x - 0.4 + width * (i + 0.5) for x in xs]
        sc_fail, second, failed = [], [], []
        for w in workloads:
            c = by_key.get((w, strategy))
            sc_fail.append(c["policy"].get("sc_fail", 0) if c else 0)
            if use_overhead:
                second.append((c.get("overhead") or 0.0) if c else 0.0)
            else:
                second.append(c["mips"] if c else 0.0)
            failed.append(bool(c) and not c["passed_all"])
        bars = top.bar(offs, sc_fail, width, label=strategy)
        color = colors[strategy] = bars.patches[0].get_facecolor() if bars.patches else None
        bars2 = bottom.bar(offs, second, width, color=color)
        for bar_group in (bars, bars2):
            for patch, bad in zip(bar_group.patches, failed):
                if bad:
                    patch.set_hatch("//")
                    patch.set_edgecolor("black")
        for x, w, bad in zip(offs, workloads, failed):
            if bad:
                c = by_key[(w, strategy)]
                top.annotate(f"✗{c['runs'] - c['passed']}", (x, 0), xytext=(0, 2),
                             textcoords="offset points", ha="center", fontsize=7, color="red")
    top.set_ylabel("SC failures (sum over seeds)")
    top.set_yscale("symlog", linthresh=1)
    top.set_title(f"tcglab compare: {grid.get('vcpus', '?')} vCPUs, "
                  f"{grid.get('schedule', '?')} schedule, slice {grid.get('slice', '?')}"
                  f"{' (jittered)' if grid.get('jitter') else ''}, "
                  f"{len(grid.get('seeds', [])) or '?'} seeds (✗n: the check failed in n seeds)",
                  fontsize=9)
    if use_overhead:
        bottom.set_ylabel(f"wall time / {grid.get('baseline')}'s")
        bottom.axhline(1.0, color="grey", linewidth=0.8)
    else:
        bottom.set_ylabel("guest MIPS")
    bottom.set_xticks(list(xs), workloads, rotation=20)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colors[s], label=s) for s in strategies]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//",
                         label="check failed"))
    top.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    def write(f: Any) -> None:
        fig.savefig(f, format="png", dpi=120)
    write_atomic(path, write, what=what, binary=True)

