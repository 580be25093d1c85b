"""Hexagon counts, grid adjacency and Getis-Ord Gi* hot spots (gridmap.hotspots)."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from gridmap.errors import InputError
from gridmap.hotspots import (
    HOTSPOT_CLASSES,
    getis_ord_gi_star,
    grid_adjacency,
    grid_hotspots,
    hex_bins,
    hexagon_area_m2,
    monthly_counts,
)

UTM48 = "EPSG:32648"  # the sample street's zone (Chengdu)


def _random_points(n, seed=0, bounds=(104.09, 30.62, 104.12, 30.65)):
    rng = np.random.default_rng(seed)
    lon = rng.uniform(bounds[0], bounds[2], n)
    lat = rng.uniform(bounds[1], bounds[3], n)
    return gpd.GeoDataFrame(
        {"w": rng.integers(0, 5, n)}, geometry=gpd.points_from_xy(lon, lat), crs=4326
    )


def _square_lattice(rows=3, cols=3, size=100.0, crs=UTM48):
    cells = [
        box(x0 := 400_000 + c * size, y0 := 3_390_000 + r * size, x0 + size, y0 + size)
        for r in range(rows)
        for c in range(cols)
    ]
    return gpd.GeoDataFrame(
        {"code": [f"G{i:02d}" for i in range(len(cells))]}, geometry=cells, crs=crs
    )


# ------------------------------------------------------------------ hex_bins


def test_hex_bins_conserve_the_count_and_hold_their_points():
    points = _random_points(5_000)
    heat = hex_bins(points, size_m=100)
    assert heat.crs.to_epsg() == 4326
    assert heat["count"].sum() == len(points)
    assert (heat["count"] > 0).all()
    assert heat["share"].max() == 1.0 and heat["share"].min() > 0
    assert list(heat.columns) == ["q", "r", "count", "density_per_km2", "share", "geometry"]
    # every point lies in the hexagon it was counted in (spatial join agrees with rounding)
    joined = gpd.sjoin(points, heat, predicate="within")
    assert len(joined) == len(points)
    assert (joined.groupby("index_right").size() == heat["count"]).all()


def test_hexagons_do_not_overlap_and_have_the_requested_size():
    points = _random_points(3_000, seed=1)
    heat = hex_bins(points, size_m=150)
    metric = heat.to_crs(heat.attrs["metric_crs"])
    expected = math.sqrt(3) / 2 * 150**2  # size_m is flat-to-flat: area = sqrt(3)/2 * d²
    assert hexagon_area_m2(150) == pytest.approx(expected)
    assert heat.attrs["hexagon_area_m2"] == pytest.approx(expected)
    assert metric.area.to_numpy() == pytest.approx(expected, rel=1e-6)
    union = shapely.union_all(metric.geometry.to_numpy())
    assert union.area == pytest.approx(metric.area.sum(), rel=1e-6)  # no overlaps
    # flat-to-flat width: neighbouring centres are size_m apart; corners size_m / sqrt(3) away
    first = metric.geometry.iloc[0]
    centre = np.asarray(first.centroid.coords[0])
    corners = shapely.get_coordinates(first)[:-1]
    assert np.hypot(*(corners - centre).T) == pytest.approx(150 / math.sqrt(3), rel=1e-6)
    gaps = metric.centroid.distance(first.centroid)
    assert gaps[gaps > 1].min() == pytest.approx(150, rel=1e-6)
    density = heat["count"].to_numpy() / (expected / 1e6)
    assert heat["density_per_km2"].to_numpy() == pytest.approx(density)


def test_the_lattice_is_the_same_week_after_week():
    points = _random_points(4_000, seed=2)
    week1, week2 = points.iloc[:2_000], points.iloc[2_000:]
    extent = (104.08, 30.61, 104.13, 30.66)
    a = hex_bins(week1, extent=extent).set_index(["q", "r"])
    b = hex_bins(week2, extent=extent).set_index(["q", "r"])
    common = a.index.intersection(b.index)
    assert len(common) > 50
    for key in common[:20]:
        assert a.geometry[key].equals_exact(b.geometry[key], 1e-12)


def test_hex_bins_of_no_points_is_an_empty_frame_with_the_columns():
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326))
    heat = hex_bins(empty)
    assert len(heat) == 0
    assert list(heat.columns) == ["q", "r", "count", "density_per_km2", "share", "geometry"]
    assert heat.crs.to_epsg() == 4326
    assert heat.attrs["skipped"] == 0


def test_hex_bins_skip_missing_empty_and_nan_points():
    points = _random_points(100, seed=3)
    broken = gpd.GeoDataFrame(
        {"w": [1, 1, 1]},
        geometry=gpd.GeoSeries([None, Point(), Point(float("nan"), float("nan"))]),
        crs=4326,
    )
    heat = hex_bins(pd.concat([points, broken], ignore_index=True))
    assert heat.attrs["skipped"] == 3
    assert heat["count"].sum() == 100
    only_broken = hex_bins(broken)
    assert len(only_broken) == 0 and only_broken.attrs["skipped"] == 3


def test_hex_bins_weights_extent_and_clip():
    points = _random_points(2_000, seed=4)
    weighted = hex_bins(points, weights="w")
    assert weighted["count"].sum() == points["w"].sum()
    street = gpd.GeoDataFrame(geometry=[box(104.095, 30.625, 104.115, 30.645)], crs=4326)
    inside = points.within(street.geometry.iloc[0]).sum()
    heat = hex_bins(points, extent=street)
    assert heat["count"].sum() == inside
    assert heat.attrs["outside"] == len(points) - inside
    clipped = hex_bins(points, extent=street, clip=True)
    assert clipped["count"].sum() == inside
    metric = clipped.to_crs(clipped.attrs["metric_crs"])
    assert (metric.area <= hexagon_area_m2(100) * (1 + 1e-6)).all()
    assert (metric.area < hexagon_area_m2(100) * 0.99).any()  # edge hexagons were cut


def test_hex_bins_are_vectorised_for_100k_points():
    points = _random_points(100_000, seed=5)
    heat = hex_bins(points, size_m=100)
    assert heat["count"].sum() == 100_000


def test_hex_bins_sample_incidents(sample_layers):
    incidents = sample_layers["incidents"]
    heat = hex_bins(incidents, size_m=100, extent=sample_layers["street"])
    assert heat["count"].sum() + heat.attrs["outside"] + heat.attrs["skipped"] == len(incidents)
    assert heat.attrs["metric_crs"] == "EPSG:32648"


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"size_m": 0}, "hexagon width"),
        ({"size_m": "big"}, "hexagon width"),
        ({"weights": [1, 2]}, "one weight per point"),
        ({"weights": "nope"}, "numeric column"),
        ({"extent": (1, 2, 3)}, "(minx, miny, maxx, maxy)"),
        ({"extent": "street"}, "street boundary"),
    ],
)
def test_hex_bins_refuse_bad_arguments(kwargs, fix):
    with pytest.raises(InputError, match="Fix:") as info:
        hex_bins(_random_points(10), **kwargs)
    assert fix in str(info.value)


def test_hex_bins_refuse_points_without_crs_and_polygons():
    points = _random_points(10)
    with pytest.raises(InputError, match="set_crs"):
        hex_bins(points.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="representative_point"):
        hex_bins(gpd.GeoDataFrame(geometry=[box(104, 30, 104.01, 30.01)], crs=4326))
    with pytest.raises(InputError, match="negative"):
        hex_bins(points, weights=-np.ones(10))


# ------------------------------------------------------------------ adjacency


def test_queen_adjacency_of_a_3x3_lattice():
    lattice = _square_lattice()
    m = grid_adjacency(lattice)
    degree = np.asarray(m.sum(axis=1)).reshape(-1)
    assert degree.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    assert (m != m.T).nnz == 0 and m.diagonal().sum() == 0
    assert m.indices[m.indptr[0] : m.indptr[1]].tolist() == [1, 3, 4]


def test_adjacency_tolerates_slivers_and_lon_lat():
    lattice = _square_lattice()
    moved = lattice.copy()
    moved.loc[4, "geometry"] = shapely.affinity.translate(moved.geometry[4], 0.2, 0.2)
    moved.loc[8, "geometry"] = shapely.affinity.translate(moved.geometry[8], 0.3, 0.3)
    degree = np.asarray(grid_adjacency(moved).sum(axis=1)).reshape(-1)
    assert degree.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    strict = np.asarray(grid_adjacency(moved, tolerance_m=0).sum(axis=1)).reshape(-1)
    assert strict[8] < 3  # the 0.3 m gap breaks contiguity without the tolerance
    lonlat = grid_adjacency(lattice.to_crs(4326))
    assert np.asarray(lonlat.sum(axis=1)).reshape(-1).tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]


def test_adjacency_refuses_missing_geometries():
    lattice = _square_lattice()
    lattice.loc[2, "geometry"] = None
    with pytest.raises(InputError, match="row 3"):
        grid_adjacency(lattice)
    assert grid_adjacency(lattice.iloc[:0]).shape == (0, 0)


# ------------------------------------------------------------------ Gi*


def test_gi_star_against_a_hand_computed_example():
    # five units in a row, 0-1-2-3-4, values 1, 2, 3, 4, 10
    # n = 5, mean = 20 / 5 = 4, mean(x²) = (1 + 4 + 9 + 16 + 100) / 5 = 26,
    # S = sqrt(26 - 4²) = sqrt(10)
    # unit 4: w = {3, 4}, sum w = 2, sum wx = 4 + 10 = 14, numerator = 14 - 4 * 2 = 6,
    #         denominator = sqrt(10) * sqrt((5 * 2 - 2²) / 4) = sqrt(10 * 1.5) = sqrt(15)
    #         Gi* = 6 / sqrt(15) = 1.549
    # unit 0: sum wx = 1 + 2 = 3, numerator = 3 - 8 = -5, Gi* = -5 / sqrt(15)
    # unit 2: w = {1, 2, 3}, sum w = 3, sum wx = 9, numerator = 9 - 12 = -3,
    #         denominator = sqrt(10) * sqrt((15 - 9) / 4) = sqrt(15), Gi* = -3 / sqrt(15)
    # unit 1: w = {0, 1, 2}, sum wx = 6, numerator = 6 - 12 = -6, Gi* = -6 / sqrt(15)
    # unit 3: w = {2, 3, 4}, sum wx = 17, numerator = 17 - 12 = 5, Gi* = 5 / sqrt(15)
    neighbours = [[1], [0, 2], [1, 3], [2, 4], [3]]
    result = getis_ord_gi_star([1, 2, 3, 4, 10], neighbours)
    expected = np.array([-5, -6, -3, 5, 6]) / math.sqrt(15)
    assert result["gi_star"].to_numpy() == pytest.approx(expected)
    assert result["p_value"].iloc[4] == pytest.approx(0.12134, abs=1e-5)  # 2 (1 - Φ(1.549))
    assert result["neighbours"].tolist() == [1, 2, 2, 2, 1]
    assert (result["hotspot"] == "not significant").all()
    assert result.attrs["note"] == ""


def test_gi_star_accepts_a_sparse_matrix_and_keeps_the_index():
    lattice = _square_lattice()
    values = pd.Series([1.0, 1, 1, 1, 9, 1, 1, 1, 1], index=lattice["code"])
    a = getis_ord_gi_star(values, grid_adjacency(lattice))
    m = grid_adjacency(lattice)
    b = getis_ord_gi_star(
        values.to_numpy(), [m.indices[m.indptr[i] : m.indptr[i + 1]] for i in range(9)]
    )
    assert list(a.index) == list(lattice["code"])
    assert a["gi_star"].to_numpy() == pytest.approx(b["gi_star"].to_numpy(), nan_ok=True)
    # the centre's neighbourhood is the whole lattice: nothing to compare it with
    assert math.isnan(a["gi_star"].iloc[4]) and "whole area" in a.attrs["note"]


def test_gi_star_classes_follow_the_z_score():
    from gridmap.hotspots import _classify

    z = np.array([3.0, 2.0, 1.7, 0.0, -1.7, -2.0, -3.0, np.nan])
    assert _classify(z).tolist() == [*HOTSPOT_CLASSES, "not significant"]


@pytest.mark.parametrize("values", [[5.0] * 9, [0.0] * 9, [2.0, 3.0]])
def test_gi_star_on_constant_values_or_too_few_units(values):
    n = len(values)
    neighbours = [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
    result = getis_ord_gi_star(values, neighbours, permutations=99)
    assert result["gi_star"].isna().all()
    assert (result["hotspot"] == "not significant").all()
    assert result.attrs["note"]


def test_gi_star_refuses_bad_input():
    with pytest.raises(InputError, match="row 2"):
        getis_ord_gi_star([1.0, np.nan, 3.0], [[1], [0, 2], [1]])
    with pytest.raises(InputError, match="same order"):
        getis_ord_gi_star([1.0, 2.0, 3.0], [[1], [0]])
    with pytest.raises(InputError, match="outside 0..2"):
        getis_ord_gi_star([1.0, 2.0, 3.0], [[1], [0, 5], [1]])
    with pytest.raises(InputError, match="permutations"):
        getis_ord_gi_star([1.0, 2.0, 3.0], [[1], [0, 2], [1]], permutations=-1)


def test_gi_star_permutations_give_a_repeatable_pseudo_p_value():
    lattice = _square_lattice(5, 5)
    values = np.ones(25)
    values[[0, 1, 5, 6]] = 20.0  # a hot corner
    m = grid_adjacency(lattice)
    a = getis_ord_gi_star(values, m, permutations=199, seed=3)
    b = getis_ord_gi_star(values, m, permutations=199, seed=3)
    assert a["p_sim"].equals(b["p_sim"])
    assert a["p_sim"].between(1 / 200, 1).all()  # ties may count on both sides
    assert a["p_sim"].iloc[0] < 0.02 and a["p_sim"].iloc[24] > 0.05


def test_gi_star_matches_esda(sample_plan):
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    grids = sample_plan.grids
    m = grid_adjacency(grids)
    values = np.random.default_rng(1).poisson(30, len(grids)).astype(float)
    ours = getis_ord_gi_star(values, m)
    weights = libpysal.weights.W(
        {i: m.indices[m.indptr[i] : m.indptr[i + 1]].tolist() for i in range(len(grids))}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = esda.G_Local(values, weights, transform="B", star=True, permutations=0)
    assert ours["gi_star"].to_numpy() == pytest.approx(theirs.Zs, abs=1e-9)


# ------------------------------------------------------------------ grid_hotspots


def _cluster(grids):
    """The grid with most neighbours, and it with its neighbours (positions)."""
    m = grid_adjacency(grids)
    centre = int(np.argmax(np.asarray(m.sum(axis=1)).reshape(-1)))
    return centre, [centre, *m.indices[m.indptr[centre] : m.indptr[centre + 1]].tolist()]


def test_a_planted_hotspot_is_hot_99(sample_plan):
    grids = sample_plan.grids
    centre, cluster = _cluster(grids)
    counts = pd.Series(np.random.default_rng(0).poisson(20, len(grids)), index=grids["code"])
    counts.iloc[cluster] = 120
    result = grid_hotspots(grids, counts)
    assert result["hotspot"].iloc[centre] == "hot 99%"
    assert result["gi_star"].iloc[centre] > 2.576
    assert result.crs == grids.crs and list(result["code"]) == list(grids["code"])
    assert (result["count"].to_numpy() == counts.to_numpy()).all()
    assert set(result["hotspot"]) <= set(HOTSPOT_CLASSES)


def test_a_uniform_field_is_rarely_significant_at_99(sample_plan):
    # incidents in proportion to households, with Poisson noise: a rate that is the same
    # everywhere.  Over 20 fields, at most ~1% of the grids may come out 99% hot or cold.
    grids = sample_plan.grids
    flagged = 0
    for seed in range(20):
        expected = grids["households"].to_numpy() * 0.05
        counts = dict(
            zip(grids["code"], np.random.default_rng(seed).poisson(expected), strict=True)
        )
        result = grid_hotspots(grids, counts, per_households=True)
        flagged += result["hotspot"].str.endswith("99%").sum()
        assert "rate" in result and result.attrs["tested"] == "rate"
    assert flagged / (20 * len(grids)) <= 0.02


def test_grid_hotspots_with_constant_counts_unknown_codes_and_no_households():
    grids = _square_lattice()
    grids["households"] = [400, 400, 400, 400, 0, 400, 400, 400, 400]
    counts = {code: 4 for code in grids["code"]} | {"ELSEWHERE": 7, None: 3}
    result = grid_hotspots(grids, counts, per_households=True, permutations=9)
    assert (result["hotspot"] == "not significant").all()
    assert math.isnan(result["rate"].iloc[4])
    assert result.attrs["unmatched"] == {"ELSEWHERE": 7.0}
    assert "same" in result.attrs["note"] and "without households" in result.attrs["note"]
    assert "p_sim" in result


def test_grid_hotspots_refuse_bad_input():
    grids = _square_lattice()
    with pytest.raises(InputError, match="'code'"):
        grid_hotspots(grids.drop(columns="code"), {})
    with pytest.raises(InputError, match="households"):
        grid_hotspots(grids, {}, per_households=True)
    with pytest.raises(InputError, match="0 or more"):
        grid_hotspots(grids, {"G00": -1})
    twice = grids.copy()
    twice.loc[1, "code"] = "G00"
    with pytest.raises(InputError, match="repeat"):
        grid_hotspots(twice, {})


# ------------------------------------------------------------------ monthly_counts


def test_monthly_counts_are_zero_filled():
    table = pd.DataFrame(
        {
            "reported_at": pd.to_datetime(
                ["2025-01-15", "2025-03-01", "2025-03-31 23:59", None], format="ISO8601"
            )
        }
    )
    result = monthly_counts(table, months=4)
    assert result["month"].tolist() == ["2024-12", "2025-01", "2025-02", "2025-03"]
    assert result["count"].tolist() == [0, 1, 0, 2]
    assert result["start"].iloc[0] == pd.Timestamp("2024-12-01")
    assert result.attrs["skipped"] == 1 and result.attrs["outside"] == 0
    later = monthly_counts(table, months=2, end="2025-04-10")
    assert later["month"].tolist() == ["2025-03", "2025-04"]
    assert later["count"].tolist() == [2, 0] and later.attrs["outside"] == 1


def test_monthly_counts_read_iso_text_and_aware_times():
    table = pd.DataFrame({"reported_at": ["2025-05-31T20:00:00+00:00", "2025-05-02T08:00"]})
    result = monthly_counts(table, months=2)
    # 20:00 UTC on 31 May is 04:00 on 1 June in Chengdu
    assert result["month"].tolist() == ["2025-05", "2025-06"]
    assert result["count"].tolist() == [1, 1]


def test_monthly_counts_of_nothing_and_bad_input(sample_layers):
    empty = sample_layers["incidents"].iloc[:0]
    result = monthly_counts(empty, months=3, end="2025-02-01")
    assert result["count"].tolist() == [0, 0, 0]
    assert len(monthly_counts(sample_layers["incidents"])) == 12
    with pytest.raises(InputError, match="reported_at"):
        monthly_counts(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match="months"):
        monthly_counts(empty, months=0)
    with pytest.raises(InputError, match="not a date"):
        monthly_counts(empty, end="soon")
