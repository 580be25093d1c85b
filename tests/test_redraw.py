"""Importing today's drawn grids and redrawing a plan with the fewest households moved."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gridmap import io
from gridmap.cli import cli
from gridmap.errors import InputError
from gridmap.graph import BARRIER_ARTERIAL
from gridmap.metrics import barrier_crossings
from gridmap.plan import make_plan, read_plan, write_plan
from gridmap.redraw import households_moved, import_plan, redraw
from gridmap.sample import add_compound


@pytest.fixture(scope="module")
def plan_file(sample_plan, tmp_path_factory):
    path = tmp_path_factory.mktemp("plans") / "today.gpkg"
    write_plan(sample_plan, path)
    return read_plan(path)


@pytest.fixture(scope="module")
def grown(sample_layers):
    return add_compound(sample_layers, 1500)


@pytest.fixture(scope="module")
def thinned(sample_layers, sample_plan, plan_file):
    """Half the buildings torn down in every grid that meets another along an arterial road."""
    graph, labels = sample_plan.graph, sample_plan.labels
    a, b = labels[graph.edges[:, 0]], labels[graph.edges[:, 1]]
    along = (graph.barrier == BARRIER_ARTERIAL) & (a != b)
    codes = sample_plan.grids["code"].to_numpy()[np.unique(np.r_[a[along], b[along]])]
    assert len(codes) >= 5
    gone = []
    for code in codes:
        ids = sorted(plan_file.assignments.index[plan_file.assignments == code])
        gone += ids[: len(ids) // 2]
    layers = dict(sample_layers)
    buildings = layers["buildings"].copy()
    buildings.loc[buildings["id"].astype(str).isin(gone), "households"] = 0
    layers["buildings"] = buildings
    homes = layers["households"]
    layers["households"] = homes[~homes["building_id"].astype(str).isin(gone)]
    return layers


def _households(layers) -> pd.Series:
    b = layers["buildings"]
    return pd.Series(b["households"].to_numpy(), index=b["id"].astype(str).to_numpy())


def _nested_and_whole(plan) -> None:
    communities = plan.units["community"].astype(str).to_numpy()
    for label in range(len(plan.grids)):
        assert len(set(communities[plan.labels == label])) == 1
    assert (plan.grids["parts"] == 1).all()


# ------------------------------------------------------------------------------- redraw


def test_unchanged_street_redraws_to_the_same_plan(sample_layers, sample_plan, plan_file):
    result = redraw(sample_layers, plan_file)
    assert result.new_households == 0 and result.added == [] and result.retired == []
    # the default plan has every grid in range (the partitioner mends grids its refinement
    # leaves just short): nothing to redraw
    assert sample_plan.summary["in_range_share"] == 1.0
    assert result.households_moved == 0 and result.grids_changed == []
    same = result.plan.building_codes().sort_index()
    assert same.equals(sample_plan.building_codes().sort_index())


def test_new_compound_gets_new_grids_and_moves_far_fewer_households(grown, plan_file):
    result = redraw(grown, plan_file)
    plan = result.plan
    _nested_and_whole(plan)
    assert result.new_households == 1500
    assert len(result.added) >= 3 and result.retired == []
    site = grown["compounds"].loc[grown["compounds"]["name"] == "锦华安置小区", "id"].iloc[0]
    community = {c[:12] for c in result.added}
    assert len(community) == 1  # the new grids are in the compound's community
    new_buildings = grown["buildings"].loc[grown["buildings"]["compound_id"] == site, "id"]
    assert set(plan.building_codes()[new_buildings.astype(str)]) <= set(result.added)
    # surviving grids keep their codes; numbers continue the community's
    assert set(plan_file.grids["code"]) <= set(plan.grids["code"])
    before_numbers = [int(c[-3:]) for c in plan_file.grids["code"] if c[:12] in community]
    assert min(int(c[-3:]) for c in result.added) == max(before_numbers) + 1
    scratch = make_plan(grown)
    moved_scratch = households_moved(
        plan_file.assignments, scratch.building_codes(), _households(grown), match=True
    )
    assert result.households_moved * 5 <= moved_scratch
    assert result.households_moved == households_moved(
        plan_file.assignments, plan.building_codes(), _households(grown)
    )
    assert plan.summary["in_range_share"] >= scratch.summary["in_range_share"] - 0.011
    # every grid in range, and the compound's new grids are carved out of the compound alone:
    # no household of the previous plan changes grid
    assert plan.summary["in_range_share"] == 1.0
    assert result.households_moved == 0
    assert not [p for p in result.problems if "out of" in p.message]


@pytest.fixture(scope="module")
def demolished(sample_layers, plan_file):
    """Every building of one grid torn down: (layers, its code)."""
    layers = dict(sample_layers)
    buildings = layers["buildings"].copy()
    code = plan_file.grids["code"].iloc[5]
    gone = plan_file.assignments[plan_file.assignments == code].index
    torn = buildings["id"].astype(str).isin(gone)
    buildings.loc[torn, "households"] = 0
    layers["buildings"] = buildings
    homes = layers["households"]
    layers["households"] = homes[~homes["building_id"].astype(str).isin(gone)]
    return layers, code


def test_demolished_blocks_retire_or_shrink_grids_with_few_moves(demolished, plan_file):
    layers, code = demolished
    result = redraw(layers, plan_file)
    _nested_and_whole(result.plan)
    weight = result.plan.grids["households"]
    assert ((weight >= 300) & (weight <= 500)).all()
    assert result.households_moved < 0.05 * result.households_before
    assert result.retired or code in set(result.grids_changed)


def test_locked_grids_stay_exactly_as_they_were(grown, demolished, plan_file):
    layers, _ = demolished
    first = redraw(layers, plan_file)
    touched = sorted(set(first.grids_changed))
    assert touched, "tearing down a grid changes at least one grid"
    result = redraw(layers, plan_file, locked=touched)
    after = result.plan.building_codes()
    homes = _households(layers)
    lived_in = homes.index[homes > 0]  # torn-down buildings join the units around them
    before = plan_file.assignments[plan_file.assignments.index.isin(lived_in)]
    after = after[before.index]  # the buildings of the previous plan still lived in
    for code in touched:
        assert set(before.index[before == code]) == set(after.index[after == code])
    with pytest.raises(InputError, match="cannot lock 999"):
        redraw(grown, plan_file, locked=["999"])


def test_redraw_mends_grids_across_communities_and_in_pieces(sample_layers, plan_file):
    codes = plan_file.grids["code"].tolist()
    one, other = codes[0], next(c for c in codes if c[:12] != codes[0][:12])
    broken = plan_file.assignments.copy()
    broken[broken == other] = one  # grid `one` now spreads over two communities
    bad = type(plan_file)(plan_file.grids[plan_file.grids["code"] != other], broken, {}, "x")
    result = redraw(sample_layers, bad)
    _nested_and_whole(result.plan)
    grids = result.plan.grids
    assert grids.loc[grids["code"] == one, "group"].tolist() == [one[:12]]
    assert grids["households"].between(300, 500).mean() >= 0.95


def test_redraw_from_drawn_polygons_without_assignments(grown, sample_plan):
    drawn = sample_plan.grids_wgs84()[["code", "geometry"]]
    result = redraw(grown, drawn)
    _nested_and_whole(result.plan)
    assert result.new_households == 0  # no assignments: every building counts as listed
    assert result.households_moved < 0.1 * result.households_before


def _crossing_with_households(plan) -> int:
    """Grids whose units with households are linked only across an arterial road."""
    homes = plan.units["households"].to_numpy() > 0
    return int(barrier_crossings(plan.graph, plan.labels, homes, BARRIER_ARTERIAL).sum())


def test_a_forbidden_barrier_stops_moves_across_it(thinned, plan_file):
    # the previous plan has no grid holding households on both sides of an arterial
    assert _crossing_with_households(import_plan(thinned, plan_file).plan) == 0
    free = redraw(thinned, plan_file, barriers="ignore")
    assert _crossing_with_households(free.plan) >= 1  # ignored, a unit moves across
    kept = redraw(thinned, plan_file, barriers="arterial=forbid")
    assert kept.plan.parameters["barriers"] == {"water": "forbid", "arterial": "forbid"}
    assert _crossing_with_households(kept.plan) == 0
    _nested_and_whole(kept.plan)
    assert kept.plan.summary["in_range_share"] >= free.plan.summary["in_range_share"]
    # the only crossings left join land without households, and a warning names each
    crossed = kept.plan.grids.loc[kept.plan.grids["crosses_arterial"], "group"]
    warned = [p.message for p in kept.problems if "across an arterial road" in p.message]
    assert warned and all("land without households" in m for m in warned)
    assert set(crossed) <= {m.split()[1] for m in warned}


def test_redraw_forbids_the_river_by_default(sample_layers):
    across = make_plan(sample_layers, barriers="ignore")
    assert across.summary["grids_crossing_water"] >= 1
    previous = across.grids[["code", "geometry"]]
    assert (
        redraw(sample_layers, previous, barriers="ignore").plan.summary["grids_crossing_water"]
        == across.summary["grids_crossing_water"]
    )
    result = redraw(sample_layers, previous)  # a grid across keeps its larger side
    assert result.plan.parameters["barriers"] == {"water": "forbid", "arterial": "penalise"}
    assert result.plan.summary["grids_crossing_water"] == 0
    assert result.plan.summary["in_range_share"] == 1.0
    _nested_and_whole(result.plan)
    assert 0 < result.households_moved < 0.1 * result.households_before


def test_households_moved_matches_renamed_grids():
    before = pd.Series(["A", "A", "B", "B"], index=list("wxyz"))
    after = pd.Series(["1", "1", "2", "1"], index=list("wxyz"))
    homes = pd.Series([10, 20, 30, 40], index=list("wxyz"))
    assert households_moved(before, after, homes) == 100
    assert households_moved(before, after, homes, match=True) == 40


# ------------------------------------------------------------------------------- import


@pytest.fixture(scope="module")
def messy(sample_plan, sample_layers):
    """Today's grids as a street office might have drawn them, in a projected CRS."""
    grids = sample_plan.grids_wgs84()[["code", "group", "geometry"]].to_crs(32648)
    geoms = grids.geometry.to_numpy().copy()
    codes = grids["code"].tolist()
    gap_code, overlap_code, sliver_code = codes[10], codes[20], codes[30]
    geoms[10] = shapely.buffer(geoms[10], -40)  # a wide gap all around
    geoms[20] = shapely.buffer(geoms[20], 25)  # spills over its neighbours
    geoms[30] = shapely.affinity.translate(geoms[30], 0.6, 0.4)  # sloppy edges
    # a grid drawn across a community line: merged with a neighbour of another community
    tree = shapely.STRtree(geoms)
    groups = grids["group"].to_numpy()
    cross_a = next(
        i for i in range(40, len(geoms))
        for j in tree.query(geoms[i], predicate="intersects")
        if groups[j] != groups[i]
    )  # fmt: skip
    cross_b = next(
        j
        for j in tree.query(geoms[cross_a], predicate="intersects")
        if groups[j] != groups[cross_a]
    )
    geoms[cross_a] = shapely.union_all([geoms[cross_a], geoms[cross_b]])
    # a line through a building: a bite of a building added to another grid
    buildings = sample_layers["buildings"].to_crs(32648)
    home = int(np.flatnonzero(sample_plan.grids["code"] == codes[50])[0])
    inside = buildings[buildings.within(grids.geometry.iloc[home].buffer(-1))]
    building = inside.iloc[0]
    neighbour = next(
        j for j in tree.query(geoms[home], predicate="intersects")
        if j != home and groups[j] == groups[home]
    )  # fmt: skip
    minx, miny, maxx, maxy = building.geometry.bounds
    bite = shapely.box(minx, miny, (minx + maxx) / 2, maxy)
    geoms[neighbour] = shapely.union_all([geoms[neighbour], shapely.buffer(bite, 0.01)])
    drawn = gpd.GeoDataFrame({"name": codes}, geometry=geoms, crs=32648)
    drawn = drawn.drop(index=cross_b).reset_index(drop=True)
    return drawn, {
        "gap": gap_code, "overlap": overlap_code, "sliver": sliver_code,
        "cross": codes[cross_a], "gone": codes[cross_b], "building": str(building["id"]),
    }  # fmt: skip


