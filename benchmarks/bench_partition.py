"""Partition quality and speed: gridmap against METIS, GerryChain and spopt, in one run.

Two cases, each partitioned by every method on the same adjacency graph (shared edges, islands
joined to their nearest neighbour) and measured by the same code (gridmap.metrics):

* SF block groups (``../shared/data/sf/sf_blockgroups_pop2010.gpkg``), weight Population, K=20;
* the units of the committed sample street, weight households, K = the grids gridmap allocates
  (peers cannot nest grids in communities; gridmap does, which costs it some freedom).

Run: python benchmarks/bench_partition.py [--skip-slow]
Peers: pip install -e '.[bench]' (pymetis, gerrychain, spopt); a missing peer is reported.
"""

from __future__ import annotations

import argparse
import functools
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np

from gridmap import io
from gridmap.crs import local_metric_crs
from gridmap.graph import UnitGraph, build_graph
from gridmap.metrics import grid_metrics
from gridmap.partition import allocate_grids, partition_graph, shape_inputs
from gridmap.plan import make_plan
from gridmap.units import build_units

ROOT = Path(__file__).resolve().parents[1]
SF = ROOT.parent / "shared" / "data" / "sf" / "sf_blockgroups_pop2010.gpkg"
SAMPLE = ROOT / "sample_data" / "sample_street.gpkg"

Method = Callable[[gpd.GeoDataFrame, UnitGraph, str, int], np.ndarray]


def run_gridmap(
    gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int, seed: int = 0
) -> np.ndarray:
    """Gridmap's partitioner on one group (no nesting), as the peers get it."""
    one_group = UnitGraph(graph.n, graph.edges, graph.length, graph.barrier,
                          np.zeros(graph.n, dtype=np.int64), ["all"])  # fmt: skip
    weights = gdf[weight].to_numpy(dtype=float)
    points = gdf.geometry.representative_point()
    shape = shape_inputs(graph, gdf.area.to_numpy(), gdf.length.to_numpy(),
                         np.column_stack([points.x, points.y]))  # fmt: skip
    return partition_graph(one_group, weights, {"all": k}, seed=seed, compactness=shape)


def run_metis(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int) -> np.ndarray:
    """Pymetis part_graph with contiguity on and vertex weights."""
    import pymetis

    xadj, adjncy, _ = graph.csr()
    weights = np.maximum(np.rint(gdf[weight].to_numpy(dtype=float)), 0).astype(int)
    _, parts = pymetis.part_graph(k, xadj=xadj, adjncy=adjncy, vweights=weights, contiguous=True)
    return np.asarray(parts)


def _networkx(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str):
    import networkx as nx

    g = nx.Graph()
    for i, value in enumerate(gdf[weight].to_numpy(dtype=float)):
        g.add_node(i, **{weight: value})
    g.add_edges_from(graph.edges.tolist())
    return g


def run_gerrychain(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int) -> np.ndarray:
    """GerryChain recursive_tree_part at 5 % tolerance, then 10 %; 500 attempts per cut."""
    from gerrychain import Graph
    from gerrychain.partition import recursive_tree_part
    from gerrychain.tree import bipartition_tree

    g = Graph.from_networkx(_networkx(gdf, graph, weight))
    total = float(gdf[weight].sum())
    # Its default of 100,000 attempts per cut runs for hours on hard cases: cap it.
    attempts = functools.partial(bipartition_tree, max_attempts=500)
    for epsilon in (0.05, 0.10):
        try:
            parts = recursive_tree_part(
                g, range(k), total / k, weight, epsilon, bipartition_tree_fn=attempts, rng=0
            )
            return np.array([parts[i] for i in range(graph.n)])
        except Exception:  # noqa: BLE001 - GerryChain raises plain exceptions when it gives up
            continue
    raise RuntimeError("no balanced tree partition found at 10 %")


def _weights(graph: UnitGraph):
    from libpysal.weights import W

    neighbours: dict[int, list[int]] = {i: [] for i in range(graph.n)}
    for a, b in graph.edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    return W(neighbours, silence_warnings=True)


