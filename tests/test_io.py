"""Readers and writers: real public data, round trips, RFC 7946 output and every error path."""

from __future__ import annotations

import csv
import json
import os
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from gridmap import io
from gridmap.errors import InputError
from gridmap.schema import BUILDING_KINDS, ROAD_CLASSES

SF_BLOCKGROUPS = "sf/sf_blockgroups_pop2010.gpkg"
SF_CRIMES = "sf/sf_crime_incidents_2012H2.gpkg"
HELSINKI_BUILDINGS = "helsinki/helsinki_buildings.gpkg"
HELSINKI_STREETS = "helsinki/helsinki_streets.gpkg"
HELSINKI_PBF = "helsinki/Helsinki.osm.pbf"
NYC_311 = "nyc/nyc_311_animal_requests_2025Q1.csv"

#: CGCS2000 / 3-degree Gauss-Kruger CM 114E: metres, around Wuhan.
GK114 = "EPSG:4547"


def raises_input_error(path, *fragments: str):
    """Context manager: an InputError naming ``path``, with a fix, mentioning every fragment."""
    return _InputErrorCheck(str(path), fragments)


class _InputErrorCheck:
    def __init__(self, path: str, fragments: tuple[str, ...]) -> None:
        self.path = path
        self.fragments = fragments
        self._raises = pytest.raises(InputError)

    def __enter__(self):
        self.info = self._raises.__enter__()
        return self.info

    def __exit__(self, *exc):
        handled = self._raises.__exit__(*exc)
        error = self.info.value
        text = str(error)
        assert error.file == self.path, text
        assert self.path in text, text
        assert error.fix, f"no fix in: {text}"
        for fragment in self.fragments:
            assert fragment in text, f"{fragment!r} not in: {text}"
        return handled


def wuhan_polygons() -> gpd.GeoDataFrame:
    """Two polygons in EPSG:4547, the first with a hole, both drawn clockwise (wrong way)."""
    x0, y0 = 530_000.0, 3_385_000.0
    shell = [(x0, y0), (x0, y0 + 200), (x0 + 300, y0 + 200), (x0 + 300, y0), (x0, y0)]  # CW
    hole = [(x0 + 50, y0 + 50), (x0 + 100, y0 + 50), (x0 + 100, y0 + 100), (x0 + 50, y0 + 100)]
    second = Polygon([(x0 + 400, y0), (x0 + 400, y0 + 90), (x0 + 480, y0 + 90), (x0 + 480, y0)])
    return gpd.GeoDataFrame(
        {
            "name": ["水果湖街道", "second"],
            "households": [1200, 35],
            "area_note": [np.nan, 2.5],
            "surveyed": pd.to_datetime(["2024-03-01 08:30:00", "2024-05-17 00:00:00"]),
        },
        geometry=[Polygon(shell, [hole]), MultiPolygon([second])],
        crs=GK114,
    )


def lonlat_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["a1", "a2", "a3"],
            "persons": [3, 1, 4],
            "note": ["东门", None, "west gate"],
            "reported_at": pd.to_datetime(["2025-01-02 03:04:05", "2025-02-03 00:00:00", None]),
        },
        geometry=[Point(114.3412345678, 30.5512345678), Point(114.35, 30.56), None],
        crs="EPSG:4326",
    )


def signed_area(ring) -> float:
    xy = np.asarray(ring, dtype=float)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path, *, prj: bool = True) -> Path:
    """Write a shapefile (dropping datetimes, which dBASE cannot hold), optionally no .prj."""
    dates = [c for c in gdf.columns if pd.api.types.is_datetime64_any_dtype(gdf[c])]
    pyogrio.write_dataframe(gdf.drop(columns=dates), path, driver="ESRI Shapefile")
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


# --------------------------------------------------------------------------------------------
# real data


def test_sf_block_groups(shared_data):
    path = shared_data / SF_BLOCKGROUPS
    gdf = io.read_layer(path)
    assert len(gdf) == 579
    assert gdf.crs.to_epsg() == 4269
    assert set(gdf.geom_type) == {"MultiPolygon"}
    assert isinstance(gdf.index, pd.RangeIndex) and gdf.index[0] == 0
    assert gdf["Population"].sum() == 805_235
    assert gdf.attrs == {"source": str(path), "layer": "sf_blockgroups_pop2010", "problems": []}
    assert io.list_layers(path) == [("sf_blockgroups_pop2010", "MultiPolygon")]


