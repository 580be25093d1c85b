"""Coordinate reference systems: metric working CRSs, lon/lat output and China's map shifts.

gridmap measures areas and distances in a local metric CRS (a WGS84 / UTM zone, or a CGCS2000
Gauss-Krüger zone as Chinese surveying offices use) and stores and writes everything as
longitude/latitude in EPSG:4326.

Points geocoded on Chinese web maps are not in WGS84.  AMap (Gaode) and Tencent use GCJ-02,
the state-mandated obfuscation of WGS84; Baidu adds a second shift on top of it, BD-09.  Left as
they are, such points land a few hundred metres from where they belong, in the next block or
across the road.  This module converts between the three systems:

* **GCJ-02** is applied only inside the rectangle that the published algorithm treats as China
  (longitude 72.004–137.8347°E, latitude 0.8293–55.8271°N).  Points outside it are returned
  unchanged, as map services do.  The rectangle also covers parts of neighbouring countries
  (Korea, Mongolia, western Japan, much of South-East Asia); that is how the algorithm behaves,
  and the data from these services matches it.
* **BD-09** is a shift of GCJ-02 coordinates that Baidu applies everywhere.
* The inverse transforms (to WGS84 from GCJ-02 or BD-09) have no closed form.  They are solved
  by fixed-point iteration of the forward transforms to well under a millimetre, not by the
  common one-step approximation, which can be off by several metres.

All coordinate functions are vectorised with numpy: they take scalars, lists or arrays of any
shape, return arrays of the same shape (numpy scalars for scalar input) and let NaN through:
a point with a NaN coordinate comes out as (NaN, NaN), without warnings or errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from gridmap.errors import InputError

__all__ = [
    "CGCS2000",
    "COORDINATE_SYSTEMS",
    "EARTH_RADIUS_M",
    "WGS84",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_coords",
    "convert_geometries",
    "crs_label",
    "gauss_kruger_crs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "local_metric_crs",
    "to_metric",
    "to_wgs84",
    "utm_crs",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Longitude/latitude on WGS84: how gridmap stores and writes every layer.
WGS84 = "EPSG:4326"
#: China Geodetic Coordinate System 2000 (lon/lat); within centimetres of WGS84.
CGCS2000 = "EPSG:4490"
#: The lon/lat systems that :func:`convert_coords` and :func:`convert_geometries` understand.
COORDINATE_SYSTEMS = ("wgs84", "gcj02", "bd09")

GeoData = TypeVar("GeoData", gpd.GeoDataFrame, gpd.GeoSeries)
Coords = NDArray[np.float64] | np.float64

# --- GCJ-02 constants (Krasovsky 1940 ellipsoid, as the published algorithm uses) ---------------
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# The rectangle inside which GCJ-02 is applied (inclusive).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

# --- BD-09 constants ------------------------------------------------------------------------------
_X_PI = math.pi * 3000.0 / 180.0
_BD_RADIUS_TERM = 0.00002
_BD_ANGLE_TERM = 0.000003
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Inverse transforms iterate until no point moves more than this many degrees (about 10 µm),
# and never more than this many times (they need 5 or 6 steps inside China).
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 20

#: Mean earth radius (IUGG), used by :func:`haversine_m`.
EARTH_RADIUS_M = 6371008.8

# Longitudes covered by the CGCS2000 Gauss-Krüger zones gridmap offers.
_GK_LON = (73.0, 136.0)
_GK_FIRST_CM = 75
_GK_LAST_CM = 135
_GK3_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E; +1 per 3 degrees
_GK6_FIRST_EPSG = 4502  # CGCS2000 / Gauss-Kruger CM 75E; +1 per 6 degrees

_NO_CRS_FIX = "pass the CRS with --crs or set it in the file."


# ================================================================================================
# Metric and lon/lat CRSs
# ================================================================================================


def _check_lon_lat(lon: float, lat: float) -> tuple[float, float]:
    """Return ``(lon, lat)`` as floats, or raise :class:`InputError` if they are not lon/lat."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"longitude/latitude must be numbers, got {lon!r}, {lat!r}.",
            fix="give the position in decimal degrees, e.g. 116.40, 39.90.",
        ) from exc
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InputError(
            f"longitude/latitude {lon}, {lat} is not a finite position.",
            fix="check that the layer has geometries and valid coordinates.",
        )
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InputError(
            f"{lon}, {lat} is not a longitude/latitude position (longitude must lie in "
            "-180..180 and latitude in -90..90).",
            fix="check that x is the longitude and y the latitude, and that the data is in "
            "degrees; give projected data its real CRS with --crs.",
        )
    return lon, lat


