"""The whole pipeline on the sample street and in units mode: what a street office relies on."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from gridmap import io
from gridmap.cli import cli
from gridmap.errors import InputError
from gridmap.metrics import buildings_split
from gridmap.plan import make_plan, partition_units, write_plan


@pytest.fixture(scope="module")
def layers(sample_layers):
    return sample_layers


@pytest.fixture(scope="module")
def plan(sample_plan):
    return sample_plan


def test_every_grid_is_one_piece_inside_one_community(plan, layers):
    grids = plan.grids
    assert (grids["parts"] == 1).all()
    communities = layers["communities"].to_crs(grids.crs)
    for code, community in zip(communities["code"], communities.geometry, strict=True):
        mine = grids[grids["group"] == code]
        assert len(mine) >= 1
        outside = shapely.difference(mine.geometry.to_numpy(), community.buffer(0.5))
        assert shapely.area(outside).max() < 1.0, code


def test_grids_cover_the_street_exactly(plan):
    assert plan.summary["gap_m2"] < 1.0
    assert plan.summary["overlap_m2"] < 1.0


def test_no_building_is_split(plan, layers):
    buildings = layers["buildings"].to_crs(plan.grids.crs)
    assert len(buildings_split(buildings, plan.grids)) == 0


def test_summary_reports_split_buildings_and_barrier_crossings(plan):
    assert plan.summary["buildings_split"] == 0
    grids = plan.grids
    for name in ("water", "arterial"):
        assert plan.summary[f"grids_crossing_{name}"] == int(grids[f"crosses_{name}"].sum())


def test_no_grid_crosses_the_river_by_default(plan, layers):
    # the river cuts communities 004 and 005 in two; each bank holds whole grids in range
    assert plan.parameters["barriers"] == {"water": "forbid", "arterial": "penalise"}
    assert plan.summary["grids_crossing_water"] == 0
    assert plan.summary["in_range_share"] == 1.0
    assert not [p for p in plan.problems if "river" in p.message]
    ignored = make_plan(layers, barriers="ignore")
    assert ignored.summary["grids_crossing_water"] >= 1  # what the old engine did (4)
    forbid = make_plan(layers, barriers="forbid")
    assert forbid.summary["in_range_share"] == 1.0
    # the crossings left are land without households cut off by arterials (and the river),
    # each named in a warning
    forced = [p for p in forbid.problems if "crosses" in p.message]
    grids = forbid.grids
    assert (grids["crosses_water"] | grids["crosses_arterial"]).sum() <= len(forced)
    assert all("without households" in p.message for p in forced)


def test_households_are_balanced_within_range(plan, layers):
    assert plan.grids["households"].sum() == len(layers["households"])
    # the refinement balances against each community's mean grid; grids it leaves a household
    # or two out of range are then mended by exchanges and paths of moves (gridmap.rebalance)
    assert plan.summary["in_range_share"] == 1.0, plan.grids["households"].describe()
    # every grid in range: no warning about grids out of it
    assert not [p for p in plan.problems if p.code == "grids_out_of_range"]


def test_codes_are_fifteen_digits_unique_and_nested(plan):
    codes = plan.grids["code"]
    assert codes.str.fullmatch(r"\d{15}").all() and codes.is_unique
    assert (codes.str[:12] == plan.grids["group"].astype(str)).all()


def test_the_same_seed_gives_the_same_plan(plan, layers):
    again = make_plan(layers)
    assert np.array_equal(plan.labels, again.labels)


def test_a_given_number_of_grids_is_met(layers):
    plan = make_plan(layers, grids=80)
    assert len(plan.grids) == 80
    assert (plan.grids["parts"] == 1).all()


def test_grids_per_community_by_code_or_its_last_digits(layers):
    codes = sorted(layers["communities"]["code"].astype(str))
    counts = {code if i % 2 else code[-3:]: 10 + i for i, code in enumerate(codes)}
    plan = make_plan(layers, per_community=counts)
    got = plan.grids.groupby("group").size().to_dict()
    assert got == {code: 10 + i for i, code in enumerate(codes)}
    assert (plan.grids["parts"] == 1).all()
    with pytest.raises(InputError, match="'999' matches no community") as caught:
        make_plan(layers, per_community={"999": 3})
    assert codes[0] in caught.value.fix


def test_cli_per_community_and_its_errors(sample_workspace, layers, tmp_path):
    codes = sorted(layers["communities"]["code"].astype(str))
    spec = ",".join(f"{code[-3:]}=12" for code in codes)
    out = tmp_path / "plan.gpkg"
    args = ["partition", str(sample_workspace), "--per-community", spec, "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"Wrote {12 * len(codes)} grids" in result.output
    assert "nan" not in result.output  # no range asked: no in-range line
    bad = CliRunner().invoke(cli, args[:3] + ["001=x", "--out", str(tmp_path / "b.gpkg")])
    assert bad.exit_code == 2 and "CODE=N" in bad.output and "Traceback" not in bad.output
    both = CliRunner().invoke(cli, args + ["--grids", "80", "--force"])
    assert both.exit_code == 2 and "not both" in both.output


def test_persons_messages_say_persons(layers):
    with pytest.raises(InputError, match="persons: too few for one grid"):
        make_plan(layers, weight="persons", target=90_000, minimum=80_000, maximum=100_000)


def test_infeasible_request_names_the_community(layers):
    with pytest.raises(InputError, match="community|社区") as caught:
        make_plan(layers, target=10_000, minimum=9_000, maximum=11_000)
    assert caught.value.fix


def test_units_mode_on_sf_block_groups_keeps_islands(shared_data):
    units = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    plan = partition_units(units, weight="Population", grids=20)
    assert len(plan.grids) == 20
    # Only the grids joined to the two islands across water may be in two pieces.
    assert (plan.grids["parts"] == 1).sum() >= 18
    assert len(plan.labels) == 579 and (plan.labels >= 0).all()
    assert plan.grids["weight"].sum() == pytest.approx(805_235)
    mean = plan.grids["weight"].mean()
    assert (plan.grids["weight"] / mean - 1).abs().max() <= 0.05


def test_units_mode_on_sf_writes_only_valid_geojson(shared_data, tmp_path):
    units = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    plan = partition_units(units, weight="Population", grids=20)
    # no hairline holes or sliver parts left in the dissolved grids
    holes = [
        shapely.area(shapely.Polygon(ring))
        for poly in shapely.get_parts(plan.grids.geometry.to_numpy())
        for ring in poly.interiors
    ]
    assert min(holes, default=1.0) >= 1.0
    out = tmp_path / "sf.geojson"
    write_plan(plan, out)
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert len(collection["features"]) == 20
    for feature in collection["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        assert geom.is_valid, (feature["properties"]["code"], shapely.is_valid_reason(geom))
        for poly in shapely.get_parts(geom):  # RFC 7946: shells counter-clockwise, holes not
            assert poly.exterior.is_ccw and not any(r.is_ccw for r in poly.interiors)
    assert gpd.read_file(out).to_crs(plan.grids.crs).area.sum() == pytest.approx(
        plan.grids.area.sum(), rel=1e-6
    )


def test_cli_partition_writes_rfc7946_geojson(sample_workspace, tmp_path):
    out = tmp_path / "plan.geojson"
    result = CliRunner().invoke(cli, ["partition", str(sample_workspace), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "in range share" in result.output
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in collection
    assert all(len(f["properties"]["code"]) == 15 for f in collection["features"])


def test_cli_units_mode_needs_weight_and_grids(shared_data, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["partition", "--units", str(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg"),
         "--out", str(tmp_path / "p.gpkg")],
    )  # fmt: skip
    assert result.exit_code == 2 and "--weight" in result.output


def test_buildings_bigger_than_a_grid_are_named(layers):
    plan = make_plan(layers, target=130, minimum=100, maximum=150)
    named = {p.message.split()[1] for p in plan.problems if "more than a grid" in p.message}
    assert named == {"B001854", "B001865", "B001418", "B001417"}  # 151-160 households each
    oversized = [p for p in plan.problems if "more than a grid" in p.message]
    assert all(p.fix and p.layer == "buildings" for p in oversized)


def test_grids_by_persons(layers):
    plan = make_plan(layers, weight="persons", target=1000, minimum=750, maximum=1250)
    assert plan.summary["in_range_share"] >= 0.95
    assert (plan.grids["persons"] > 0).all()


def test_persons_with_a_household_sized_target_leave_no_grid_empty(layers):
    # 400 persons per grid: about one building each, more grids than blocks with people
    plan = make_plan(layers, weight="persons")
    assert (plan.grids["persons"] > 0).all()
    assert plan.summary["contiguous_share"] == 1
    assert not [p for p in plan.problems if "hold no persons" in p.message]


def test_units_mode_refuses_a_weight_that_sums_to_zero(shared_data):
    from gridmap.errors import InputError

    units = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    units["zero"] = 0
    with pytest.raises(InputError, match="sums to 0"):
        partition_units(units, weight="zero", grids=20)


def test_units_mode_names_unusable_weights(shared_data):
    units = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    units["w"] = units["Population"].astype(object)
    units.loc[[3, 7], "w"] = "abc"
    units.loc[9, "w"] = -100
    plan = partition_units(units, weight="w", grids=20)
    [warning] = [p for p in plan.problems if "usable" in p.message]
    assert warning.rows == [3, 7, 9]


def test_units_mode_refuses_a_text_weight_column(shared_data):
    units = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    with pytest.raises(InputError, match="'geoid' holds text") as error:
        partition_units(units, weight="geoid", grids=20)
    assert "Population" in str(error.value)


def test_cli_partition_refuses_conflicting_or_unwritable_requests(sample_workspace, tmp_path):
    for args, words in (
        (["--out", str(tmp_path / "p.shp")], "cannot write a plan as .shp"),
        (["--grids", "80", "--min", "250", "--out", str(tmp_path / "p.gpkg")], "--min"),
        (["--barriers", "never", "--out", str(tmp_path / "p.gpkg")], "unknown barrier mode"),
    ):
        result = CliRunner().invoke(cli, ["partition", str(sample_workspace), *args])
        assert result.exit_code != 0 and words in result.output, result.output
        assert not list(tmp_path.iterdir())


def test_units_mode_warns_when_nest_areas_are_not_contiguous(shared_data):
    units = gpd.read_file(shared_data / "sf" / "sf_blockgroups_pop2010.gpkg")
    plan = partition_units(units, weight="Population", grids=20, nest="BLKGRP")
    assert any("do not touch" in p.message for p in plan.problems)


def test_land_outside_every_community_is_reported(layers):
    from gridmap.units import build_units

    fewer = dict(layers)
    fewer["communities"] = layers["communities"].iloc[1:]
    units = build_units(fewer)
    assert any(p.layer == "communities" and "no community" in p.message for p in units.problems)


def test_grids_left_empty_are_named(layers):
    # 400 persons per grid is far finer than the street's units allow in places.
    plan = make_plan(layers, weight="persons")
    empty = plan.grids.loc[plan.grids["weight"] <= 0, "code"]
    warnings = [p for p in plan.problems if "hold no persons" in p.message]
    assert len(warnings) == (1 if len(empty) else 0)
    if len(empty):
        assert empty.iloc[0] in warnings[0].message


def test_plan_file_round_trip_keeps_grids_assignments_and_info(plan, layers, tmp_path):
    from gridmap.plan import read_plan, write_plan

    path = tmp_path / "plan.gpkg"
    write_plan(plan, path)
    back = read_plan(path)
    assert list(back.grids["code"]) == list(plan.grids["code"])
    assert back.grids.crs.to_epsg() == 4326
    codes = plan.building_codes()
    assert len(codes) == len(layers["buildings"])
    assert back.assignments.sort_index().equals(codes.astype(str).sort_index())
    assert back.info["parameters"]["target"] == 400
    assert back.info["summary"]["grids"] == len(plan.grids)
    # GeoJSON: grids only, read back by their code
    write_plan(plan, tmp_path / "plan.geojson")
    again = read_plan(tmp_path / "plan.geojson")
    assert again.assignments is None and len(again.grids) == len(plan.grids)


def test_read_plan_names_bad_grid_files(plan, tmp_path):
    from gridmap.plan import read_plan

    grids = plan.grids_wgs84()[["code", "geometry"]].copy()
    grids.loc[3, "code"] = grids.loc[2, "code"]
    io.write_geojson(grids, tmp_path / "dup.geojson")
    with pytest.raises(InputError, match="repeat") as caught:
        read_plan(tmp_path / "dup.geojson")
    assert caught.value.rows == [2, 3] and str(caught.value).count("dup.geojson") == 1
    unique = plan.grids_wgs84()[["code", "geometry"]]
    io.write_geojson(unique.rename(columns={"code": "name"}), tmp_path / "named.geojson")
    with pytest.raises(InputError, match="no column 'code'") as caught:
        read_plan(tmp_path / "named.geojson")
    assert "--id" in caught.value.fix
    assert len(read_plan(tmp_path / "named.geojson", id_column="name").grids) == len(grids)
    points = grids.assign(geometry=grids.geometry.representative_point())
    io.write_geojson(points, tmp_path / "points.geojson")
    with pytest.raises(InputError, match="must be polygons"):
        read_plan(tmp_path / "points.geojson")


def test_with_labels_remeasures_and_keeps_given_codes(plan):
    labels = plan.labels.copy()
    first, second = plan.grids["code"].iloc[0], plan.grids["code"].iloc[1]
    merged = np.where(labels == 1, 0, labels)
    merged = np.where(merged > 1, merged - 1, merged)
    codes = [c for i, c in enumerate(plan.grids["code"]) if i != 1]
    edited = plan.with_labels(merged, codes)
    assert len(edited.grids) == len(plan.grids) - 1
    assert edited.grids["code"].iloc[0] == first and second not in set(edited.grids["code"])
    assert edited.grids["households"].sum() == plan.grids["households"].sum()
    assert edited.grids["households"].iloc[0] == plan.grids["households"].iloc[:2].sum()
    with pytest.raises(InputError, match="0..K-1"):
        plan.with_labels(np.where(labels == 0, 5000, labels))


def test_overlap_codes_picks_the_largest_piece():
    from gridmap.plan import overlap_codes

    grids = gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs=32648,
    )
    shapes = gpd.GeoSeries(
        [shapely.box(8, 2, 11, 4), shapely.box(9, 2, 14, 4), shapely.box(30, 0, 31, 1),
         shapely.Point(15, 5)],
        crs=32648,
    )  # fmt: skip
    codes, share = overlap_codes(shapes, grids)
    assert codes.tolist() == ["A", "B", None, "B"]
    assert share.tolist() == pytest.approx([2 / 3, 0.8, 0.0, 1.0])


def test_a_group_gets_no_more_grids_than_its_units_can_fill():
    from types import SimpleNamespace

    from gridmap.plan import _cap_to_units

    # side A: 11 units, the largest two 299: every grid of 300 needs 3 units, so 3 grids at most
    side_a = [150, 149, 147, 136, 135, 130, 125, 120, 110, 60, 50]
    side_b = [100] * 20  # 2000 in 20 units: 5 grids of 400 fit
    weights = np.asarray(side_a + side_b, dtype=float)
    graph = SimpleNamespace(
        groups=np.repeat([0, 1], [len(side_a), len(side_b)]), group_names=["A", "B"]
    )
    assert list(_cap_to_units(graph, weights, np.asarray([4, 5]), 300, 500)) == [3, 5]
    assert _cap_to_units(graph, weights, {"A": 4, "B": 5}, 300, 500) == {"A": 3, "B": 5}
    # 3 grids would hold 437 each (1312 households), over a maximum of 430: it keeps its 4
    assert list(_cap_to_units(graph, weights, np.asarray([4, 5]), 300, 430)) == [4, 5]