def test_sf_crimes(shared_data):
    gdf = io.read_layer(shared_data / SF_CRIMES)
    assert len(gdf) == 13_472
    assert set(gdf.geom_type) == {"Point"}
    assert gdf.crs.to_epsg() == 4326
    assert pd.api.types.is_datetime64_any_dtype(gdf["date"])
    # The lon/lat columns agree with the point geometry except on 13 rows (up to 4 km off):
    # the source data is like that; the reader keeps both as they are.
    apart = np.hypot(gdf.geometry.x - gdf["lon"], gdf.geometry.y - gdf["lat"])
    assert (apart > 1e-6).sum() == 13


def test_helsinki_buildings_with_broken_rings_are_kept(shared_data):
    gdf = io.read_layer(shared_data / HELSINKI_BUILDINGS)
    assert len(gdf) == 489
    geoms = np.asarray(gdf.geometry.array)
    # Every feature comes back, none dropped; the broken ones are there to be counted.
    assert not shapely.is_missing(geoms).any()
    invalid = ~shapely.is_valid(geoms)
    assert invalid.sum() == 18
    collapsed = shapely.is_empty(
        shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    )
    assert collapsed.sum() == 7  # rings with too few points: nothing left after repair
    assert (shapely.area(geoms[collapsed]) == 0).all()


def test_helsinki_streets(shared_data):
    gdf = io.read_layer(shared_data / HELSINKI_STREETS)
    assert len(gdf) == 2504
    assert set(gdf.geom_type) == {"LineString"}
    assert gdf["highway"].value_counts()["footway"] == 1058


def test_read_osm_buildings(shared_data):
    path = shared_data / HELSINKI_PBF
    gdf = io.read_osm(path, "buildings")
    assert len(gdf) == 494
    assert list(gdf.columns[:3]) == ["id", "floors", "kind"]
    assert gdf["id"].is_unique and gdf["id"].map(type).eq(str).all()
    assert gdf["floors"].dtype == "int64" and (gdf["floors"] >= 1).all()
    assert set(gdf["kind"].dropna()) <= set(BUILDING_KINDS)
    assert {"public", "commercial", "school", "midrise"} <= set(gdf["kind"].dropna())
    assert gdf.crs.to_epsg() == 4326
    # Five buildings have rings GDAL cannot build: kept without geometry and named by row.
    missing = np.flatnonzero(gdf.geometry.isna()).tolist()
    assert len(missing) == 5
    [undecoded] = [p for p in gdf.attrs["problems"] if "could not be decoded" in p.message]
    assert undecoded.rows == missing and undecoded.severity == "warning"
    assert undecoded.file == str(path) and undecoded.layer == "buildings"
    [no_levels] = [p for p in gdf.attrs["problems"] if "building:levels" in p.message]
    assert len(no_levels.rows) == 329 and (gdf["floors"].iloc[no_levels.rows] == 1).all()
    assert gdf.attrs["layer"] == "buildings"
    same = io.read_layer(path, "buildings")
    assert same["id"].tolist() == gdf["id"].tolist()


def test_read_osm_roads(shared_data):
    path = shared_data / HELSINKI_PBF
    gdf = io.read_osm(path, "roads")
    assert set(gdf["class"]) == set(ROAD_CLASSES)
    assert len(gdf) == 2504 - 43  # platform, corridor, construction and elevator left out
    counts = gdf["class"].value_counts()
    assert counts["arterial"] == 146 and counts["path"] == 1501
    footways = gdf[gdf["highway"] == "footway"]
    assert (footways["class"] == "path").all()
    assert gdf["name"].notna().sum() > 500
    assert set(gdf.geom_type) == {"LineString"}
    [dropped] = [p for p in gdf.attrs["problems"] if "left out" in p.message]
    assert "platform (32)" in dropped.message
    assert io.list_layers(path) == [("buildings", "MultiPolygon"), ("roads", "LineString")]


