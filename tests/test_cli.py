"""The gridmap command as a user meets it: help, validate, sample, clean errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridmap import cli as cli_module
from gridmap.cli import cli


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def test_help_lists_the_commands(run):
    result = run("--help")
    assert result.exit_code == 0
    for command in ("sample", "validate"):
        assert command in result.output


def test_console_script_is_installed():
    exe = shutil.which("gridmap", path=str(Path(sys.executable).parent))
    assert exe, "the gridmap console script is not installed next to this Python"
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert "gridmap" in result.stdout


def test_validate_the_sample_workspace_is_clean(run, sample_workspace):
    result = run("validate", sample_workspace)
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output
    for layer in ("street", "communities", "roads", "buildings", "households", "incidents"):
        assert layer in result.output


def test_validate_reports_broken_rows_and_exits_1(run, tmp_path):
    path = tmp_path / "buildings.geojson"
    features = [
        {"type": "Feature", "properties": {"id": "B1", "floors": 3},
         "geometry": {"type": "Polygon",
                      "coordinates": [[[104.0, 30.6], [104.001, 30.6], [104.001, 30.601],
                                       [104.0, 30.601], [104.0, 30.6]]]}},
        {"type": "Feature", "properties": {"id": "B1", "floors": "many"},
         "geometry": {"type": "Polygon",
                      "coordinates": [[[104.0, 30.6], [104.001, 30.601], [104.001, 30.6],
                                       [104.0, 30.601], [104.0, 30.6]]]}},
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = run("validate", path, "--as", "buildings")
    assert result.exit_code == 1, result.output
    assert "unique" in result.output and "rows 1, 2" in result.output
    assert "'many'" in result.output and "row 2" in result.output
    assert "repaired" in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_a_clean_error(run, tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nowhere.gpkg")])
    assert result.exit_code == 2
    assert "nowhere.gpkg" in result.output
    assert "Traceback" not in result.output


def test_unexpected_error_is_reported_without_traceback(monkeypatch, tmp_path):
    import gridmap.layers

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(gridmap.layers, "validate_path", explode)
    monkeypatch.delenv("GRIDMAP_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == cli_module.EXIT_BUG
    assert "RuntimeError: boom" in result.output and "GRIDMAP_DEBUG" in result.output
    assert "Traceback" not in result.output


def test_sample_refuses_to_overwrite_without_force(run, tmp_path):
    target = tmp_path / "street.gpkg"
    target.write_bytes(b"precious")
    result = CliRunner().invoke(cli, ["sample", "--out", str(target)])
    assert result.exit_code == 2 and "--force" in result.output
    assert target.read_bytes() == b"precious"


def test_sample_into_a_missing_folder_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["sample", "--out", str(tmp_path / "no" / "s.gpkg")])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.slow
def test_sample_writes_a_workspace_that_validates(run, tmp_path):
    target = tmp_path / "street.gpkg"
    result = run("sample", "--out", target, "--seed", 11)
    assert result.exit_code == 0, result.output
    assert "households" in result.output and target.is_file()
    checked = run("validate", target)
    assert checked.exit_code == 0, checked.output


def test_convert_gcj02_csv_to_rfc7946_geojson(run, tmp_path):
    from gridmap.crs import gcj02_to_wgs84, haversine_m

    source = tmp_path / "amap.csv"
    source.write_text("id,lng,lat\nA,104.114,30.638\n", encoding="utf-8")
    target = tmp_path / "amap.geojson"
    result = run("convert", source, target, "--coords", "gcj02")
    assert result.exit_code == 0, result.output
    collection = json.loads(target.read_text(encoding="utf-8"))
    assert "crs" not in collection
    x, y = collection["features"][0]["geometry"]["coordinates"]
    want_x, want_y = gcj02_to_wgs84(104.114, 30.638)
    assert haversine_m(x, y, want_x, want_y) < 0.05  # 7 decimals
    assert 100 < haversine_m(x, y, 104.114, 30.638) < 700
    properties = collection["features"][0]["properties"]
    assert (properties["lng"], properties["lat"]) == (x, y)  # the columns follow the shift


def test_csv_coordinate_columns_are_kept_as_the_user_named_them(run, tmp_path, sample_plan):
    from gridmap.plan import write_plan

    # swapped columns: "lat" holds longitudes, "lng" latitudes; "lon" is an unrelated column
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("name,lat,lng,lon\nA,104.1,30.64,keep-me\n", encoding="utf-8")
    amap = tmp_path / "amap.csv"
    amap.write_text("name,lng,lat\nA,104.1,30.64\n", encoding="utf-8")
    plan = tmp_path / "plan.gpkg"
    write_plan(sample_plan, plan)
    named = ("--lon", "lat", "--lat", "lng")
    runs = {
        "convert_swapped": ("convert", swapped, "{out}", *named),
        "assign_swapped": ("assign", plan, swapped, *named, "--out", "{out}"),
        "convert_amap": ("convert", amap, "{out}", "--coords", "gcj02"),
        "assign_amap": ("assign", plan, amap, "--coords", "gcj02", "--out", "{out}"),
    }
    for name, args in runs.items():
        out = tmp_path / f"{name}.csv"
        result = run(*[str(a).replace("{out}", str(out)) for a in args])
        assert result.exit_code == 0, result.output
        header, row = out.read_text(encoding="utf-8").splitlines()[:2]
        columns = header.split(",")
        values = dict(zip(columns, row.split(","), strict=True))
        if "swapped" in name:
            assert columns[:4] == ["name", "lat", "lng", "lon"]  # no new lon/lat, none clobbered
            assert (values["lat"], values["lng"], values["lon"]) == ("104.1", "30.64", "keep-me")
        else:
            assert columns[:3] == ["name", "lng", "lat"] and "lon" not in columns
            lng, lat = float(values["lng"]), float(values["lat"])  # followed the GCJ-02 shift
            assert 0.001 < abs(lng - 104.1) < 0.01 and 0.001 < abs(lat - 30.64) < 0.01


def test_convert_reprojects_to_lon_lat_and_keeps_existing_output(run, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    source = tmp_path / "blocks.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[box(500_000, 3_390_000, 500_100, 3_390_100)],
                     crs=4544).to_file(source)  # fmt: skip
    target = tmp_path / "blocks.csv"
    assert run("convert", source, target).exit_code == 0
    wkt = target.read_text(encoding="utf-8")
    assert "POLYGON ((105." in wkt  # CGCS2000 GK CM 105E metres became lon/lat
    before = target.read_bytes()
    refused = CliRunner().invoke(cli, ["convert", str(source), str(target)])
    assert refused.exit_code == 2 and target.read_bytes() == before


def test_members_roster_csv_validates_as_a_table(run, tmp_path):
    roster = tmp_path / "members.csv"
    roster.write_text("id,name,phone\nM1,张伟,13800000001\nM1,李娜,x\n", encoding="utf-8")
    result = run("validate", roster, "--as", "members")
    assert result.exit_code == 1 and "unique" in result.output


def test_projected_xy_csv_from_the_command_line(run, tmp_path):
    table = tmp_path / "xy.csv"
    table.write_text("id,x,y\n1,410000,3391000\n", encoding="utf-8")
    result = run("validate", table, "--x", "x", "--y", "y", "--crs", "EPSG:32648")
    assert result.exit_code == 0, result.output
    assert "104.0" in result.output  # the extent, in lon/lat


def test_options_that_would_be_ignored_are_refused(sample_workspace):
    for args in (["--as", "buildings"], ["--coords", "gcj02"]):
        result = CliRunner().invoke(cli, ["validate", str(sample_workspace), *args])
        assert result.exit_code == 2 and "--layer" in result.output, result.output


def test_sample_must_be_written_as_a_geopackage(tmp_path):
    result = CliRunner().invoke(cli, ["sample", "--out", str(tmp_path / "s.geojson")])
    assert result.exit_code == 2 and ".gpkg" in result.output


@pytest.mark.parametrize(
    "text",
    ["default", "ignore", "PENALIZE", "water=ignore", "arterial=forbid, water=penalise"],
)
def test_redraw_reads_barriers_as_partition_does(monkeypatch, sample_workspace, tmp_path, text):
    """Both commands hand the engine the modes of gridmap.partition.resolve_barriers."""
    from gridmap import plan, redraw
    from gridmap.errors import GridmapError
    from gridmap.partition import resolve_barriers

    given = {}

    def catch(name):
        def engine(*args, barriers=None, **kwargs):
            given[name] = barriers
            raise GridmapError("stopped by the test")

        return engine

    monkeypatch.setattr(plan, "make_plan", catch("partition"))
    monkeypatch.setattr(redraw, "redraw", catch("redraw"))
    previous = tmp_path / "today.geojson"
    previous.write_text(
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"code": "001"}, "geometry": {"type": "Polygon",
            "coordinates": [[[104.0, 30.6], [104.1, 30.6], [104.1, 30.7], [104.0, 30.6]]]}}]}),
        encoding="utf-8",
    )  # fmt: skip
    out = str(tmp_path / "p.gpkg")
    for args in (
        ["partition", str(sample_workspace)],
        ["redraw", str(sample_workspace), "--from", str(previous)],
    ):
        result = CliRunner().invoke(cli, [*args, "--barriers", text, "--out", out])
        assert "stopped by the test" in result.output, result.output
    assert given["partition"] == given["redraw"] == resolve_barriers(text)


@pytest.mark.parametrize("text", ["never", "road=forbid", "water=sometimes"])
def test_redraw_refuses_bad_barriers_as_partition_does(sample_workspace, tmp_path, text):
    """A typo is refused by both commands with the same message, before any work."""
    previous = tmp_path / "missing.gpkg"  # never read: the option is checked first
    out = tmp_path / "p.gpkg"
    messages = []
    for args in (
        ["partition", str(sample_workspace)],
        ["redraw", str(sample_workspace), "--from", str(previous)],
    ):
        result = CliRunner().invoke(cli, [*args, "--barriers", text, "--out", str(out)])
        assert result.exit_code == 2 and "unknown barrier" in result.output, result.output
        assert "Traceback" not in result.output and not out.exists()
        messages.append(result.output)
    assert messages[0] == messages[1]
