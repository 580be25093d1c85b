"""Imports into and exports out of a workspace store (gridmap.transfer)."""

from __future__ import annotations

import json
import shutil
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import io
from gridmap.errors import InputError
from gridmap.schema import INCIDENT_CATEGORIES, INCIDENT_STATUSES
from gridmap.store import Workspace
from gridmap.transfer import (
    MAPPINGS,
    NYC_CATEGORIES,
    BadRowsError,
    export,
    file_sha256,
    import_file,
    save_plan_file,
)

NYC_FILE = "nyc/nyc_311_animal_requests_2025Q1.csv"


@pytest.fixture(scope="module")
def base(sample_workspace, tmp_path_factory):
    """The sample street with its default plan saved and published (made once per module)."""
    from gridmap.plan import make_plan

    path = tmp_path_factory.mktemp("transfer") / "street.gpkg"
    shutil.copy(sample_workspace, path)
    ws = Workspace(path, actor="setup")
    ws.publish(ws.save_plan(make_plan(ws.layers())))
    ws.close()
    return path


@pytest.fixture
def ws(base, tmp_path):
    """A fresh copy of the published workspace for one test."""
    copy = tmp_path / "street.gpkg"
    shutil.copy(base, copy)
    workspace = Workspace(copy, actor="tester")
    yield workspace
    workspace.close()


@pytest.fixture
def unpublished(sample_workspace, tmp_path):
    """A copy of the sample street with no plan at all."""
    copy = tmp_path / "bare.gpkg"
    shutil.copy(sample_workspace, copy)
    workspace = Workspace(copy, actor="tester")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def inner_points(sample_layers):
    """Lon/lat of points inside buildings of the street, with the building ids."""
    buildings = sample_layers["buildings"].to_crs(4326)
    chosen = buildings.iloc[::97].head(12)
    points = chosen.geometry.representative_point()
    return pd.DataFrame(
        {"lon": points.x.to_numpy(), "lat": points.y.to_numpy(), "building": chosen["id"]}
    ).reset_index(drop=True)


def _count(ws: Workspace, table: str, where: str = "") -> int:
    sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
    return int(ws.connect().execute(sql).fetchone()[0])


