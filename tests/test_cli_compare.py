"""`gridmap compare WORKSPACE BEFORE AFTER`: the summary, largest flows and written changes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gridmap import io
from gridmap.cli import cli
from gridmap.plan import make_plan, write_plan


@pytest.fixture(scope="module")
def plans(sample_workspace, tmp_path_factory):
    """The default plan, an 80-grid plan and a hand-drawn copy of the default (other id column)."""
    layers = io.read_workspace(sample_workspace)
    folder = tmp_path_factory.mktemp("cli_plans")
    plan = make_plan(layers)
    write_plan(plan, folder / "before.gpkg")
    write_plan(make_plan(layers, grids=80), folder / "after.gpkg")
    drawn = plan.grids_wgs84().rename(columns={"code": "grid_no"})[["grid_no", "geometry"]]
    io.write_geojson(drawn, folder / "drawn.geojson")
    return folder


def _run(*args):
    return CliRunner().invoke(cli, ["compare", *map(str, args)])


def test_compare_prints_the_summary_and_the_largest_flows(sample_workspace, plans):
    result = _run(sample_workspace, plans / "before.gpkg", plans / "after.gpkg")
    assert result.exit_code == 0, result.output
    assert "households moved" in result.output
    assert "grids retired" in result.output
    assert "mean polsby popper" in result.output
    assert "Largest flows (10 of" in result.output
    flows = result.output.split("Largest flows")[1].strip().splitlines()
    assert flows[1].split()[:3] == ["from", "to", "households"]
    assert len(flows) == 2 + 1 + 10  # title, header, rule, ten flows
    households = [int(line.split()[2]) for line in flows[3:]]
    assert households == sorted(households, reverse=True)


def test_compare_a_plan_with_itself(sample_workspace, plans):
    result = _run(sample_workspace, plans / "before.gpkg", plans / "before.gpkg")
    assert result.exit_code == 0, result.output
    assert "Nothing changes grid." in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("households moved"))
    assert line.split()[-1] == "0"


def test_compare_a_hand_drawn_file_with_another_id_column(sample_workspace, plans):
    result = _run(sample_workspace, plans / "drawn.geojson", plans / "before.gpkg")
    assert result.exit_code == 2
    assert "no column 'code'" in result.output and "--id" in result.output
    result = _run(
        sample_workspace, plans / "drawn.geojson", plans / "before.gpkg", "--id", "grid_no"
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("buildings moved"))
    assert int(line.split()[-1]) <= 20
    # the column is there but names two grids alike: refused, not read by another column
    drawn = io.read_layer(plans / "drawn.geojson")
    drawn["code"] = drawn["grid_no"]
    drawn["grid_no"] = drawn["grid_no"].str[:12]
    io.write_geojson(drawn, plans / "clashing.geojson")
    result = _run(
        sample_workspace, plans / "clashing.geojson", plans / "before.gpkg", "--id", "grid_no"
    )
    assert result.exit_code == 2
    assert "grid ids repeat in 'grid_no'" in result.output


def test_compare_writes_csv_and_refuses_to_overwrite(sample_workspace, plans, tmp_path):
    out = tmp_path / "changes.csv"
    args = [sample_workspace, plans / "before.gpkg", plans / "after.gpkg", "--out", out]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output
    table = pd.read_csv(out, dtype=str)
    columns = ["building_id", "before", "after", "households", "persons", "change"]
    assert list(table.columns) == columns
    assert (table["before"] != table["after"]).all()
    for part in ("flows", "grids", "summary", "incidents"):
        assert (tmp_path / f"changes_{part}.csv").is_file(), part
    assert not (tmp_path / "changes_households.csv").exists()
    again = _run(*args)
    assert again.exit_code == 2
    assert "exists already" in again.output and "--force" in again.output
    forced = _run(*args, "--force", "--households")
    assert forced.exit_code == 0, forced.output
    households = pd.read_csv(tmp_path / "changes_households.csv", dtype=str)
    moved = households["household_id"].nunique()
    summary = pd.read_csv(tmp_path / "changes_summary.csv").set_index("metric")
    assert moved == int(float(summary.loc["households_moved", "change"]))


def test_compare_refuses_to_overwrite_a_companion_file(sample_workspace, plans, tmp_path):
    (tmp_path / "changes_flows.csv").write_text("keep me\n", encoding="utf-8")
    out = tmp_path / "changes.csv"
    result = _run(sample_workspace, plans / "before.gpkg", plans / "after.gpkg", "--out", out)
    assert result.exit_code == 2
    assert "changes_flows.csv" in result.output
    assert (tmp_path / "changes_flows.csv").read_text(encoding="utf-8") == "keep me\n"
    assert not out.exists()


def test_compare_writes_geojson_footprints(sample_workspace, plans, tmp_path):
    out = tmp_path / "changes.geojson"
    result = _run(sample_workspace, plans / "before.gpkg", plans / "after.gpkg", "--out", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in data
    assert data["features"]
    ring = np.array(data["features"][0]["geometry"]["coordinates"][0])
    assert ring[:, 0].min() > 103 and ring[:, 0].max() < 105
    assert ring[:, 1].min() > 30 and ring[:, 1].max() < 31.5


def test_compare_refuses_another_extension(sample_workspace, plans, tmp_path):
    out = tmp_path / "changes.xlsx"
    result = _run(sample_workspace, plans / "before.gpkg", plans / "after.gpkg", "--out", out)
    assert result.exit_code == 2
    assert ".csv or .geojson" in result.output
    assert not out.exists()


def test_compare_refuses_a_missing_folder_before_working(sample_workspace, plans, tmp_path):
    out = tmp_path / "missing" / "changes.csv"
    result = _run(sample_workspace, plans / "before.gpkg", plans / "after.gpkg", "--out", out)
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "households moved" not in result.output


def test_compare_reports_a_missing_plan_cleanly(sample_workspace, plans, tmp_path):
    result = _run(sample_workspace, plans / "before.gpkg", tmp_path / "nothing.gpkg")
    assert result.exit_code == 2
    assert "nothing.gpkg" in result.output
    assert "Traceback" not in result.output


def test_compare_help_describes_every_option():
    result = CliRunner().invoke(cli, ["compare", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--id", "--out", "--households", "--force"):
        line = next(x for x in result.output.splitlines() if x.strip().startswith(option))
        assert len(line.split()) > 2, line
