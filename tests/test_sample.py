"""The synthetic sample street: counts, geometric truths, realism, determinism, committed file."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal

from gridmap import io
from gridmap.crs import local_metric_crs
from gridmap.layers import validate_workspace
from gridmap.sample import (
    CENTRE_LAT,
    CENTRE_LON,
    DEFAULT_SEED,
    DISTRICT_CODE,
    INCIDENTS_END,
    INCIDENTS_START,
    MAX_HANDLING_DAYS,
    ROAD_SETBACK,
    SAMPLE_STEPS,
    STREET_CODE,
    generate_street,
    write_sample,
)
from gridmap.schema import (
    BUILDING_KINDS,
    FINAL_STATUSES,
    INCIDENT_CATEGORIES,
    LAYERS,
    NON_RESIDENTIAL_KINDS,
    PERSONAL_COLUMNS,
)

END = pd.Timestamp(str(INCIDENTS_END))
START = pd.Timestamp(str(INCIDENTS_START))


@pytest.fixture(scope="session")
def generated():
    steps: list[str] = []
    layers = generate_street(DEFAULT_SEED, progress=steps.append)
    return layers, steps


@pytest.fixture(scope="session")
def layers(generated):
    return generated[0]


@pytest.fixture(scope="session")
def metric(layers):
    """The layers with geometry, in a local metric CRS (UTM), for areas and distances."""
    crs = local_metric_crs(layers["street"])
    return {k: v.to_crs(crs) for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)}


@pytest.fixture(scope="session")
def street(metric):
    return metric["street"].geometry.iloc[0]


# --------------------------------------------------------------------------------------------
# shape of the output


def test_progress_reports_every_generation_step_in_order(generated):
    assert generated[1] == list(SAMPLE_STEPS[:-1])


def test_layers_have_exactly_the_schema_columns_in_wgs84(layers):
    assert list(layers) == list(LAYERS)
    for name, spec in LAYERS.items():
        data = layers[name]
        columns = [c.name for c in spec.columns]
        if spec.geometry is None:
            assert not isinstance(data, gpd.GeoDataFrame), name
            assert list(data.columns) == columns
        else:
            assert list(data.columns) == [*columns, "geometry"], name
            assert data.crs.to_epsg() == 4326, name
            assert data.geometry.is_valid.all() and not data.geometry.is_empty.any(), name
        if spec.id_column:
            assert data[spec.id_column].is_unique, name


def test_the_sample_validates_without_a_single_problem(layers):
    report = validate_workspace(layers, "sample")
    assert report.problems == [], "\n".join(map(str, report.problems))


def test_location_and_codes_are_real_chengdu_jinjiang(layers):
    street = layers["street"].iloc[0]
    assert DISTRICT_CODE == "510104" and street["district_code"] == DISTRICT_CODE
    assert street["code"] == STREET_CODE and re.fullmatch(r"510104\d{3}", street["code"])
    assert street["name"].endswith("街道")
    centre = street.geometry.centroid
    assert abs(centre.x - CENTRE_LON) < 0.02 and abs(centre.y - CENTRE_LAT) < 0.02
    communities = layers["communities"]
    assert communities["code"].str.fullmatch(STREET_CODE + r"\d{3}").all()
    assert communities["name"].str.endswith("社区").all() and communities["name"].is_unique


def test_counts_are_in_the_ranges_of_a_real_street(layers, street):
    assert 5e6 <= street.area <= 8e6
    assert 6 <= len(layers["communities"]) <= 8
    assert 1500 <= len(layers["buildings"]) <= 3000
    households = layers["households"]
    assert 35_000 <= len(households) <= 45_000
    assert 90_000 <= households["persons"].sum() <= 110_000
    assert 18_000 <= len(layers["incidents"]) <= 22_000
    assert abs(len(layers["members"]) - len(households) / 400) <= 3


def test_every_kind_of_road_building_compound_and_incident_is_there(layers):
    roads = layers["roads"]
    assert {"arterial", "secondary", "local", "path"} <= set(roads["class"])
    major = roads[roads["class"].isin(["arterial", "secondary"])]
    assert major["name"].notna().all()
    assert (roads.geom_type == "LineString").all()
    assert set(layers["buildings"]["kind"]) == set(BUILDING_KINDS)
    assert {"residential", "work_unit", "school", "park"} <= set(layers["compounds"]["kind"])
    assert set(layers["incidents"]["category"]) == set(INCIDENT_CATEGORIES)
    water = layers["water"]
    river = water[water["kind"] == "river"]
    assert set(river.geom_type) == {"LineString", "Polygon"}


# --------------------------------------------------------------------------------------------
# geometric truths


def test_communities_tile_the_street(metric, street):
    parts = metric["communities"].geometry.to_numpy()
    assert (shapely.get_type_id(parts) == 3).all(), "each community is one polygon"
    union = shapely.union_all(parts)
    assert shapely.symmetric_difference(union, street).area < 1.0
    assert shapely.area(parts).sum() - union.area < 1.0


def test_the_river_crosses_the_street(metric, street):
    water = metric["water"]
    line = shapely.union_all(water[water.geom_type == "LineString"].geometry.to_numpy())
    assert shapely.length(shapely.intersection(line, street)) > 1000.0


def test_buildings_never_overlap(metric):
    geoms = metric["buildings"].geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    assert (left == right).all()


def test_buildings_keep_clear_of_roads_and_water(metric):
    buildings = metric["buildings"].geometry.to_numpy()
    roads = metric["roads"]
    for road_class, setback in ROAD_SETBACK.items():
        lines = roads[roads["class"] == road_class].geometry.to_numpy()
        near = shapely.STRtree(lines).query(buildings, predicate="dwithin", distance=setback - 0.5)
        assert near.size == 0, f"buildings within {setback} m of a {road_class} centreline"
    water = metric["water"]
    polygons = water[water.geom_type == "Polygon"].geometry.to_numpy()
    assert not shapely.STRtree(polygons).query(buildings, predicate="dwithin", distance=5.0).size


def test_each_building_lies_in_the_street_and_in_exactly_one_community(metric, street):
    buildings = metric["buildings"].geometry.to_numpy()
    assert shapely.covers(street, buildings).all()
    b, c = shapely.STRtree(metric["communities"].geometry.to_numpy()).query(
        buildings, predicate="intersects"
    )
    assert np.array_equal(np.sort(b), np.arange(len(buildings)))
    assert shapely.covers(metric["communities"].geometry.to_numpy()[c], buildings[b]).all()


def test_households_sit_in_their_buildings_and_add_up(layers, metric):
    buildings = layers["buildings"].set_index("id")
    households = metric["households"]
    assert households["building_id"].isin(buildings.index).all()
    footprints = metric["buildings"].set_index("id").geometry
    inside = shapely.contains(
        footprints.loc[households["building_id"]].to_numpy(), households.geometry.to_numpy()
    )
    assert inside.all()
    counted = households["building_id"].value_counts().reindex(buildings.index, fill_value=0)
    assert (buildings["households"] == counted).all()
    non_residential = buildings["kind"].isin(NON_RESIDENTIAL_KINDS)
    assert (buildings.loc[non_residential, "households"] == 0).all()
    assert (buildings.loc[~non_residential, "households"] >= 1).all()
    assert not set(households.columns) & set(PERSONAL_COLUMNS)


def test_persons_per_household_look_like_a_chinese_city(layers):
    persons = layers["households"]["persons"]
    assert persons.between(1, 6).all()
    assert 2.3 <= persons.mean() <= 2.8
    share = persons.value_counts(normalize=True)
    assert share[2] > share[4] > share[6] and share[1] > 0.15


def test_compound_ids_of_buildings_exist_and_high_rises_are_walled(layers, metric):
    buildings = layers["buildings"]
    ids = buildings["compound_id"].dropna()
    assert ids.isin(layers["compounds"]["id"]).all()
    highrise = buildings[buildings["kind"] == "highrise"]
    assert highrise["compound_id"].notna().all() and highrise["floors"].between(18, 33).all()
    walls = metric["compounds"].set_index("id").geometry
    walled = metric["buildings"].dropna(subset=["compound_id"])
    assert shapely.covers(
        walls.loc[walled["compound_id"]].to_numpy(), walled.geometry.to_numpy()
    ).all()


def test_building_heights_follow_their_kind(layers):
    b = layers["buildings"]
    floors = {k: b.loc[b["kind"] == k, "floors"] for k in BUILDING_KINDS}
    assert floors["midrise"].between(6, 9).all()
    assert floors["lowrise"].between(2, 5).all()
    assert floors["village"].between(3, 6).all()
    village_area = layers["buildings"].to_crs(3857).area[b["kind"] == "village"]
    assert len(floors["village"]) > 300 and village_area.median() < 200


def test_members_are_synthetic_and_spread_by_households(layers, metric):
    members = layers["members"]
    assert members["phone"].str.fullmatch(r"1380000\d{4}").all() and members["phone"].is_unique
    assert members["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    communities = metric["communities"]
    b = metric["buildings"]
    inside = shapely.STRtree(communities.geometry.to_numpy()).query(
        b.geometry.representative_point().to_numpy(), predicate="within"
    )
    households = np.bincount(inside[1], b["households"].to_numpy()[inside[0]], len(communities))
    expected = households / households.sum() * len(members)
    count = members["community_code"].value_counts().reindex(communities["code"], fill_value=0)
    assert np.abs(count.to_numpy() - expected).max() < 1.0


# --------------------------------------------------------------------------------------------
# incidents


def test_incidents_lie_in_the_street_off_the_water(metric, street):
    points = metric["incidents"].geometry.to_numpy()
    assert shapely.contains(street, points).all()
    water = metric["water"]
    pools = shapely.union_all(water[water.geom_type == "Polygon"].geometry.to_numpy())
    assert not shapely.intersects(pools, points).any()


def test_illegal_construction_concentrates_in_the_urban_village(metric, street):
    b = metric["buildings"]
    village = shapely.union_all(b[b["kind"] == "village"].buffer(15.0).to_numpy())
    incidents = metric["incidents"]
    illegal = incidents[incidents["category"] == "illegal_construction"].geometry.to_numpy()
    in_village = shapely.contains(village, illegal).sum() / village.area
    assert in_village > 4 * len(illegal) / street.area


def test_noise_peaks_in_summer_and_in_the_evening(layers):
    e = layers["incidents"]
    noise = e[e["category"] == "noise"]["reported_at"]
    summer = noise.dt.month.isin([6, 7, 8]).sum()
    winter = noise.dt.month.isin([12, 1, 2]).sum()
    assert summer > 1.5 * winter
    evening = noise.dt.hour.isin([19, 20, 21, 22, 23]).mean()
    other = e[e["category"] != "noise"]["reported_at"].dt.hour.isin([19, 20, 21, 22, 23]).mean()
    assert evening > 2 * other


def test_fewer_sanitation_reports_on_sundays_and_around_spring_festival(layers):
    e = layers["incidents"]
    sanitation = e[e["category"] == "sanitation"]["reported_at"]
    per_day = sanitation.dt.normalize().value_counts()
    days = pd.Series(pd.date_range(START, END - pd.Timedelta(days=1), freq="D"))
    counts = per_day.reindex(days, fill_value=0).to_numpy()
    weekday = days.dt.day_of_week.to_numpy()
    assert counts[weekday == 6].mean() < 0.8 * counts[weekday < 5].mean()
    all_days = e["reported_at"].dt.normalize().value_counts().reindex(days, fill_value=0)
    festival = all_days[(days >= "2026-02-14").to_numpy() & (days <= "2026-02-21").to_numpy()]
    january = all_days[(days.dt.month == 1).to_numpy()]
    assert festival.mean() < 0.7 * january.mean()


def test_statuses_and_closing_times_are_consistent(layers):
    e = layers["incidents"]
    assert e["reported_at"].between(START, END, inclusive="left").all()
    final = e["status"].isin(FINAL_STATUSES)
    assert e.loc[final, "closed_at"].notna().all() and e.loc[~final, "closed_at"].isna().all()
    assert (e.loc[final, "closed_at"] > e.loc[final, "reported_at"]).all()
    assert (e.loc[final, "closed_at"] < END).all()
    open_since = e.loc[~final, "reported_at"]
    assert len(open_since) > 0 and (open_since > END - pd.Timedelta(days=MAX_HANDLING_DAYS)).all()
    assert final.mean() > 0.95
    assert {"rejected", "duplicate", "reported", "in_progress"} <= set(e["status"])
    assert e["reported_at"].dt.tz is None


def test_handling_takes_hours_for_vending_and_weeks_for_illegal_building(layers):
    e = layers["incidents"]
    closed = e[e["status"] == "closed"]
    hours = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600
    median = hours.groupby(closed["category"]).median()
    assert median["street_vending"] < 6 and median["noise"] < 6
    assert 12 < median["sanitation"] < 96
    assert median["illegal_construction"] > 7 * 24


def test_descriptions_are_chinese_and_from_the_category(layers):
    e = layers["incidents"]
    assert e["description"].str.contains(r"[\u4e00-\u9fff]").all()
    lights = e[e["description"].str.contains("路灯不亮")]
    assert len(lights) and (lights["category"] == "municipal_facilities").all()


# --------------------------------------------------------------------------------------------
# determinism and the committed file


def _assert_layers_equal(a, b):
    assert list(a) == list(b)
    for name in a:
        if isinstance(a[name], gpd.GeoDataFrame):
            assert_geodataframe_equal(a[name], b[name])
        else:
            assert_frame_equal(a[name], b[name])


def test_the_same_seed_gives_the_same_layers(layers):
    _assert_layers_equal(layers, generate_street(DEFAULT_SEED))


def test_the_same_seed_gives_the_same_bytes(layers, tmp_path):
    first, second = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    io.write_geopackage(layers, first)
    counts = write_sample(second)
    assert first.read_bytes() == second.read_bytes()
    assert counts == {name: len(data) for name, data in layers.items()}
    assert first.stat().st_size < 15e6


def test_another_seed_gives_another_street_that_is_just_as_sound(layers):
    other = generate_street(DEFAULT_SEED + 1)
    assert not other["street"].geometry.iloc[0].equals(layers["street"].geometry.iloc[0])
    assert len(other["buildings"]) != len(layers["buildings"]) or not other["buildings"].equals(
        layers["buildings"]
    )
    assert 6 <= len(other["communities"]) <= 8
    assert 1500 <= len(other["buildings"]) <= 3000
    assert 35_000 <= len(other["households"]) <= 45_000
    assert validate_workspace(other, "other").problems == []


def test_the_committed_sample_is_the_default_seed(layers, sample_workspace):
    """Same data as a fresh generation (GDAL versions may change the bytes, not the data)."""
    saved = io.read_workspace(sample_workspace)
    assert list(saved) == list(layers)
    for name, fresh in layers.items():
        stored = saved[name]
        assert len(stored) == len(fresh), name
        columns = [c for c in fresh.columns if c != "geometry"]
        for column in columns:
            left, right = stored[column], fresh[column]
            if pd.api.types.is_datetime64_any_dtype(right):
                left, right = left.astype("datetime64[s]"), right.astype("datetime64[s]")
            else:
                left, right = left.astype(object), right.astype(object)
            assert left.reset_index(drop=True).equals(right.reset_index(drop=True)), (name, column)
        if isinstance(fresh, gpd.GeoDataFrame):
            assert shapely.equals_exact(
                stored.geometry.to_numpy(), fresh.geometry.to_numpy(), tolerance=1e-9
            ).all(), name
