"""The Exports page and its downloads: formats, filters, RFC 7946 GeoJSON, household privacy."""

import csv
import io
import json
import sqlite3

import pytest
from shapely.geometry import shape


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def viewer(app, client_as):
    return client_as(app, "viewer")


@pytest.fixture(scope="module")
def editor(app, client_as):
    return client_as(app, "editor")


@pytest.fixture(scope="module")
def page(viewer):
    response = viewer.get("/exports")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def rfc7946(collection):
    """Check a FeatureCollection follows RFC 7946: no crs, lon/lat, CCW exterior rings."""
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    for feature in collection["features"]:
        geom = shape(feature["geometry"])
        minx, miny, maxx, maxy = geom.bounds
        assert 103 < minx <= maxx < 105 and 30 < miny <= maxy < 31  # lon first, Chengdu
        for polygon in getattr(geom, "geoms", [geom]):
            if polygon.geom_type == "Polygon":
                assert polygon.exterior.is_ccw
                assert all(not ring.is_ccw for ring in polygon.interiors)


def test_the_page_links_every_download_for_viewers(page):
    for what in ("grids", "aggregates", "incidents"):
        for fmt in ("geojson", "gpkg", "csv"):
            assert f'id="download-{what}-{fmt}" href="/exports/{what}.{fmt}' in page
    assert 'id="export-filters"' in page and 'id="count-grids"' in page
    assert "export-households" not in page and "/exports/households" not in page  # hidden


def test_the_page_shows_households_to_editors(editor):
    page = editor.get("/exports").get_data(as_text=True)
    assert 'id="download-households-csv" href="/exports/households.csv"' in page


def test_the_page_keeps_the_filters_for_incidents(viewer):
    page = viewer.get("/exports?status=closed&category=noise&since=2025-12-01").get_data(
        as_text=True
    )
    link = 'href="/exports/incidents.csv?status=closed&amp;category=noise&amp;since=2025-12-01"'
    assert link in page
    assert 'href="/exports/grids.csv"' in page  # the grids ignore the incident filters
    assert '<option value="noise" selected>' in page
    counted = int(page.split('id="count-incidents">')[1].split("<")[0])
    everything = viewer.get("/exports").get_data(as_text=True)
    assert 0 < counted < int(everything.split('id="count-incidents">')[1].split("<")[0])
    csv_rows = list(csv.DictReader(io.StringIO(viewer.get(
        "/exports/incidents.csv?status=closed&category=noise&since=2025-12-01").get_data(
        as_text=True))))  # fmt: skip
    assert len(csv_rows) == counted


def test_the_page_refuses_unknown_filters(viewer):
    response = viewer.get("/exports?category=litter")
    assert response.status_code == 400 and "litter" in response.get_data(as_text=True)
    assert viewer.get("/exports?since=someday").status_code == 400


def test_grids_as_rfc7946_geojson(viewer):
    response = viewer.get("/exports/grids.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "grids-plan-v1.geojson" in disposition
    collection = json.loads(response.get_data())
    assert len(collection["features"]) > 50
    rfc7946(collection)


def test_aggregates_as_csv_add_up(viewer, app):
    response = viewer.get("/exports/aggregates.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) > 50 and {"code", "households", "incidents", "incidents_open"} <= set(rows[0])
    households = sum(int(r["households"]) for r in rows)
    grids = viewer.get("/api/grids").get_json()["features"]
    assert households == sum(f["properties"]["households"] for f in grids)


def test_incidents_as_geopackage(viewer, tmp_path):
    response = viewer.get("/exports/incidents.gpkg?category=noise")
    assert response.status_code == 200
    assert response.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / "incidents.gpkg"
    path.write_bytes(response.get_data())
    con = sqlite3.connect(path)
    categories = {row[0] for row in con.execute("SELECT DISTINCT category FROM incidents")}
    count = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
    con.close()
    assert categories == {"noise"} and count > 100


def test_incidents_geojson_points_in_lon_lat_with_grids(viewer):
    response = viewer.get("/exports/incidents.geojson?status=reported")
    collection = json.loads(response.get_data())
    rfc7946(collection)
    props = collection["features"][0]["properties"]
    assert list(props)[:3] == ["id", "grid_code", "grid_flag"]
    assert all(f["properties"]["status"] == "reported" for f in collection["features"])


def test_households_are_refused_to_viewers(viewer):
    response = viewer.get("/exports/households.csv")
    assert response.status_code == 403
    assert "household-level data is personal" in response.get_data(as_text=True)


def test_households_for_editors_with_their_grid(editor):
    response = editor.get("/exports/households.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) > 1000 and "grid_code" in rows[0]


def test_unknown_exports_are_404(viewer):
    assert viewer.get("/exports/members.csv").status_code == 404
    response = viewer.get("/exports/grids.shp", headers={"Accept": "application/json"})
    assert response.status_code == 404 and ".gpkg" in response.get_json()["fix"]


def test_exports_need_a_log_in(app):
    response = app.test_client().get("/exports/grids.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_temporary_files_are_removed(viewer, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert viewer.get("/exports/grids.gpkg").status_code == 200
    assert viewer.get("/exports/incidents.csv?category=noise").status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_the_page_in_chinese(viewer):
    page = viewer.get("/exports?lang=zh").get_data(as_text=True)
    assert "要导出的事件" in page and "各网格汇总" in page
    viewer.get("/exports?lang=en")


def test_reversed_dates_are_refused_not_an_empty_file(make_app, street_copy, client_as):
    client = client_as(make_app(street_copy))
    response = client.get("/exports/incidents.csv?since=2026-06-01&until=2026-01-01")
    assert response.status_code == 400
    assert "not before" in response.get_data(as_text=True)
