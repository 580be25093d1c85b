"""Comparing two plans of the sample street: exactly what moves, and nothing else."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import io
from gridmap.compare import GRID_STATUSES, PlanComparison, compare_plans
from gridmap.errors import InputError
from gridmap.plan import PlanFile, make_plan, read_plan, write_plan

MOVES = 3


@pytest.fixture(scope="module")
def layers(sample_layers):
    return sample_layers


@pytest.fixture(scope="module")
def plan(sample_plan):
    return sample_plan


@pytest.fixture(scope="module")
def plan80(layers):
    return make_plan(layers, grids=80)


def _move_units(plan, count):
    """Move ``count`` units with households to a neighbouring grid, each between its own pair.

    Returns the edited plan (same codes) and the moves as (unit, source grid, target grid).
    """
    labels = plan.labels.copy()
    sizes = np.bincount(labels)
    households = plan.units["households"].to_numpy()
    moves, used = [], set()
    for i, j in plan.graph.edges:
        for unit, other in ((i, j), (j, i)):
            source, target = labels[unit], labels[other]
            if source == target or source in used or target in used:
                continue
            if households[unit] <= 0 or sizes[source] < 2:
                continue
            moves.append((int(unit), int(source), int(target)))
            used |= {source, target}
            break
        if len(moves) == count:
            break
    assert len(moves) == count
    for unit, _, target in moves:
        labels[unit] = target
    return plan.with_labels(labels, codes=list(plan.grids["code"])), moves


@pytest.fixture(scope="module")
def edit(plan):
    return _move_units(plan, MOVES)


@pytest.fixture(scope="module")
def edited(plan, edit, layers):
    return compare_plans(plan, edit[0], layers, include_households=True)


@pytest.fixture(scope="module")
def plan_files(plan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plans")
    write_plan(plan, folder / "plan.gpkg")
    write_plan(plan, folder / "plan.geojson")
    return read_plan(folder / "plan.gpkg"), read_plan(folder / "plan.geojson")


@pytest.fixture(scope="module")
def regrid(plan, plan80, layers):
    return compare_plans(plan, plan80, layers)


# ------------------------------------------------------------------------------ identity


def test_a_plan_compared_with_itself_changes_nothing(plan, layers):
    result = compare_plans(plan, plan, layers)
    assert isinstance(result, PlanComparison)
    assert not result.buildings["changed"].any()
    assert not result.incidents["changed"].any()
    assert result.flows.empty
    assert (result.grids["status"] == "kept").all()
    assert len(result.grids) == len(plan.grids)
    assert result.metric("households_moved") == 0
    assert result.metric("grids_kept") == len(plan.grids)
    assert result.metric("grids", "before") == result.metric("grids", "after") == len(plan.grids)
    assert result.metric("mean_polsby_popper") == 0
    assert result.problems == []


def test_buildings_follow_the_plan_assignments(plan, layers):
    result = compare_plans(plan, plan, layers)
    codes = plan.building_codes()
    table = result.buildings.set_index("building_id")
    assert list(table.index) == list(layers["buildings"]["id"].astype(str))
    assert (table["before"] == codes.reindex(table.index)).all()


def test_grid_counts_match_the_plan_metrics(plan, layers):
    result = compare_plans(plan, plan, layers)
    grids = result.grids.set_index("code")
    mine = plan.grids.set_index("code")
    assert (grids["households_before"] == mine["households"].reindex(grids.index)).all()
    assert (grids["persons_before"] == mine["persons"].reindex(grids.index)).all()
    assert (grids["buildings_before"] == mine["buildings"].reindex(grids.index)).all()
    assert np.allclose(grids["polsby_popper_after"], mine["polsby_popper"].reindex(grids.index))
    assert grids["incidents_before"].sum() == len(layers["incidents"])


def test_households_are_left_out_unless_asked_for(plan, layers):
    assert compare_plans(plan, plan, layers).households is None
    table = compare_plans(plan, plan, layers, include_households=True).households
    columns = ["household_id", "building_id", "before", "after", "change", "changed"]
    assert list(table.columns) == columns
    assert len(table) == len(layers["households"])
    codes = plan.household_codes()
    assert (table.set_index("household_id")["before"] == codes.reindex(table["household_id"])).all()


# ------------------------------------------------------------------------------ plan files


def test_a_plan_geopackage_agrees_exactly_with_its_plan(plan, plan_files, layers):
    gpkg, _ = plan_files
    assert gpkg.assignments is not None
    result = compare_plans(plan, gpkg, layers)
    assert not result.buildings["changed"].any()
    metrics = list(result.summary["metric"])  # the file stores its metrics sorted by name
    assert metrics.index("in_range_share") < metrics.index("gap_m2")
    assert (result.grids["status"] == "kept").all()
    # both plans carry their summary: the plan metrics are compared
    assert result.metric("in_range_share", "after") == pytest.approx(plan.summary["in_range_share"])


def test_grid_polygons_without_assignments_agree_for_nearly_all_buildings(plan, plan_files, layers):
    _, geojson = plan_files
    assert geojson.assignments is None
    result = compare_plans(plan, geojson, layers)
    assert result.buildings["after"].notna().all()
    assert result.metric("buildings_moved") <= 0.01 * len(result.buildings)
    assert result.metric("households_moved") <= 0.01 * len(layers["households"])
    assert result.incidents["changed"].mean() <= 0.01
    assert set(result.grids["code"]) == set(plan.grids["code"])
    assert not result.grids["status"].isin(["added", "retired"]).any()


def test_a_plan_file_with_another_id_column(plan, tmp_path, layers):
    grids = plan.grids_wgs84().rename(columns={"code": "grid_no"})[["grid_no", "geometry"]]
    io.write_geojson(grids, tmp_path / "drawn.geojson")
    drawn = read_plan(tmp_path / "drawn.geojson", id_column="grid_no")
    result = compare_plans(drawn, plan, layers)
    assert result.metric("buildings_moved") <= 0.01 * len(result.buildings)
    assert "polsby_popper_before" not in result.grids.columns
    assert "polsby_popper_after" in result.grids.columns


def test_missing_assignments_fall_back_to_overlap_with_a_warning(plan, plan_files, layers):
    gpkg, _ = plan_files
    partial = PlanFile(gpkg.grids, gpkg.assignments.iloc[10:], gpkg.info, gpkg.source)
    result = compare_plans(plan, partial, layers)
    assert result.metric("buildings_moved") <= 1
    assert any("not in the after plan" in p.message for p in result.problems)


# ------------------------------------------------------------------------------ a known edit


def _moved(plan, edit):
    units = [unit for unit, _, _ in edit[1]]
    buildings = set(plan.building_unit.index[plan.building_unit.isin(units)])
    households = set(plan.household_unit.index[plan.household_unit.isin(units)])
    return units, buildings, households


def test_exactly_the_buildings_of_the_moved_units_change_grid(plan, edit, edited):
    units, buildings, _ = _moved(plan, edit)
    changed = edited.changed_buildings()
    assert set(changed["building_id"]) == buildings
    codes = plan.grids["code"].to_numpy()
    for unit, source, target in edit[1]:
        mine = changed[
            changed["building_id"].isin(plan.building_unit.index[plan.building_unit == unit])
        ]
        assert (mine["before"] == codes[source]).all()
        assert (mine["after"] == codes[target]).all()
    assert edited.metric("buildings_moved") == len(buildings)
    assert edited.metric("households_moved") == plan.units["households"].iloc[units].sum()
    assert edited.metric("persons_moved") == plan.units["persons"].iloc[units].sum()


def test_exactly_the_households_of_the_moved_units_change_grid(plan, edit, edited):
    _, _, households = _moved(plan, edit)
    table = edited.households
    assert set(table.loc[table["changed"], "household_id"]) == households
    share = edited.metric("share_households_moved")
    assert share == pytest.approx(len(households) / len(table))


def test_the_incidents_inside_the_moved_units_change_grid(plan, edit, edited, layers):
    units = [unit for unit, _, _ in edit[1]]
    cells = plan.units.geometry.iloc[units].to_numpy()
    points = layers["incidents"].to_crs(plan.units.crs).geometry.to_numpy()
    inside = np.zeros(len(points), dtype=bool)
    touching = np.zeros(len(points), dtype=bool)
    for cell in cells:
        inside |= shapely.contains_properly(cell, points)
        touching |= shapely.intersects(cell, points)
    changed = edited.incidents["changed"].to_numpy()
    assert inside.sum() > 0
    assert not (inside & ~changed).any()
    assert not (changed & ~touching).any()
    assert edited.metric("incidents_changing_grid") == changed.sum()


def test_flows_of_a_known_edit(plan, edit, edited):
    codes = plan.grids["code"].to_numpy()
    units = plan.units
    expected = {
        (codes[source], codes[target]): (units["buildings"].iloc[u], units["households"].iloc[u])
        for u, source, target in edit[1]
    }
    got = {
        (row.before, row.after): (row.buildings, row.households)
        for row in edited.flows.itertuples()
    }
    assert got == expected
    assert edited.flows["households"].is_monotonic_decreasing
    assert edited.flows["incidents"].sum() == edited.incidents["changed"].sum()


def test_grid_statuses_of_a_known_edit(plan, edit, edited):
    codes = plan.grids["code"].to_numpy()
    touched = {codes[g] for _, source, target in edit[1] for g in (source, target)}
    status = edited.grids.set_index("code")["status"]
    assert set(status[status == "changed"].index) == touched
    assert (status.drop(list(touched)) == "kept").all()
    assert edited.metric("grids_changed") == len(touched)
    assert edited.metric("grids_added") == edited.metric("grids_retired") == 0


def test_a_renamed_grid_is_retired_and_added(plan, layers):
    codes = list(plan.grids["code"])
    taken = set(codes)
    new = next(
        f"{codes[0][:12]}{n:03d}"
        for n in range(999, 0, -1)
        if f"{codes[0][:12]}{n:03d}" not in taken
    )
    renamed = plan.with_labels(plan.labels, codes=[new, *codes[1:]])
    result = compare_plans(plan, renamed, layers)
    status = result.grids.set_index("code")["status"]
    assert status[codes[0]] == "retired"
    assert status[new] == "added"
    assert (status.drop([codes[0], new]) == "kept").all()
    grids = result.grids.set_index("code")
    assert pd.isna(grids.loc[new, "households_before"])
    assert pd.isna(grids.loc[codes[0], "households_after"])
    assert grids.loc[new, "households_after"] == plan.grids["households"].iloc[0]
    assert len(result.flows) == 1
    assert tuple(result.flows.iloc[0][["before", "after"]]) == (codes[0], new)
    assert result.metric("households_moved") == plan.grids["households"].iloc[0]


# ------------------------------------------------------------------------------ different plans


def test_totals_are_conserved_between_two_plans(regrid, layers):
    grids = regrid.grids
    total = len(layers["households"])
    assert grids["households_before"].sum() == grids["households_after"].sum() == total
    assert (
        grids["buildings_before"].sum()
        == grids["buildings_after"].sum()
        == len(layers["buildings"])
    )
    assert (
        grids["incidents_before"].sum()
        == grids["incidents_after"].sum()
        == len(layers["incidents"])
    )
    assert regrid.metric("households_in_grids", "after") == total
    assert regrid.metric("households_outside_grids", "after") == 0


def test_flows_balance_every_grid(regrid):
    flows = regrid.flows
    assert (flows["before"] != flows["after"]).all()
    assert not flows.duplicated(["before", "after"]).any()
    assert flows["households"].sum() == regrid.metric("households_moved")
    assert flows["buildings"].sum() == regrid.metric("buildings_moved")
    assert flows["incidents"].sum() == regrid.metric("incidents_changing_grid")
    grids = regrid.grids.set_index("code")
    out = flows.groupby("before")["households"].sum()
    into = flows.groupby("after")["households"].sum()
    change = grids["households_after"].fillna(0) - grids["households_before"].fillna(0)
    balance = into.reindex(grids.index, fill_value=0) - out.reindex(grids.index, fill_value=0)
    assert (change.astype(int) == balance).all()


def test_grid_statuses_between_two_plans(regrid, plan, plan80):
    before, after = set(plan.grids["code"]), set(plan80.grids["code"])
    status = regrid.grids.set_index("code")["status"]
    assert set(status.index) == before | after
    assert set(status[status == "retired"].index) == before - after
    assert set(status[status == "added"].index) == after - before
    assert set(status.unique()) <= set(GRID_STATUSES)
    assert regrid.metric("grids") == len(after) - len(before)
    buildings = regrid.buildings
    for code in status.index[status.isin(["kept", "changed"])]:
        same = set(buildings.loc[buildings["before"] == code, "building_id"]) == set(
            buildings.loc[buildings["after"] == code, "building_id"]
        )
        assert same == (status[code] == "kept"), code


def test_summary_compares_the_plan_metrics(regrid, plan, plan80):
    summary = regrid.summary.set_index("metric")
    assert list(regrid.summary.columns) == ["metric", "before", "after", "change"]
    row = summary.loc["mean_polsby_popper"]
    assert row["before"] == pytest.approx(plan.summary["mean_polsby_popper"])
    assert row["after"] == pytest.approx(plan80.summary["mean_polsby_popper"])
    assert row["change"] == pytest.approx(row["after"] - row["before"])
    metrics = list(summary.index)
    assert metrics.index("in_range_share") < metrics.index("mean_polsby_popper")
    # a plan asked for by count has no range: nothing to subtract
    assert summary.loc["in_range_share", "change"] is None


def test_without_incidents(plan, plan80, layers):
    bare = {name: layer for name, layer in layers.items() if name != "incidents"}
    result = compare_plans(plan, plan80, bare)
    assert result.incidents is None
    assert "incidents_before" not in result.grids.columns
    assert (result.flows["incidents"] == 0).all()
    assert "incidents_changing_grid" not in set(result.summary["metric"])


# ------------------------------------------------------------------------------ writing


def test_csv_lists_the_changes_and_its_companions(plan, edit, edited, tmp_path):
    target = tmp_path / "changes.csv"
    written = edited.to_csv(target)
    assert written == edited.output_paths(target)
    assert {p.name for p in written} == {
        "changes.csv", "changes_flows.csv", "changes_grids.csv", "changes_summary.csv",
        "changes_incidents.csv", "changes_households.csv",
    }  # fmt: skip
    _, buildings, households = _moved(plan, edit)
    table = pd.read_csv(target, dtype=str, encoding="utf-8")
    columns = ["building_id", "before", "after", "households", "persons", "change"]
    assert list(table.columns) == columns
    assert set(table["building_id"]) == buildings
    assert table["before"].str.fullmatch(r"\d{15}").all()
    flows = pd.read_csv(tmp_path / "changes_flows.csv", dtype={"before": str, "after": str})
    assert flows["households"].sum() == edited.metric("households_moved")
    grids = pd.read_csv(tmp_path / "changes_grids.csv", dtype={"code": str})
    assert len(grids) == len(plan.grids)
    moved = pd.read_csv(tmp_path / "changes_households.csv", dtype=str)
    assert set(moved["household_id"]) == households
    assert "changed" not in moved.columns
    assert not list(tmp_path.glob(".*tmp*"))


def test_csv_without_households_writes_no_household_file(regrid, tmp_path):
    written = regrid.write(tmp_path / "regrid.csv")
    assert not (tmp_path / "regrid_households.csv").exists()
    assert len(pd.read_csv(written[0])) == regrid.metric("buildings_moved")


def test_geojson_holds_the_footprints_of_moved_buildings_in_lon_lat(plan, edit, edited, tmp_path):
    target = tmp_path / "changes.geojson"
    edited.write(target)
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    assert "crs" not in data
    _, buildings, _ = _moved(plan, edit)
    assert {f["properties"]["building_id"] for f in data["features"]} == buildings
    first = data["features"][0]
    keys = {"building_id", "before", "after", "households", "persons", "change"}
    assert set(first["properties"]) == keys
    assert first["geometry"]["type"] in ("Polygon", "MultiPolygon")
    coords = np.array(
        [
            xy
            for f in data["features"]
            for xy in shapely.get_coordinates(shapely.from_geojson(json.dumps(f["geometry"])))
        ]
    )
    assert ((coords[:, 0] > 103) & (coords[:, 0] < 105)).all()  # Chengdu: lon 104
    assert ((coords[:, 1] > 30) & (coords[:, 1] < 31.5)).all()  # lat 30.6
    back = gpd.read_file(target)
    assert len(back) == len(buildings)


def test_geojson_of_no_change_is_an_empty_collection(plan, layers, tmp_path):
    target = tmp_path / "none.geojson"
    compare_plans(plan, plan, layers).to_geojson(target)
    assert json.loads(target.read_text(encoding="utf-8"))["features"] == []


def test_writers_refuse_bad_paths_and_leave_nothing(edited, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        edited.write(tmp_path / "missing" / "changes.csv")
    with pytest.raises(InputError, match="does not exist"):
        edited.write(tmp_path / "missing" / "changes.geojson")
    with pytest.raises(InputError, match=r"\.csv .*\.geojson"):
        edited.write(tmp_path / "changes.xlsx")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ bad input


def test_a_workspace_without_buildings_is_refused(plan, layers):
    bare = {name: layer for name, layer in layers.items() if name != "buildings"}
    with pytest.raises(InputError, match="no buildings layer") as caught:
        compare_plans(plan, plan, bare)
    assert "Fix:" in str(caught.value)


def test_a_plan_of_another_street_is_refused(plan, layers):
    other = plan.with_labels(plan.labels, codes=["510104091" + c[9:] for c in plan.grids["code"]])
    with pytest.raises(InputError, match="street 510104091.*workspace is street 510104090"):
        compare_plans(plan, other, layers)
    no_street = {name: layer for name, layer in layers.items() if name != "street"}
    with pytest.raises(InputError, match="different streets"):
        compare_plans(plan, other, no_street)


def test_grids_far_from_the_buildings_are_refused(plan, plan_files, layers):
    _, geojson = plan_files
    moved = geojson.grids.copy()
    moved["geometry"] = moved.geometry.translate(xoff=2.0)
    moved["code"] = [f"G{i}" for i in range(len(moved))]
    far = PlanFile(moved, None, {}, "far.geojson")
    with pytest.raises(
        InputError, match="none of the workspace's .* buildings lies in a grid"
    ) as caught:
        compare_plans(plan, far, layers)
    assert "far.geojson" in str(caught.value)


def test_grids_without_a_crs_are_refused(plan, plan_files, layers):
    _, geojson = plan_files
    bare = PlanFile(geojson.grids.set_crs(None, allow_override=True), None, {}, "bare.geojson")
    with pytest.raises(InputError, match="no CRS"):
        compare_plans(bare, plan, layers)


def test_something_else_than_a_plan_is_refused(plan, layers):
    with pytest.raises(TypeError, match="Plan or a PlanFile"):
        compare_plans(plan, "plan.gpkg", layers)


# ------------------------------------------------------------------------------ gaps and counts


def _without_grid(plan_file, code):
    grids = plan_file.grids[plan_file.grids["code"] != code].reset_index(drop=True)
    return PlanFile(grids, None, {}, f"without {code}")


def test_buildings_outside_every_grid(plan, plan_files, layers):
    _, geojson = plan_files
    code = plan.grids.sort_values("households")["code"].iloc[-1]
    households = plan.grids.set_index("code").loc[code, "households"]
    gap = _without_grid(geojson, code)
    result = compare_plans(geojson, gap, layers)
    moved = result.changed_buildings()
    assert moved["after"].isna().all()
    assert (moved["before"] == code).all()
    assert result.metric("households_outside_grids", "after") == households
    assert result.metric("households_outside_grids", "before") == 0
    assert result.grids.set_index("code").loc[code, "status"] == "retired"
    flow = result.flows.iloc[0]
    assert flow["before"] == code and flow["after"] is None
    assert flow["households"] == households
    assert any("outside every grid of the after plan" in p.message for p in result.problems)
    # the same gap on both sides is no change
    same = compare_plans(gap, gap, layers)
    assert not same.buildings["changed"].any()
    assert same.buildings["before"].isna().sum() > 0
    assert same.flows.empty
    assert code not in set(same.grids["code"])


def test_without_a_households_layer_counts_come_from_the_buildings(plan, plan80, layers):
    bare = {name: layer for name, layer in layers.items() if name != "households"}
    result = compare_plans(plan, plan80, bare, include_households=True)
    full = compare_plans(plan, plan80, layers)
    assert (result.buildings["households"] == full.buildings["households"]).all()
    assert result.metric("households_moved") == full.metric("households_moved")
    assert result.buildings["persons"].isna().all()
    assert result.metric("persons_moved") is None
    assert result.flows["persons"].isna().all()
    assert result.grids["persons_before"].isna().all()
    assert result.households.empty


def test_households_of_a_new_compound_are_new_not_moved(layers, plan, tmp_path):
    from gridmap.redraw import redraw
    from gridmap.sample import add_compound

    grown = add_compound(layers, 1500)
    write_plan(plan, tmp_path / "today.gpkg")
    result = redraw(grown, read_plan(tmp_path / "today.gpkg"))
    compared = compare_plans(plan, result.plan, grown)
    assert compared.metric("households_moved") == result.households_moved
    assert compared.metric("households_new") == result.new_households == 1500
    assert compared.metric("households_removed") == 0
    new = compared.buildings[compared.buildings["change"] == "new"]
    assert new["before"].isna().all() and new["after"].notna().all()
    assert not compared.buildings.loc[compared.buildings["change"] == "new", "changed"].any()
    assert compared.flows["households"].sum() == result.households_moved
    written = compared.write(tmp_path / "changes.csv")
    rows = pd.read_csv(written[0], dtype=str)
    assert (rows["change"] == "new").sum() == len(new)
    assert (rows["change"] == "moved").sum() == compared.metric("buildings_moved")
    # the other way round the compound's buildings are removed
    back = compare_plans(result.plan, plan, grown)
    assert back.metric("households_removed") == 1500
    assert back.metric("households_moved") == result.households_moved