def test_nyc_311_csv(shared_data):
    path = shared_data / NYC_311
    gdf = io.read_layer(path)
    assert len(gdf) == 4969
    missing = gdf.geometry.isna()
    assert (~missing).sum() == 4907 and missing.sum() == 62
    with open(path, encoding="utf-8", newline="") as handle:
        raw = list(csv.DictReader(handle))
    blank_rows = [i for i, row in enumerate(raw) if not row["Latitude"].strip()]
    assert np.flatnonzero(missing).tolist() == blank_rows
    [note] = [p for p in gdf.attrs["problems"] if "no coordinates" in p.message]
    assert note.rows == blank_rows and note.layer == path.stem
    assert "rows 70, 119" in str(note)  # one-based
    assert [str(v) for v in gdf["Unique Key"]] == [row["Unique Key"] for row in raw]
    assert gdf["Unique Key"].dtype == "int64"
    first = gdf.geometry.iloc[0]
    assert (first.x, first.y) == (float(raw[0]["Longitude"]), float(raw[0]["Latitude"]))
    assert gdf["Created Date"].iloc[0] == raw[0]["Created Date"]
    assert gdf["Closed Date"].isna().iloc[0]  # blank text cells are missing, not ""
    assert io.list_layers(path) == [(path.stem, "Point")]


# --------------------------------------------------------------------------------------------
# GeoJSON


def test_write_geojson_follows_rfc_7946(tmp_path):
    path = tmp_path / "grids.geojson"
    io.write_geojson(wuhan_polygons(), path, bbox=True)
    text = path.read_text(encoding="utf-8")
    assert "水果湖街道" in text and "\\u" not in text
    doc = json.loads(text, parse_float=str)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert len(doc["bbox"]) == 4
    numbers = re.findall(r"-?\d+\.\d+", json.dumps([f["geometry"] for f in doc["features"]]))
    assert numbers and all(len(n.split(".")[1]) <= 7 for n in numbers)
    doc = json.loads(text)
    first, second = doc["features"]
    assert first["properties"] == {
        "name": "水果湖街道",
        "households": 1200,
        "area_note": None,
        "surveyed": "2024-03-01T08:30:00",
    }
    assert first["geometry"]["type"] == "Polygon" and second["geometry"]["type"] == "MultiPolygon"
    shell, hole = first["geometry"]["coordinates"]
    assert signed_area(shell) > 0 > signed_area(hole)  # exterior CCW, hole CW
    assert signed_area(second["geometry"]["coordinates"][0][0]) > 0
    lon, lat = shell[0]
    assert 114.0 < lon < 114.7 and 30.0 < lat < 31.0  # lon first, reprojected from metres


def test_geojson_round_trip(tmp_path):
    path = tmp_path / "points.geojson"
    original = lonlat_points()
    io.write_geojson(original, path, precision=6)
    back = io.read_layer(path)
    assert back.crs.to_epsg() == 4326 and back.attrs["problems"] == []
    assert back["id"].tolist() == ["a1", "a2", "a3"]
    assert back["persons"].tolist() == [3, 1, 4]
    assert back["note"].iloc[0] == "东门" and pd.isna(back["note"].iloc[1])
    assert back.geometry.iloc[0].x == pytest.approx(114.341235, abs=1e-9)
    assert back.geometry.iloc[2] is None
    assert pd.Timestamp(back["reported_at"].iloc[0]) == pd.Timestamp("2025-01-02 03:04:05")


def test_empty_geojson_reads_and_writes(tmp_path):
    path = tmp_path / "empty.geojson"
    io.write_geojson(lonlat_points().iloc[:0], path)
    assert json.loads(path.read_text()) == {"type": "FeatureCollection", "features": []}
    back = io.read_layer(path)
    assert len(back) == 0 and isinstance(back, gpd.GeoDataFrame)


def test_geojson_crs_member_and_projected_coordinates(tmp_path):
    feature = {"type": "Feature", "properties": {"a": 1}, "geometry": None}
    feature["geometry"] = {"type": "Point", "coordinates": [530000.0, 3385000.0]}
    bare = tmp_path / "bare.geojson"
    bare.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with raises_input_error(bare, "not lon/lat", "--crs EPSG:"):
        io.read_layer(bare)
    gdf = io.read_layer(bare, crs=GK114)
    assert gdf.crs.to_epsg() == 4547
    assert any("no crs member" in p.message for p in gdf.attrs["problems"])

    named = tmp_path / "named.geojson"
    crs_member = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}
    named.write_text(
        json.dumps({"type": "FeatureCollection", "crs": crs_member, "features": [feature]})
    )
    assert io.read_layer(named).crs.to_epsg() == 4547
    with raises_input_error(named, "declares EPSG:4547"):
        io.read_layer(named, crs="EPSG:4548")


