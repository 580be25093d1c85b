"""Tests for gridmap.crs: metric CRS choice and the WGS84 / GCJ-02 / BD-09 shifts."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from gridmap import crs
from gridmap.errors import InputError

# ---------------------------------------------------------------------------------------------
# Published coordinate pairs.  Each one was computed by another, independent implementation of
# the published GCJ-02 / BD-09 algorithms and committed to its test suite.
# ---------------------------------------------------------------------------------------------

# wandergis/coordtransform, test/app.js: the input 116.404, 39.915 (Tiananmen, Beijing) run
# through each function, with the printed results.  Its gcj02towgs84 and bd09togcj02 are the
# one-step / closed-form approximations, off by a few centimetres from an exact inverse.
# hujiulong/gcoord, test/unit/crs/{WGS84,GCJ02,BD09}.spec.ts: the input 123, 45 (western
# Jilin) through each transform (values given to 7-8 decimals).
PUBLISHED = [
    # (source, target, input lon/lat, published output lon/lat, where)
    ("wgs84", "gcj02", (116.404, 39.915), (116.41024449916938, 39.91640428150164), "wandergis"),
    ("gcj02", "wgs84", (116.404, 39.915), (116.39775550083061, 39.91359571849836), "wandergis"),
    ("gcj02", "bd09", (116.404, 39.915), (116.41036949371029, 39.92133699351021), "wandergis"),
    ("bd09", "gcj02", (116.404, 39.915), (116.39762729119315, 39.90865673957631), "wandergis"),
    ("wgs84", "gcj02", (123.0, 45.0), (123.00607541, 45.00197815), "gcoord"),
    ("wgs84", "bd09", (123.0, 45.0), (123.0124491, 45.0083293), "gcoord"),
    ("gcj02", "wgs84", (123.0, 45.0), (122.99395597, 44.99804071), "gcoord"),
    ("gcj02", "bd09", (123.0, 45.0), (123.00636499, 45.00636899), "gcoord"),
    ("bd09", "gcj02", (123.0, 45.0), (122.99363304, 44.99365430), "gcoord"),
    ("bd09", "wgs84", (123.0, 45.0), (122.98762210, 44.99171540), "gcoord"),
]

# hujiulong/gcoord, test/fixtures/china-cities.json: the same place in WGS84, GCJ-02 and BD-09
# for Chinese city centres (7 decimals, about 1 cm), spread over the country from Tibet to
# Liaoning.  Our WGS84 <-> GCJ-02 results differ from these by a steady 0.65-0.69 m (the
# fixture's own test only checks 4 decimals, about 5 m); GCJ-02 <-> BD-09 agree to < 1 cm.
CITIES = {
    # city: (WGS84, GCJ02, BD09)
    "Zhumadian": ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    "Nagqu": ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    "Zhengzhou": ((113.6192856, 34.7478004), (113.6253334, 34.7466173), (113.6317519, 34.7528605)),
    "Shenyang": ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    "Jiuquan": ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    "Quanzhou": ((118.6711365, 24.8770487), (118.6756787, 24.8741363), (118.6821251, 24.8804872)),
    "Xilinhot": ((116.0414035, 43.9312805), (116.0482308, 43.9334573), (116.0546232, 43.9397782)),
    "Qinzhou": ((108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),
}
SYSTEM_INDEX = {"wgs84": 0, "gcj02": 1, "bd09": 2}

# Inside this box the round trip is exact; the last ~700 m at the edges of the GCJ-02
# rectangle may be treated differently one way and the other (documented).
CHINA_LON = (73.0, 137.0)
CHINA_LAT = (1.0, 55.0)

CITY_CENTRES = {
    "Beijing": (116.397, 39.908),
    "Shanghai": (121.473, 31.230),
    "Guangzhou": (113.264, 23.129),
    "Wuhan": (114.305, 30.593),
    "Hangzhou": (120.155, 30.274),
    "Chengdu": (104.066, 30.572),
}

OUTSIDE_CHINA = {
    "London": (-0.1276, 51.5072),
    "New York": (-74.006, 40.7128),
    "Sydney": (151.2093, -33.8688),
    "Tokyo": (139.6917, 35.6895),
    "Jakarta": (106.8456, -6.2088),  # south of the rectangle
    "Moscow": (37.6173, 55.7558),
}


def random_china(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(*CHINA_LON, n), rng.uniform(*CHINA_LAT, n)


# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------


def test_constants():
    assert crs.WGS84 == "EPSG:4326"
    assert crs.CGCS2000 == "EPSG:4490"
    assert crs.COORDINATE_SYSTEMS == ("wgs84", "gcj02", "bd09")
    assert CRS(crs.CGCS2000).name == "China Geodetic Coordinate System 2000"


# ---------------------------------------------------------------------------------------------
# UTM and Gauss-Krüger zones
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "epsg", "name"),
    [
        (116.4, 39.9, 32650, "WGS 84 / UTM zone 50N"),  # Beijing
        (104.07, 30.67, 32648, "WGS 84 / UTM zone 48N"),  # Chengdu
        (121.47, 31.23, 32651, "WGS 84 / UTM zone 51N"),  # Shanghai
        (113.26, 23.13, 32649, "WGS 84 / UTM zone 49N"),  # Guangzhou
        (87.62, 43.83, 32645, "WGS 84 / UTM zone 45N"),  # Urumqi
        (151.21, -33.87, 32756, "WGS 84 / UTM zone 56S"),  # Sydney
        (-0.13, 51.51, 32630, "WGS 84 / UTM zone 30N"),  # London
        (-43.2, -22.9, 32723, "WGS 84 / UTM zone 23S"),  # Rio de Janeiro
        (0.0, 0.0, 32631, "WGS 84 / UTM zone 31N"),
        (-180.0, 10.0, 32601, "WGS 84 / UTM zone 1N"),
        (180.0, -10.0, 32760, "WGS 84 / UTM zone 60S"),
    ],
)
def test_utm_crs(lon, lat, epsg, name):
    result = crs.utm_crs(lon, lat)
    assert isinstance(result, CRS)
    assert result.to_epsg() == epsg
    assert result.name == name


@pytest.mark.parametrize(("lon", "lat"), [(200.0, 30.0), (100.0, 95.0), (float("nan"), 30.0)])
def test_utm_crs_rejects_non_positions(lon, lat):
    with pytest.raises(InputError) as info:
        crs.utm_crs(lon, lat)
    assert info.value.fix


@pytest.mark.parametrize(
    ("lon", "width", "name"),
    [
        (104.07, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 105E"),  # Chengdu
        (116.4, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 117E"),  # Beijing
        (121.47, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 120E"),  # Shanghai
        (113.26, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 114E"),  # Guangzhou
        (73.0, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 75E"),  # westernmost
        (136.0, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 135E"),  # easternmost
        (104.07, 6, "CGCS2000 / Gauss-Kruger CM 105E"),
        (116.4, 6, "CGCS2000 / Gauss-Kruger CM 117E"),
        (121.47, 6, "CGCS2000 / Gauss-Kruger CM 123E"),
        (87.62, 6, "CGCS2000 / Gauss-Kruger CM 87E"),
        (73.0, 6, "CGCS2000 / Gauss-Kruger CM 75E"),
        (136.0, 6, "CGCS2000 / Gauss-Kruger CM 135E"),
    ],
)
def test_gauss_kruger_crs(lon, width, name):
    result = crs.gauss_kruger_crs(lon, width)
    assert result.name == name
    assert result.is_projected


def test_gauss_kruger_default_is_3_degree():
    assert crs.gauss_kruger_crs(104.07).to_epsg() == 4544
    assert crs.gauss_kruger_crs(116.4).to_epsg() == 4548


@pytest.mark.parametrize("cm", range(75, 136, 3))
def test_every_3_degree_zone_by_name(cm):
    expected = f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"
    for lon in (cm - 1.49, cm, cm + 1.49):
        if crs._GK_LON[0] <= lon <= crs._GK_LON[1]:
            assert crs.gauss_kruger_crs(lon, 3).name == expected


@pytest.mark.parametrize("cm", range(75, 136, 6))
def test_every_6_degree_zone_by_name(cm):
    expected = f"CGCS2000 / Gauss-Kruger CM {cm}E"
    for lon in (cm - 2.99, cm, cm + 2.99):
        if crs._GK_LON[0] <= lon <= crs._GK_LON[1]:
            assert crs.gauss_kruger_crs(lon, 6).name == expected


@pytest.mark.parametrize("lon", [72.9, 136.1, -120.0, float("nan"), float("inf")])
def test_gauss_kruger_outside_china(lon):
    with pytest.raises(InputError) as info:
        crs.gauss_kruger_crs(lon)
    assert "utm" in info.value.fix.lower()


def test_gauss_kruger_bad_zone_width():
    with pytest.raises(InputError, match="3 or 6"):
        crs.gauss_kruger_crs(104.0, 4)


# ---------------------------------------------------------------------------------------------
# local_metric_crs, to_metric, to_wgs84
# ---------------------------------------------------------------------------------------------


def square(lon: float, lat: float, size: float = 0.01) -> Polygon:
    return Polygon(
        [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]
    )


@pytest.fixture
def chengdu_4269() -> gpd.GeoDataFrame:
    """Two small squares in Chengdu, in NAD83 lon/lat (a geographic CRS that is not 4326)."""
    return gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=[square(104.05, 30.65), square(104.07, 30.67)], crs=4269
    )


def test_local_metric_crs_geographic_not_wgs84(chengdu_4269):
    assert crs.local_metric_crs(chengdu_4269).to_epsg() == 32648
    assert crs.local_metric_crs(chengdu_4269.geometry).to_epsg() == 32648
    gk = crs.local_metric_crs(chengdu_4269, kind="gk")
    assert gk.name == "CGCS2000 / 3-degree Gauss-Kruger CM 105E"
    assert crs.local_metric_crs(chengdu_4269, kind="CGCS2000").to_epsg() == 4544


def test_local_metric_crs_projected_input():
    # Beijing in CGCS2000 / 3-degree GK CM 117E, and in Web Mercator.
    beijing = gpd.GeoDataFrame(geometry=[square(116.39, 39.90)], crs=4326)
    assert crs.local_metric_crs(beijing.to_crs(4548)).to_epsg() == 32650
    assert crs.local_metric_crs(beijing.to_crs(3857)).to_epsg() == 32650
    assert crs.local_metric_crs(beijing.to_crs(3857), kind="gk").to_epsg() == 4548
    # Sydney in its own UTM zone: the centre goes back to lon/lat, south of the equator.
    sydney = gpd.GeoDataFrame(geometry=[square(151.2, -33.9)], crs=4326).to_crs(32756)
    assert crs.local_metric_crs(sydney).to_epsg() == 32756


def test_local_metric_crs_bounds_tuple():
    assert crs.local_metric_crs((116.3, 39.8, 116.5, 40.0)).to_epsg() == 32650
    assert crs.local_metric_crs(np.array([104.0, 30.6, 104.1, 30.7]), "gk").to_epsg() == 4544


def test_local_metric_crs_no_crs(chengdu_4269):
    data = chengdu_4269.set_crs(None, allow_override=True)
    with pytest.raises(InputError) as info:
        crs.local_metric_crs(data)
    assert "--crs" in info.value.fix


@pytest.mark.parametrize(
    "data",
    [
        gpd.GeoDataFrame(geometry=[], crs=4326),
        gpd.GeoDataFrame(geometry=[Polygon(), None], crs=4326),
        gpd.GeoSeries([], crs=4326),
    ],
    ids=["no rows", "only empty geometries", "empty series"],
)
def test_local_metric_crs_empty(data):
    with pytest.raises(InputError, match="no geometries") as info:
        crs.local_metric_crs(data)
    assert info.value.fix


def test_local_metric_crs_bad_bounds():
    with pytest.raises(InputError, match="not finite") as info:
        crs.local_metric_crs((116.3, float("nan"), 116.5, 40.0))
    assert info.value.fix
    with pytest.raises(InputError):
        crs.local_metric_crs((416.3, 39.8, 416.5, 40.0))  # not degrees
    with pytest.raises(InputError):
        crs.local_metric_crs((1, 2, 3))
    inf = gpd.GeoDataFrame(geometry=[Point(float("inf"), 1.0), Point(1.0, 2.0)], crs=4326)
    with pytest.raises(InputError, match="not finite"):
        crs.local_metric_crs(inf)
    # Metres mislabelled as degrees: the centre is not a lon/lat position.
    mislabelled = gpd.GeoDataFrame(geometry=[Point(500_000.0, 3_400_000.0)], crs=4326)
    with pytest.raises(InputError, match="longitude"):
        crs.local_metric_crs(mislabelled)


def test_local_metric_crs_unknown_kind(chengdu_4269):
    with pytest.raises(InputError) as info:
        crs.local_metric_crs(chengdu_4269, kind="mercator")
    assert "utm" in info.value.fix and "gk" in info.value.fix


def test_to_metric_projects_a_copy():
    beijing = gpd.GeoDataFrame({"v": [1]}, geometry=[square(116.39, 39.90)], crs=4326)
    metric = crs.to_metric(beijing)
    assert metric.crs.to_epsg() == 32650
    assert beijing.crs.to_epsg() == 4326  # the input is not changed
    assert metric is not beijing
    # 0.01 deg x 0.01 deg at 39.9N: about 1111 m x 853 m.
    assert metric.area.iloc[0] == pytest.approx(1111.0 * 853.0, rel=0.01)
    gk = crs.to_metric(beijing, kind="gk")
    assert gk.crs.to_epsg() == 4548
    assert gk.area.iloc[0] == pytest.approx(metric.area.iloc[0], rel=1e-3)
    assert crs.to_metric(beijing.geometry, crs="EPSG:4547").crs.to_epsg() == 4547
    back = crs.to_wgs84(metric)
    assert back.crs.to_epsg() == 4326
    assert shapely.equals_exact(back.geometry.iloc[0], beijing.geometry.iloc[0], tolerance=1e-9)


def test_to_metric_rejects_bad_crs():
    beijing = gpd.GeoDataFrame(geometry=[square(116.39, 39.90)], crs=4326)
    with pytest.raises(InputError, match="not a projected CRS"):
        crs.to_metric(beijing, crs=4490)
    with pytest.raises(InputError, match="not a coordinate reference system"):
        crs.to_metric(beijing, crs="EPSG:not-a-code")


@pytest.mark.parametrize("function", [crs.to_metric, crs.to_wgs84])
def test_no_crs_is_an_input_error(function):
    data = gpd.GeoDataFrame(geometry=[square(116.39, 39.90)])
    with pytest.raises(InputError) as info:
        function(data)
    assert info.value.fix == "pass the CRS with --crs or set it in the file."
    assert "Fix: pass the CRS with --crs" in str(info.value)


# ---------------------------------------------------------------------------------------------
# GCJ-02 / BD-09 against published pairs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "given", "expected", "where"),
    PUBLISHED,
    ids=[f"{p[4]}-{p[0]}-{p[1]}-{p[2][0]:g}" for p in PUBLISHED],
)
def test_published_pairs(source, target, given, expected, where):
    lon, lat = crs.convert_coords(*given, source, target)
    assert crs.haversine_m(lon, lat, *expected) < 1.0


def test_published_forward_pairs_are_exact():
    # The forward transforms are closed formulas: same formula, same numbers (to ~1e-13 deg).
    assert np.allclose(crs.wgs84_to_gcj02(116.404, 39.915), PUBLISHED[0][3], rtol=0, atol=1e-12)
    assert np.allclose(crs.gcj02_to_bd09(116.404, 39.915), PUBLISHED[2][3], rtol=0, atol=1e-12)


@pytest.mark.parametrize("city", list(CITIES))
@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s in SYSTEM_INDEX for t in SYSTEM_INDEX if s != t],
)
def test_city_fixture(city, source, target):
    points = CITIES[city]
    lon, lat = crs.convert_coords(*points[SYSTEM_INDEX[source]], source, target)
    assert crs.haversine_m(lon, lat, *points[SYSTEM_INDEX[target]]) < 1.0


def test_city_fixture_vectorised():
    """All cities at once agree with the one-by-one results."""
    wgs = np.array([c[0] for c in CITIES.values()])
    gcj = np.array([c[1] for c in CITIES.values()])
    lon, lat = crs.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    assert lon.shape == (len(CITIES),)
    assert np.all(crs.haversine_m(lon, lat, gcj[:, 0], gcj[:, 1]) < 1.0)


# ---------------------------------------------------------------------------------------------
# Round trips and the size of the shifts
# ---------------------------------------------------------------------------------------------


def test_round_trip_gcj02_many_points():
    lon, lat = random_china(20_000, seed=1)
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    error = crs.haversine_m(lon, lat, *back)
    assert error.max() < 0.01
    assert error.max() < 1e-6  # in practice a few nanometres


def test_round_trip_bd09_many_points():
    lon, lat = random_china(20_000, seed=2)
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))
    assert crs.haversine_m(lon, lat, *back).max() < 0.01
    gcj_back = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat))
    assert crs.haversine_m(lon, lat, *gcj_back).max() < 1e-6


def test_inverse_is_better_than_the_one_step_approximation():
    """The iterated inverse is exact where the one-step approximation is metres off."""
    lon, lat = random_china(20_000, seed=3)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    twice = crs.wgs84_to_gcj02(glon, glat)
    one_step = (2 * glon - twice[0], 2 * glat - twice[1])
    assert crs.haversine_m(lon, lat, *one_step).max() > 1.0
    assert crs.haversine_m(lon, lat, *crs.gcj02_to_wgs84(glon, glat)).max() < 1e-6


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(*CHINA_LON, allow_nan=False),
    lat=st.floats(*CHINA_LAT, allow_nan=False),
    target=st.sampled_from(["gcj02", "bd09"]),
)
def test_round_trip_property(lon, lat, target):
    there = crs.convert_coords(lon, lat, "wgs84", target)
    back = crs.convert_coords(*there, target, "wgs84")
    assert crs.haversine_m(lon, lat, *back) < 0.01
    # ... and the other way round, starting from shifted coordinates.
    again = crs.convert_coords(*crs.convert_coords(lon, lat, target, "wgs84"), "wgs84", target)
    assert crs.haversine_m(lon, lat, *again) < 0.01


@pytest.mark.parametrize("city", list(CITY_CENTRES))
def test_gcj02_shift_is_a_few_hundred_metres(city):
    lon, lat = CITY_CENTRES[city]
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    assert 100.0 < crs.haversine_m(lon, lat, glon, glat) < 700.0
    # GCJ-02 moves these cities east (and Baidu moves them further, north-east, ~0.9 km).
    assert glon > lon
    blon, blat = crs.gcj02_to_bd09(glon, glat)
    assert 700.0 < crs.haversine_m(glon, glat, blon, blat) < 1100.0
    assert blon > glon and blat > glat


def test_gcj02_shift_is_never_more_than_about_a_kilometre():
    lon, lat = random_china(20_000, seed=4)
    shift = crs.haversine_m(lon, lat, *crs.wgs84_to_gcj02(lon, lat))
    assert shift.max() < 1000.0


# ---------------------------------------------------------------------------------------------
# Outside China, NaN, shapes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("place", list(OUTSIDE_CHINA))
@pytest.mark.parametrize("function", [crs.wgs84_to_gcj02, crs.gcj02_to_wgs84])
def test_outside_china_unchanged(place, function):
    lon, lat = OUTSIDE_CHINA[place]
    assert function(lon, lat) == (lon, lat)


def test_outside_mixed_with_inside():
    lon = np.array([-0.1276, 116.397, 139.6917])
    lat = np.array([51.5072, 39.908, 35.6895])
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    assert glon[0] == lon[0] and glat[0] == lat[0]
    assert glon[2] == lon[2] and glat[2] == lat[2]
    assert glon[1] != lon[1]


def test_the_china_rectangle_is_a_rectangle():
    """Documented behaviour of the published algorithm: Seoul is inside its rectangle."""
    assert crs.wgs84_to_gcj02(126.98, 37.57) != (126.98, 37.57)


ALL_CONVERSIONS = [
    crs.wgs84_to_gcj02,
    crs.gcj02_to_wgs84,
    crs.gcj02_to_bd09,
    crs.bd09_to_gcj02,
    crs.wgs84_to_bd09,
    crs.bd09_to_wgs84,
]


@pytest.mark.parametrize("function", ALL_CONVERSIONS, ids=lambda f: f.__name__)
def test_nan_passes_through(function):
    nan = float("nan")
    lon = np.array([116.397, nan, 121.473, nan])
    lat = np.array([39.908, 31.2, nan, nan])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out_lon, out_lat = function(lon, lat)
        s_lon, s_lat = function(nan, nan)
        all_nan = function([nan, nan], [nan, nan])
    assert np.isfinite(out_lon[0]) and np.isfinite(out_lat[0])
    # Half a point is no point: a NaN in either coordinate makes both NaN.
    assert np.isnan(out_lon[1:]).all() and np.isnan(out_lat[1:]).all()
    assert np.isnan(s_lon) and np.isnan(s_lat)
    assert np.isnan(all_nan).all()
    # The finite point is converted as it would be alone.
    alone = function(116.397, 39.908)
    assert out_lon[0] == alone[0] and out_lat[0] == alone[1]


@pytest.mark.parametrize("function", ALL_CONVERSIONS, ids=lambda f: f.__name__)
def test_shapes_are_preserved(function):
    lon, lat = function(116.397, 39.908)
    assert isinstance(lon, np.floating) and np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = function([116.397, 121.473, 113.264], [39.908, 31.230, 23.129])
    assert lon.shape == lat.shape == (3,)
    grid_lon = np.full((2, 3), 116.397)
    grid_lat = np.full((2, 3), 39.908)
    lon, lat = function(grid_lon, grid_lat)
    assert lon.shape == lat.shape == (2, 3)
    assert np.all(lon == lon[0, 0])
    assert grid_lon[0, 0] == 116.397  # the input is not changed in place
    lon, lat = function(np.array([116.397, 116.398]), 39.908)  # broadcasting
    assert lon.shape == lat.shape == (2,)
    lon, lat = function([], [])
    assert lon.shape == (0,)


def test_input_is_not_modified():
    lon = np.array([116.397, 121.473])
    lat = np.array([39.908, 31.230])
    for function in ALL_CONVERSIONS:
        function(lon, lat)
    assert lon.tolist() == [116.397, 121.473] and lat.tolist() == [39.908, 31.230]


def test_bad_coordinates_are_an_input_error():
    with pytest.raises(InputError):
        crs.wgs84_to_gcj02(["a", "b"], [1.0, 2.0])
    with pytest.raises(InputError):
        crs.wgs84_to_gcj02([1.0, 2.0, 3.0], [1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# convert_coords
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("system", crs.COORDINATE_SYSTEMS)
def test_convert_coords_identity(system):
    lon = np.array([116.397, np.nan])
    lat = np.array([39.908, 1.0])
    out_lon, out_lat = crs.convert_coords(lon, lat, system, system)
    assert np.array_equal(out_lon, lon, equal_nan=True) and np.array_equal(out_lat, lat)
    out_lon[0] = 0.0
    assert lon[0] == 116.397  # a copy


def test_convert_coords_matches_the_functions():
    lon, lat = random_china(100, seed=5)
    pairs = {
        ("wgs84", "gcj02"): crs.wgs84_to_gcj02,
        ("gcj02", "wgs84"): crs.gcj02_to_wgs84,
        ("gcj02", "bd09"): crs.gcj02_to_bd09,
        ("bd09", "gcj02"): crs.bd09_to_gcj02,
        ("wgs84", "bd09"): crs.wgs84_to_bd09,
        ("bd09", "wgs84"): crs.bd09_to_wgs84,
    }
    for (source, target), function in pairs.items():
        got = crs.convert_coords(lon, lat, source, target)
        want = function(lon, lat)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_convert_coords_name_spelling():
    want = crs.wgs84_to_gcj02(116.397, 39.908)
    assert crs.convert_coords(116.397, 39.908, "WGS-84", "GCJ_02") == want
    assert crs.convert_coords(116.397, 39.908, " wgs84 ", "Gcj02") == want


@pytest.mark.parametrize(("source", "target"), [("wgs84", "mars"), ("utm", "wgs84")])
def test_convert_coords_unknown_system(source, target):
    with pytest.raises(InputError) as info:
        crs.convert_coords(116.0, 39.0, source, target)
    assert "wgs84, gcj02, bd09" in info.value.fix


# ---------------------------------------------------------------------------------------------
# convert_geometries
# ---------------------------------------------------------------------------------------------


def all_coords(geoms) -> np.ndarray:
    return shapely.get_coordinates(np.asarray(geoms))


@pytest.fixture
def gcj_polygons() -> gpd.GeoDataFrame:
    """A street with a courtyard and a community, traced on AMap (GCJ-02), Beijing."""
    outer = [(116.390, 39.900), (116.405, 39.900), (116.405, 39.912), (116.390, 39.912)]
    hole = [(116.395, 39.904), (116.398, 39.904), (116.398, 39.907), (116.395, 39.907)]
    street = Polygon(outer, [hole])
    community = MultiPolygon([square(116.391, 39.901, 0.002), square(116.400, 39.905, 0.003)])
    return gpd.GeoDataFrame(
        {"name": ["street", "community"]}, geometry=[street, community], crs=4326
    )


def test_convert_geometries_moves_every_vertex_and_back(gcj_polygons):
    before = all_coords(gcj_polygons.geometry)
    wgs = crs.convert_geometries(gcj_polygons, "gcj02")
    assert isinstance(wgs, gpd.GeoDataFrame)
    assert wgs.crs.to_epsg() == 4326
    assert wgs["name"].tolist() == ["street", "community"]
    assert all_coords(gcj_polygons.geometry).tolist() == before.tolist()  # input unchanged
    after = all_coords(wgs.geometry)
    assert after.shape == before.shape
    moved = crs.haversine_m(before[:, 0], before[:, 1], after[:, 0], after[:, 1])
    assert np.all((moved > 100.0) & (moved < 700.0))
    # Each vertex lands where the point conversion puts it.
    expected = np.column_stack(crs.gcj02_to_wgs84(before[:, 0], before[:, 1]))
    assert np.array_equal(after, expected)
    assert wgs.geometry.is_valid.all()
    assert shapely.get_num_interior_rings(wgs.geometry.iloc[0]) == 1

    back = crs.convert_geometries(wgs, "wgs84", "gcj02")
    again = all_coords(back.geometry)
    error = crs.haversine_m(before[:, 0], before[:, 1], again[:, 0], again[:, 1])
    assert error.max() < 1.0
    assert error.max() < 1e-6


def test_convert_geometries_bd09_series_of_mixed_types():
    series = gpd.GeoSeries(
        [
            Point(116.404, 39.915),
            LineString([(121.47, 31.23), (121.48, 31.24)]),
            Point(116.404, 39.915, 52.0),
            None,
            Polygon(),
            Point(-0.1276, 51.5072),  # London: Baidu shifts it, GCJ-02 does not
        ],
        crs=None,
        name="where",
    )
    wgs = crs.convert_geometries(series, "BD09")
    assert isinstance(wgs, gpd.GeoSeries)
    assert wgs.crs.to_epsg() == 4326
    assert wgs.name == "where"
    assert wgs.iloc[0].equals_exact(Point(*crs.bd09_to_wgs84(116.404, 39.915)), tolerance=0)
    line = np.asarray(wgs.iloc[1].coords)
    assert np.array_equal(
        line, np.column_stack(crs.bd09_to_wgs84([121.47, 121.48], [31.23, 31.24]))
    )
    assert wgs.iloc[2].has_z and wgs.iloc[2].z == 52.0
    assert wgs.iloc[2].x == wgs.iloc[0].x
    assert wgs.iloc[3] is None
    assert wgs.iloc[4].is_empty
    london = crs.gcj02_to_wgs84(*crs.bd09_to_gcj02(-0.1276, 51.5072))
    assert wgs.iloc[5].equals_exact(Point(*london), tolerance=0)


def test_convert_geometries_same_system_is_a_relabelled_copy(gcj_polygons):
    same = crs.convert_geometries(gcj_polygons.set_crs(4490, allow_override=True), "gcj02", "gcj02")
    assert same.crs.to_epsg() == 4326
    assert same is not gcj_polygons
    assert all_coords(same.geometry).tolist() == all_coords(gcj_polygons.geometry).tolist()


def test_convert_geometries_refuses_projected(gcj_polygons):
    with pytest.raises(InputError, match="longitude/latitude") as info:
        crs.convert_geometries(gcj_polygons.to_crs(32650), "gcj02")
    assert "--crs EPSG:4326" in info.value.fix
    metres = gpd.GeoSeries([Point(450_000.0, 4_400_000.0)])  # no CRS, but clearly not degrees
    with pytest.raises(InputError, match="not longitude/latitude"):
        crs.convert_geometries(metres, "gcj02")
    with pytest.raises(InputError):
        crs.convert_geometries([Point(116.0, 39.0)], "gcj02")
    with pytest.raises(InputError, match="unknown source"):
        crs.convert_geometries(gcj_polygons, "amap")


# ---------------------------------------------------------------------------------------------
# haversine_m
# ---------------------------------------------------------------------------------------------


def test_haversine_m():
    one_degree = 2 * np.pi * crs.EARTH_RADIUS_M / 360.0
    assert crs.haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(one_degree)
    assert crs.haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(one_degree)
    assert crs.haversine_m(116.4, 39.9, 116.4, 39.9) == 0.0
    # Beijing to Shanghai: about 1067 km.
    assert crs.haversine_m(116.4074, 39.9042, 121.4737, 31.2304) == pytest.approx(1.067e6, rel=0.01)
    d = crs.haversine_m([0.0, 0.0, np.nan], [0.0, 0.0, 0.0], 0.0, [1.0, 2.0, 1.0])
    assert d.shape == (3,)
    assert d[1] == pytest.approx(2 * one_degree) and np.isnan(d[2])
    assert np.ndim(crs.haversine_m(0.0, 0.0, 1.0, 1.0)) == 0