def _households_csv(path, points, ids, persons=None):
    rows = [
        {"id": hid, "persons": (persons or {}).get(hid, 2), "building_id": points.building[i],
         "lon": points.lon[i], "lat": points.lat[i]}
        for i, hid in enumerate(ids)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _incidents_frame(points, n=7):
    return pd.DataFrame(
        {
            "id": [f"T{i:03d}" for i in range(n)],
            "category": [INCIDENT_CATEGORIES[i % len(INCIDENT_CATEGORIES)] for i in range(n)],
            "status": ["closed" if i % 2 else "reported" for i in range(n)],
            "priority": "normal",
            "reported_at": [f"2025-11-0{1 + i % 9}T08:00:00" for i in range(n)],
            "closed_at": [f"2025-11-0{1 + i % 9}T20:00:00" if i % 2 else "" for i in range(n)],
            "source": "member_app",
            "description": [f"test incident {i}" for i in range(n)],
            "lon": points.lon[:n].to_numpy(),
            "lat": points.lat[:n].to_numpy(),
        }
    )


# ------------------------------------------------------------------------------ imports


def test_households_import_is_idempotent(ws, inner_points, tmp_path):
    before = _count(ws, "households")
    path = _households_csv(tmp_path / "h.csv", inner_points, [f"HT{i}" for i in range(5)])
    report = import_file(ws, path, "households")
    assert (report.rows_read, report.imported, report.already_present) == (5, 5, 0)
    assert not report.already_imported and report.skipped == {}
    assert _count(ws, "households") == before + 5
    stored = ws.connect().execute(
        "SELECT id, persons, building_id FROM households WHERE id LIKE 'HT%' ORDER BY id"
    )
    assert stored.fetchall()[0] == ("HT0", 2, inner_points.building[0])

    again = import_file(ws, path, "households")
    assert again.already_imported and again.imported == 0
    assert _count(ws, "households") == before + 5
    imports = ws.connect().execute("SELECT sha256, kind, rows FROM gridmap_imports").fetchall()
    assert imports == [(file_sha256(path), "households", 5)]

    # another file with the same rows and one more: only the new row is added
    bigger = _households_csv(tmp_path / "h2.csv", inner_points, [f"HT{i}" for i in range(6)])
    third = import_file(ws, bigger, "households")
    assert (third.imported, third.already_present) == (1, 5)
    assert _count(ws, "households") == before + 6
    audit = ws.audit_log()
    assert (audit["action"] == "import").sum() == 2
    assert audit.iloc[0]["details"]["imported"] == 1


def test_imported_rows_are_readable_by_gdal_with_a_spatial_index(ws, inner_points, tmp_path):
    path = _households_csv(tmp_path / "h.csv", inner_points, ["HG1", "HG2"])
    import_file(ws, path, "households")
    layers = ws.layers()  # GDAL reads the GeoPackage itself
    households = layers["households"]
    new = households[households["id"].isin(["HG1", "HG2"])]
    assert len(new) == 2
    assert np.allclose(new.geometry.x.to_numpy(), inner_points.lon[:2].to_numpy())
    con = ws.connect()
    fids = [r[0] for r in con.execute("SELECT fid FROM households WHERE id LIKE 'HG%'")]
    in_rtree = con.execute(
        f"SELECT count(*) FROM rtree_households_geom WHERE id IN ({fids[0]}, {fids[1]})"
    ).fetchone()[0]
    assert in_rtree == 2


def test_bad_rows_import_nothing_and_are_named(ws, inner_points, tmp_path):
    frame = _incidents_frame(inner_points)
    frame.loc[1, "category"] = "ufo_sighting"  # row 2: not an allowed category
    frame.loc[3, "lat"] = None  # row 4: no coordinates
    frame.loc[5, "reported_at"] = "not a date"  # row 6: bad time
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    before = ws.incident_count()
    with pytest.raises(BadRowsError) as caught:
        import_file(ws, path, "incidents")
    error = caught.value
    assert error.rows == [1, 3, 5]  # zero-based, shown as rows 2, 4, 6
    text = str(error)
    assert "rows 2, 4, 6" in text and "nothing was imported" in text and "ufo_sighting" in text
    assert str(path) in text and "--skip-bad" in text
    assert ws.incident_count() == before
    assert _count(ws, "gridmap_imports") == 0

    report = import_file(ws, path, "incidents", skip_bad=True)
    assert report.imported == 4 and report.skipped_rows == [2, 4, 6]
    assert "category" in report.skipped[2] and "ufo_sighting" in report.skipped[2]
    assert "coordinates" in report.skipped[4]
    assert "reported_at" in report.skipped[6]
    assert ws.incident_count() == before + 4
    stored = dict(
        ws.connect().execute("SELECT id, grid_code FROM incidents WHERE id LIKE 'T0%'").fetchall()
    )
    assert set(stored) == {"T000", "T002", "T004", "T006"}
    assert all(code and len(code) == 15 for code in stored.values())  # inside the street's grids
    assert report.grid_flags == {"inside": 4}
    events = _count(ws, "gridmap_incident_events", "incident_id LIKE 'T0%'")
    assert events == 4


def test_a_failure_leaves_the_store_as_it_was(ws, inner_points, tmp_path, monkeypatch):
    path = _households_csv(tmp_path / "h.csv", inner_points, ["HF1", "HF2"])
    before = _count(ws, "households")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ws, "audit", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(ws, path, "households")
    monkeypatch.undo()
    assert _count(ws, "households") == before
    assert _count(ws, "gridmap_imports") == 0
    assert import_file(ws, path, "households").imported == 2  # and it can be imported after


def test_buildings_import_unwraps_single_multipolygons_and_skips_bad_kinds(ws, tmp_path):
    box = shapely.box(104.1050, 30.6400, 104.1052, 30.6402)
    frame = gpd.GeoDataFrame(
        {"id": ["BT1", "BT2", "BT3"], "floors": [6, 3, 2], "households": [0, 0, 0],
         "kind": ["midrise", "castle", "lowrise"]},
        geometry=[box, shapely.box(104.106, 30.64, 104.1062, 30.6402),
                  shapely.MultiPolygon([shapely.box(104.107, 30.64, 104.1072, 30.6402)])],
        crs=4326,
    )  # fmt: skip
    path = tmp_path / "b.geojson"
    io.write_geojson(frame, path)
    with pytest.raises(BadRowsError, match="castle"):
        import_file(ws, path, "buildings")
    report = import_file(ws, path, "buildings", skip_bad=True)
    assert report.imported == 2 and report.skipped_rows == [2]
    rows = ws.connect().execute(
        "SELECT id, floors, kind, geom FROM buildings WHERE id LIKE 'BT%' ORDER BY id"
    )
    stored = {r[0]: r for r in rows}
    assert set(stored) == {"BT1", "BT3"}
    from gridmap.store import _blob_geometry

    assert _blob_geometry(stored["BT3"][3]).geom_type == "Polygon"
    assert _blob_geometry(stored["BT1"][3]).equals(box)
    assert stored["BT1"][1:3] == (6, "midrise")


def test_features_outside_the_street_are_imported_with_a_warning(ws, tmp_path):
    far = gpd.GeoDataFrame(
        {"id": ["BO1"], "floors": [2]}, geometry=[shapely.box(104.0, 30.5, 104.0002, 30.5002)],
        crs=4326,
    )  # fmt: skip
    path = tmp_path / "far.geojson"
    io.write_geojson(far, path)
    report = import_file(ws, path, "buildings")
    assert report.imported == 1
    warning = next(p for p in report.problems if "outside" in p.message)
    assert warning.rows == [0] and warning.severity == "warning"


def test_a_workspace_without_the_layer_is_refused(sample_layers, tmp_path, inner_points):
    layers = {k: sample_layers[k] for k in ("street", "communities", "roads", "buildings")}
    bare = Workspace.create(tmp_path / "no_households.gpkg", layers)
    path = _households_csv(tmp_path / "h.csv", inner_points, ["HN1"])
    with pytest.raises(InputError, match="no households layer"):
        import_file(bare, path, "households")
    bare.close()


def test_multi_part_buildings_are_bad_rows(ws, tmp_path):
    two = shapely.MultiPolygon(
        [
            shapely.box(104.1, 30.64, 104.1001, 30.6401),
            shapely.box(104.102, 30.64, 104.1021, 30.6401),
        ]
    )
    frame = gpd.GeoDataFrame({"id": ["BM1"], "floors": [2]}, geometry=[two], crs=4326)
    path = tmp_path / "multi.gpkg"
    io.write_geopackage({"buildings": frame}, path)
    with pytest.raises(BadRowsError, match="several parts"):
        import_file(ws, path, "buildings")


def test_file_level_errors_are_input_errors(ws, tmp_path):
    path = tmp_path / "no_persons.csv"
    pd.DataFrame({"id": ["X"], "lon": [104.1], "lat": [30.64]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="required column 'persons'") as caught:
        import_file(ws, path, "households", skip_bad=True)
    assert not isinstance(caught.value, BadRowsError)
    with pytest.raises(InputError, match="cannot import 'members'"):
        import_file(ws, path, "members")
    with pytest.raises(InputError, match="does not exist"):
        import_file(ws, tmp_path / "nowhere.csv", "households")
    with pytest.raises(InputError, match="unknown mapping"):
        import_file(ws, path, "incidents", mapping="open311-paris")


def test_incidents_without_a_published_plan_have_no_grid_yet(unpublished, inner_points, tmp_path):
    path = tmp_path / "incidents.csv"
    _incidents_frame(inner_points, 3).to_csv(path, index=False)
    report = import_file(unpublished, path, "incidents")
    assert report.imported == 3 and report.grid_flags == {"no plan published": 3}
    codes = unpublished.connect().execute("SELECT grid_code FROM incidents WHERE id LIKE 'T0%'")
    assert [r[0] for r in codes] == [None, None, None]


def test_incidents_outside_every_grid_are_bad_rows_only_when_asked(ws, inner_points, tmp_path):
    frame = _incidents_frame(inner_points, 4)
    frame.loc[1, ["lon", "lat"]] = (104.0800, 30.6500)  # row 2: about 1.6 km west of the street
    frame.loc[3, "category"] = "ufo_sighting"  # row 4: bad for another reason
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    before = ws.incident_count()
    with pytest.raises(BadRowsError) as caught:
        import_file(ws, path, "incidents", refuse_unassigned=True)
    error = caught.value
    assert error.rows == [1, 3] and ws.incident_count() == before
    assert "outside the street" in str(error) and "row 2" in str(error)
    outside = next(p for p in error.problems if p.code == "outside_grids")
    assert outside.rows == [1] and outside.params["tolerance"] == ws.grid_index().tolerance
    assert outside.params["distances"][0] > 1000

    report = import_file(ws, path, "incidents", refuse_unassigned=True, skip_bad=True)
    assert report.imported == 2 and report.skipped_rows == [2, 4]
    assert "outside the street" in report.skipped[2] and "ufo_sighting" in report.skipped[4]
    assert {p.code for p in report.skipped_problems} == {"outside_grids", "not_allowed"}
    assert report.grid_flags == {"inside": 2}
    assert ws.incident_count() == before + 2
    assert _count(ws, "incidents", "id = 'T001'") == 0


def test_incidents_outside_every_grid_are_kept_unassigned_by_default(ws, inner_points, tmp_path):
    frame = _incidents_frame(inner_points, 2)
    frame.loc[1, ["lon", "lat"]] = (104.0800, 30.6500)
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    report = import_file(ws, path, "incidents")
    assert report.imported == 2 and report.grid_flags == {"inside": 1, "unassigned": 1}
    flag = ws.connect().execute("SELECT grid_flag FROM incidents WHERE id = 'T001'").fetchone()
    assert flag == ("unassigned",)


def test_a_column_mapping_renames_columns(ws, inner_points, tmp_path):
    frame = _incidents_frame(inner_points, 3).rename(columns={"id": "case_no", "category": "kind"})
    path = tmp_path / "renamed.csv"
    frame.to_csv(path, index=False)
    report = import_file(ws, path, "incidents", mapping={"id": "case_no", "category": "kind"})
    assert report.imported == 3
    assert _count(ws, "incidents", "id IN ('T000', 'T001', 'T002')") == 3


def test_missing_incident_columns_take_the_intake_defaults(ws, inner_points, tmp_path):
    frame = _incidents_frame(inner_points, 2).drop(columns=["status", "priority", "source"])
    frame = frame.drop(columns=["closed_at"])
    path = tmp_path / "minimal.csv"
    frame.to_csv(path, index=False)
    report = import_file(ws, path, "incidents")
    assert report.imported == 2
    assert any("status" in p.message for p in report.problems)
    rows = ws.connect().execute(
        "SELECT status, priority, source FROM incidents WHERE id IN ('T000', 'T001')"
    )
    assert set(rows.fetchall()) == {("reported", "normal", "other")}


def test_nyc_311_imports_with_real_times_to_close(ws, shared_data):
    path = shared_data / NYC_FILE
    before = ws.incident_count()
    with pytest.raises(BadRowsError) as caught:
        import_file(ws, path, "incidents", mapping="open311-nyc")
    assert len(caught.value.rows) == 62 and "no coordinates" in str(caught.value)
    assert ws.incident_count() == before

    report = import_file(ws, path, "incidents", mapping="open311-nyc", skip_bad=True)
    assert report.rows_read == 4969 and report.imported == 4907 and len(report.skipped) == 62
    assert all("no coordinates" in reason for reason in report.skipped.values())
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    blank = raw.index[(raw["Latitude"] == "") | (raw["Longitude"] == "")] + 1
    assert report.skipped_rows == blank.tolist()
    assert report.grid_flags == {"unassigned": 4907}  # New York is far from the street

    table = pd.read_sql_query(
        "SELECT id, external_id, category, status, priority, source, reported_at, closed_at, "
        "grid_code, grid_flag, description, address FROM incidents WHERE id LIKE 'NYC%'",
        ws.connect(),
    )
    assert len(table) == 4907 and table["id"].is_unique
    assert (table["id"] == "NYC" + table["external_id"]).all()
    assert set(table["category"]) <= set(INCIDENT_CATEGORIES)
    assert set(table["status"]) == {"closed", "in_progress"}
    assert set(table["source"]) == {"hotline"} and set(table["priority"]) == {"normal"}
    assert table["grid_code"].isna().all() and set(table["grid_flag"]) == {"unassigned"}
    first = table.set_index("id").loc["NYC64345465"]
    assert first["description"].startswith("Animal-Abuse: Neglected")
    assert first["address"] == "285 COZINE AVENUE, BROOKLYN"
    assert first["reported_at"] == "2025-03-14T13:20:00"  # 1:20 in New York (EDT, UTC-4)
    closed = table[table["status"] == "closed"]
    assert closed["closed_at"].notna().all()
    assert table.loc[table["status"] != "closed", "closed_at"].isna().all()
    hours = (
        pd.to_datetime(closed["closed_at"]) - pd.to_datetime(closed["reported_at"])
    ).dt.total_seconds() / 3600
    assert (hours >= 0).all()
    assert 1 < hours.median() < 48  # NYC's own figure for this quarter: about 4.5 hours
    assert hours.max() < 24 * 60

    from gridmap.incidents import stats

    outside = stats(ws, period=None).set_index("code", drop=False)
    row = outside[outside["code"].isna()].iloc[0]
    assert row["total"] == 4907 and row["median_hours_to_close"] == pytest.approx(
        hours.median(), abs=0.01
    )
    again = import_file(ws, path, "incidents", mapping="open311-nyc", skip_bad=True)
    assert again.already_imported and ws.incident_count() == before + 4907


def test_nyc_mapping_table_uses_schema_categories():
    assert set(NYC_CATEGORIES.values()) <= set(INCIDENT_CATEGORIES)
    assert "open311-nyc" in MAPPINGS


# ------------------------------------------------------------------------------ exports


def _read_back(path):
    return io.read_layer(path, require_geometry=False)


@pytest.mark.parametrize("ext", ["geojson", "gpkg", "csv"])
@pytest.mark.parametrize("what", ["grids", "aggregates", "incidents"])
def test_exports_every_what_and_format(ws, what, ext, tmp_path):
    out = tmp_path / f"{what}.{ext}"
    count = export(ws, what, out)
    back = _read_back(out)
    assert len(back) == count
    grids = ws.plan_grids(ws.published().plan_id)
    if what in ("grids", "aggregates"):
        assert count == len(grids) == 97
        assert sorted(back["code"].astype(str)) == sorted(grids["code"])
    if what == "aggregates":
        assert back["households"].sum() == _count(ws, "households")
        assert back["buildings"].sum() == _count(ws, "buildings")
        assert back["incidents"].sum() == ws.incident_count()
        statuses = back[[f"status_{s}" for s in INCIDENT_STATUSES]].sum(axis=1)
        assert (statuses == back["incidents"]).all()
        assert (back["median_hours_to_close"].dropna() > 0).all()
    if what == "incidents":
        assert count == ws.incident_count()
        assert "grid_code" in back.columns and back["grid_code"].notna().mean() > 0.99


#: ISO 8601 to the second with the street's UTC offset (Asia/Shanghai: +08:00).
OFFSET_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$"


def test_incident_exports_write_times_with_the_street_offset(ws, tmp_path):
    from gridmap.incidents import transition

    con = ws.connect()
    waiting = con.execute("SELECT id FROM incidents WHERE status = 'reported'").fetchone()[0]
    transition(ws, waiting, "accepted")  # stamped now, to the millisecond
    accepted = con.execute("SELECT accepted_at FROM incidents WHERE id = ?", (waiting,))
    accepted = accepted.fetchone()[0]
    assert len(accepted) == 23
    stored = dict(
        con.execute("SELECT id, reported_at FROM incidents WHERE id IN "
                    "('E000001', 'E000002')").fetchall()
    )  # fmt: skip
    for ext in ("csv", "geojson", "gpkg"):
        out = tmp_path / f"incidents.{ext}"
        export(ws, "incidents", out)
        if ext == "csv":
            back = pd.read_csv(out, dtype=str, keep_default_na=False)
        elif ext == "geojson":
            doc = json.loads(out.read_text(encoding="utf-8"))
            back = pd.DataFrame([f["properties"] for f in doc["features"]]).fillna("")
        else:
            reader = sqlite3.connect(out)
            back = pd.read_sql_query("SELECT * FROM incidents", reader).fillna("")
            reader.close()
        back = back.set_index("id")
        for incident_id, local in stored.items():  # e.g. 2025-11-01T07:02:24 in Chengdu
            assert back.loc[incident_id, "reported_at"] == local + "+08:00", ext
        assert back.loc[waiting, "accepted_at"] == accepted[:19] + "+08:00", ext
        for column in ("reported_at", "closed_at", "updated_at"):
            written = back[column][back[column] != ""]
            assert written.str.match(OFFSET_TIME).all(), (ext, column, written.head(3).tolist())
    # a file exported this way imports back as the same local times
    again = pd.read_csv(tmp_path / "incidents.csv", dtype=str).head(3)
    again["id"] = "AGAIN-" + again["id"]
    again.to_csv(tmp_path / "again.csv", index=False)
    import_file(ws, tmp_path / "again.csv", "incidents")
    rows = (
        ws.connect()
        .execute("SELECT id, reported_at FROM incidents WHERE id LIKE 'AGAIN-%' ORDER BY id")
        .fetchall()
    )
    assert [(i.removeprefix("AGAIN-"), t) for i, t in rows] == sorted(
        (i, t[:19]) for i, t in zip(again["id"].str.removeprefix("AGAIN-"),
                                     again["reported_at"], strict=True)
    )  # fmt: skip


def test_aggregates_follow_imported_households(ws, inner_points, tmp_path):
    first = export(ws, "aggregates", tmp_path / "before.csv")
    before = pd.read_csv(tmp_path / "before.csv", dtype={"code": str}).set_index("code")
    path = _households_csv(tmp_path / "h.csv", inner_points, ["HA1"], persons={"HA1": 5})
    import_file(ws, path, "households")
    assert export(ws, "aggregates", tmp_path / "after.csv") == first
    after = pd.read_csv(tmp_path / "after.csv", dtype={"code": str}).set_index("code")
    changed = after["households"] - before["households"]
    assert changed.sum() == 1 and (changed >= 0).all()
    assert (after["persons"] - before["persons"]).sum() == 5


def _street_bounds(ws):
    street = ws.layers()["street"].to_crs(4326)
    return street.total_bounds


def test_geojson_exports_follow_rfc_7946(ws, tmp_path):
    minx, miny, maxx, maxy = _street_bounds(ws)
    pad = 1e-3
    out = tmp_path / "grids.geojson"
    export(ws, "grids", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    rings = 0
    for feature in doc["features"]:
        geometry = feature["geometry"]
        assert geometry["type"] in ("Polygon", "MultiPolygon")
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        for polygon in polygons:
            exterior, *holes = polygon
            coords = np.array(exterior)
            assert (coords[:, 0] >= minx - pad).all() and (coords[:, 0] <= maxx + pad).all()
            assert (coords[:, 1] >= miny - pad).all() and (coords[:, 1] <= maxy + pad).all()
            assert shapely.is_ccw(shapely.LinearRing(exterior))
            for hole in holes:
                assert not shapely.is_ccw(shapely.LinearRing(hole))
            rings += 1
    assert rings >= 97

    points = tmp_path / "incidents.geojson"
    export(ws, "incidents", points)
    doc = json.loads(points.read_text(encoding="utf-8"))
    assert "crs" not in doc
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert minx - pad <= lon <= maxx + pad and miny - pad <= lat <= maxy + pad  # lon first


def test_households_are_exported_only_when_asked_for(ws, tmp_path):
    out = tmp_path / "households.csv"
    with pytest.raises(InputError, match="personal"):
        export(ws, "households", out)
    assert not out.exists()
    count = export(ws, "households", out, include_households=True)
    back = pd.read_csv(out, dtype=str)
    assert count == len(back) == _count(ws, "households")
    assert back["grid_code"].str.len().eq(15).mean() > 0.99


def test_export_refusals(ws, unpublished, tmp_path):
    with pytest.raises(InputError, match="unknown output format"):
        export(ws, "grids", tmp_path / "grids.shp")
    with pytest.raises(InputError, match="cannot export 'members'"):
        export(ws, "members", tmp_path / "m.csv")
    with pytest.raises(InputError, match="workspace itself"):
        export(ws, "grids", ws.path)
    with pytest.raises(InputError, match="no plan is published"):
        export(unpublished, "grids", tmp_path / "g.geojson")
    with pytest.raises(InputError, match="no plan 42"):
        export(ws, "grids", tmp_path / "g.geojson", plan_id=42)


def test_export_of_a_named_draft_plan(ws, tmp_path):
    plan_id = ws.published().plan_id
    count = export(ws, "grids", tmp_path / "g.csv", plan_id=plan_id)
    assert count == 97


# ------------------------------------------------------------------------------ plan files


def test_plan_files_are_saved_as_drafts(ws, sample_plan, tmp_path):
    from gridmap.plan import write_plan

    gpkg = tmp_path / "plan.gpkg"
    write_plan(sample_plan, gpkg)
    plan_id = save_plan_file(ws, gpkg, note="from file", actor="planner")
    record = ws.plan(plan_id)
    assert record.status == "draft" and record.note == "from file" and record.author == "planner"
    grids = ws.plan_grids(plan_id)
    assert len(grids) == len(sample_plan.grids)
    assigned = _count(ws, "gridmap_assignments", f"plan_id = {plan_id}")
    assert assigned == len(sample_plan.building_codes())

    drawn = tmp_path / "plan.geojson"
    write_plan(sample_plan, drawn)  # grids only: buildings go by overlap
    other = save_plan_file(ws, drawn)
    assert _count(ws, "gridmap_assignments", f"plan_id = {other}") == _count(ws, "buildings")
    files = ws.plan_file(other).assignments
    ours = ws.plan_file(plan_id).assignments
    agree = (files.sort_index() == ours.reindex(files.index).sort_index()).mean()
    assert agree > 0.95
    measured = ws.plan_grids(other)
    assert measured["households"].sum() == _count(ws, "households")
    ws.publish(other)
    assert ws.published().plan_id == other


def test_sqlite_file_stays_a_valid_geopackage(ws, inner_points, tmp_path):
    path = _households_csv(tmp_path / "h.csv", inner_points, ["HV1"])
    import_file(ws, path, "households")
    ws.close()
    con = sqlite3.connect(ws.path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = con.execute(
            "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'households'"
        ).fetchone()[0]
        assert count == con.execute("SELECT count(*) FROM households").fetchone()[0]
    finally:
        con.close()
