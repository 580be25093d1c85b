"""The spatial index: which grid holds each point, by rules users can rely on."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap import io
from gridmap.cli import cli
from gridmap.crs import wgs84_to_gcj02
from gridmap.errors import InputError
from gridmap.index import FLAGS, GridIndex
from gridmap.plan import write_plan

UTM = 32648  # Chengdu
LON0, LAT0 = 104.05, 30.62
DX = 1 / (111_320 * np.cos(np.radians(LAT0)))  # degrees of longitude per metre, about
DY = 1 / 110_574  # degrees of latitude per metre, about


def _ll(x_m, y_m):
    """Lon/lat of a point x_m east and y_m north of the toy's origin (arrays welcome)."""
    return LON0 + np.asarray(x_m, float) * DX, LAT0 + np.asarray(y_m, float) * DY


def _box(x0, y0, x1, y1):
    (a, b), (c, d) = _ll(x0, y0), _ll(x1, y1)
    return shapely.box(a, b, c, d)


def _toy() -> gpd.GeoDataFrame:
    """In lon/lat: B and A side by side (listed B first), C a square ring with a hole."""
    ring = _box(300, 0, 500, 200).difference(_box(340, 40, 460, 160))
    return gpd.GeoDataFrame(
        {"code": ["B", "A", "C"]},
        geometry=[_box(100, 0, 200, 100), _box(0, 0, 100, 100), ring],
        crs=4326,
    )


@pytest.fixture(scope="module")
def toy():
    return GridIndex(_toy())


def _assign(index, xs_m, ys_m):
    lon, lat = _ll(xs_m, ys_m)
    out = index.assign(lon, lat)
    return list(out.codes), [FLAGS[f] for f in out.flags], out.distance_m


def test_points_inside_and_on_shared_edges_and_vertices(toy):
    codes, flags, dist = _assign(toy, [50, 150, 100, 100, 100, 320], [50, 50, 50, 100, 0, 100])
    # the shared edge and both shared vertices go to A, the code that sorts first
    assert codes == ["A", "B", "A", "A", "A", "C"]
    assert flags == ["inside"] * 6 and np.all(dist == 0)
    assert _assign(toy, [200], [100])[0] == ["B"]  # B's outer vertex is B's alone


def test_shared_edge_rule_does_not_depend_on_input_order():
    again = GridIndex(_toy().iloc[::-1].reset_index(drop=True))
    assert _assign(again, [100] * 50, np.linspace(0, 100, 50))[0] == ["A"] * 50


def test_outside_points_snap_within_tolerance_else_unassigned_with_distance(toy):
    codes, flags, dist = _assign(toy, [-10, 150, 700, 250], [50, 125, 50, 50])
    assert codes == ["A", "B", None, None]
    assert flags == ["snapped", "snapped", "unassigned", "unassigned"]
    assert dist[0] == pytest.approx(10, abs=0.1) and dist[1] == pytest.approx(25, abs=0.1)
    assert dist[2] == pytest.approx(200, abs=toy.distance_error + 1)
    assert dist[3] == pytest.approx(50, abs=toy.distance_error + 1)
    assert _assign(toy, [220], [50])[0] == ["B"]  # 20 m east of B, 80 m from C


def test_holes_are_outside_the_grid(toy):
    codes, flags, dist = _assign(toy, [400, 345], [100, 100])
    assert codes == [None, "C"] and flags == ["unassigned", "snapped"]
    assert dist[0] == pytest.approx(60, abs=toy.distance_error + 1)
    assert dist[1] == pytest.approx(5, abs=0.1)
    tight = GridIndex(_toy(), tolerance=0)
    assert _assign(tight, [345], [100])[1] == ["unassigned"]


def test_empty_input_and_nan_coordinates_are_reported_not_fatal(toy):
    empty = toy.assign([], [])
    assert empty.labels.size == 0 and empty.counts() == dict.fromkeys(FLAGS, 0)
    codes, flags, dist = _assign(toy, [np.nan, 50, np.inf], [0, 50, 0])
    assert codes == [None, "A", None] and flags == ["invalid", "inside", "invalid"]
    assert np.isnan(dist[0]) and np.isnan(dist[2])
    with pytest.raises(InputError, match="one pair per point"):
        toy.assign([1.0, 2.0], [1.0])