# --------------------------------------------------------------------------------------------
# GeoPackage


def test_geopackage_round_trip_with_attribute_table(tmp_path):
    path = tmp_path / "workspace.gpkg"
    members = pd.DataFrame({"id": ["m1", "m2"], "name": ["张三", "李四"], "phone": ["1", "2"]})
    streets = wuhan_polygons()
    io.write_geopackage({"buildings": streets, "members": members, "notes": lonlat_points()}, path)
    assert dict(io.list_layers(path)) == {
        "buildings": "MultiPolygon",
        "members": None,
        "notes": "Point",
    }
    back = io.read_layer(path, "buildings")
    assert back.crs.to_epsg() == 4547
    assert back["name"].tolist() == streets["name"].tolist()
    assert pd.api.types.is_datetime64_any_dtype(back["surveyed"])
    assert back["surveyed"].tolist() == streets["surveyed"].tolist()
    assert back.geometry.iloc[0].equals(streets.geometry.iloc[0])
    table = io.read_layer(path, "members")
    assert type(table) is pd.DataFrame and table["name"].tolist() == ["张三", "李四"]
    assert table.attrs["layer"] == "members"

    workspace = io.read_workspace(path)
    assert list(workspace) == ["buildings", "members"]  # "notes" is not a gridmap layer
    assert type(workspace["members"]) is pd.DataFrame


def test_geopackage_is_byte_deterministic(tmp_path):
    layers = {"grids": wuhan_polygons(), "points": lonlat_points()}
    date_before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    first, second = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    io.write_geopackage(layers, first)
    io.write_geopackage(layers, second)
    assert first.read_bytes() == second.read_bytes()
    io.write_geopackage(layers, first)  # replacing a file gives the same bytes too
    assert first.read_bytes() == second.read_bytes()
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == date_before  # restored


def test_geopackage_append_mode(tmp_path):
    path = tmp_path / "ws.gpkg"
    io.write_geopackage({"grids": wuhan_polygons(), "points": lonlat_points()}, path)
    io.write_geopackage(
        {"points": lonlat_points().iloc[:1], "more": lonlat_points()}, path, mode="a"
    )
    assert sorted(name for name, _ in io.list_layers(path)) == ["grids", "more", "points"]
    assert len(io.read_layer(path, "points")) == 1
    assert len(io.read_layer(path, "grids")) == 2


def test_geopackage_write_is_atomic(tmp_path):
    path = tmp_path / "ws.gpkg"
    io.write_geopackage({"grids": wuhan_polygons()}, path)
    before = path.read_bytes()
    broken = lonlat_points().assign(impedance=np.array([1 + 2j, 3j, 0j]))
    for mode in ("w", "a"):
        with raises_input_error(path, "'broken'", "not changed"):
            io.write_geopackage({"fine": lonlat_points(), "broken": broken}, path, mode=mode)
        assert path.read_bytes() == before
        assert os.listdir(tmp_path) == ["ws.gpkg"]
    fresh = tmp_path / "fresh.gpkg"
    with pytest.raises(InputError):
        io.write_geopackage({"fine": lonlat_points(), "broken": broken}, fresh)
    assert os.listdir(tmp_path) == ["ws.gpkg"]


# --------------------------------------------------------------------------------------------
# CSV


