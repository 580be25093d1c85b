"""Hand-edit speed: what the web editor waits for after each click, on the sample street.

Every edit re-checks the plan's rules (contiguity in the unit graph, communities, no empty
grid) and re-measures only the grids it touches; ``plan()`` re-measures the whole plan, as an
export does.  Each operation is timed over ``--repeat`` different grids and units (undone
between repetitions, untimed), after one warm-up.

Run: python benchmarks/bench_edit.py [--repeat 50] [--workspace PATH]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gridmap import io
from gridmap.edit import EditRefused, PlanEditor
from gridmap.plan import Plan, make_plan

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "sample_street.gpkg"


def _accepted(editor: PlanEditor, units: list[int], code: str) -> bool:
    """True when the move is allowed (it is made and undone)."""
    try:
        editor.move_units(units, code)
    except EditRefused:
        return False
    editor.undo()
    return True


def moves(editor: PlanEditor, size: int, count: int) -> list[tuple[list[int], str]]:
    """Up to ``count`` allowed moves of ``size`` units of one grid into a neighbouring grid."""
    found = []
    for code in editor.codes:
        for other in editor.neighbours(code):
            pool = [int(u) for u in editor.units_of(other)]
            chosen: list[int] = []
            for unit in pool:  # grow a set of units the target can take, one at a time
                if len(chosen) < size and _accepted(editor, [*chosen, unit], code):
                    chosen.append(unit)
            if len(chosen) == size:
                found.append((chosen, code))
                break
        if len(found) == count:
            break
    return found


def timed(action: Callable[[], object], undo: Callable[[], object] | None = None) -> float:
    """Milliseconds taken by ``action``; ``undo`` (untimed) puts the editor back."""
    start = time.perf_counter()
    action()
    elapsed = 1000 * (time.perf_counter() - start)
    if undo is not None:
        undo()
    return elapsed


def measure(plan: Plan, repeat: int) -> list[tuple[str, list[float]]]:
    """Time every operation on an editor of ``plan``; return (name, milliseconds) rows."""
    editor = PlanEditor(plan)
    ones = moves(editor, 1, repeat)
    fives = moves(editor, 5, repeat)
    codes = editor.codes
    pairs = [(c, editor.neighbours(c)[0]) for c in codes if editor.neighbours(c)][:repeat]

    def split_merged(keep: str, other: str) -> float:
        """Milliseconds to split two merged neighbours back in two (the merge untimed)."""
        editor.merge_grids(keep, other)
        try:
            return timed(lambda: editor.split_grid(keep), editor.undo)
        finally:
            editor.undo()

    split_merged(*pairs[0])  # warm-up (per-unit shape inputs are made once)

    def cycle(items: list, count: int) -> list:
        return [items[i % len(items)] for i in range(count)]

    rows = [
        ("move one unit", [timed(lambda u=u, c=c: editor.move_units(u, c), editor.undo)
                           for u, c in cycle(ones, repeat)]),
        ("move 5 units", [timed(lambda u=u, c=c: editor.move_units(u, c), editor.undo)
                          for u, c in cycle(fives, repeat)]),
        ("split 2 merged grids",
         [split_merged(a, b) for a, b in cycle(pairs, repeat)]),
        ("merge two grids", [timed(lambda a=a, b=b: editor.merge_grids(a, b), editor.undo)
                             for a, b in cycle(pairs, repeat)]),
    ]  # fmt: skip
    undo, redo = [], []
    for units, code in cycle(ones, repeat):
        editor.move_units(units, code)
        undo.append(timed(editor.undo))
        redo.append(timed(editor.redo, editor.undo))
    rows += [("undo (a move)", undo), ("redo (a move)", redo)]
    rows.append(("plan() full re-measure", [timed(editor.plan) for _ in range(min(repeat, 10))]))
    rows.append(("PlanEditor(plan)", [timed(lambda: PlanEditor(plan))
                                      for _ in range(min(repeat, 10))]))  # fmt: skip
    return rows


def print_table(title: str, rows: list[tuple[str, list[float]]]) -> None:
    """Print median and max milliseconds per operation."""
    print(f"\n{title}")
    header = f"{'operation':<28} {'runs':>5} {'median ms':>10} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for name, times in rows:
        print(f"{name:<28} {len(times):>5} {np.median(times):>10.1f} {max(times):>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="repetitions per operation")
    parser.add_argument("--workspace", type=Path, default=SAMPLE, help="a workspace GeoPackage")
    args = parser.parse_args()

    plan = make_plan(io.read_workspace(args.workspace))
    title = (f"{args.workspace.name}: {len(plan.grids)} grids, {len(plan.units)} units, "
             f"{len(plan.graph.edges)} graph edges")  # fmt: skip
    print_table(title, measure(plan, args.repeat))


if __name__ == "__main__":
    main()