def run_skater(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int) -> np.ndarray:
    """Spopt Skater on the weight column (its floor counts units, so it is left at its default)."""
    from spopt.region import Skater

    model = Skater(gdf, _weights(graph), [weight], n_clusters=k, trace=False)
    model.solve()
    return np.asarray(model.labels_)


def run_maxp(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int) -> np.ndarray:
    """Spopt MaxPHeuristic with a threshold of 90 % of the mean grid (it chooses K itself)."""
    from spopt.region import MaxPHeuristic

    threshold = 0.9 * float(gdf[weight].sum()) / k
    model = MaxPHeuristic(gdf, _weights(graph), [weight], weight, threshold, top_n=2)
    model.solve()
    return np.asarray(model.labels_)


def run_kmeans(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int) -> np.ndarray:
    """Spopt RegionKMeansHeuristic on the weight column."""
    from spopt.region import RegionKMeansHeuristic

    data = gdf[[weight]].to_numpy(dtype=float)
    model = RegionKMeansHeuristic(data, k, _weights(graph), seed=0)
    model.solve()
    return np.asarray(model.labels_)


METHODS: dict[str, Method] = {
    "gridmap": run_gridmap,
    "pymetis (contig)": run_metis,
    "gerrychain recursive_tree_part": run_gerrychain,
    "spopt Skater": run_skater,
    "spopt MaxPHeuristic": run_maxp,
    "spopt RegionKMeansHeuristic": run_kmeans,
}
SLOW = {"spopt Skater", "spopt MaxPHeuristic", "spopt RegionKMeansHeuristic"}