def crs_label(crs: CRS | None, *, with_name: bool = False) -> str | None:
    """A short label for messages and tables: ``"EPSG:4547"``, or the CRS name without a code.

    Parameters
    ----------
    crs
        The CRS, or None (then None is returned).
    with_name
        Add the name after an EPSG code: ``"EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM
        114E)"``.
    """
    if crs is None:
        return None
    code = crs.to_epsg()
    if code is None:
        return crs.name
    return f"EPSG:{code} ({crs.name})" if with_name else f"EPSG:{code}"


def utm_crs(lon: float, lat: float) -> CRS:
    """Return the WGS84 / UTM zone CRS that holds a point.

    Parameters
    ----------
    lon, lat
        Position in decimal degrees (WGS84 or any datum close to it, such as CGCS2000).

    Returns
    -------
    pyproj.CRS
        ``EPSG:326zz`` (northern hemisphere, ``lat >= 0``) or ``EPSG:327zz`` (southern), where
        ``zz`` is the 6-degree zone number 1-60.  The irregular zones around Norway and Svalbard
        are not used; any zone is fine for a single street.

    Raises
    ------
    InputError
        If the position is not finite or not a longitude/latitude.

    Examples
    --------
    >>> utm_crs(116.4, 39.9).to_epsg()
    32650
    """
    lon, lat = _check_lon_lat(lon, lat)
    zone = min(int(math.floor((lon + 180.0) / 6.0)) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def gauss_kruger_crs(lon: float, zone_width: int = 3) -> CRS:
    """Return the CGCS2000 Gauss-Krüger zone that Chinese surveying uses at a longitude.

    Parameters
    ----------
    lon
        Longitude in decimal degrees, between 73°E and 136°E.
    zone_width
        3 for the 3-degree zones (central meridians 75°E, 78°E ... 135°E, ``EPSG:4534`` to
        ``EPSG:4554``, named "CGCS2000 / 3-degree Gauss-Kruger CM xxxE"), which large-scale
        urban mapping uses; or 6 for the 6-degree zones (central meridians 75°E, 81°E ...
        135°E, ``EPSG:4502`` to ``EPSG:4512``, named "CGCS2000 / Gauss-Kruger CM xxxE").
        These are the "CM" variants, with a false easting of 500 km and no zone prefix.

    Returns
    -------
    pyproj.CRS
        The zone whose central meridian is nearest to ``lon``.

    Raises
    ------
    InputError
        If ``zone_width`` is not 3 or 6, or ``lon`` lies outside China's zones.

    Examples
    --------
    >>> gauss_kruger_crs(104.07).name
    'CGCS2000 / 3-degree Gauss-Kruger CM 105E'
    """
    if zone_width not in (3, 6):
        raise InputError(
            f"Gauss-Krüger zones are 3 or 6 degrees wide, not {zone_width!r}.",
            fix="use zone_width=3 (urban mapping) or zone_width=6.",
        )
    try:
        lon = float(lon)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"longitude must be a number, got {lon!r}.",
            fix="give the longitude in decimal degrees, e.g. 104.07.",
        ) from exc
    if not (math.isfinite(lon) and _GK_LON[0] <= lon <= _GK_LON[1]):
        raise InputError(
            f"longitude {lon} is outside China's CGCS2000 Gauss-Krüger zones "
            f"({_GK_LON[0]:g}°E to {_GK_LON[1]:g}°E).",
            fix="use a UTM zone instead (kind='utm'), or check that x is the longitude and the "
            "data is in degrees.",
        )
    if zone_width == 3:
        cm = 3 * math.floor(lon / 3.0 + 0.5)
        cm = min(max(cm, _GK_FIRST_CM), _GK_LAST_CM)
        return CRS.from_epsg(_GK3_FIRST_EPSG + (cm - _GK_FIRST_CM) // 3)
    cm = 6 * math.floor(lon / 6.0) + 3
    cm = min(max(cm, _GK_FIRST_CM), _GK_LAST_CM)
    return CRS.from_epsg(_GK6_FIRST_EPSG + (cm - _GK_FIRST_CM) // 6)


def _centre_lon_lat(
    data: gpd.GeoDataFrame | gpd.GeoSeries | Sequence[float],
) -> tuple[float, float]:
    """Return the lon/lat centre of the bounds of ``data`` (see :func:`local_metric_crs`)."""
    if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries):
        if data.crs is None:
            raise InputError(
                "the layer has no coordinate reference system (CRS), so gridmap cannot tell "
                "where it is.",
                fix=_NO_CRS_FIX,
            )
        geoms = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
        if len(geoms) == 0 or (geoms.is_empty | geoms.isna()).all():
            raise InputError(
                "the layer has no geometries, so there is no place to pick a metric CRS for.",
                fix="check that the file holds features and the right layer was chosen.",
            )
        minx, miny, maxx, maxy = (float(v) for v in geoms.total_bounds)
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
            raise InputError(
                "the layer's bounds are not finite numbers (NaN or infinite coordinates).",
                fix="remove or repair the features with missing or infinite coordinates.",
            )
        cx, cy = (minx + maxx) / 2.0, (miny + maxy) / 2.0
        try:
            to_lon_lat = Transformer.from_crs(data.crs, WGS84, always_xy=True)
            lon, lat = to_lon_lat.transform(cx, cy)
        except (CRSError, ProjError) as exc:
            raise InputError(
                f"the centre of the layer cannot be converted from {data.crs.name} to "
                f"longitude/latitude: {exc}",
                fix="check the layer's CRS; " + _NO_CRS_FIX,
            ) from exc
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InputError(
                f"the centre of the layer ({cx:g}, {cy:g}) is not a valid position in "
                f"{data.crs.name}.",
                fix="check the layer's CRS; " + _NO_CRS_FIX,
            )
        return _check_lon_lat(lon, lat)
    try:
        minx, miny, maxx, maxy = (float(v) for v in data)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"expected a GeoDataFrame, a GeoSeries or (minx, miny, maxx, maxy) bounds in "
            f"lon/lat, got {data!r}.",
            fix="pass a layer with a CRS or four numbers in decimal degrees.",
        ) from exc
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise InputError(
            f"the bounds {(minx, miny, maxx, maxy)} are not finite numbers.",
            fix="check that the layer has geometries with valid coordinates.",
        )
    _check_lon_lat(minx, miny)
    _check_lon_lat(maxx, maxy)
    return (minx + maxx) / 2.0, (miny + maxy) / 2.0