def test_import_of_a_messy_drawing_names_every_problem(messy, sample_layers, tmp_path):
    drawn, truth = messy
    path = tmp_path / "drawn.gpkg"
    io.write_geopackage({"grids": drawn}, path)
    plan_file = read_plan(path, id_column="name")
    assert plan_file.grids.crs.to_epsg() == 32648
    imported = import_plan(sample_layers, plan_file)
    check = imported.check
    assert len(check.gaps) >= 1 and check.gaps["area_m2"].sum() > 10_000
    pairs = set(check.overlaps["code_a"]) | set(check.overlaps["code_b"])
    assert truth["overlap"] in pairs
    assert check.slivers >= 2
    assert truth["building"] in set(check.buildings_cut["building_id"])
    assert truth["cross"] in set(check.crossing["code"])
    text = " ".join(str(p) for p in imported.problems)
    for word in ("gap", "overlap", "sliver", "cut by drawn grid lines", "cross a community"):
        assert word in text
    plan = imported.plan
    assert plan.grids["households"].sum() == sample_layers["buildings"]["households"].sum()
    assert truth["gone"] not in set(plan.grids["code"])
    assert truth["cross"] in set(plan.grids["code"])


def test_cli_import_plan_then_redraw(messy, sample_workspace, tmp_path):
    drawn, truth = messy
    path = tmp_path / "drawn.geojson"
    io.write_geojson(drawn, path)
    out = tmp_path / "today.gpkg"
    result = CliRunner().invoke(
        cli, ["import-plan", str(sample_workspace), str(path), "--id", "name", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "buildings cut" in result.output and "in range share" in result.output
    assert "Traceback" not in result.output
    redrawn = tmp_path / "redrawn.gpkg"
    result = CliRunner().invoke(
        cli, ["redraw", str(sample_workspace), "--from", str(out), "--out", str(redrawn)]
    )
    assert result.exit_code == 0, result.output
    assert "households moved" in result.output
    plan = read_plan(redrawn)
    assert truth["cross"] in set(plan.grids["code"]) or truth["cross"] in result.output
    again = CliRunner().invoke(
        cli, ["redraw", str(sample_workspace), "--from", str(out), "--out", str(redrawn)]
    )
    assert again.exit_code == 2 and "--force" in again.output
    missing = CliRunner().invoke(cli, ["import-plan", str(sample_workspace), str(tmp_path / "no")])
    assert missing.exit_code != 0 and "Traceback" not in missing.output


def test_import_of_a_drawing_of_another_place_is_refused(
    sample_layers, sample_workspace, shared_data
):
    path = shared_data / "sf" / "sf_blockgroups_pop2010.gpkg"
    drawing = gpd.read_file(path).rename(columns={"geoid": "code"})[["code", "geometry"]]
    with pytest.raises(InputError) as error:
        import_plan(sample_layers, drawing)
    text = str(error.value)
    assert "does not overlap the street" in text and "CRS" in text
    assert "lon -122." in text and "lon 104." in text  # both extents named
    result = CliRunner().invoke(
        cli, ["import-plan", str(sample_workspace), str(path), "--id", "geoid"]
    )
    assert result.exit_code != 0 and "does not overlap" in result.output
    assert "(not drawn)" not in result.output
