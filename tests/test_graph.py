"""Unit adjacency: nesting, shared lengths, barriers, islands, corner contacts."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import box

from gridmap.crs import to_metric
from gridmap.graph import (
    BARRIER_ARTERIAL,
    BARRIER_GAP,
    BARRIER_NONE,
    BARRIER_WATER,
    UnitGraph,
    build_graph,
)
from gridmap.io import read_workspace
from gridmap.units import build_units


@pytest.fixture(scope="module")
def layers(sample_workspace):
    return read_workspace(sample_workspace)


@pytest.fixture(scope="module")
def units(layers):
    return build_units(layers)


@pytest.fixture(scope="module")
def graph(units, layers) -> UnitGraph:
    return build_graph(units.gdf, roads=layers["roads"], water=layers["water"])


def _nx(g: UnitGraph) -> nx.Graph:
    h = nx.Graph()
    h.add_nodes_from(range(g.n))
    h.add_edges_from(map(tuple, g.edges))
    return h


def _check_shape(g: UnitGraph):
    assert g.edges.dtype == np.int64 and g.edges.shape == (len(g.length), 2)
    assert g.length.dtype == np.float64
    assert g.barrier.dtype == np.int8 and len(g.barrier) == len(g.edges)
    assert (g.edges[:, 0] < g.edges[:, 1]).all()
    assert len(np.unique(g.edges, axis=0)) == len(g.edges)
    order = np.lexsort((g.edges[:, 1], g.edges[:, 0]))
    assert (order == np.arange(len(order))).all()
    assert g.groups.dtype == np.int64 and len(g.groups) == g.n


def test_sample_graph_nests_in_communities(graph, units):
    _check_shape(graph)
    assert graph.n == len(units.gdf)
    assert (graph.groups[graph.edges[:, 0]] == graph.groups[graph.edges[:, 1]]).all()
    community = units.gdf["community"].to_numpy()
    assert [graph.group_names[k] for k in graph.groups] == list(community)


def test_sample_graph_lengths_and_barriers(graph):
    land = graph.barrier != BARRIER_GAP
    assert (graph.length[land] > 0.5).all()
    assert (graph.length[~land] == 0).all()
    present = set(np.unique(graph.barrier).tolist())
    assert {BARRIER_NONE, BARRIER_ARTERIAL, BARRIER_WATER} <= present


def test_sample_groups_are_connected(graph):
    h = _nx(graph)
    for k in range(len(graph.group_names)):
        nodes = np.flatnonzero(graph.groups == k).tolist()
        assert nx.is_connected(h.subgraph(nodes)), graph.group_names[k]


def test_csr_and_neighbours(graph):
    xadj, adjncy, eid = graph.csr()
    assert len(xadj) == graph.n + 1 and xadj[-1] == len(adjncy) == 2 * len(graph.edges)
    for i in (0, graph.n // 2, graph.n - 1):
        nb = adjncy[xadj[i] : xadj[i + 1]]
        assert sorted(nb.tolist()) == graph.neighbours(i).tolist()
        for j, e in zip(nb, eid[xadj[i] : xadj[i + 1]], strict=True):
            assert set(graph.edges[e].tolist()) == {i, int(j)}


def test_sf_block_groups_islands_get_gap_edges(shared_data):
    sf = to_metric(gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg"))
    g = build_graph(sf, group_column=None)
    _check_shape(g)
    assert g.n == 579
    gaps = g.edges[g.barrier == BARRIER_GAP]
    assert len(gaps) == 2
    assert nx.is_connected(_nx(g))
    # the islands are the units that had no land neighbour
    land = _nx(
        UnitGraph(
            g.n,
            g.edges[g.barrier != BARRIER_GAP],
            g.length[g.barrier != BARRIER_GAP],
            g.barrier[g.barrier != BARRIER_GAP],
            g.groups,
            g.group_names,
        )
    )
    islands = [v for v in land.nodes if land.degree(v) == 0]
    assert len(islands) == 2
    assert all(any(v in edge for edge in gaps.tolist()) for v in islands)


def test_grid_of_squares_has_twelve_edges():
    cells = [
        box(x * 100, y * 100, x * 100 + 100, y * 100 + 100) for y in range(3) for x in range(3)
    ]
    gdf = gpd.GeoDataFrame({"community": ["A"] * 9}, geometry=cells, crs="EPSG:32648")
    g = build_graph(gdf)
    _check_shape(g)
    assert len(g.edges) == 12
    np.testing.assert_allclose(g.length, 100.0)
    assert (g.barrier == BARRIER_NONE).all()
    pairs = {tuple(e) for e in g.edges.tolist()}
    assert (0, 4) not in pairs and (1, 3) not in pairs  # corners do not count
    assert (0, 1) in pairs and (0, 3) in pairs


def test_groups_split_edges_and_none_means_one_group():
    cells = [box(x * 100, 0, x * 100 + 100, 100) for x in range(4)]
    gdf = gpd.GeoDataFrame({"community": ["A", "A", "B", "B"]}, geometry=cells, crs="EPSG:32648")
    g = build_graph(gdf)
    assert g.edges.tolist() == [[0, 1], [2, 3]]
    assert g.group_names == ["A", "B"]
    one = build_graph(gdf, group_column=None)
    assert one.edges.tolist() == [[0, 1], [1, 2], [2, 3]]


def test_island_in_a_group_is_joined_to_its_nearest_unit():
    cells = [
        box(0, 0, 100, 100),
        box(100, 0, 200, 100),
        box(400, 0, 450, 50),
        box(200, 0, 300, 100),
    ]
    gdf = gpd.GeoDataFrame({"community": ["A", "A", "A", "B"]}, geometry=cells, crs="EPSG:32648")
    g = build_graph(gdf)
    assert g.edges.tolist() == [[0, 1], [1, 2]]
    assert g.barrier.tolist() == [BARRIER_NONE, BARRIER_GAP]
    assert g.length.tolist() == [100.0, 0.0]


def test_barrier_class_follows_the_road_along_the_edge():
    cells = [box(0, 0, 100, 100), box(100, 0, 200, 100), box(0, 100, 100, 200)]
    gdf = gpd.GeoDataFrame({"community": ["A"] * 3}, geometry=cells, crs="EPSG:32648")
    roads = gpd.GeoDataFrame(
        {"class": ["arterial", "local"]},
        geometry=[
            shapely.LineString([(101, -5), (101, 105)]),
            shapely.LineString([(0, 99), (30, 99)]),
        ],
        crs="EPSG:32648",
    )
    g = build_graph(gdf, roads=roads)
    assert g.edges.tolist() == [[0, 1], [0, 2]]
    assert g.barrier.tolist() == [BARRIER_ARTERIAL, BARRIER_NONE]  # 30 % of the top edge


def test_snap_tolerance_joins_edges_digitised_apart(shared_data):
    cells = [box(0, 0, 100, 100), box(100.05, 0, 200, 100), box(0, 100, 100, 200)]
    gdf = gpd.GeoDataFrame({"community": ["A"] * 3}, geometry=cells, crs="EPSG:32648")
    exact = build_graph(gdf)
    assert exact.edges.tolist() == [[0, 1], [0, 2]]
    assert exact.barrier.tolist() == [BARRIER_GAP, BARRIER_NONE]
    snapped = build_graph(gdf, snap_tolerance=0.1)
    assert snapped.edges.tolist() == [[0, 1], [0, 2]]
    assert snapped.barrier.tolist() == [BARRIER_NONE, BARRIER_NONE]
    assert snapped.length[0] > 99
    # the SF block groups that share no exact edge do run along their neighbours
    sf = to_metric(gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg"))
    g = build_graph(sf, group_column=None, snap_tolerance=0.1)
    assert (g.barrier != BARRIER_GAP).all()
    assert nx.is_connected(_nx(g))


def test_lon_lat_units_are_measured_in_metres():
    cells = [
        box(x * 100, y * 100, x * 100 + 100, y * 100 + 100) for y in range(3) for x in range(3)
    ]
    cells = [shapely.affinity.translate(c, 400_000, 3_390_000) for c in cells]  # Chengdu
    gdf = gpd.GeoDataFrame({"community": ["A"] * 9}, geometry=cells, crs="EPSG:32648")
    g = build_graph(gdf.to_crs("EPSG:4326"))
    assert len(g.edges) == 12
    np.testing.assert_allclose(g.length, 100.0, rtol=1e-3)