def local_metric_crs(
    data: gpd.GeoDataFrame | gpd.GeoSeries | Sequence[float], kind: str = "utm"
) -> CRS:
    """Pick a metric CRS in which to measure ``data``.

    Parameters
    ----------
    data
        A GeoDataFrame or GeoSeries in any CRS (the centre of its bounds is converted to
        lon/lat to choose the zone), or ``(minx, miny, maxx, maxy)`` bounds in lon/lat degrees.
    kind
        ``"utm"`` for the WGS84 / UTM zone (:func:`utm_crs`); ``"gk"`` or ``"cgcs2000"`` for
        the CGCS2000 3-degree Gauss-Krüger zone (:func:`gauss_kruger_crs`), which only covers
        China.

    Returns
    -------
    pyproj.CRS
        A projected CRS in metres whose zone holds the centre of ``data``.

    Raises
    ------
    InputError
        If the layer has no CRS, no geometries, non-finite bounds or bounds that are not a
        lon/lat position, or if ``kind`` is unknown.
    """
    key = str(kind).strip().lower()
    if key not in ("utm", "gk", "cgcs2000"):
        raise InputError(
            f"unknown kind of metric CRS {kind!r}.",
            fix="use 'utm' (anywhere) or 'gk' / 'cgcs2000' (3-degree Gauss-Krüger, China only).",
        )
    lon, lat = _centre_lon_lat(data)
    return utm_crs(lon, lat) if key == "utm" else gauss_kruger_crs(lon, 3)


