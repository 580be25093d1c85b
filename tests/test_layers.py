"""Validation of workspace layers: every bad input is reported by file, layer, row and fix."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from gridmap.layers import validate_layer, validate_workspace

# A tiny street in central Chengdu (EPSG:4326), about 1 km x 0.9 km, split into two communities.
LON0, LAT0 = 104.06, 30.65
D = 0.01


def _street() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["510104001"], "name": ["示例街道"], "district_code": ["510104"]},
        geometry=[box(LON0, LAT0, LON0 + D, LAT0 + D)],
        crs=4326,
    )


def _communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["510104001001", "510104001002"], "name": ["东社区", "西社区"]},
        geometry=[
            box(LON0, LAT0, LON0 + D / 2, LAT0 + D),
            box(LON0 + D / 2, LAT0, LON0 + D, LAT0 + D),
        ],
        crs=4326,
    )


def _buildings() -> gpd.GeoDataFrame:
    geoms = [box(LON0 + 0.001 * i, LAT0 + 0.001, LON0 + 0.001 * i + 0.0005, LAT0 + 0.0015)
             for i in range(1, 5)]  # fmt: skip
    return gpd.GeoDataFrame(
        {"id": ["B1", "B2", "B3", "B4"], "floors": [6, 18, 2, 3], "households": [2, 1, 0, 0]},
        geometry=geoms,
        crs=4326,
    )


def _households() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["H1", "H2", "H3"], "persons": [3, 2, 1], "building_id": ["B1", "B1", "B2"]},
        geometry=[
            Point(LON0 + 0.0012, LAT0 + 0.0012),
            Point(LON0 + 0.0013, LAT0 + 0.0013),
            Point(LON0 + 0.0022, LAT0 + 0.0012),
        ],
        crs=4326,
    )


def _incidents() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["E1", "E2"],
            "category": ["noise", "sanitation"],
            "status": ["closed", "reported"],
            "priority": ["normal", "high"],
            "reported_at": pd.to_datetime(["2026-01-02 09:00", "2026-01-03 10:00"]),
            "closed_at": pd.to_datetime(["2026-01-02 15:00", None]),
            "source": ["hotline", "member_app"],
            "description": ["夜间施工噪音", "垃圾未清运"],
        },
        geometry=[Point(LON0 + 0.003, LAT0 + 0.003), Point(LON0 + 0.006, LAT0 + 0.004)],
        crs=4326,
    )


def _roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"class": ["arterial", "local"], "name": ["一环路", None]},
        geometry=[
            LineString([(LON0, LAT0 + D / 2), (LON0 + D, LAT0 + D / 2)]),
            LineString([(LON0 + D / 2, LAT0), (LON0 + D / 2, LAT0 + D)]),
        ],
        crs=4326,
    )


def _members() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["M1", "M2"], "name": ["张伟", "李娜"], "phone": ["13800000001", "13800000002"],
         "community_code": ["510104001001", "510104001002"]}
    )  # fmt: skip


def workspace(**changes: object) -> dict[str, object]:
    layers = {
        "street": _street(),
        "communities": _communities(),
        "roads": _roads(),
        "buildings": _buildings(),
        "households": _households(),
        "incidents": _incidents(),
        "members": _members(),
    }
    for name, value in changes.items():
        if value is None:
            del layers[name]
        else:
            layers[name] = value
    return layers


def problems_of(report, severity=None, layer=None):
    return [
        p
        for p in report.problems
        if (severity is None or p.severity == severity) and (layer is None or p.layer == layer)
    ]


def only_error(report, layer, fragment):
    """The one error about `layer` whose message contains `fragment`."""
    hits = [p for p in problems_of(report, "error", layer) if fragment in p.message]
    assert len(hits) == 1, [str(p) for p in report.problems]
    problem = hits[0]
    assert problem.file == "ws.gpkg" and problem.fix, "a problem names the file and the fix"
    return problem


def test_a_clean_workspace_has_no_problems():
    report = validate_workspace(workspace(), "ws.gpkg")
    assert report.ok, [str(p) for p in report.problems]
    assert not report.warnings
    assert {s.name for s in report.layers} == set(workspace())
    assert report.layers[0].bounds == pytest.approx((LON0, LAT0, LON0 + D, LAT0 + D))


# --- columns -------------------------------------------------------------------------------


def test_missing_required_column_names_the_column_and_close_matches():
    b = _buildings().rename(columns={"floors": "Floor"})
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "'floors'"
    )
    assert "Floor" in problem.message


def test_text_in_a_number_column_is_reported_by_row():
    b = _buildings().astype({"floors": object})
    b.loc[2, "floors"] = "three"
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "numbers"
    )
    assert problem.rows == [2]
    assert "'three'" in problem.message
    assert "row 3" in str(problem)  # shown one-based


def test_number_below_minimum():
    b = _buildings()
    b.loc[0, "floors"] = 0
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "at least 1"
    )
    assert problem.rows == [0]


def test_fraction_in_a_whole_number_column():
    h = _households()
    h["persons"] = [3, 2.5, 1]
    problem = only_error(
        validate_workspace(workspace(households=h), "ws.gpkg"), "households", "whole"
    )
    assert problem.rows == [1]


def test_duplicate_ids_list_every_row_involved():
    h = _households()
    h.loc[2, "id"] = "H1"
    problem = only_error(
        validate_workspace(workspace(households=h), "ws.gpkg"), "households", "unique"
    )
    assert problem.rows == [0, 2]


def test_empty_required_id():
    b = _buildings()
    b.loc[3, "id"] = None
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "empty"
    )
    assert problem.rows == [3]


def test_value_outside_allowed_list():
    i = _incidents()
    i.loc[1, "category"] = "parking"
    problem = only_error(
        validate_workspace(workspace(incidents=i), "ws.gpkg"), "incidents", "allowed"
    )
    assert "'parking'" in problem.message and "sanitation" in problem.fix
    assert problem.rows == [1]


def test_unreadable_datetime():
    i = _incidents()
    i["reported_at"] = ["2026-01-02 09:00", "yesterday-ish"]
    problem = only_error(
        validate_workspace(workspace(incidents=i), "ws.gpkg"), "incidents", "dates"
    )
    assert problem.rows == [1] and "ISO 8601" in problem.fix


def test_closed_before_reported():
    i = _incidents()
    i.loc[0, "closed_at"] = pd.Timestamp("2026-01-01 08:00")
    problem = only_error(
        validate_workspace(workspace(incidents=i), "ws.gpkg"), "incidents", "earlier"
    )
    assert problem.rows == [0]


def test_final_status_without_closing_time_is_a_warning():
    i = _incidents()
    i.loc[0, "closed_at"] = pd.NaT
    report = validate_workspace(workspace(incidents=i), "ws.gpkg")
    assert report.ok
    [warning] = problems_of(report, "warning", "incidents")
    assert "closed_at" in warning.message and warning.rows == [0]


def test_personal_data_in_households_is_refused():
    h = _households()
    h["phone"] = ["1", "2", "3"]
    problem = only_error(
        validate_workspace(workspace(households=h), "ws.gpkg"), "households", "personal"
    )
    assert "delete the column 'phone'" in problem.fix


def test_codes_must_be_digits_of_the_right_length():
    s = _street()
    s["district_code"] = ["51O104"]  # letter O, not zero
    s["code"] = ["51010400"]
    report = validate_workspace(workspace(street=s), "ws.gpkg")
    only_error(report, "street", "digits only")
    only_error(report, "street", "9 digits")


def test_community_codes_must_extend_the_street_code():
    c = _communities()
    c.loc[1, "code"] = "510105001002"
    problem = only_error(
        validate_workspace(workspace(communities=c), "ws.gpkg"), "communities", "start with"
    )
    assert problem.rows == [1]


def test_household_pointing_at_an_unknown_building():
    h = _households()
    h.loc[2, "building_id"] = "B99"
    problem = only_error(
        validate_workspace(workspace(households=h), "ws.gpkg"), "households", "building_id"
    )
    assert problem.rows == [2]


def test_building_household_count_that_disagrees_with_points():
    b = _buildings()
    b.loc[1, "households"] = 40
    report = validate_workspace(workspace(buildings=b), "ws.gpkg")
    assert report.ok
    [warning] = problems_of(report, "warning", "buildings")
    assert warning.rows == [1]


# --- geometry -------------------------------------------------------------------------------


def test_wrong_geometry_type():
    b = _buildings()
    b.loc[1, "geometry"] = Point(LON0 + 0.002, LAT0 + 0.001)
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "found Point"
    )
    assert problem.rows == [1]


def test_empty_geometry_is_an_error_for_buildings_and_a_warning_for_incidents():
    b = _buildings()
    b.loc[2, "geometry"] = None
    i = _incidents()
    i.loc[1, "geometry"] = Point()
    report = validate_workspace(workspace(buildings=b, incidents=i), "ws.gpkg")
    assert only_error(report, "buildings", "no geometry").rows == [2]
    [warning] = problems_of(report, "warning", "incidents")
    assert "left out" in warning.message and warning.rows == [1]


def test_self_intersecting_polygon_is_repaired_and_counted():
    b = _buildings()
    x, y = LON0 + 0.004, LAT0 + 0.003
    b.loc[3, "geometry"] = Polygon([(x, y), (x + 5e-4, y + 5e-4), (x + 5e-4, y), (x, y + 5e-4)])
    report = validate_workspace(workspace(buildings=b), "ws.gpkg")
    assert report.ok
    [note] = [p for p in problems_of(report, "info", "buildings") if "repaired" in p.message]
    assert note.rows == [3] and "Self-intersection" in note.message
    fixed = report.data["buildings"].geometry.iloc[3]
    assert fixed.is_valid and fixed.geom_type in ("Polygon", "MultiPolygon")
    assert [s.repaired for s in report.layers if s.name == "buildings"] == [1]


def test_collapsed_polygon_cannot_be_repaired():
    b = _buildings()
    x, y = LON0 + 0.004, LAT0 + 0.003
    b.loc[0, "geometry"] = Polygon([(x, y), (x + 1e-4, y), (x + 2e-4, y), (x, y)])
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "could not"
    )
    assert problem.rows == [0]


def test_nan_coordinates_are_reported_not_crashed_on():
    h = _households()
    h.loc[1, "geometry"] = Point(math.nan, math.nan)
    report = validate_workspace(workspace(households=h), "ws.gpkg")
    assert not report.ok
    assert any(p.layer == "households" and 1 in p.rows for p in report.errors)


# --- coordinates and CRS --------------------------------------------------------------------


def test_swapped_lat_lon_in_china_is_recognised():
    h = _households()
    h.geometry = gpd.points_from_xy(h.geometry.y, h.geometry.x)  # lat, lon
    problem = only_error(
        validate_workspace(workspace(households=h), "ws.gpkg"), "households", "swapped"
    )
    assert "swap" in problem.fix


def test_swapped_lat_lon_outside_lon_lat_ranges():
    pts = gpd.GeoDataFrame(geometry=[Point(40.7, -73.9), Point(40.8, -120.0)], crs=4326)
    _, problems = validate_layer(pts, None, file="nyc.csv", layer="nyc")
    assert any(p.severity == "error" and "swapped" in p.message for p in problems)


def test_metres_labelled_as_degrees():
    s = _street().to_crs(32648)
    s = s.set_crs(4326, allow_override=True)
    problem = only_error(
        validate_workspace(workspace(street=s), "ws.gpkg"), "street", "look like metres"
    )
    assert "--crs" in problem.fix


def test_degrees_labelled_as_metres():
    b = _buildings().set_crs(32648, allow_override=True)
    problem = only_error(
        validate_workspace(workspace(buildings=b), "ws.gpkg"), "buildings", "look like degrees"
    )
    assert "EPSG:4326" in problem.fix


def test_no_crs_at_all():
    r = _roads().set_crs(None, allow_override=True)
    problem = only_error(
        validate_workspace(workspace(roads=r), "ws.gpkg"), "roads", "no coordinate"
    )
    assert "--crs" in problem.fix


def test_projected_coordinates_far_outside_the_crs_area_of_use():
    # Web Mercator numbers labelled as the CGCS2000 Gauss-Kruger zone for 114E.
    b = _buildings().to_crs(3857).set_crs(4547, allow_override=True)
    report = validate_workspace(workspace(buildings=b), "ws.gpkg")
    assert any("area where" in p.message for p in problems_of(report, "warning", "buildings"))


def test_layers_in_different_crs_are_compared_correctly():
    report = validate_workspace(
        workspace(buildings=_buildings().to_crs(32648), incidents=_incidents().to_crs(4544)),
        "ws.gpkg",
    )
    assert report.ok and not report.warnings, [str(p) for p in report.problems]


# --- links between layers -------------------------------------------------------------------


def test_points_and_buildings_outside_the_street_are_counted_and_listed():
    h = _households()
    h.loc[0, "geometry"] = Point(LON0 + 2 * D, LAT0)
    b = _buildings()
    b.loc[3, "geometry"] = box(LON0 + D - 0.0002, LAT0 + 0.001, LON0 + D + 0.0003, LAT0 + 0.0015)
    report = validate_workspace(workspace(households=h, buildings=b), "ws.gpkg")
    [outside_h] = [
        p for p in problems_of(report, "warning", "households") if "outside" in p.message
    ]
    assert outside_h.rows == [0] and "1 of 3" in outside_h.message
    [outside_b] = [p for p in problems_of(report, "warning", "buildings") if "outside" in p.message]
    assert outside_b.rows == [3]


def test_overlapping_communities_and_gaps():
    c = _communities()
    c.loc[0, "geometry"] = box(LON0, LAT0, LON0 + D * 0.6, LAT0 + D * 0.9)
    report = validate_workspace(workspace(communities=c), "ws.gpkg")
    messages = " ".join(p.message for p in problems_of(report, "warning", "communities"))
    assert "overlap" in messages and "uncovered" in messages


def test_missing_required_layer():
    report = validate_workspace(workspace(buildings=None), "ws.gpkg")
    problem = only_error(report, "buildings", "no 'buildings' layer")
    assert "add a layer named 'buildings'" in problem.fix


def test_required_layer_with_no_features():
    report = validate_workspace(workspace(roads=_roads().iloc[0:0]), "ws.gpkg")
    only_error(report, "roads", "no features")


def test_member_in_an_unknown_community():
    m = _members()
    m.loc[1, "community_code"] = "510104001009"
    report = validate_workspace(workspace(members=m), "ws.gpkg")
    [warning] = problems_of(report, "warning", "members")
    assert warning.rows == [1]


def test_layer_kind_unknown_is_a_clear_error():
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="unknown layer kind"):
        validate_layer(_roads(), "streets")


def test_generic_polygon_layer_reports_islands():
    # A 5 x 5 block of units, one unit touching the block only at a corner, one far away.
    d = 0.001
    blocks = [box(LON0 + i * d, LAT0 + j * d, LON0 + (i + 1) * d, LAT0 + (j + 1) * d)
              for i in range(5) for j in range(5)]  # fmt: skip
    corner = box(LON0 + 5 * d, LAT0 + 5 * d, LON0 + 6 * d, LAT0 + 6 * d)
    far = box(LON0 + 9 * d, LAT0 + 9 * d, LON0 + 10 * d, LAT0 + 10 * d)
    polys = gpd.GeoDataFrame(geometry=[*blocks, corner, far], crs=4326)
    _, problems = validate_layer(polys, None, file="units.gpkg", layer="units")
    [island] = [p for p in problems if "islands" in p.message]
    assert island.rows == [25, 26] and island.severity == "info"


def test_validation_does_not_change_its_input():
    b = _buildings()
    x, y = LON0 + 0.004, LAT0 + 0.003
    bowtie = Polygon([(x, y), (x + 5e-4, y + 5e-4), (x + 5e-4, y), (x, y + 5e-4)])
    b.loc[3, "geometry"] = bowtie
    before = b.copy()
    validate_layer(b, "buildings", file="b.gpkg")
    assert b.geometry.iloc[3].equals(bowtie)
    pd.testing.assert_frame_equal(pd.DataFrame(b.drop(columns="geometry")),
                                  pd.DataFrame(before.drop(columns="geometry")))  # fmt: skip
    assert np.array_equal(b.geometry.is_valid, before.geometry.is_valid)


# --- regressions found in review ------------------------------------------------------------


def test_integer_ids_read_as_floats_because_of_blanks_still_resolve():
    b = _buildings()
    b["id"] = [1, 2, 3, 4]
    h = _households()
    h["building_id"] = [1.0, 1.0, np.nan]  # how pyogrio reads an int column with a NULL
    b["households"] = [2, 0, 0, 0]
    report = validate_workspace(workspace(buildings=b, households=h), "ws.gpkg")
    assert report.ok and not report.warnings, [str(p) for p in report.problems]


def test_ids_too_large_for_floats_are_reported():
    b = _buildings()
    b["id"] = [1.2345678901234568e29, 1.2345678901234569e29, 3.0, 4.0]
    report = validate_workspace(workspace(buildings=b), "ws.gpkg")
    problem = only_error(report, "buildings", "too large")
    assert problem.rows == [0, 1] and "text" in problem.fix


def test_times_with_utc_offsets_become_local_wall_clock():
    i = _incidents()
    i["reported_at"] = ["2026-01-02T01:00:00Z", "2026-01-03T10:00:00+08:00"]
    i["closed_at"] = ["2026-01-02 15:00", None]
    report = validate_workspace(workspace(incidents=i), "ws.gpkg")
    assert report.ok, [str(p) for p in report.problems]
    reported = report.data["incidents"]["reported_at"]
    assert list(reported) == [pd.Timestamp("2026-01-02 09:00"), pd.Timestamp("2026-01-03 10:00")]


def test_closing_time_with_offset_before_naive_report_time():
    i = _incidents()
    i["closed_at"] = ["2026-01-01T00:00:00+08:00", None]
    problem = only_error(
        validate_workspace(workspace(incidents=i), "ws.gpkg"), "incidents", "earlier"
    )
    assert problem.rows == [0]


def test_missing_geometry_is_not_hidden_by_an_unrelated_reader_note():
    from gridmap.errors import Problem

    b = _buildings()
    b.loc[0, "geometry"] = None
    b.attrs["problems"] = [Problem("info", "no building:levels tag", "", "b.pbf", "b", [0, 1])]
    _, problems = validate_layer(b, "buildings", file="b.pbf", layer="b")
    assert any(p.severity == "error" and "no geometry" in p.message for p in problems)
    assert [p.severity for p in problems if "levels" in p.message] == ["info"]


def test_references_are_checked_even_when_the_street_is_broken():
    s = _street()
    s.loc[0, "geometry"] = None
    h = _households()
    h.loc[2, "building_id"] = "NOPE"
    report = validate_workspace(workspace(street=s, households=h), "ws.gpkg")
    assert only_error(report, "households", "building_id").rows == [2]


def test_street_drawn_as_a_point_gives_no_false_outside_warnings():
    s = _street()
    s.loc[0, "geometry"] = Point(LON0 + D / 2, LAT0 + D / 2)
    report = validate_workspace(workspace(street=s), "ws.gpkg")
    only_error(report, "street", "found Point")
    assert not [p for p in report.warnings if "outside" in p.message]