def connected_parts(graph: UnitGraph, labels: np.ndarray) -> int:
    """Parts whose units are connected in the unit graph.

    The graph joins each island to its nearest unit (as GerryChain does), so a part holding
    an island and the unit across the water counts as connected.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    same = labels[graph.edges[:, 0]] == labels[graph.edges[:, 1]]
    a, b = graph.edges[same, 0], graph.edges[same, 1]
    matrix = coo_matrix((np.ones(a.size), (a, b)), shape=(graph.n, graph.n))
    _, component = connected_components(matrix, directed=False)
    pieces = {(int(p), int(c)) for p, c in zip(labels, component, strict=True)}
    per_part = np.bincount([p for p, _ in pieces], minlength=int(labels.max()) + 1)
    return int((per_part == 1).sum())


def measure(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int, skip_slow: bool):
    """Run every method and return table rows."""
    rows = []
    for name, method in METHODS.items():
        if skip_slow and name in SLOW:
            continue
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                labels = method(gdf, graph, weight, k)
        except ImportError as error:
            rows.append((name, f"not installed ({error.name})"))
            continue
        except Exception as error:  # noqa: BLE001 - a peer failing is a result, not a crash
            rows.append((name, f"failed: {type(error).__name__}: {error}"[:80]))
            continue
        seconds = time.perf_counter() - start
        _, labels = np.unique(labels, return_inverse=True)
        grids = grid_metrics(gdf, labels, weight=weight, group_column=None)
        mean = grids["weight"].mean()
        deviation = float((grids["weight"] / mean - 1).abs().max())
        contiguous = connected_parts(graph, labels)
        label = name if len(grids) == k else f"{name} ({len(grids)} regions)"
        rows.append((label, seconds, deviation, float(grids["polsby_popper"].mean()),
                     f"{contiguous}/{k}"))  # fmt: skip
    return rows


def seed_spread(gdf: gpd.GeoDataFrame, graph: UnitGraph, weight: str, k: int, seeds: int):
    """Run gridmap with seeds 0..seeds-1 and print each result and the spread."""
    rows = []
    for seed in range(seeds):
        start = time.perf_counter()
        labels = run_gridmap(gdf, graph, weight, k, seed=seed)
        seconds = time.perf_counter() - start
        grids = grid_metrics(gdf, labels, weight=weight, group_column=None)
        deviation = float((grids["weight"] / grids["weight"].mean() - 1).abs().max())
        contiguous = connected_parts(graph, labels)
        rows.append((seconds, deviation, float(grids["polsby_popper"].mean()), contiguous))
    table = np.array(rows)
    print(f"\ngridmap over seeds 0..{seeds - 1}: seconds, max |dev| %, mean PP, contiguous")
    for seed, (seconds, deviation, pp, contiguous) in enumerate(rows):
        print(f"  seed {seed}: {seconds:.2f} s  {100 * deviation:.1f} %  {pp:.3f}  "
              f"{contiguous}/{k}")  # fmt: skip
    seconds, deviation, pp, contiguous = table.T
    print(f"  median {np.median(seconds):.2f} s, worst dev {100 * deviation.max():.1f} %, "
          f"PP min {pp.min():.3f} median {np.median(pp):.3f} max {pp.max():.3f}, "
          f"all contiguous: {bool((contiguous == k).all())}")  # fmt: skip


def print_table(title: str, rows: list) -> None:
    """Print one case as a table."""
    print(f"\n{title}")
    header = f"{'method':<44} {'seconds':>8} {'max |dev| %':>12} {'mean PP':>8} {'contiguous':>11}"
    print(header)
    print("-" * len(header))
    for row in rows:
        if len(row) == 2:
            print(f"{row[0]:<44} {row[1]}")
        else:
            name, seconds, deviation, pp, contiguous = row
            print(
                f"{name:<44} {seconds:>8.2f} {100 * deviation:>12.1f} {pp:>8.3f} {contiguous:>11}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-slow", action="store_true", help="leave out the spopt methods")
    parser.add_argument(
        "--seeds", type=int, default=0, help="also run gridmap on SF with this many seeds"
    )
    args = parser.parse_args()

    sf = gpd.read_file(SF)
    sf = sf.to_crs(local_metric_crs(sf)).reset_index(drop=True)
    sf["Population"] = sf["Population"].astype(float)
    sf_graph = build_graph(sf, group_column=None)
    print_table("SF block groups, Population, K=20",
                measure(sf, sf_graph, "Population", 20, args.skip_slow))  # fmt: skip
    if args.seeds:
        seed_spread(sf, sf_graph, "Population", 20, args.seeds)

    layers = io.read_workspace(SAMPLE)
    start = time.perf_counter()
    plan = make_plan(layers)
    pipeline = time.perf_counter() - start
    s = plan.summary
    print(f"\nSample street, whole gridmap pipeline (units to coded plan): {pipeline:.2f} s, "
          f"{s['grids']} grids, in range 300-500: {100 * s['in_range_share']:.1f} %, "
          f"contiguous: {100 * s['contiguous_share']:.0f} %, "
          f"max |dev| from community mean: {100 * s['max_abs_deviation_from_group_mean']:.1f} %, "
          f"mean PP {s['mean_polsby_popper']:.3f} (least {s['min_polsby_popper']:.3f}), "
          f"buildings split: {s['buildings_split']}, "
          f"grids crossing the river: {s['grids_crossing_water']}, "
          f"an arterial: {s['grids_crossing_arterial']}")  # fmt: skip
    ignored = make_plan(layers, barriers="ignore").summary
    print(f"  with --barriers ignore (the engine before barrier modes): "
          f"{100 * ignored['in_range_share']:.1f} % in range, "
          f"mean PP {ignored['mean_polsby_popper']:.3f}, "
          f"grids crossing the river: {ignored['grids_crossing_water']}, "
          f"an arterial: {ignored['grids_crossing_arterial']}")  # fmt: skip
    units = build_units(layers, max_unit_households=150)
    graph = build_graph(units.gdf, group_column=None)
    weights = units.gdf["households"].to_numpy(dtype=float)
    k = sum(allocate_grids({"all": float(weights.sum())}).values())
    print_table(f"Sample street units ({graph.n}), households, K={k}, no nesting",
                measure(units.gdf, graph, "households", k, args.skip_slow))  # fmt: skip


if __name__ == "__main__":
    main()