def test_the_same_points_in_any_crs_get_the_same_grids(toy):
    rng = np.random.default_rng(3)
    lon, lat = _ll(rng.uniform(-50, 550, 2000), rng.uniform(-50, 250, 2000))
    base = toy.assign(lon, lat)
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326)
    for crs in (UTM, 3857, 4547):
        other = toy.assign_points(points.to_crs(crs))
        assert np.array_equal(other.labels, base.labels), crs
        assert np.array_equal(other.flags, base.flags), crs


def test_single_lookup_for_live_intake(toy):
    lon, lat = _ll(150, 50)
    assert toy.lookup(float(lon), float(lat)) == ("B", "inside", 0.0)
    x, y = gpd.GeoSeries(gpd.points_from_xy(*_ll([150], [110])), crs=4326).to_crs(UTM).iloc[0].xy
    code, flag, distance = toy.lookup(x[0], y[0], crs=UTM)
    assert (code, flag) == ("B", "snapped") and distance == pytest.approx(10, abs=0.1)


def test_bad_grids_and_points_are_refused():
    frame = _toy()
    with pytest.raises(InputError, match="no column 'name'"):
        GridIndex(frame, id_column="name")
    with pytest.raises(InputError, match="no CRS"):
        GridIndex(frame.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="repeat"):
        GridIndex(frame.assign(code=["A", "A", "C"]))
    lines = gpd.GeoSeries([shapely.LineString([(LON0, LAT0), (LON0 + DX, LAT0)])], crs=4326)
    with pytest.raises(InputError, match="not points"):
        GridIndex(frame).assign_points(lines)


# ------------------------------------------------------------------------ the sample plan


@pytest.fixture(scope="module")
def sample_index(sample_plan):
    return GridIndex(sample_plan)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 20_000))
def test_agrees_with_geopandas_sjoin_on_random_points(sample_plan, sample_index, seed, n):
    grids = sample_plan.grids_wgs84()[["code", "geometry"]]
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(seed)
    xs, ys = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    ours = sample_index.assign(xs, ys, chunk=4096)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs, ys), crs=4326)
    joined = gpd.sjoin(points, grids, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()].sort_index()
    theirs = joined["code"].to_numpy(dtype=object)
    found = pd.notna(theirs)
    assert np.array_equal(ours.codes[found], theirs[found])
    assert np.all(ours.flags[found] == 0)
    # what sjoin leaves out lies outside every grid: snapped or unassigned, never "inside"
    assert set(np.unique(ours.flags[~found]).tolist()) <= {1, 2}


def test_buildings_go_to_the_grid_holding_most_of_them(sample_layers, sample_plan, sample_index):
    buildings = sample_layers["buildings"]
    codes, share = sample_index.assign_polygons(buildings)
    expected = sample_plan.building_codes()[buildings["id"].astype(str)].to_numpy()
    assert (codes == expected).mean() >= 0.999
    assert ((share > 0.5) | (codes != expected)).mean() >= 0.99


def test_cli_assign_gcj02_csv_and_buildings(sample_layers, sample_plan, tmp_path):
    plan_path = tmp_path / "plan.gpkg"
    write_plan(sample_plan, plan_path)
    incidents = sample_layers["incidents"].iloc[:3000]
    lon, lat = wgs84_to_gcj02(incidents.geometry.x.to_numpy(), incidents.geometry.y.to_numpy())
    table = pd.DataFrame({"id": incidents["id"].to_numpy(), "lng": lon, "lat": lat})
    table.loc[5, ["lng", "lat"]] = np.nan
    table.to_csv(tmp_path / "amap.csv", index=False)
    out = tmp_path / "assigned.csv"
    args = ["assign", str(plan_path), str(tmp_path / "amap.csv"), "--coords", "gcj02"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "inside" in result.output and "invalid" in result.output
    got = pd.read_csv(out, dtype={"grid_code": str})
    truth = GridIndex(sample_plan).assign_points(incidents).codes
    keep = np.arange(len(got)) != 5
    assert (got["grid_code"].to_numpy(dtype=object)[keep] == truth[keep]).all()
    assert got.loc[5, "grid_flag"] == "invalid"
    again = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    # polygons: buildings by largest overlap
    io.write_geojson(sample_layers["buildings"].iloc[:200], tmp_path / "b.geojson")
    result = CliRunner().invoke(
        cli,
        ["assign", str(plan_path), str(tmp_path / "b.geojson"), "--out", str(tmp_path / "b.csv")],
    )
    assert result.exit_code == 0, result.output
    assert "grid_share" in (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()[0]
