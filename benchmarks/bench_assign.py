"""Point-in-grid assignment: gridmap's GridIndex against geopandas.sjoin and an rtree loop.

Every method gets the grid polygons in EPSG:4326 and the points as longitude/latitude arrays,
and runs in a fresh child process (this script with ``--one``), so its peak memory is its own:

* ``gridmap``: ``GridIndex(grids)`` (build timed apart), then ``.assign(lon, lat)`` in chunks of
  1,000,000 points; points per second are from the assign time;
* ``sjoin``: ``geopandas.sjoin(points, grids[["code", "geometry"]], predicate="within",
  how="left")``, building the points GeoDataFrame included (as a user has to);
* ``rtree``: ``rtree.index.Index`` over the grids' bounds, then a pure-Python loop over the
  points: ``index.intersection`` and ``shapely.contains_xy`` on the (prepared) candidates.  When
  the first 100,000 points say the whole run would take more than 3 minutes, it stops there and
  the rate is extrapolated; it is not run on 10,000,000 points.

Cases: uniform random points (seeded) over the bounding box of the sample street's grids (97
grids; part of the points fall outside every grid), 1,000,000 and 10,000,000 of them; the
13,472 SF crime points (``../shared/data/sf/``) over a plan of 20 grids of SF block groups.

Checks: where sjoin puts a point within a grid, the other methods must give the same grid
(mismatches are counted); points sjoin leaves out are outside every grid (or on a boundary),
and how gridmap flagged them is shown.  Peak memory is the child's peak resident set size
(``VmHWM``; ``ru_maxrss`` of a child started from a big parent reports the parent's), with its
resident size before the work (imports, grids and input points) as the baseline.

Run: python benchmarks/bench_assign.py [--sizes 1000000 10000000] [--skip-rtree] [--quick]
Peers: pip install -e '.[bench]' (rtree); geopandas comes with gridmap.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SF_DIR = ROOT.parent / "shared" / "data" / "sf"
SF_UNITS = SF_DIR / "sf_blockgroups_pop2010.gpkg"
SF_POINTS = SF_DIR / "sf_crime_incidents_2012H2.gpkg"
SAMPLE = ROOT / "sample_data" / "sample_street.gpkg"

METHODS = ("gridmap", "sjoin", "rtree")
SEED = 20261125
CHUNK = 1_000_000
#: Seconds a child may run before it is reported as not finished.
TIMEOUT = 600
#: The rtree loop runs on every point only when they would take less than this (seconds).
RTREE_BUDGET = 180.0
RTREE_SAMPLE = 100_000
#: Below this many points, a method is timed this many times and the median reported.
SMALL, REPEAT = 100_000, 5


# ------------------------------------------------------------------------------ child side


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _points(case: str, size: int, grids: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude arrays of a case's points (random ones seeded)."""
    if case == "sf":
        from gridmap import io

        points = io.read_layer(SF_POINTS).to_crs(4326)
        return points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(SEED)
    lon = rng.uniform(x0, x1, size)
    lat = rng.uniform(y0, y1, size)
    return lon, lat


