"""`gridmap validate` on the real public files reports their real defects, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gridmap.cli import cli
from gridmap.layers import validate_path


def test_sf_block_groups_report_their_two_islands(shared_data):
    report = validate_path(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    [summary] = report.layers
    assert summary.features == 579 and summary.crs == "EPSG:4269"
    [islands] = [p for p in report.problems if "islands" in p.message]
    assert len(islands.rows) == 2
    assert report.ok


def test_sf_crimes_load_as_points(shared_data):
    report = validate_path(shared_data / "sf" / "sf_crime_incidents_2012H2.gpkg")
    [summary] = report.layers
    assert summary.features == 13_472 and summary.geometry_type == "Point"
    minx, miny, maxx, maxy = summary.bounds
    assert -123.0 < minx < maxx < -122.3 and 37.6 < miny < maxy < 37.9


def test_sf_crimes_as_incidents_name_the_missing_columns(shared_data):
    report = validate_path(shared_data / "sf" / "sf_crime_incidents_2012H2.gpkg", kind="incidents")
    missing = [p for p in report.errors if "required column" in p.message]
    assert {"'status'", "'priority'", "'reported_at'"} <= {p.message.split()[2] for p in missing}
    category = [p for p in missing if "'category'" in p.message]
    assert category and "Category" in category[0].message  # the close match is suggested


def test_helsinki_buildings_report_broken_rings(shared_data):
    report = validate_path(shared_data / "helsinki" / "helsinki_buildings.gpkg")
    [summary] = report.layers
    assert summary.features == 489
    [repaired] = [p for p in report.problems if "were repaired" in p.message]
    [broken] = [p for p in report.problems if "could not be repaired" in p.message]
    # 18 broken rings in the clipped extract: make_valid mends 11, 7 collapse to nothing.
    assert (len(repaired.rows), len(broken.rows)) == (11, 7)
    assert broken.severity == "warning" and report.ok  # left out, the rest is usable
    assert report.data["helsinki_buildings"].geometry.iloc[broken.rows].isna().all()
    assert not [p for p in report.problems if "islands" in p.message]  # buildings stand alone


def test_helsinki_buildings_as_buildings_layer_refuse_broken_features(shared_data):
    path = shared_data / "helsinki" / "helsinki_buildings.gpkg"
    report = validate_path(path, kind="buildings")
    assert any("could not be repaired" in p.message for p in report.errors)
    assert any("'floors'" in p.message for p in report.errors)


def test_helsinki_osm_extract_validates_as_buildings_and_roads(shared_data):
    report = validate_path(shared_data / "helsinki" / "Helsinki.osm.pbf")
    kinds = {s.name: s for s in report.layers}
    assert set(kinds) == {"buildings", "roads"}
    assert kinds["buildings"].features > 300 and kinds["roads"].features > 1000


def test_helsinki_streets_as_roads_report_unknown_classes(shared_data):
    report = validate_path(shared_data / "helsinki" / "helsinki_streets.gpkg", kind="roads")
    assert any("'class'" in p.message for p in report.errors)


def test_nyc_311_csv_reports_rows_without_coordinates(shared_data):
    report = validate_path(shared_data / "nyc" / "nyc_311_animal_requests_2025Q1.csv")
    [summary] = report.layers
    assert summary.features == 4_969
    empty = [p for p in report.problems if "no geometry" in p.message]
    assert empty and len(empty[0].rows) == 62
    assert report.ok


@pytest.mark.parametrize(
    "relative",
    [
        "sf/sf_blockgroups_pop2010.gpkg",
        "sf/sf_crime_incidents_2012H2.gpkg",
        "helsinki/helsinki_buildings.gpkg",
        "helsinki/helsinki_streets.gpkg",
        "helsinki/Helsinki.osm.pbf",
        "nyc/nyc_311_animal_requests_2025Q1.csv",
    ],
)
def test_cli_validate_real_file_prints_a_table_without_traceback(shared_data, relative):
    result = CliRunner().invoke(cli, ["validate", str(shared_data / relative)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert "features" in result.output and "error(s)" in result.output