def test_csv_round_trip_points(tmp_path):
    path = tmp_path / "points.csv"
    io.write_csv(lonlat_points(), path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,persons,note,reported_at,lon,lat"
    assert lines[1] == "a1,3,东门,2025-01-02T03:04:05,114.3412346,30.5512346"
    assert lines[3] == "a3,4,west gate,,,"
    back = io.read_layer(path)
    assert back["id"].tolist() == ["a1", "a2", "a3"]
    assert back["persons"].dtype == "int64"
    assert back.geometry.iloc[1].equals(Point(114.35, 30.56))
    assert back.geometry.iloc[2] is None
    [note] = back.attrs["problems"]
    assert note.rows == [2] and "no coordinates" in note.message


def test_geojson_rounding_never_writes_an_invalid_polygon(tmp_path):
    # a hole touching the shell along a hairline: valid in floats, a ring self-intersection
    # once rounded to 7 decimals
    shell = [(114.0, 30.0), (114.01, 30.0), (114.01, 30.01), (114.0, 30.01)]
    hole = [(114.005, 30.0), (114.006, 30.005), (114.00500004, 30.00000004)]
    poly = Polygon(shell, [hole])
    assert poly.is_valid
    naive = Polygon([(round(x, 7), round(y, 7)) for x, y in poly.exterior.coords],
                    [[(round(x, 7), round(y, 7)) for x, y in hole]])  # fmt: skip
    assert not naive.is_valid
    path = tmp_path / "p.geojson"
    io.write_geojson(gpd.GeoDataFrame({"n": [1]}, geometry=[poly], crs=4326), path)
    geom = shapely.geometry.shape(json.loads(path.read_text())["features"][0]["geometry"])
    assert geom.is_valid and geom.area == pytest.approx(poly.area, rel=1e-4)
    assert all(p.exterior.is_ccw for p in shapely.get_parts(geom))


def test_csv_writer_never_overwrites_a_column_named_lon(tmp_path):
    points = lonlat_points().assign(lon="east gate", lat="row 3")  # columns of other meaning
    path = tmp_path / "points.csv"
    io.write_csv(points, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["lon"].tolist() == ["east gate"] * 3 and back["lat"].tolist() == ["row 3"] * 3
    assert back["wgs84_lon"].iloc[0] == "114.3412346"
    # points read from lon/lat columns keep exactly those columns, and no lon/lat is added
    amap = tmp_path / "amap.csv"
    amap.write_text("name,lng,lat\nA,114.3,30.5\n", encoding="utf-8")
    io.write_csv(io.read_layer(amap), tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines() == [
        "name,lng,lat",
        "A,114.3,30.5",
    ]


def test_csv_of_polygons_uses_wkt(tmp_path):
    path = tmp_path / "grids.csv"
    io.write_layer(wuhan_polygons(), path)
    back = io.read_layer(path)
    assert "geometry_wkt" in back.columns
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].geom_type == "Polygon"
    expected = wuhan_polygons().to_crs("EPSG:4326").geometry.iloc[0]
    assert back.geometry.iloc[0].equals_exact(expected, tolerance=1e-6)


def test_csv_projected_xy_with_crs(tmp_path):
    path = tmp_path / "xy.csv"
    path.write_text("编号,X,Y\n007,530000.5,3385000.25\n008,530100,3385100\n", encoding="utf-8")
    gdf = io.read_layer(path, x="X", y="Y", crs=GK114)
    assert gdf.crs.to_epsg() == 4547
    assert gdf.geometry.iloc[0].equals(Point(530000.5, 3385000.25))
    assert gdf["编号"].tolist() == ["007", "008"]  # codes keep their leading zeros
    with raises_input_error(path, "--crs"):
        io.read_layer(path, x="X", y="Y")
    with raises_input_error(path, "'Z'", "'X'"):
        io.read_layer(path, x="Z", y="Y", crs=GK114)


def test_csv_gcj02_is_converted_to_wgs84(tmp_path):
    path = tmp_path / "amap.csv"
    path.write_text("name,lng,lat\n黄鹤楼,114.302,30.545\n", encoding="utf-8")
    raw = io.read_layer(path)
    moved = io.read_layer(path, coords="gcj02")
    assert moved.crs.to_epsg() == 4326
    metric = gpd.GeoSeries([raw.geometry.iloc[0], moved.geometry.iloc[0]], crs=4326).to_crs(GK114)
    shift = metric.iloc[0].distance(metric.iloc[1])
    assert 200 < shift < 900
    assert any("GCJ-02" in p.message for p in moved.attrs["problems"])
    with raises_input_error(path, "one of: wgs84"):
        io.read_layer(path, coords="mars")


def test_csv_gb18030_with_chinese_headers(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("名称,经度,纬度\n天安门,116.3975,39.9087\n".encode("gb18030"))
    gdf = io.read_layer(path)
    assert gdf["名称"].tolist() == ["天安门"]
    assert gdf.geometry.iloc[0].equals(Point(116.3975, 39.9087))
    assert any("GB18030" in p.message for p in gdf.attrs["problems"])
    with raises_input_error(path, "not valid utf-8", "gb18030"):
        io.read_layer(path, encoding="utf-8")


def test_csv_bad_and_outside_coordinates_are_kept(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text("id\tLongitude\tLatitude\n1\t114.3\t30.5\n2\tabc\t30.5\n3\t914.3\t30.5\n")
    gdf = io.read_layer(path)
    assert len(gdf) == 3 and gdf.geometry.isna().tolist() == [False, True, True]
    [not_numbers] = [p for p in gdf.attrs["problems"] if "not numbers" in p.message]
    [outside] = [p for p in gdf.attrs["problems"] if "outside lon/lat" in p.message]
    assert not_numbers.rows == [1] and outside.rows == [2]
    assert gdf["Longitude"].tolist() == ["114.3", "abc", "914.3"]  # left as the user wrote it


# --------------------------------------------------------------------------------------------
# shapefiles and zips


def test_zipped_shapefile_round_trip(tmp_path):
    shp = write_shapefile(lonlat_points().iloc[:2], tmp_path / "pts.shp")
    archive = tmp_path / "pts.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("pts.*"):
            if part != archive:
                z.write(part, f"data/{part.name}")
    gdf = io.read_layer(archive)
    assert gdf["id"].tolist() == ["a1", "a2"] and gdf["note"].iloc[0] == "东门"
    assert gdf.crs.to_epsg() == 4326 and gdf.attrs["layer"] == "pts"
    assert io.list_layers(archive) == [("pts", "Point")]
    assert io.read_layer(shp)["persons"].tolist() == [3, 1]


def test_zip_holding_a_geopackage(tmp_path):
    gpkg = tmp_path / "ws.gpkg"
    io.write_geopackage({"grids": wuhan_polygons(), "points": lonlat_points()}, gpkg)
    archive = tmp_path / "ws.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(gpkg, "ws.gpkg")
    assert [name for name, _ in io.list_layers(archive)] == ["grids", "points"]
    assert len(io.read_layer(archive, "points")) == 3
    with raises_input_error(archive, "2 layers", "'grids'"):
        io.read_layer(archive)


def test_shapefile_without_prj(tmp_path):
    projected = write_shapefile(wuhan_polygons(), tmp_path / "gk.shp", prj=False)
    with raises_input_error(projected, "no CRS", "--crs EPSG:4547"):
        io.read_layer(projected)
    gdf = io.read_layer(projected, crs=GK114)
    assert gdf.crs.to_epsg() == 4547 and gdf.attrs["problems"] == []

    lonlat = write_shapefile(lonlat_points().iloc[:2], tmp_path / "ll.shp", prj=False)
    gdf = io.read_layer(lonlat)
    assert gdf.crs.to_epsg() == 4326
    [note] = gdf.attrs["problems"]
    assert note.severity == "info" and "assumed EPSG:4326" in str(note)
    assert note.file == str(lonlat) and note.layer == "ll"


def test_shapefile_missing_parts(tmp_path):
    shp = write_shapefile(lonlat_points(), tmp_path / "pts.shp")
    shp.with_suffix(".shx").unlink()
    with raises_input_error(shp, "pts.shx", ".dbf"):
        io.read_layer(shp)


# --------------------------------------------------------------------------------------------
# errors


def test_missing_file_and_folder(tmp_path):
    with raises_input_error(tmp_path / "nope.gpkg", "not found"):
        io.read_layer(tmp_path / "nope.gpkg")
    with raises_input_error(tmp_path, "folder"):
        io.read_layer(tmp_path)
    with raises_input_error(tmp_path / "nope.csv", "not found"):
        io.list_layers(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path):
    path = tmp_path / "roads.kml"
    path.write_text("<kml/>")
    with raises_input_error(path, ".kml", ".gpkg", ".geojson", ".csv"):
        io.read_layer(path)
    with raises_input_error(tmp_path / "out.kml", ".kml", ".gpkg"):
        io.write_layer(lonlat_points(), tmp_path / "out.kml")


@pytest.mark.parametrize("name", ["empty.geojson", "empty.gpkg", "empty.csv", "empty.pbf"])
def test_zero_byte_file(tmp_path, name):
    path = tmp_path / name
    path.touch()
    with raises_input_error(path, "empty (0 bytes)"):
        io.read_layer(path, "buildings" if name.endswith(".pbf") else None)


@pytest.mark.parametrize("name", ["garbage.geojson", "garbage.gpkg", "garbage.zip"])
def test_garbled_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 4)
    with raises_input_error(path, "cannot be read" if name != "garbage.zip" else "zip"):
        io.read_layer(path)


def test_truncated_geopackage(tmp_path, shared_data):
    path = tmp_path / "cut.gpkg"
    path.write_bytes((shared_data / SF_BLOCKGROUPS).read_bytes()[:8192])
    with pytest.raises(InputError) as info:
        io.read_layer(path)
    assert str(path) in str(info.value) and info.value.fix


def test_layer_choice(tmp_path):
    path = tmp_path / "two.gpkg"
    io.write_geopackage({"roads": wuhan_polygons(), "buildings": wuhan_polygons()}, path)
    with raises_input_error(path, "2 layers", "--layer", "'roads'", "'buildings'"):
        io.read_layer(path)
    with raises_input_error(path, "no layer named 'road'", "did you mean 'roads'"):
        io.read_layer(path, "road")
    with raises_input_error(tmp_path / "x.csv", "no layer named"):
        (tmp_path / "x.csv").write_text("lon,lat\n1,2\n")
        io.read_layer(tmp_path / "x.csv", "y")


def test_csv_without_coordinate_columns(tmp_path):
    path = tmp_path / "addresses.csv"
    path.write_text("id,address\n1,武昌区中北路\n", encoding="utf-8")
    with raises_input_error(path, "'id', 'address'", "--lon COL --lat COL"):
        io.read_layer(path)
    with raises_input_error(path, "no column 'lng'"):
        io.read_layer(path, lon="lng", lat="lat")


def test_crs_conflicting_with_file(shared_data):
    path = shared_data / SF_BLOCKGROUPS
    with raises_input_error(path, "declares EPSG:4269", "leave out --crs"):
        io.read_layer(path, crs="EPSG:4326")
    assert io.read_layer(path, crs="EPSG:4269").crs.to_epsg() == 4269
    with raises_input_error(path, "not a coordinate reference system"):
        io.read_layer(path, crs="EPSG:99999999")


def test_coords_conversion_refuses_projected_data(tmp_path):
    path = tmp_path / "gk.gpkg"
    io.write_geopackage({"grids": wuhan_polygons()}, path)
    with raises_input_error(path, "--coords gcj02", "4547"):
        io.read_layer(path, coords="gcj02")


def test_writers_check_their_target(tmp_path):
    missing = tmp_path / "no" / "such" / "out.geojson"
    for writer in (io.write_geojson, io.write_csv, io.write_layer):
        with raises_input_error(missing, "does not exist", "create the folder"):
            writer(lonlat_points(), missing)
    with raises_input_error(tmp_path / "x" / "y.gpkg", "does not exist"):
        io.write_geopackage({"a": lonlat_points()}, tmp_path / "x" / "y.gpkg")
    naive = lonlat_points().set_crs(None, allow_override=True)
    with raises_input_error(tmp_path / "naive.geojson", "no CRS"):
        io.write_geojson(naive, tmp_path / "naive.geojson")
    assert os.listdir(tmp_path) == []


def test_parse_other_tags():
    text = '"building:levels"=>"5","name:fi"=>"Talo \\"A\\"","roof:shape"=>"flat"'
    assert io.parse_other_tags(text) == {
        "building:levels": "5",
        "name:fi": 'Talo "A"',
        "roof:shape": "flat",
    }
    assert io.parse_other_tags(None) == {}


def test_write_layer_dispatch(tmp_path):
    gdf = lonlat_points()
    for name in ("a.geojson", "a.json", "a.gpkg", "a.csv"):
        io.write_layer(gdf, tmp_path / name, layer="pts")
        back = io.read_layer(tmp_path / name)
        assert back["id"].tolist() == ["a1", "a2", "a3"], name
    assert io.list_layers(tmp_path / "a.gpkg") == [("pts", "Point")]
    lines = gpd.GeoDataFrame({"k": [1]}, geometry=[LineString([(0, 0), (1, 1)])], crs=4326)
    io.write_layer(lines, tmp_path / "l.geojson")
    assert io.read_layer(tmp_path / "l.geojson").geometry.iloc[0].equals(lines.geometry.iloc[0])


OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="30.5400" lon="114.3000"/>
  <node id="2" lat="30.5400" lon="114.3010"/>
  <node id="3" lat="30.5410" lon="114.3010"/>
  <node id="4" lat="30.5410" lon="114.3000"/>
  <node id="5" lat="30.5420" lon="114.3000"/>
  <node id="6" lat="30.5420" lon="114.3020"/>
  <way id="10">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="apartments"/><tag k="building:levels" v="18"/>
    <tag k="name" v="东湖小区 1 栋"/>
  </way>
  <way id="11">
    <nd ref="2"/><nd ref="3"/><nd ref="6"/><nd ref="2"/>
    <tag k="building" v="yes"/><tag k="building:levels" v="two"/>
  </way>
  <way id="20">
    <nd ref="5"/><nd ref="6"/><tag k="highway" v="primary_link"/><tag k="name" v="中北路"/>
  </way>
  <way id="21">
    <nd ref="4"/><nd ref="5"/><tag k="highway" v="bus_stop"/>
  </way>
  <way id="22">
    <nd ref="1"/><nd ref="5"/><tag k="waterway" v="canal"/>
  </way>
</osm>
"""


def test_read_osm_xml(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    buildings = io.read_osm(path, "buildings")
    assert buildings["id"].tolist() == ["10", "11"]
    assert buildings["floors"].tolist() == [18, 1]
    assert buildings["kind"].iloc[0] == "highrise" and pd.isna(buildings["kind"].iloc[1])
    assert buildings["name"].iloc[0] == "东湖小区 1 栋"
    [unreadable] = [p for p in buildings.attrs["problems"] if "not a number" in p.message]
    assert unreadable.rows == [1]
    roads = io.read_osm(path, "roads")
    assert roads[["class", "name"]].values.tolist() == [["arterial", "中北路"]]
    assert any("bus_stop (1)" in p.message for p in roads.attrs["problems"])
    with raises_input_error(path, "'buildings', 'roads'"):
        io.read_layer(path)
    with raises_input_error(path, "buildings, roads"):
        io.read_osm(path, "water")


def test_crs84_and_header_only_csv(tmp_path):
    path = tmp_path / "crs84.geojson"
    crs84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Point"}}
    feature["geometry"]["coordinates"] = [114.3, 30.5]
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs84, "features": [feature]}))
    assert io.read_layer(path).crs.to_epsg() == 4326
    assert io.read_layer(path, crs="EPSG:4326").crs.to_epsg() == 4326

    header = tmp_path / "header.csv"
    header.write_text("id,lon,lat\n")
    gdf = io.read_layer(header)
    assert len(gdf) == 0 and gdf.crs.to_epsg() == 4326 and list(gdf.columns)[-1] == "geometry"


def test_lonlat_columns_with_projected_crs_or_projected_values(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("lon,lat\n114.3,30.5\n")
    with raises_input_error(path, "projected", "--x COL --y COL"):
        io.read_layer(path, crs=GK114)
    assert io.read_layer(path, crs="EPSG:4490").crs.to_epsg() == 4490
    metres = tmp_path / "metres.csv"
    metres.write_text("lon,lat\n530000,3385000\n")
    with raises_input_error(metres, "outside lon/lat ranges", "--x COL --y COL"):
        io.read_layer(metres)


def test_write_geopackage_needs_layers(tmp_path):
    with raises_input_error(tmp_path / "x.gpkg", "no layers"):
        io.write_geopackage({}, tmp_path / "x.gpkg")
    with raises_input_error(tmp_path / "x.gpkg", "not a table"):
        io.write_geopackage({"a": lonlat_points().geometry.iloc[0]}, tmp_path / "x.gpkg")
    assert os.listdir(tmp_path) == []


def test_csv_with_wkt_geometry_column(tmp_path):
    path = tmp_path / "pandas.csv"
    gdf = wuhan_polygons().to_crs("EPSG:4326")
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table.assign(geometry=gdf.geometry.to_wkt().to_numpy()).to_csv(path, index=False)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("broken,1,,,POLYGON ((1 2\n")
    back = io.read_layer(path)
    assert list(back.columns) == [*gdf.columns[:-1], "geometry"]
    assert back.geometry.iloc[0].equals_exact(gdf.geometry.iloc[0], tolerance=1e-6)
    assert back.geometry.iloc[2] is None
    [bad] = [p for p in back.attrs["problems"] if "cannot be parsed" in p.message]
    assert bad.rows == [2]


def test_csv_with_a_column_name_twice_says_so(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,lon,lat,id\n1,104.1,30.6,2\n", encoding="utf-8")
    data = io.read_layer(path)
    [warning] = [p for p in data.attrs["problems"] if "more than once" in p.message]
    assert "'id'" in warning.message and warning.file == str(path)
    assert list(data.columns[:4]) == ["id", "lon", "lat", "id.1"]