def _timed(work, repeat: int) -> tuple[Any, float]:
    """The result of the last of ``repeat`` calls of ``work`` and the median seconds."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def run_gridmap(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, repeat: int) -> dict:
    """Build a GridIndex, then assign the points in chunks; labels index the sorted codes."""
    from gridmap.index import GridIndex

    index, build = _timed(lambda: GridIndex(grids), repeat)
    result, seconds = _timed(lambda: index.assign(lon, lat, chunk=CHUNK), repeat)
    return {"build": build, "seconds": seconds, "labels": result.labels,
            "flags": result.flags, "counts": result.counts()}  # fmt: skip


def run_sjoin(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, repeat: int) -> dict:
    """Geopandas sjoin (within, left join), from the coordinate arrays to the joined frame."""
    right = grids[["code", "geometry"]]

    def work() -> gpd.GeoDataFrame:
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        return gpd.sjoin(points, right, predicate="within", how="left")

    joined, seconds = _timed(work, repeat)
    codes = np.sort(grids["code"].to_numpy(dtype=str))
    found = joined["code"].notna().to_numpy()
    rows = joined.index.to_numpy()[found]
    which = np.searchsorted(codes, joined["code"].to_numpy()[found].astype(str))
    # a point within several (overlapping) grids: keep the code that sorts first, as gridmap
    labels = np.full(lon.size, codes.size, dtype=np.int32)
    np.minimum.at(labels, rows, which.astype(np.int32))
    labels[labels == codes.size] = -1
    extra = int(found.sum() - np.unique(rows).size)
    return {"seconds": seconds, "labels": labels, "rows": len(joined), "multiple": extra}


def run_rtree(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, repeat: int) -> dict:
    """Rtree over the grid bounds and a pure-Python loop; may stop at a sample (see module)."""
    import rtree
    import shapely

    order = np.argsort(grids["code"].to_numpy(dtype=str), kind="stable")
    polygons = grids.geometry.to_numpy()[order]  # position = label (codes sorted)

    def work(xs: list[float], ys: list[float], budget: float | None) -> list[int]:
        shapely.prepare(polygons)
        index = rtree.index.Index(
            (i, tuple(box), None) for i, box in enumerate(shapely.bounds(polygons))
        )
        contains = shapely.contains_xy
        out = []
        start = time.perf_counter()
        for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
            label = -1
            for j in sorted(index.intersection((x, y, x, y))):
                if contains(polygons[j], x, y):
                    label = j
                    break
            out.append(label)
            if budget is not None and k + 1 == RTREE_SAMPLE:
                projected = (time.perf_counter() - start) * len(xs) / RTREE_SAMPLE
                if projected > budget:
                    break
        return out

    xs, ys = lon.tolist(), lat.tolist()
    budget = RTREE_BUDGET if len(xs) > RTREE_SAMPLE else None
    out, seconds = _timed(lambda: work(xs, ys, budget), repeat)
    return {"seconds": seconds, "labels": np.asarray(out, dtype=np.int32), "sampled": len(out)}


RUNNERS = {"gridmap": run_gridmap, "sjoin": run_sjoin, "rtree": run_rtree}


def child(method: str, case: str, size: int, grids_path: str, out_dir: str) -> None:
    """Run one method on one case in this process and print its measurements as JSON."""
    with open(grids_path, "rb") as handle:
        grids = pickle.load(handle)
    lon, lat = _points(case, size, grids)
    repeat = REPEAT if lon.size < SMALL else 1
    baseline = _status_kib("VmRSS")
    result = RUNNERS[method](grids, lon, lat, repeat)
    peak = _status_kib("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stem = Path(out_dir) / f"{case}_{size}_{method}"
    np.save(f"{stem}_labels.npy", result.pop("labels"))
    if "flags" in result:
        np.save(f"{stem}_flags.npy", result.pop("flags"))
    result.update(points=int(lon.size), baseline_kib=baseline, peak_kib=peak,
                  ru_maxrss_kib=maxrss, repeat=repeat)  # fmt: skip
    print(json.dumps(result))


# ----------------------------------------------------------------------------- parent side


def write_grids(folder: Path) -> dict[str, tuple[Path, int]]:
    """Make both plans and pickle their grids (``code``, geometry; EPSG:4326) for the children.

    Returns
    -------
    dict
        ``case -> (pickle path, number of grids)``.
    """
    from gridmap import io
    from gridmap.plan import make_plan, partition_units

    start = time.perf_counter()
    street = make_plan(io.read_workspace(SAMPLE))
    print(f"sample street plan: {len(street.grids)} grids ({time.perf_counter() - start:.1f} s)")
    units = gpd.read_file(SF_UNITS)
    sf = partition_units(units, weight="Population", grids=20)
    print(f"SF block groups plan: {len(sf.grids)} grids of {len(units)} block groups")
    paths = {}
    for case, plan in (("street", street), ("sf", sf)):
        grids = plan.grids_wgs84()[["code", "geometry"]].reset_index(drop=True)
        paths[case] = (folder / f"{case}_grids.pkl", len(grids))
        with open(paths[case][0], "wb") as handle:
            pickle.dump(grids, handle)
    return paths


def spawn(method: str, case: str, size: int, grids: Path, folder: Path) -> dict:
    """Run one method in a fresh process; its JSON result, or ``{"error": ...}``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", method, case, str(size),
               "--grids", str(grids), "--out", str(folder)]  # fmt: skip
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {TIMEOUT // 60} min"}
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed (exit {done.returncode}): {tail}"[:100]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def _labels(folder: Path, case: str, size: int, method: str, kind: str = "labels") -> np.ndarray:
    return np.load(folder / f"{case}_{size}_{method}_{kind}.npy")


def compare(folder: Path, case: str, size: int, results: dict[str, dict]) -> dict[str, tuple]:
    """Per method, mismatches against sjoin and a note (how gridmap flagged what sjoin left out).

    Returns
    -------
    dict
        ``method -> (mismatches, note)``; mismatches is ``"-"`` for sjoin itself.
    """
    if "error" in results.get("sjoin", {"error": ""}):
        return {name: ("no sjoin result", "") for name in results}
    reference = _labels(folder, case, size, "sjoin")
    note = f"{int((reference >= 0).sum()):,} within a grid (the reference)"
    if results["sjoin"].get("multiple"):
        note += f"; {results['sjoin']['multiple']} extra rows (overlapping grids)"
    out: dict[str, tuple] = {"sjoin": ("-", note)}
    for name in ("gridmap", "rtree"):
        if name not in results or "error" in results[name]:
            continue
        labels = _labels(folder, case, size, name)
        ref = reference[: labels.size]
        within = ref >= 0
        mismatches = int((labels[within] != ref[within]).sum())
        if name == "gridmap":
            tally = np.bincount(_labels(folder, case, size, name, "flags")[~within], minlength=4)
            note = (f"of the {int((~within).sum()):,} sjoin left out: {tally[0]:,} inside "
                    f"(on a boundary), {tally[1]:,} snapped, {tally[2]:,} unassigned, "
                    f"{tally[3]:,} invalid")  # fmt: skip
        else:
            note = f"{int((labels[~within] >= 0).sum())} assigned where sjoin found none"
        out[name] = (mismatches, note)
    return out


NAMES = {"gridmap": "gridmap `GridIndex.assign`",
         "sjoin": '`geopandas.sjoin(predicate="within")`',
         "rtree": "rtree + shapely, Python loop"}  # fmt: skip


def table(title: str, size: int, results: dict[str, dict], notes: dict[str, tuple]) -> None:
    """Print one case as a markdown table."""
    print(f"\n{title}\n")
    print("| method | points | seconds | points/s | peak RSS MiB (baseline) | mismatches vs sjoin "
          "| notes |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in METHODS:
        if name not in results:
            continue
        r = results[name]
        if "error" in r:
            print(f"| {NAMES[name]} | {size:,} | {r['error']} | | | | |")
            continue
        mismatches, note = notes.get(name, ("?", ""))
        memory = f"{r['peak_kib'] / 1024:,.0f} ({r['baseline_kib'] / 1024:,.0f})"
        points, seconds = r.get("sampled", r["points"]), r["seconds"]
        extra = [f"median of {r['repeat']} runs"] if r["repeat"] > 1 else []
        if points < r["points"]:
            extra.insert(0, f"first {points:,} points only (all {r['points']:,} would take "
                            f"~{seconds * r['points'] / points:,.0f} s, extrapolated)")  # fmt: skip
        if name == "gridmap":
            print(
                f"| gridmap `GridIndex(grids)` build | | {r['build']:.3f} | | | | once per plan |"
            )
        text = "; ".join(extra + ([note] if note else []))
        print(f"| {NAMES[name]} | {points:,} | {seconds:.3f} | {points / seconds:,.0f} | "
              f"{memory} | {mismatches} | {text} |")  # fmt: skip
        if name == "gridmap":
            total = r["build"] + seconds
            print(f"| gridmap build + assign | {points:,} | {total:.3f} | {points / total:,.0f} "
                  "| | | |")  # fmt: skip


def verdict(results: dict[str, dict], notes: dict[str, tuple], size: int) -> str:
    """The issue's targets for one random case, in words."""
    g, s = results.get("gridmap", {}), results.get("sjoin", {})
    parts = []
    if size == 1_000_000 and "seconds" in g and "seconds" in s:
        ratio = s["seconds"] / g["seconds"]
        with_build = s["seconds"] / (g["seconds"] + g["build"])
        mismatches = notes.get("gridmap", ("?", ""))[0]
        met = "met" if ratio >= 3 and mismatches == 0 else "NOT met"
        parts.append(f">= 3x sjoin throughput with identical results: {met} ({ratio:.1f}x on "
                     f"assign, {with_build:.1f}x counting the index build; {mismatches} "
                     "mismatches)")  # fmt: skip
    if size == 10_000_000 and "peak_kib" in g:
        gib = g["peak_kib"] / 2**20
        parts.append(f"10,000,000 points within 4 GiB: {'met' if gib <= 4 else 'NOT met'} "
                     f"(peak {gib:.2f} GiB)")  # fmt: skip
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="random point counts over the sample street")  # fmt: skip
    parser.add_argument("--skip-rtree", action="store_true", help="leave out the rtree loop")
    parser.add_argument("--quick", action="store_true", help="100,000 points only (smoke run)")
    parser.add_argument(
        "--one", nargs=3, metavar=("METHOD", "CASE", "SIZE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--grids", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, case, size = args.one
        child(method, case, int(size), args.grids, args.out)
        return

    sizes = [100_000] if args.quick else args.sizes
    methods = [m for m in METHODS if not (args.skip_rtree and m == "rtree")]
    with tempfile.TemporaryDirectory(prefix="bench_assign_") as tmp:
        folder = Path(tmp)
        grids = write_grids(folder)
        cases = [("street", n) for n in sizes] + [("sf", 0)]
        verdicts = []
        for case, size in cases:
            results: dict[str, dict] = {}
            for method in methods:
                if method == "rtree" and size > 1_000_000:
                    results[method] = {"error": "not run above 1,000,000 points (by design)"}
                    continue
                results[method] = spawn(method, case, size, grids[case][0], folder)
            notes = compare(folder, case, size, results)
            points = next((r["points"] for r in results.values() if "points" in r), size)
            k = grids[case][1]
            title = (f"Sample street, {k} grids, {points:,} random points" if case == "street"
                     else f"SF, {k} grids of block groups, {points:,} crime points")  # fmt: skip
            table(title, points, results, notes)
            maxrss = ", ".join(f"{m} {r['ru_maxrss_kib'] / 1024:,.0f}" for m, r in results.items()
                               if "ru_maxrss_kib" in r)  # fmt: skip
            print(f"\n(ru_maxrss MiB of the children, which counts the parent's RSS at exec: "
                  f"{maxrss})")  # fmt: skip
            if case == "street":
                verdicts.append(verdict(results, notes, size))
        for line in filter(None, verdicts):
            print(f"\nTarget: {line}")
        with open(grids["street"][0], "rb") as handle:
            lookups(pickle.load(handle))


def lookups(grids: gpd.GeoDataFrame, count: int = 1000) -> None:
    """Time single-point look-ups (live intake) on a built index: median and max ms."""
    from gridmap.index import GridIndex

    index = GridIndex(grids)
    lon, lat = _points("street", count, grids)
    times = []
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):
        start = time.perf_counter()
        index.lookup(x, y)
        times.append(1000 * (time.perf_counter() - start))
    print(f"\nSingle look-ups (GridIndex.lookup), {count} random points over the sample street: "
          f"median {np.median(times):.3f} ms, max {np.max(times):.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