def _require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(
            f"expected a GeoDataFrame or GeoSeries, got {type(gdf).__name__}.",
            fix="read the layer with gridmap.io.read_layer first.",
        )
    if gdf.crs is None:
        raise InputError("the layer has no coordinate reference system (CRS).", fix=_NO_CRS_FIX)


def to_metric(gdf: GeoData, crs: CRS | str | int | None = None, kind: str = "utm") -> GeoData:
    """Return a copy of ``gdf`` projected to a metric CRS.

    Parameters
    ----------
    gdf
        GeoDataFrame or GeoSeries with a CRS.
    crs
        The projected CRS to use (anything :meth:`pyproj.CRS.from_user_input` accepts).  When
        None, :func:`local_metric_crs` picks one from the data.
    kind
        Passed to :func:`local_metric_crs` when ``crs`` is None.

    Returns
    -------
    GeoDataFrame or GeoSeries
        A new object in the metric CRS; ``gdf`` is not changed.

    Raises
    ------
    InputError
        If ``gdf`` has no CRS, ``crs`` is not a valid projected CRS, or no metric CRS can be
        chosen (see :func:`local_metric_crs`).
    """
    _require_crs(gdf)
    if crs is None:
        target = local_metric_crs(gdf, kind)
    else:
        try:
            target = CRS.from_user_input(crs)
        except CRSError as exc:
            raise InputError(
                f"{crs!r} is not a coordinate reference system: {exc}",
                fix="give a projected CRS such as EPSG:4547 or EPSG:32650.",
            ) from exc
        if not target.is_projected:
            raise InputError(
                f"{target.name} is not a projected CRS in metres.",
                fix="give a projected CRS such as EPSG:4547 or EPSG:32650, or leave it out to "
                "let gridmap choose one.",
            )
    return gdf.to_crs(target)


def to_wgs84(gdf: GeoData) -> GeoData:
    """Return a copy of ``gdf`` in longitude/latitude (EPSG:4326).

    Parameters
    ----------
    gdf
        GeoDataFrame or GeoSeries with a CRS.

    Returns
    -------
    GeoDataFrame or GeoSeries
        A new object in EPSG:4326; ``gdf`` is not changed.

    Raises
    ------
    InputError
        If ``gdf`` has no CRS.

    Notes
    -----
    This is a datum transformation only.  Coordinates that are really GCJ-02 or BD-09 (from
    Chinese web maps) but labelled EPSG:4326 need :func:`convert_geometries` as well.
    """
    _require_crs(gdf)
    return gdf.to_crs(WGS84)


# ================================================================================================
# GCJ-02 and BD-09
# ================================================================================================


