"""Plan metrics checked against hand-computed truths and on real SF block groups."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from gridmap.crs import local_metric_crs
from gridmap.errors import InputError
from gridmap.graph import BARRIER_ARTERIAL, BARRIER_NONE, BARRIER_WATER, UnitGraph
from gridmap.metrics import barrier_crossings, buildings_split, grid_metrics, plan_summary

CRS = "EPSG:32648"


def units_of(geoms, **columns):
    geoms = list(geoms)
    columns.setdefault("community", ["A"] * len(geoms))
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=CRS)


def row_of_squares(n, size=100.0):
    """n squares side by side west to east: a street of n units."""
    return [box(i * size, 0, (i + 1) * size, size) for i in range(n)]


def test_unit_square_polsby_popper_and_hull_ratio():
    grids = grid_metrics(units_of([box(0, 0, 1, 1)], households=[10]), np.array([0]))
    row = grids.iloc[0]
    assert row["polsby_popper"] == pytest.approx(math.pi / 4)
    assert row["hull_ratio"] == pytest.approx(1.0)
    assert row["area_m2"] == pytest.approx(1.0)
    assert row["parts"] == 1 and row["weight"] == 10 and row["households"] == 10


def test_l_shape_dissolved_from_three_squares():
    # Three unit squares forming an L: area 3, perimeter 8, hull area 3.5.
    squares = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2)]
    grids = grid_metrics(units_of(squares, households=[1, 2, 3]), np.zeros(3, dtype=int))
    row = grids.iloc[0]
    assert row["area_m2"] == pytest.approx(3.0)
    assert row["hull_ratio"] == pytest.approx(3 / 3.5)
    assert row["polsby_popper"] == pytest.approx(4 * math.pi * 3 / 64)
    assert row["parts"] == 1 and row["units"] == 3 and row["weight"] == 6
    assert row["geometry"].geom_type == "Polygon"


def test_disjoint_squares_with_one_label_have_two_parts():
    units = units_of([box(0, 0, 1, 1), box(5, 0, 6, 1), box(0, 5, 1, 6)], households=[1, 1, 1])
    grids = grid_metrics(units, np.array([7, 7, 3]))
    assert grids["label"].tolist() == [3, 7]  # one row per label, sorted
    assert grids["parts"].tolist() == [1, 2]
    assert grids["units"].tolist() == [1, 2]


def test_deviation_from_target_and_from_group_mean():
    units = units_of(
        row_of_squares(4),
        households=[300, 500, 100, 300],
        persons=[900, 1500, 300, 900],
        community=["A", "A", "B", "B"],
    )
    grids = grid_metrics(units, np.array([0, 1, 2, 3]), target=400)
    assert grids["deviation"].tolist() == pytest.approx([-0.25, 0.25, -0.75, -0.25])
    # community A: mean 400; community B: mean 200
    assert grids["deviation_from_group_mean"].tolist() == pytest.approx([-0.25, 0.25, -0.5, 0.5])
    assert grids["group"].tolist() == ["A", "A", "B", "B"]
    assert grids["persons"].tolist() == [900, 1500, 300, 900]
    no_target = grid_metrics(units, np.array([0, 1, 2, 3]))
    assert no_target["deviation"].tolist() == pytest.approx([-0.25, 0.25, -0.5, 0.5])
    summary = plan_summary(grids, min_weight=300, max_weight=500)
    assert summary["in_range_share"] == 0.75
    assert summary["max_abs_deviation"] == pytest.approx(0.75)
    assert summary["max_abs_deviation_from_group_mean"] == pytest.approx(0.5)
    assert math.isnan(plan_summary(grids)["in_range_share"])


def test_weight_by_another_column_without_groups():
    units = units_of(row_of_squares(3), Population=[10, 20, 30]).drop(columns="community")
    grids = grid_metrics(units, np.array([0, 0, 1]), weight="Population", group_column=None)
    assert grids["weight"].tolist() == [30, 30]
    assert "households" not in grids and (grids["group"] == "").all()
    assert grids["deviation"].tolist() == pytest.approx([0.0, 0.0])


def test_boundary_fit_one_on_lines_and_zero_off_them():
    # Four squares in a row, two grids: the only inner boundary is x = 200.
    units = units_of(row_of_squares(4), households=[1, 1, 1, 1])
    labels = np.array([0, 0, 1, 1])
    on = gpd.GeoDataFrame(geometry=[LineString([(198, -50), (198, 150)])], crs=CRS)
    off = gpd.GeoDataFrame(geometry=[LineString([(100, -50), (100, 150)])], crs=CRS)
    assert grid_metrics(units, labels, lines=on)["boundary_fit"].tolist() == pytest.approx([1, 1])
    assert grid_metrics(units, labels, lines=off)["boundary_fit"].tolist() == pytest.approx([0, 0])
    assert grid_metrics(units, labels)["boundary_fit"].isna().all()
    # A line along half the inner edge (and a polygon whose outline is far away).
    half = gpd.GeoDataFrame(
        geometry=[LineString([(200, 50), (200, 100)]), box(1000, 1000, 1100, 1100)], crs=CRS
    )
    fit = grid_metrics(units, labels, lines=half)["boundary_fit"]
    assert fit.tolist() == pytest.approx([0.55, 0.55], abs=0.01)  # 50 m + 5 m reach of 100 m
    summary = plan_summary(grid_metrics(units, labels, lines=on))
    assert summary["mean_boundary_fit"] == pytest.approx(1.0)


def test_boundary_fit_ignores_the_street_edge():
    # A 3x1 street; the middle grid touches the street edge on top and bottom, but only its
    # two inner edges count, and lines on them give a fit of 1.
    units = units_of(row_of_squares(3), households=[1, 1, 1])
    lines = gpd.GeoDataFrame(
        geometry=[LineString([(100, 0), (100, 100)]), LineString([(200, 0), (200, 100)])],
        crs=CRS,
    )
    fit = grid_metrics(units, np.array([0, 1, 2]), lines=lines)["boundary_fit"]
    assert fit.tolist() == pytest.approx([1, 1, 1])


def test_gap_and_overlap_detection():
    street = box(0, 0, 300, 100)
    clean = grid_metrics(units_of(row_of_squares(3), households=[1, 1, 1]), np.arange(3))
    summary = plan_summary(clean, street=street)
    assert summary["gap_m2"] == pytest.approx(0, abs=1e-6)
    assert summary["overlap_m2"] == pytest.approx(0, abs=1e-6)
    assert summary["outside_m2"] == pytest.approx(0, abs=1e-6)
    assert summary["contiguous_share"] == 1.0 and summary["grids"] == 3
    # A 10 x 10 hole in the first grid and a 20 m wide overlap between the last two.
    holed = Polygon(box(0, 0, 100, 100).exterior.coords, [box(40, 40, 50, 50).exterior.coords])
    bad = gpd.GeoDataFrame(
        {"weight": [1, 1, 1], "parts": [1, 1, 1]},
        geometry=[holed, box(100, 0, 220, 100), box(200, 0, 300, 100)],
        crs=CRS,
    )
    summary = plan_summary(bad, street=street)
    assert summary["gap_m2"] == pytest.approx(100)
    assert summary["overlap_m2"] == pytest.approx(2000)
    # Without the street, holes enclosed by the grids are the gaps.
    assert plan_summary(bad)["gap_m2"] == pytest.approx(100)
    assert math.isnan(plan_summary(bad)["outside_m2"])


def test_buildings_split():
    grids = grid_metrics(units_of(row_of_squares(2), households=[1, 1]), np.array([0, 1]))
    buildings = gpd.GeoDataFrame(
        geometry=[
            box(10, 10, 30, 30),  # inside grid 0
            box(90, 10, 110, 30),  # half and half: split
            box(10, 10, 100.1, 30),  # 0.1 % over the line: a drawing sliver
            box(150, 10, 250, 30),  # half outside the street, not split between grids
        ],
        crs=CRS,
    )
    assert buildings_split(buildings, grids).tolist() == [1]
    assert buildings_split(buildings, grids, tolerance=0.0).tolist() == [1, 2]
    assert buildings_split(buildings.to_crs(4326), grids).tolist() == [1]


def test_errors_for_geographic_crs_and_wrong_labels():
    units = units_of(row_of_squares(2), households=[1, 1])
    with pytest.raises(InputError, match="geographic") as caught:
        grid_metrics(units.to_crs(4326), np.array([0, 1]))
    assert "to_crs" in caught.value.fix
    with pytest.raises(InputError, match="no coordinate reference system"):
        grid_metrics(units.set_crs(None, allow_override=True), np.array([0, 1]))
    with pytest.raises(InputError, match="3 labels for 2 units") as caught:
        grid_metrics(units, np.array([0, 1, 1]))
    assert caught.value.fix
    with pytest.raises(InputError, match="'persons'"):
        grid_metrics(units, np.array([0, 1]), weight="persons")
    with pytest.raises(InputError, match="group column"):
        grid_metrics(units, np.array([0, 1]), group_column="nest")
    with pytest.raises(InputError, match="geographic"):
        plan_summary(grid_metrics(units, np.array([0, 1])).to_crs(4326))


def kmeans_labels(gdf, k, iterations=25):
    """Deterministic k-means on unit centroids (seeds spread along the row order)."""
    points = shapely.centroid(gdf.geometry.to_numpy())
    xy = np.c_[shapely.get_x(points), shapely.get_y(points)]
    centres = xy[np.linspace(0, len(xy) - 1, k).astype(int)]
    for _ in range(iterations):
        labels = ((xy[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.array([xy[labels == j].mean(0) for j in range(k)])
    return labels


@pytest.fixture(scope="module")
def sf(shared_data):
    gdf = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    return gdf.to_crs(local_metric_crs(gdf)).reset_index(drop=True)


def test_sf_block_groups_give_sane_numbers(sf):
    labels = kmeans_labels(sf, 20)
    grids = grid_metrics(sf, labels, weight="Population", group_column=None)
    summary = plan_summary(grids)
    assert len(grids) == 20 and grids["units"].sum() == 579
    assert grids["weight"].sum() == pytest.approx(sf["Population"].sum())
    assert grids["area_m2"].sum() == pytest.approx(shapely.area(sf.geometry.to_numpy()).sum())
    assert grids["deviation"].mean() == pytest.approx(0, abs=1e-9)
    assert ((grids["polsby_popper"] > 0.1) & (grids["polsby_popper"] <= 1)).all()
    assert ((grids["hull_ratio"] > 0.4) & (grids["hull_ratio"] <= 1)).all()
    assert (grids["parts"] >= 1).all()
    assert 0.8 <= summary["contiguous_share"] <= 1
    assert 0.3 < summary["mean_polsby_popper"] < 0.9
    assert summary["gap_m2"] < 1 and summary["overlap_m2"] < 1
    # Lines along every block group edge: each inner grid boundary follows them.
    lines = gpd.GeoDataFrame(geometry=shapely.boundary(sf.geometry.to_numpy()), crs=sf.crs)
    fitted = grid_metrics(sf, labels, weight="Population", group_column=None, lines=lines)
    assert fitted["boundary_fit"].min() > 0.99


def test_plan_summary_counts_split_buildings():
    grids = grid_metrics(units_of(row_of_squares(2), households=[1, 1]), np.array([0, 1]))
    whole, cut = box(10, 10, 20, 20), box(90, 10, 110, 20)  # the second straddles the line
    buildings = gpd.GeoDataFrame(geometry=[whole, cut], crs=CRS)
    assert plan_summary(grids, buildings=buildings)["buildings_split"] == 1
    assert plan_summary(grids, buildings=buildings.iloc[:1])["buildings_split"] == 0
    assert math.isnan(plan_summary(grids)["buildings_split"])


def test_barrier_crossings_from_the_unit_graph():
    # a row of 5 units: 0-1 plain, 1-2 along the river, 2-3 along an arterial, 3-4 plain;
    # unit 2 is the river itself (not land)
    graph = UnitGraph(
        n=5,
        edges=np.array([[0, 1], [1, 2], [2, 3], [3, 4]]),
        length=np.full(4, 100.0),
        barrier=np.array([BARRIER_NONE, BARRIER_WATER, BARRIER_ARTERIAL, BARRIER_NONE]),
        groups=np.zeros(5, dtype=np.int64),
        group_names=["A"],
    )
    land = np.array([True, True, False, True, True])
    # grid 0 = units 0-1 (no crossing); grid 1 = 2-4: the river unit joins across the arterial,
    # but only land counts, so it does not cross the arterial
    labels = np.array([0, 0, 1, 1, 1])
    assert barrier_crossings(graph, labels, land, BARRIER_WATER).tolist() == [False, False]
    assert barrier_crossings(graph, labels, land, BARRIER_ARTERIAL).tolist() == [False, False]
    # one grid holding land on both banks crosses the river (and the arterial)
    labels = np.array([0, 0, 0, 0, 1])
    assert barrier_crossings(graph, labels, land, BARRIER_WATER).tolist() == [True, False]
    assert barrier_crossings(graph, labels, land, BARRIER_ARTERIAL).tolist() == [True, False]
    everything = np.ones(5, dtype=bool)  # unit 2 counted as land: 1|2 across the river
    labels = np.array([0, 1, 1, 2, 2])
    assert barrier_crossings(graph, labels, everything, BARRIER_WATER).tolist() == [0, 1, 0]
