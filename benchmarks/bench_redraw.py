"""Redraw with minimal change against partitioning afresh, on changed versions of the sample street.

For each scenario the sample street's default plan is written as a plan file (grids and the
building assignments), the street is changed, and two plans are made for the changed street:

* ``gridmap redraw``: the previous plan brought back into range with the fewest households moved;
* ``gridmap partition`` afresh: the whole pipeline on the changed street (same seed), its grids
  then paired with the previous ones to keep the most households in place (Hungarian method), so
  it is not charged for mere renumbering.

Households moved counts households of buildings that existed before and changed grid.

Run: ``python benchmarks/bench_redraw.py``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap import io
from gridmap.plan import PlanFile, make_plan, read_plan, write_plan
from gridmap.redraw import households_moved, redraw
from gridmap.sample import add_compound

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "sample_street.gpkg"


def demolish(layers: dict, plan_file: PlanFile, grid: int) -> dict:
    """The street with the households of one grid's buildings gone (old blocks torn down)."""
    code = plan_file.grids["code"].iloc[grid]
    gone = plan_file.assignments[plan_file.assignments == code].index
    out = dict(layers)
    buildings = layers["buildings"].copy()
    buildings.loc[buildings["id"].astype(str).isin(gone), "households"] = 0
    out["buildings"] = buildings
    homes = layers["households"]
    out["households"] = homes[~homes["building_id"].astype(str).isin(gone)]
    return out


def densify(layers: dict, community: str, share: float, seed: int = 1) -> dict:
    """The street with ``share`` more households in the residential buildings of a community."""
    from gridmap.units import build_units

    units = build_units(layers)
    rng = np.random.default_rng(seed)
    buildings = layers["buildings"].copy()
    unit_of = units.building_unit.reindex(buildings["id"].astype(str)).to_numpy()
    in_community = units.gdf["community"].astype(str).to_numpy()[unit_of] == community
    homes = in_community & (buildings["households"].to_numpy() > 0)
    extra = rng.binomial(buildings["households"].to_numpy()[homes], share)
    buildings.loc[homes, "households"] = buildings["households"].to_numpy()[homes] + extra
    out = dict(layers)
    out["buildings"] = buildings
    out.pop("households", None)  # the building counts hold the new figures
    return out


def households(layers: dict) -> pd.Series:
    """Building id -> households."""
    b = layers["buildings"]
    return pd.Series(b["households"].to_numpy(), index=b["id"].astype(str).to_numpy())


def measure(name: str, layers: dict, previous: PlanFile, truth: pd.Series) -> list[tuple]:
    """Redraw and partition afresh; a table row for each.

    ``truth`` is the previous plan's building -> code, against which moves are counted (the
    redrawn plan's own codes, unpaired; the fresh plan's codes paired first).
    """
    rows = []
    homes = households(layers)
    start = time.perf_counter()
    result = redraw(layers, previous)
    seconds = time.perf_counter() - start
    moved = households_moved(truth, result.plan.building_codes(), homes)
    rows.append((name, "gridmap redraw", seconds, moved, result.plan,
                 len(result.added), len(result.retired)))  # fmt: skip
    start = time.perf_counter()
    scratch = make_plan(layers)
    seconds = time.perf_counter() - start
    moved = households_moved(truth, scratch.building_codes(), homes, match=True)
    rows.append((name, "gridmap partition afresh", seconds, moved, scratch, None, None))
    return rows


def print_rows(rows: list[tuple], before: int) -> None:
    """Print the table."""
    header = (
        f"{'scenario':<34} {'method':<26} {'seconds':>7} {'moved':>6} {'% moved':>8} "
        f"{'grids':>5} {'in range':>8} {'whole+nested':>12} {'added/retired':>13}"
    )
    print(header)
    print("-" * len(header))
    for name, method, seconds, moved, plan, added, retired in rows:
        grids = plan.grids
        communities = plan.units["community"].astype(str).to_numpy()
        nested = all(
            len(set(communities[plan.labels == label])) == 1 for label in range(len(grids))
        )
        whole = bool((grids["parts"] == 1).all()) and nested
        in_range = grids["households"].between(300, 500).mean()
        change = "" if added is None else f"{added}/{retired}"
        print(
            f"{name:<34} {method:<26} {seconds:>7.2f} {moved:>6} {100 * moved / before:>7.2f}% "
            f"{len(grids):>5} {100 * in_range:>7.1f}% {str(whole):>12} {change:>13}"
        )


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    layers = io.read_workspace(SAMPLE)
    plan = make_plan(layers)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "today.gpkg"
        write_plan(plan, path)
        previous = read_plan(path)
    before = int(layers["buildings"]["households"].sum())
    busiest = str(plan.grids.groupby("group")["households"].sum().idxmax())
    rows = []
    truth = previous.assignments
    grown = add_compound(layers, 1500)
    rows += measure("new 1,500-household compound", grown, previous, truth)
    rows += measure("one grid's blocks torn down", demolish(layers, previous, 5), previous, truth)
    denser = densify(layers, busiest, 0.2)
    rows += measure(f"+20 % households in community {busiest[-3:]}", denser, previous, truth)
    drawn = PlanFile(previous.grids, None, {}, "drawn grids")
    rows += measure("compound, from drawn polygons", grown, drawn, truth)
    print(f"Sample street: {len(plan.grids)} grids, {before:,} households before the change.")
    print_rows(rows, before)


if __name__ == "__main__":
    main()