def _as_coords(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return float64 copies of ``lon`` and ``lat`` broadcast to one shape."""
    try:
        x = np.array(lon, dtype=np.float64)
        y = np.array(lat, dtype=np.float64)
        x, y = np.broadcast_arrays(x, y)
    except (TypeError, ValueError) as exc:
        raise InputError(
            "longitudes and latitudes must be numbers in arrays of the same shape.",
            fix="pass numbers in decimal degrees, one longitude per latitude.",
        ) from exc
    return x.copy(), y.copy()


def _result(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[Coords, Coords]:
    """Return ``x, y`` as they are, or as numpy scalars when they have no dimensions."""
    return x[()], y[()]


def _nan_points(x: NDArray[np.float64], y: NDArray[np.float64]) -> None:
    """Make both coordinates NaN (in place) where either one is: half a point is no point."""
    missing = np.isnan(x) | np.isnan(y)
    x[missing] = np.nan
    y[missing] = np.nan


def _in_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """True where GCJ-02 applies (inside the published rectangle; False for NaN)."""
    return (
        (lon >= _CHINA_LON[0])
        & (lon <= _CHINA_LON[1])
        & (lat >= _CHINA_LAT[0])
        & (lat <= _CHINA_LAT[1])
    )


def _gcj_offset(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Degrees that GCJ-02 adds to WGS84 ``lon`` and ``lat`` (without the China rectangle).

    The published algorithm builds an easting and a northing shift (in metres, roughly 300 and
    -100 plus wavy terms) from the position relative to 105°E 35°N, then turns them into
    degrees with the radii of curvature of the Krasovsky ellipsoid.
    """
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    root = np.sqrt(np.abs(x))
    # The wave terms shared by both shifts, then the terms for each axis.
    wave = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * (2.0 / 3.0)
    east = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root + wave
    east += (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * (2.0 / 3.0)
    east += (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * (2.0 / 3.0)
    north = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root + wave
    north += (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * (2.0 / 3.0)
    north += (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * (2.0 / 3.0)

    phi = lat / 180.0 * pi
    w = 1.0 - _KRASOVSKY_EE * np.sin(phi) ** 2
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w * np.sqrt(w))
    parallel_radius = _KRASOVSKY_A / np.sqrt(w) * np.cos(phi)
    dlon = east * 180.0 / (parallel_radius * pi)
    dlat = north * 180.0 / (meridian_radius * pi)
    return dlon, dlat


def _max_step(*steps: NDArray[np.float64]) -> float:
    """Largest absolute finite value among ``steps`` (0 when there is none)."""
    return max(
        (float(np.max(np.abs(s), initial=0.0, where=np.isfinite(s))) for s in steps), default=0.0
    )


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Shift WGS84 lon/lat to GCJ-02 (the coordinates of AMap/Gaode and Tencent maps).

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees: scalars, lists or arrays of one shape (or
        shapes that broadcast).

    Returns
    -------
    lon, lat
        GCJ-02 coordinates, arrays of the input shape (numpy scalars for scalar input).
        Points outside China's rectangle (72.004–137.8347°E, 0.8293–55.8271°N) are returned
        unchanged; a point with a NaN coordinate comes out as (NaN, NaN).

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410244, 39.916404)
    """
    x, y = _as_coords(lon, lat)
    inside = _in_china(x, y)
    dlon, dlat = _gcj_offset(x[inside], y[inside])
    x[inside] += dlon
    y[inside] += dlat
    _nan_points(x, y)
    return _result(x, y)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Shift GCJ-02 lon/lat (AMap/Gaode, Tencent) back to WGS84.

    The inverse is found by iterating the forward transform: ``w <- w - (gcj(w) - g)``
    until no point moves by more than 1e-10 degrees (5 or 6 steps; at most 20), so that
    ``wgs84_to_gcj02(gcj02_to_wgs84(g))`` reproduces ``g`` to about a micrometre.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees: scalars, lists or arrays.

    Returns
    -------
    lon, lat
        WGS84 coordinates, arrays of the input shape (numpy scalars for scalar input).
        Points outside China's rectangle are returned unchanged; a point with a NaN
        coordinate comes out as (NaN, NaN).

    Notes
    -----
    Whether a point is in China is decided on the GCJ-02 input.  Within about 700 m of the
    rectangle's edges (sea and desert) a point may be treated differently from the forward
    transform; nothing gridmap handles lies there.
    """
    gx, gy = _as_coords(lon, lat)
    inside = _in_china(gx, gy)
    tx, ty = gx[inside], gy[inside]
    wx, wy = tx.copy(), ty.copy()
    for _ in range(_MAX_ITERATIONS):
        dlon, dlat = _gcj_offset(wx, wy)
        step_x = wx + dlon - tx
        step_y = wy + dlat - ty
        wx -= step_x
        wy -= step_y
        if _max_step(step_x, step_y) < _TOLERANCE_DEG:
            break
    gx[inside] = wx
    gy[inside] = wy
    _nan_points(gx, gy)
    return _result(gx, gy)


def _bd_forward(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 of GCJ-02 ``x, y``: a small polar wobble, then the fixed (0.0065, 0.006) offset."""
    with np.errstate(invalid="ignore"):
        radius = np.hypot(x, y) + _BD_RADIUS_TERM * np.sin(y * _X_PI)
        angle = np.arctan2(y, x) + _BD_ANGLE_TERM * np.cos(x * _X_PI)
        return radius * np.cos(angle) + _BD_DLON, radius * np.sin(angle) + _BD_DLAT


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Shift GCJ-02 lon/lat to BD-09 (Baidu map coordinates).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees: scalars, lists or arrays.

    Returns
    -------
    lon, lat
        BD-09 coordinates, arrays of the input shape (numpy scalars for scalar input).
        The shift is applied everywhere, as Baidu does; a point with a NaN coordinate comes
        out as (NaN, NaN).
    """
    x, y = _as_coords(lon, lat)
    return _result(*_bd_forward(x, y))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Shift BD-09 lon/lat (Baidu) back to GCJ-02.

    The usual closed-form inverse is only good to a few decimetres, so its result is refined
    by iterating the forward transform until no point moves by more than 1e-10 degrees.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees: scalars, lists or arrays.

    Returns
    -------
    lon, lat
        GCJ-02 coordinates, arrays of the input shape (numpy scalars for scalar input); a
        point with a NaN coordinate comes out as (NaN, NaN).
    """
    bx, by = _as_coords(lon, lat)
    with np.errstate(invalid="ignore"):
        x = bx - _BD_DLON
        y = by - _BD_DLAT
        radius = np.hypot(x, y) - _BD_RADIUS_TERM * np.sin(y * _X_PI)
        angle = np.arctan2(y, x) - _BD_ANGLE_TERM * np.cos(x * _X_PI)
        gx, gy = radius * np.cos(angle), radius * np.sin(angle)
        for _ in range(_MAX_ITERATIONS):
            fx, fy = _bd_forward(gx, gy)
            step_x = bx - fx
            step_y = by - fy
            gx += step_x
            gy += step_y
            if _max_step(step_x, step_y) < _TOLERANCE_DEG:
                break
    return _result(gx, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Shift WGS84 lon/lat to BD-09 (Baidu): GCJ-02 first, then the Baidu shift.

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees: scalars, lists or arrays.

    Returns
    -------
    lon, lat
        BD-09 coordinates, arrays of the input shape (numpy scalars for scalar input).
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Shift BD-09 lon/lat (Baidu) back to WGS84, through GCJ-02 (both steps iterated).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees: scalars, lists or arrays.

    Returns
    -------
    lon, lat
        WGS84 coordinates, arrays of the input shape (numpy scalars for scalar input).
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _identity(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    return _result(*_as_coords(lon, lat))


_CONVERTERS: dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], tuple[Coords, Coords]]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def _system(name: str, role: str) -> str:
    """Normalise a coordinate system name (``"GCJ-02"`` -> ``"gcj02"``) or raise InputError."""
    key = str(name).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in COORDINATE_SYSTEMS:
        raise InputError(
            f"unknown {role} coordinate system {name!r}.",
            fix=f"use one of {', '.join(COORDINATE_SYSTEMS)} (wgs84 for GPS and most files, "
            "gcj02 for AMap/Gaode and Tencent, bd09 for Baidu).",
        )
    return key


def convert_coords(
    lon: ArrayLike, lat: ArrayLike, source: str, target: str
) -> tuple[Coords, Coords]:
    """Convert lon/lat between WGS84, GCJ-02 and BD-09.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees in ``source``: scalars, lists or arrays.
    source, target
        One of :data:`COORDINATE_SYSTEMS` (``"wgs84"``, ``"gcj02"``, ``"bd09"``); case,
        hyphens and underscores are ignored, so ``"GCJ-02"`` works.

    Returns
    -------
    lon, lat
        Coordinates in ``target``, arrays of the input shape (numpy scalars for scalar
        input); a copy of the input when ``source == target``.

    Raises
    ------
    InputError
        If ``source`` or ``target`` is not one of the allowed names.
    """
    key = (_system(source, "source"), _system(target, "target"))
    return _CONVERTERS.get(key, _identity)(lon, lat)


def convert_geometries(data: GeoData, source: str, target: str = "wgs84") -> GeoData:
    """Return a copy of a layer with its lon/lat coordinates converted between systems.

    Use it on points and shapes traced or geocoded on Chinese web maps: ``source="gcj02"``
    for AMap/Gaode and Tencent, ``"bd09"`` for Baidu.

    Parameters
    ----------
    data
        GeoDataFrame or GeoSeries whose coordinates are longitude/latitude in ``source``.  Its
        CRS may be missing or any geographic CRS (files of shifted coordinates are usually
        labelled EPSG:4326); a projected CRS is refused.  Only the active geometry column of
        a GeoDataFrame is converted.
    source, target
        One of :data:`COORDINATE_SYSTEMS`; see :func:`convert_coords`.

    Returns
    -------
    GeoDataFrame or GeoSeries
        A copy in which every vertex of every point, line and polygon is converted (Z values
        are kept), with CRS EPSG:4326: GCJ-02 and BD-09 are obfuscated WGS84, not datums.

    Raises
    ------
    InputError
        If ``data`` is not a GeoDataFrame/GeoSeries, is in a projected CRS or its coordinates
        are not in degrees, or if a system name is unknown.
    """
    if not isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(
            f"expected a GeoDataFrame or GeoSeries, got {type(data).__name__}.",
            fix="read the layer with gridmap.io.read_layer first.",
        )
    src, tgt = _system(source, "source"), _system(target, "target")
    if data.crs is not None and not data.crs.is_geographic:
        raise InputError(
            f"{src.upper()} coordinates are longitude/latitude, but the layer is in "
            f"{data.crs.name}.",
            fix="give the file its lon/lat CRS (--crs EPSG:4326) if the numbers are degrees, "
            "or do not convert it if it is really projected.",
        )
    geoms = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
    bounds = geoms.total_bounds
    if np.isfinite(bounds).all() and (
        np.abs(bounds[[0, 2]]).max() > 180 or np.abs(bounds[[1, 3]]).max() > 90
    ):
        raise InputError(
            f"the layer's coordinates ({', '.join(f'{b:g}' for b in bounds)}) are not "
            f"longitude/latitude, so they cannot be {src.upper()}.",
            fix="check that x is the longitude and the layer is in degrees.",
        )
    convert = _CONVERTERS.get((src, tgt), _identity)

    def move(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = coords.copy()
        out[:, 0], out[:, 1] = convert(coords[:, 0], coords[:, 1])
        return out

    moved = shapely.transform(geoms.to_numpy(), move, include_z=True)
    series = gpd.GeoSeries(moved, index=geoms.index, crs=WGS84, name=geoms.name)
    if isinstance(data, gpd.GeoSeries):
        return series
    out = data.copy()
    out[geoms.name] = series
    return out.set_crs(WGS84, allow_override=True)


def haversine_m(
    lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
) -> NDArray[np.float64] | np.float64:
    """Great-circle distance in metres between lon/lat points, on a sphere of mean radius.

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Positions in decimal degrees: scalars, lists or arrays that broadcast together.

    Returns
    -------
    numpy.ndarray or numpy.float64
        Distances in metres in the broadcast shape; NaN where any input is NaN.  Accurate to
        about 0.5 % (the earth is not a sphere), plenty for reporting shifts and errors.
    """
    lam1, phi1, lam2, phi2 = (
        np.radians(np.asarray(v, dtype=np.float64)) for v in (lon1, lat1, lon2, lat2)
    )
    h = (
        np.sin((phi2 - phi1) / 2.0) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2.0) ** 2
    )
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return d[()]
