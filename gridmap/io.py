"""Read the files users bring and write the files gridmap makes.

Readers return a :class:`geopandas.GeoDataFrame` (a plain :class:`pandas.DataFrame` for
attribute tables) with a :class:`pandas.RangeIndex` in file order, so that position ``i`` is
row ``i + 1`` in every message.  Each result carries ``attrs``:

``attrs["source"]``
    The path as given.
``attrs["layer"]``
    The layer name (the file stem for single-layer formats).
``attrs["problems"]``
    A list of :class:`gridmap.errors.Problem` notes from reading (assumed CRS, rows without
    coordinates, geometries GDAL could not decode...), each with file and layer set.

Rows are never dropped for bad geometry: a CSV row without coordinates or a feature whose
geometry GDAL could not decode is kept with a missing (``None``) geometry and named in a
problem, so that validation can report it by row.

Anything that stops reading raises :class:`gridmap.errors.InputError` naming the file and the
fix.  Writers replace their target atomically: they write a temporary file beside it and move
it into place only when everything has been written.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import os
import re
import shutil
import uuid
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridmap.crs import convert_geometries, crs_label
from gridmap.errors import NO_GEOMETRY, InputError, Problem
from gridmap.schema import LAYERS

#: Extensions :func:`read_layer` reads, with what it expects to find.
READ_FORMATS: dict[str, str] = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "shapefile (with its .shx, .dbf and .prj)",
    ".zip": "zipped shapefile, GeoPackage or GeoJSON",
    ".csv": "CSV of points (lon/lat or x/y columns)",
    ".txt": "CSV of points (lon/lat or x/y columns)",
    ".pbf": "OpenStreetMap extract",
    ".osm": "OpenStreetMap XML",
}
#: Extensions :func:`write_layer` writes.
WRITE_FORMATS: dict[str, str] = {
    ".geojson": "GeoJSON (RFC 7946)",
    ".json": "GeoJSON (RFC 7946)",
    ".gpkg": "GeoPackage",
    ".csv": "CSV (lon/lat columns for points, WKT otherwise)",
}
#: Systems that lon/lat may be in; see :mod:`gridmap.crs`.
COORDS = ("wgs84", "gcj02", "bd09")
#: Column names recognised as longitude / latitude, case-insensitively, in priority order.
LON_COLUMNS = ("lon", "lng", "long", "longitude", "x_lon", "经度")
LAT_COLUMNS = ("lat", "latitude", "y_lat", "纬度")
#: Column names recognised as WKT geometry when no coordinate columns are found.
WKT_COLUMNS = ("geometry_wkt", "wkt", "geometry")
#: What :func:`read_osm` reads: gridmap layer -> (layer of GDAL's OSM driver, geometry type).
OSM_LAYERS = {"buildings": ("multipolygons", "MultiPolygon"), "roads": ("lines", "LineString")}
#: OSM ``highway`` values -> gridmap road class; other values are dropped.
ROAD_CLASS_BY_HIGHWAY = {
    **dict.fromkeys(("motorway", "trunk", "primary"), "arterial"),
    **dict.fromkeys(("motorway_link", "trunk_link", "primary_link"), "arterial"),
    **dict.fromkeys(("secondary", "tertiary", "secondary_link", "tertiary_link"), "secondary"),
    **dict.fromkeys(("residential", "unclassified", "living_street", "service"), "local"),
    **dict.fromkeys(
        ("footway", "path", "cycleway", "pedestrian", "steps", "track", "bridleway", "trail"),
        "path",
    ),
}
#: gridmap building kind -> OSM ``building`` values (residential kinds depend on the floors).
BUILDING_TAGS_BY_KIND = {
    "school": ("school", "kindergarten", "university", "college"),
    "commercial": ("commercial", "retail", "supermarket", "hotel", "kiosk", "shop", "mall"),
    "public": (
        *("public", "civic", "government", "office", "townhall", "community_centre", "library"),
        *("hospital", "clinic", "fire_station", "police", "museum", "train_station"),
    ),
    "park": ("pavilion",),
    "lowrise": ("house", "detached", "semidetached_house", "terrace", "bungalow", "farm"),
}
BUILDING_KIND_BY_TAG = {tag: kind for kind, tags in BUILDING_TAGS_BY_KIND.items() for tag in tags}
#: Building tags whose kind follows the number of floors (high-, mid- or low-rise).
RESIDENTIAL_TAGS = ("apartments", "residential", "dormitory")
#: Timestamp GDAL writes into ``gpkg_contents.last_change``, so that output is reproducible.
GPKG_FIXED_DATE = "2000-01-01T00:00:00.000Z"

_WGS84 = "EPSG:4326"
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.CRSError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
)
_CONVERT_FIX = (
    "check that the file opens in QGIS; re-export it (e.g. QGIS 'Export > Save Features As' "
    "or ogr2ogr) if it does not."
)


# --------------------------------------------------------------------------------------------
# reading: files and layers


@dataclass(frozen=True)
class _OgrLayer:
    """One layer GDAL can read, and how to reach it."""

    name: str
    geometry_type: str | None
    gdal_path: str
    gdal_layer: str
    kind: str  # "geojson", "gpkg" or "shp"
    geojson_head: bytes = b""


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(
            "file not found.",
            file=str(path),
            fix=f"check the path and the file name (relative paths start in {Path.cwd()}).",
        )
    if p.is_dir():
        raise InputError(
            "this is a folder, not a file.",
            file=str(path),
            fix="give one file inside it, e.g. a .gpkg, .shp, .geojson or .csv file.",
        )
    if p.stat().st_size == 0:
        raise InputError(
            "the file is empty (0 bytes).",
            file=str(path),
            fix="re-export or copy the file again: it was probably cut off by a failed "
            "download, copy or export.",
        )
    return p


def _unknown_extension(path: str | os.PathLike[str], formats: Mapping[str, str]) -> InputError:
    suffix = Path(path).suffix or "(none)"
    listed = "; ".join(f"{ext} {what}" for ext, what in formats.items())
    return InputError(
        f"gridmap cannot handle files with the extension {suffix}.",
        file=str(path),
        fix=f"convert it to one of these (e.g. with QGIS or ogr2ogr): {listed}.",
    )


def _gdal_failure(path: str | os.PathLike[str], error: Exception, what: str) -> InputError:
    detail = str(error).strip().rstrip(".")
    if "not recognized as being in a supported file format" in detail:
        detail = "GDAL does not recognise the content (garbled, truncated or another format)"
    return InputError(
        f"cannot be read as {what}: {detail}.",
        file=str(path),
        fix=_CONVERT_FIX,
        code="unreadable_file",
        params={"format": what},
    )


@contextmanager
def _gdal_notes(problems: list[Problem], file: str, layer: str | None) -> Iterator[None]:
    """Turn GDAL's warnings during a read into info problems (other warnings pass through)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    notes: Counter[str] = Counter()
    for w in caught:
        from_reader = "pyogrio" in w.filename or w.filename == __file__
        if issubclass(w.category, RuntimeWarning | UserWarning) and from_reader:
            notes[" ".join(str(w.message).split())] += 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for message, count in notes.items():
        times = f" ({count} times)" if count > 1 else ""
        problems.append(
            Problem("info", f"GDAL warned while reading: {message}{times}", "", file, layer)
        )


def _list_gdal(gdal_path: str, path: str | os.PathLike[str], what: str) -> list[list[Any]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return [list(row) for row in pyogrio.list_layers(gdal_path)]
    except _PYOGRIO_ERRORS as error:
        raise _gdal_failure(path, error, what) from None


def _check_shapefile_parts(shp_name: str, siblings: Sequence[str], path: str) -> None:
    stem = shp_name[: -len(".shp")]
    lower = {s.lower() for s in siblings}
    missing = [ext for ext in (".shx", ".dbf") if (stem + ext).lower() not in lower]
    if missing:
        raise InputError(
            f"the shapefile is incomplete: {' and '.join(stem + e for e in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing.",
            file=path,
            fix="a shapefile is several files: copy the .shp together with its .shx, .dbf "
            "(and .prj, .cpg) files, or send all of them in one .zip.",
        )


#: How much of a GeoJSON file is searched for a ``crs`` member (it comes before the features).
_GEOJSON_HEAD = 65536


def _ogr_layers(p: Path, path: str | os.PathLike[str]) -> list[_OgrLayer]:
    """Every layer of a GeoJSON, GeoPackage, shapefile or zip, as GDAL sees it."""
    ext = p.suffix.lower()
    if ext == ".zip":
        return _zip_layers(p, path)
    kind = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".shp": "shp"}[ext]
    if kind == "shp":
        _check_shapefile_parts(p.name, [s.name for s in p.parent.iterdir()], str(path))
    head = b""
    if kind == "geojson":
        with p.open("rb") as handle:
            head = handle.read(_GEOJSON_HEAD)
    what = {"geojson": "GeoJSON", "gpkg": "a GeoPackage", "shp": "a shapefile"}[kind]
    rows = _list_gdal(str(p), path, what)
    return [_OgrLayer(str(n), t, str(p), str(n), kind, head) for n, t in rows]


def _zip_layers(p: Path, path: str | os.PathLike[str]) -> list[_OgrLayer]:
    try:
        with zipfile.ZipFile(p) as archive:
            names = [
                i.filename
                for i in archive.infolist()
                if not i.is_dir()
                and not i.filename.startswith("__MACOSX/")
                and not Path(i.filename).name.startswith("._")
            ]
            shps = [n for n in names if n.lower().endswith(".shp")]
            # a stray .json (metadata) beside a shapefile is not a dataset
            kinds = (".gpkg", ".geojson") if shps else (".gpkg", ".geojson", ".json")
            others = [n for n in names if n.lower().endswith(kinds)]
            heads = {}
            for name in others:
                with archive.open(name) as handle:
                    heads[name] = handle.read(_GEOJSON_HEAD)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(
            f"not a readable zip file ({error}).",
            file=str(path),
            fix="zip the files again (or unzip them and give the .shp/.gpkg/.geojson itself).",
        ) from None
    root = "/vsizip/" + p.resolve().as_posix()
    if shps and not others:
        layers = []
        for shp in shps:
            _check_shapefile_parts(shp, names, f"{path} ({shp})")
            gdal_path = f"{root}/{shp}"
            rows = _list_gdal(gdal_path, path, "a zipped shapefile")
            layers += [_OgrLayer(Path(shp).stem, t, gdal_path, str(n), "shp") for n, t in rows]
        return layers
    if len(others) == 1 and not shps:
        inner = others[0]
        kind = "gpkg" if inner.lower().endswith(".gpkg") else "geojson"
        gdal_path = f"{root}/{inner}"
        rows = _list_gdal(gdal_path, path, f"a zipped {'GeoPackage' if kind == 'gpkg' else kind}")
        return [
            _OgrLayer(str(n), t, gdal_path, str(n), kind, heads.get(inner, b"")) for n, t in rows
        ]
    found = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    if not shps and not others:
        message = f"the zip holds no shapefile, GeoPackage or GeoJSON (it holds: {found or '-'})."
    else:
        message = f"the zip holds several datasets of different kinds ({found})."
    raise InputError(
        message,
        file=str(path),
        fix="zip one dataset (a shapefile with its .shx/.dbf/.prj, or one .gpkg or .geojson), "
        "or unzip the file and give the dataset itself.",
    )


def _csv_layer_name(p: Path) -> str:
    return p.stem


def list_layers(path: str | os.PathLike[str]) -> list[tuple[str, str | None]]:
    """List the layers of a file with their geometry types.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, shapefile, zip, CSV or OpenStreetMap file (any other file GDAL
        can open is listed too).

    Returns
    -------
    list of (name, geometry type)
        Geometry types as GDAL names them (``"MultiPolygon"``, ``"Unknown"`` for a layer
        without features...), None for attribute tables.  A CSV is one ``"Point"`` layer
        named after the file stem; an OpenStreetMap file lists the layers :func:`read_osm`
        makes (``buildings`` and ``roads``).

    Raises
    ------
    InputError
        When the file is missing, empty or cannot be opened.
    """
    p = _check_file(path)
    ext = p.suffix.lower()
    if ext in (".csv", ".txt"):
        return [(_csv_layer_name(p), "Point")]
    if ext in (".pbf", ".osm"):
        return [(name, geometry) for name, (_, geometry) in OSM_LAYERS.items()]
    if ext in (".geojson", ".json", ".gpkg", ".shp", ".zip"):
        return [(layer.name, layer.geometry_type) for layer in _ogr_layers(p, path)]
    rows = _list_gdal(str(p), path, "a GDAL dataset")
    return [(str(n), t) for n, t in rows]


def _pick_layer(names: Sequence[str], layer: str | None, path: str | os.PathLike[str]) -> str:
    listed = ", ".join(repr(n) for n in names)
    if layer is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise InputError(
                "the file holds no layers.",
                file=str(path),
                fix="check that it is the right file; re-export the data into it.",
            )
        raise InputError(
            f"the file has {len(names)} layers; say which one to read.",
            file=str(path),
            fix=f"pass the layer name (--layer NAME), one of: {listed}.",
        )
    if layer in names:
        return layer
    close = difflib.get_close_matches(str(layer), list(names), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InputError(
        f"the file has no layer named {layer!r}.",
        file=str(path),
        fix=f"{hint}use one of: {listed}.",
    )


def read_layer(
    path: str | os.PathLike[str],
    layer: str | None = None,
    *,
    crs: Any = None,
    lon: str | None = None,
    lat: str | None = None,
    x: str | None = None,
    y: str | None = None,
    coords: str = "wgs84",
    encoding: str | None = None,
    require_geometry: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer of a file into a GeoDataFrame.

    Parameters
    ----------
    path
        A ``.geojson``/``.json``, ``.gpkg``, ``.shp``, ``.zip`` (a zipped shapefile, or a zip
        holding one GeoPackage or GeoJSON), ``.csv``/``.txt`` (points) or ``.pbf``/``.osm``
        (OpenStreetMap, see :func:`read_osm`) file.
    layer
        The layer to read; required when the file has several (``"buildings"`` or ``"roads"``
        for OpenStreetMap files).
    crs
        The CRS of the coordinates (anything :class:`pyproj.CRS` accepts, e.g.
        ``"EPSG:4547"``).  Used when the file has none; an error if the file declares
        another.  Required with ``x``/``y``.
    lon, lat
        CSV columns holding longitude and latitude (default: found by name: lon, lng, long,
        longitude, x_lon, 经度 and lat, latitude, 纬度, case-insensitively).
    x, y
        CSV columns holding projected coordinates in ``crs``.
    coords
        ``"gcj02"`` or ``"bd09"`` when the lon/lat were geocoded on a Chinese map service
        (Amap/Tencent or Baidu): they are converted to WGS84.  Default ``"wgs84"``.
    encoding
        Text encoding of a CSV or shapefile (default: detected; UTF-8, then GB18030).
    require_geometry
        With False, a CSV without coordinate columns is read as a plain table (a roster of
        grid members, say) instead of raising.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        Rows in file order with a RangeIndex; a DataFrame for attribute tables.  ``attrs``
        holds ``source``, ``layer`` and ``problems`` (see the module docstring).

    Raises
    ------
    InputError
        When the file cannot be read as asked: missing, empty, corrupt, unknown extension or
        layer, no coordinate columns, no CRS for projected coordinates, a CRS that conflicts
        with the file's own.
    """
    p = _check_file(path)
    ext = p.suffix.lower()
    if ext not in READ_FORMATS:
        raise _unknown_extension(path, READ_FORMATS)
    given = _parse_crs(crs, path)
    problems: list[Problem] = []
    if ext in (".pbf", ".osm"):
        name = _pick_layer(list(OSM_LAYERS), layer, path)
        data = read_osm(path, name)
        problems = list(data.attrs.get("problems", []))
        data = _settle_crs(data, given, False, str(path), name, problems)
    elif ext in (".csv", ".txt"):
        name = _pick_layer([_csv_layer_name(p)], layer, path)
        data = _read_csv(
            p, str(path), name, given, lon, lat, x, y, encoding, problems, require_geometry
        )
    else:
        layers = {item.name: item for item in _ogr_layers(p, path)}
        name = _pick_layer(list(layers), layer, path)
        data = _read_ogr(layers[name], str(path), given, encoding, problems)
    if isinstance(data, gpd.GeoDataFrame):
        data = _convert_coords(data, coords, str(path), name, problems)
    return _finish(data, path, name, problems)


def _finish(
    data: gpd.GeoDataFrame | pd.DataFrame,
    path: str | os.PathLike[str],
    layer: str,
    problems: list[Problem],
) -> gpd.GeoDataFrame | pd.DataFrame:
    if not isinstance(data.index, pd.RangeIndex) or data.index.start != 0:
        data = data.reset_index(drop=True)
    columns = data.attrs.get("coordinate_columns")
    data.attrs = {"source": str(path), "layer": layer, "problems": problems}
    if columns:
        data.attrs["coordinate_columns"] = columns
    return data


def _read_ogr(
    item: _OgrLayer,
    path: str,
    given: CRS | None,
    encoding: str | None,
    problems: list[Problem],
) -> gpd.GeoDataFrame | pd.DataFrame:
    what = {"geojson": "GeoJSON", "gpkg": "a GeoPackage", "shp": "a shapefile"}[item.kind]
    options = {"encoding": encoding} if encoding and item.kind == "shp" else {}
    try:
        with _gdal_notes(problems, path, item.name):
            data = pyogrio.read_dataframe(
                item.gdal_path, layer=item.gdal_layer, on_invalid="ignore", **options
            )
    except (*_PYOGRIO_ERRORS, LookupError) as error:
        raise _gdal_failure(path, error, what) from None
    if not isinstance(data, gpd.GeoDataFrame):
        return data
    _note_undecodable(data, item.gdal_path, item.gdal_layer, path, item.name, problems)
    implicit = item.kind == "geojson" and not re.search(rb'"crs"\s*:\s*\{', item.geojson_head)
    return _settle_crs(data, given, implicit, path, item.name, problems)


def _note_undecodable(
    data: gpd.GeoDataFrame,
    gdal_path: str,
    gdal_layer: str,
    path: str,
    layer: str,
    problems: list[Problem],
    wkb: np.ndarray | None = None,
) -> None:
    """Name the rows whose geometry is in the file but could not be decoded (now None)."""
    missing = np.asarray(data.geometry.isna())
    if not missing.any():
        return
    if wkb is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, _, wkb, _ = pyogrio.raw.read(gdal_path, layer=gdal_layer, columns=[])
        except _PYOGRIO_ERRORS:
            return  # the layer was read once; if GDAL cannot say more, the rows stay unnamed
    present = np.array([g is not None for g in wkb], dtype=bool)
    rows = np.flatnonzero(missing & present).tolist()
    if rows:
        problems.append(
            Problem(
                "warning",
                f"{len(rows)} feature(s) have a geometry that could not be decoded (e.g. a "
                "ring with fewer than 4 points); they are kept with no geometry.",
                "redraw or repair these features (QGIS: Fix Geometries) if they matter.",
                path,
                layer,
                rows,
                NO_GEOMETRY,
            )
        )


# --------------------------------------------------------------------------------------------
# reading: coordinate systems


def _parse_crs(crs: Any, path: str | os.PathLike[str]) -> CRS | None:
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError:
        raise InputError(
            f"{crs!r} is not a coordinate reference system gridmap knows.",
            file=str(path),
            fix="pass an EPSG code, e.g. --crs EPSG:4326 (lon/lat) or --crs EPSG:4547 "
            "(CGCS2000 3-degree Gauss-Kruger, CM 114E).",
        ) from None


def _same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    code = a.to_epsg()
    return code is not None and code == b.to_epsg()


def _coordinate_range(geoms: Any) -> tuple[float, float, float, float] | None:
    bounds = shapely.bounds(np.asarray(geoms, dtype=object))
    ok = ~np.isnan(bounds).any(axis=1)
    if not ok.any():
        return None
    b = bounds[ok]
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _looks_lonlat(box: tuple[float, float, float, float] | None) -> bool:
    if box is None:
        return True
    minx, miny, maxx, maxy = box
    return max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90


def _settle_crs(
    data: gpd.GeoDataFrame,
    given: CRS | None,
    geojson_implicit: bool,
    path: str,
    layer: str,
    problems: list[Problem],
) -> gpd.GeoDataFrame:
    """Give ``data`` its CRS: the file's own, else ``given``, else lon/lat if it looks so."""
    box = _coordinate_range(data.geometry.array)
    lonlat = _looks_lonlat(box)
    file_crs = data.crs
    if geojson_implicit:
        file_crs = CRS.from_user_input(_WGS84) if lonlat else None
    if file_crs is not None:
        wgs84 = CRS.from_user_input(_WGS84)
        if file_crs.to_epsg() != 4326 and _same_crs(file_crs, wgs84):
            file_crs = wgs84  # OGC:CRS84 and other spellings of lon/lat WGS84
        if given is not None and not _same_crs(file_crs, given):
            declared = crs_label(file_crs, with_name=True)
            if geojson_implicit:
                declared += " (a GeoJSON file without a crs member is lon/lat by RFC 7946)"
            raise InputError(
                f"the file declares {declared}, not {crs_label(given, with_name=True)} as given.",
                file=path,
                layer=layer,
                fix="leave out --crs to use the file's own CRS; if the file's CRS is wrong, "
                "correct it in the file (e.g. its .prj) first.",
            )
        return data if data.crs is file_crs else data.set_crs(file_crs, allow_override=True)
    if given is not None:
        if geojson_implicit:
            problems.append(
                Problem(
                    "info",
                    "the GeoJSON has no crs member and its coordinates are not lon/lat; "
                    f"read them as {crs_label(given, with_name=True)} as given.",
                    "write RFC 7946 GeoJSON (lon/lat) to avoid the ambiguity.",
                    path,
                    layer,
                )
            )
        return data.set_crs(given, allow_override=True)
    if lonlat:
        problems.append(
            Problem(
                "info",
                "no CRS in file; assumed EPSG:4326 because coordinates look like lon/lat.",
                "pass --crs if not.",
                path,
                layer,
            )
        )
        return data.set_crs(_WGS84)
    assert box is not None
    spread = f"x {box[0]:.0f} to {box[2]:.0f}, y {box[1]:.0f} to {box[3]:.0f}"
    message = (
        f"the GeoJSON has no crs member but its coordinates are not lon/lat ({spread})."
        if geojson_implicit
        else f"the file has no CRS and its coordinates are not lon/lat ({spread})."
    )
    raise InputError(
        message,
        file=path,
        layer=layer,
        fix="pass the CRS, e.g. --crs EPSG:4547 (CGCS2000 3-degree Gauss-Kruger, CM 114E); "
        "for a shapefile, ask for its .prj file.",
    )


def _convert_coords(
    data: gpd.GeoDataFrame, coords: str, path: str, layer: str, problems: list[Problem]
) -> gpd.GeoDataFrame:
    system = str(coords).strip().lower() if coords is not None else "wgs84"
    if system not in COORDS:
        raise InputError(
            f"unknown coordinate system {coords!r} for --coords.",
            file=path,
            layer=layer,
            fix=f"use one of: {', '.join(COORDS)}.",
        )
    if system == "wgs84":
        return data
    if data.crs is None or not data.crs.is_geographic:
        label = crs_label(data.crs, with_name=True) if data.crs is not None else "no CRS"
        raise InputError(
            f"--coords {system} applies to lon/lat from Chinese map services, but this layer "
            f"is in {label}.",
            file=path,
            layer=layer,
            fix="leave out --coords for projected data (only lon/lat can be GCJ-02 or BD-09).",
        )
    converted = convert_geometries(data, source=system, target="wgs84")
    label = {"gcj02": "GCJ-02", "bd09": "BD-09"}[system]
    columns = data.attrs.get("coordinate_columns")
    also = ""
    if columns:
        # The lon/lat columns the points came from now hold WGS84 too, so they never disagree.
        present = converted.geometry.notna().to_numpy()
        for column, values in zip(
            columns, (converted.geometry.x, converted.geometry.y), strict=True
        ):
            converted[column] = values.round(7).where(present, converted[column])
        also = f"; columns {columns[0]!r}/{columns[1]!r} were updated to match"
    problems.append(
        Problem(
            "info",
            f"converted coordinates from {label} to WGS84 (shifts of a few hundred metres){also}.",
            "",
            path,
            layer,
        )
    )
    return converted


# --------------------------------------------------------------------------------------------
# reading: CSV


def _decode(raw: bytes, encoding: str | None, path: str) -> tuple[str, str]:
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise InputError(
                f"unknown text encoding {encoding!r}.",
                file=path,
                fix="use e.g. --encoding utf-8 or --encoding gb18030 (or leave it out).",
            ) from None
        except UnicodeDecodeError as error:
            raise InputError(
                f"the file is not valid {encoding} text (byte {error.start} is not).",
                file=path,
                fix="leave out --encoding to detect it, or pass the encoding the file was "
                "saved in (e.g. --encoding gb18030 for Chinese Excel exports).",
            ) from None
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise InputError(
        "the file is neither UTF-8 nor GB18030 text.",
        file=path,
        fix="save it as UTF-8 CSV, or pass its encoding with --encoding.",
    )


def _delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_LEADING_ZERO = re.compile(r"[+-]?0\d")
#: Columns kept as text even when every cell is a number (codes keep their digits exactly).
_TEXT_NAMES = re.compile(
    r"(?:^|[\s_\-])(?:code|phone|mobile|tel|telephone)$|(?:电话|手机|代码|编码|编号)$",
    re.IGNORECASE,
)


def _typed(name: str, column: pd.Series) -> pd.Series:
    """Numbers where every non-blank cell is a clean number; text (blanks as NA) otherwise."""
    stripped = column.str.strip()
    blank = (stripped == "").to_numpy()
    text = column.mask(blank)
    values = stripped[~blank]
    if values.empty or _TEXT_NAMES.search(str(name).strip()):
        return text
    if values.str.startswith("+").any() or values.str.match(_LEADING_ZERO.pattern).any():
        return text
    if values.str.fullmatch(_INT.pattern).all():
        if values.str.len().max() > 18:
            return text
        numbers = pd.Series(pd.NA, index=column.index, dtype="Int64")
        numbers[~blank] = values.astype("int64")
        return numbers if blank.any() else numbers.astype("int64")
    if values.str.fullmatch(_FLOAT.pattern).all():
        return pd.to_numeric(stripped.mask(blank), errors="coerce").astype("float64")
    return text


def _find_column(
    columns: Sequence[str], wanted: str | None, candidates: Sequence[str]
) -> str | None:
    if wanted is not None:
        if wanted in columns:
            return wanted
        folded = {str(c).strip().lower(): c for c in columns}
        return folded.get(str(wanted).strip().lower())
    folded = {}
    for c in columns:
        folded.setdefault(str(c).strip().lower(), c)
    return next((folded[c] for c in candidates if c in folded), None)


def _read_csv(
    p: Path,
    path: str,
    layer: str,
    given: CRS | None,
    lon: str | None,
    lat: str | None,
    x: str | None,
    y: str | None,
    encoding: str | None,
    problems: list[Problem],
    require_geometry: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    text, used = _decode(p.read_bytes(), encoding, path)
    if not text.strip():
        raise InputError(
            "the file holds no text (only blanks).",
            file=path,
            fix="re-export the table as CSV with a header line.",
        )
    separator = _delimiter(text)
    try:
        table = pd.read_csv(
            StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_filter=False
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError(
            f"cannot be read as CSV: {' '.join(str(error).split())}.",
            file=path,
            fix="check that every line has as many fields as the header (quote text that "
            "holds commas); re-export it from the spreadsheet as CSV.",
            code="unreadable_csv",
        ) from None
    header = next(csv.reader(StringIO(text), delimiter=separator), [])
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        problems.append(
            Problem(
                "warning",
                f"the header names {', '.join(repr(n) for n in twice)} more than once; the "
                "later columns are read as 'NAME.1', 'NAME.2'.",
                "give every column its own name in the header.",
                path,
                layer,
            )
        )
    if used == "gb18030":
        problems.append(Problem("info", "read as GB18030 text (not UTF-8).", "", path, layer))
    columns = [str(c) for c in table.columns]
    found = ", ".join(repr(c) for c in columns)
    if (x is None) != (y is None) or (lon is None) != (lat is None):
        raise InputError(
            "give both coordinate columns (--lon with --lat, or --x with --y).",
            file=path,
            fix="pass both column names.",
        )
    if x is not None and lon is not None:
        raise InputError(
            "give either --lon/--lat or --x/--y, not both.", file=path, fix="drop one pair."
        )
    if x is not None:
        if given is None:
            raise InputError(
                f"projected coordinates in columns {x!r}/{y!r} need their CRS.",
                file=path,
                fix="pass the CRS too, e.g. --crs EPSG:4547.",
            )
        xcol, ycol = _find_column(columns, x, ()), _find_column(columns, y, ())
        if xcol is None or ycol is None:
            missing = x if xcol is None else y
            raise InputError(
                f"there is no column {missing!r}; the columns are {found}.",
                file=path,
                fix="pass the names exactly as in the header: --x COL --y COL.",
            )
        return _points(table, xcol, ycol, given, False, path, layer, problems)
    lon_col = _find_column(columns, lon, LON_COLUMNS)
    lat_col = _find_column(columns, lat, LAT_COLUMNS)
    if lon is not None and (lon_col is None or lat_col is None):
        missing = lon if lon_col is None else lat
        raise InputError(
            f"there is no column {missing!r}; the columns are {found}.",
            file=path,
            fix="pass the names exactly as in the header: --lon COL --lat COL.",
        )
    if lon_col is not None and lat_col is not None:
        return _points(table, lon_col, lat_col, given, True, path, layer, problems)
    wkt_col = _find_column(columns, None, WKT_COLUMNS)
    if wkt_col is not None and lon_col is None and lat_col is None:
        return _wkt_rows(table, wkt_col, given, path, layer, problems)
    if not require_geometry:
        return pd.DataFrame({name: _typed(name, table[name]) for name in table.columns})
    raise InputError(
        f"no coordinate columns found; the columns are {found}.",
        file=path,
        fix="name the longitude and latitude columns: --lon COL --lat COL (or --x COL --y COL "
        "--crs EPSG:xxxx for projected coordinates).",
        code="no_coordinate_columns",
        params={"columns": columns},
    )


def _points(
    table: pd.DataFrame,
    xcol: str,
    ycol: str,
    given: CRS | None,
    lonlat: bool,
    path: str,
    layer: str,
    problems: list[Problem],
) -> gpd.GeoDataFrame:
    xs_text = table[xcol].str.strip()
    ys_text = table[ycol].str.strip()
    blank = ((xs_text == "") | (ys_text == "")).to_numpy()
    xs = pd.to_numeric(xs_text.mask(blank), errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(ys_text.mask(blank), errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(xs) & np.isfinite(ys)
    unparsed = ~blank & ~finite
    crs = given if given is not None else CRS.from_user_input(_WGS84)
    if lonlat and not crs.is_geographic:
        raise InputError(
            f"columns {xcol!r}/{ycol!r} are longitude/latitude, but the CRS given "
            f"({crs_label(crs, with_name=True)}) is projected.",
            file=path,
            layer=layer,
            fix="for projected coordinates pass --x COL --y COL with --crs; for lon/lat leave "
            "out --crs (or give a geographic one such as EPSG:4490).",
        )
    outside = np.zeros(len(table), dtype=bool)
    if lonlat and crs.is_geographic:
        outside = finite & ((np.abs(xs) > 180) | (np.abs(ys) > 90))
        if finite.any() and outside[finite].all():
            raise InputError(
                f"columns {xcol!r}/{ycol!r} hold values outside lon/lat ranges "
                f"(e.g. {xs[finite][0]}, {ys[finite][0]}).",
                file=path,
                layer=layer,
                fix="if these are projected coordinates, pass --x COL --y COL --crs EPSG:xxxx; "
                "if longitude and latitude are swapped, pass --lon and --lat explicitly.",
                code="coordinates_out_of_range",
                params={
                    "columns": [xcol, ycol],
                    "example": [float(xs[finite][0]), float(ys[finite][0])],
                },
            )
    ok = finite & ~outside
    geoms = np.full(len(table), None, dtype=object)
    geoms[ok] = shapely.points(xs[ok], ys[ok])
    pair = f"{xcol!r}/{ycol!r}"
    for mask, what, severity, reason in (
        (blank, f"have no coordinates (blank {pair})", "warning", "blank"),
        (unparsed, f"have coordinates that are not numbers in {pair}", "warning", "not_numbers"),
        (outside, f"have coordinates outside lon/lat ranges in {pair}", "warning", "out_of_range"),
    ):
        rows = np.flatnonzero(mask).tolist()
        if rows:
            problems.append(
                Problem(
                    severity,
                    f"{len(rows)} of {len(table)} rows {what}; they are kept with no geometry.",
                    "fill in or correct the coordinates (or geocode the addresses) if these "
                    "rows should be on the map.",
                    path,
                    layer,
                    rows,
                    NO_GEOMETRY,
                    {"reason": reason, "columns": [xcol, ycol]},
                )
            )
    data = _geo_table(table, geoms, crs)
    if lonlat:
        data.attrs["coordinate_columns"] = (xcol, ycol)
    return data


def _wkt_rows(
    table: pd.DataFrame,
    column: str,
    given: CRS | None,
    path: str,
    layer: str,
    problems: list[Problem],
) -> gpd.GeoDataFrame:
    text = table[column].str.strip().to_numpy(dtype=object)
    blank = text == ""
    geoms = np.full(len(table), None, dtype=object)
    geoms[~blank] = shapely.from_wkt(text[~blank], on_invalid="ignore")
    bad = np.flatnonzero(~blank & shapely.is_missing(geoms)).tolist()
    if bad:
        problems.append(
            Problem(
                "warning",
                f"{len(bad)} rows have WKT in {column!r} that cannot be parsed; they are kept "
                "with no geometry.",
                "correct the WKT text.",
                path,
                layer,
                bad,
                NO_GEOMETRY,
            )
        )
    if column.strip().lower() == "geometry":  # as geopandas writes CSV: the WKT is the geometry
        table = table.drop(columns=[column])
    data = _geo_table(table, geoms, None)
    return _settle_crs(data, given, False, path, layer, problems)


def _geo_table(table: pd.DataFrame, geoms: np.ndarray, crs: CRS | None) -> gpd.GeoDataFrame:
    typed = pd.DataFrame({name: _typed(name, table[name]) for name in table.columns})
    typed.index = pd.RangeIndex(len(table))
    geometry_name = "geometry" if "geometry" not in typed.columns else "geometry_"
    typed[geometry_name] = gpd.GeoSeries(geoms, index=typed.index, crs=crs)
    return gpd.GeoDataFrame(typed, geometry=geometry_name, crs=crs)


# --------------------------------------------------------------------------------------------
# reading: OpenStreetMap


_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_other_tags(text: str | None) -> dict[str, str]:
    """Parse the ``other_tags`` column of GDAL's OSM driver (``"k"=>"v","k2"=>"v2"``).

    Parameters
    ----------
    text
        The hstore-like text, or None (or NaN).

    Returns
    -------
    dict
        Tag keys to values (empty for None or blank text).
    """
    if not isinstance(text, str) or not text:
        return {}

    def unescape(s: str) -> str:
        return re.sub(r"\\(.)", r"\1", s)

    return {unescape(k): unescape(v) for k, v in _HSTORE.findall(text)}


def _floors(levels: str | None) -> int | None:
    if levels is None:
        return None
    match = _NUMBER.search(levels)
    if match is None:
        return None
    return max(1, math.floor(float(match.group()) + 0.5))


def _building_kind(tag: str, levels: int | None) -> str | None:
    if tag in RESIDENTIAL_TAGS:
        if levels is None:
            return None
        return "highrise" if levels >= 10 else "midrise" if levels >= 6 else "lowrise"
    return BUILDING_KIND_BY_TAG.get(tag)


def read_osm(path: str | os.PathLike[str], what: str) -> gpd.GeoDataFrame:
    """Read buildings or roads from an OpenStreetMap ``.pbf``/``.osm`` file.

    Parameters
    ----------
    path
        The OpenStreetMap file (read with GDAL's OSM driver).
    what
        ``"buildings"``: polygons with a ``building`` tag, as columns ``id`` (the OSM way or
        relation id, as text), ``floors`` (from ``building:levels``, 1 when absent), ``kind``
        (from the building tag where it says, else None), ``name`` and ``building``.
        ``"roads"``: lines with a ``highway`` tag gridmap uses, as ``class`` (arterial,
        secondary, local, path), ``name``, ``highway`` and ``osm_id``.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, file order, RangeIndex; ``attrs`` as for :func:`read_layer`.
        Features whose geometry GDAL could not build are kept with no geometry and named
        in ``attrs["problems"]``.

    Raises
    ------
    InputError
        When the file cannot be read or ``what`` is neither buildings nor roads.
    """
    p = _check_file(path)
    if p.suffix.lower() not in (".pbf", ".osm"):
        raise InputError(
            "read_osm reads OpenStreetMap .pbf or .osm files only.",
            file=str(path),
            fix="use read_layer for other formats.",
        )
    if what not in OSM_LAYERS:
        raise InputError(
            f"cannot read {what!r} from OpenStreetMap data.",
            file=str(path),
            fix=f"ask for one of: {', '.join(OSM_LAYERS)}.",
        )
    gdal_layer = OSM_LAYERS[what][0]
    problems: list[Problem] = []
    try:
        with _gdal_notes(problems, str(path), what):
            meta, _, wkb, fields = pyogrio.raw.read(str(p), layer=gdal_layer)
    except _PYOGRIO_ERRORS as error:
        raise _gdal_failure(path, error, "OpenStreetMap data") from None
    table = pd.DataFrame(
        {str(n): np.asarray(f, dtype=object) for n, f in zip(meta["fields"], fields, strict=True)}
    )
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    data = gpd.GeoDataFrame(table, geometry=geoms, crs=_WGS84)
    tags = [parse_other_tags(t) for t in table.get("other_tags", pd.Series([None] * len(table)))]
    if what == "buildings":
        keep = table["building"].notna().to_numpy() & (table["building"] != "no").to_numpy()
        out, levels = _osm_buildings(data[keep], [t for t, k in zip(tags, keep, strict=True) if k])
    else:
        highway = table["highway"]
        keep = highway.isin(list(ROAD_CLASS_BY_HIGHWAY)).to_numpy()
        dropped = highway[highway.notna().to_numpy() & ~keep].value_counts()
        if len(dropped):
            listing = ", ".join(f"{k} ({v})" for k, v in dropped.items())
            problems.append(
                Problem(
                    "info",
                    f"left out {int(dropped.sum())} lines whose highway tag is not a road "
                    f"gridmap uses: {listing}.",
                    "",
                    str(path),
                    what,
                )
            )
        kept = data[keep]
        out = gpd.GeoDataFrame(
            {
                "class": kept["highway"].map(ROAD_CLASS_BY_HIGHWAY).astype("str"),
                "name": kept["name"],
                "highway": kept["highway"],
                "osm_id": kept["osm_id"],
            },
            geometry=kept.geometry,
            crs=_WGS84,
        )
    out = out.reset_index(drop=True)
    kept_wkb = np.asarray(wkb, dtype=object)[keep]
    _note_undecodable(out, "", "", str(path), what, problems, wkb=kept_wkb)
    empty = np.flatnonzero(np.asarray(out.geometry.is_empty)).tolist()
    if empty:
        problems.append(
            Problem(
                "warning",
                f"{len(empty)} feature(s) have an empty geometry.",
                "check these features in the OpenStreetMap data.",
                str(path),
                what,
                empty,
            )
        )
    if what == "buildings":
        _note_levels(levels, str(path), problems)
    return _finish(out, path, what, problems)


def _osm_buildings(
    data: gpd.GeoDataFrame, tags: list[dict[str, str]]
) -> tuple[gpd.GeoDataFrame, list[str | None]]:
    way = data["osm_way_id"].to_numpy(dtype=object)
    rel = data["osm_id"].to_numpy(dtype=object)
    ids = [str(w) if pd.notna(w) else str(r) for w, r in zip(way, rel, strict=True)]
    levels_text = [t.get("building:levels") for t in tags]
    levels = [_floors(v) for v in levels_text]
    kinds = [_building_kind(str(b), n) for b, n in zip(data["building"], levels, strict=True)]
    out = gpd.GeoDataFrame(
        {
            "id": pd.array(ids, dtype="str"),
            "floors": np.array([n if n is not None else 1 for n in levels], dtype="int64"),
            "kind": pd.array(kinds, dtype="str"),
            "name": data["name"].to_numpy(dtype=object),
            "building": data["building"].to_numpy(dtype=object),
        },
        geometry=np.asarray(data.geometry.array, dtype=object),
        crs=_WGS84,
    )
    return out, levels_text


def _note_levels(levels_text: list[str | None], path: str, problems: list[Problem]) -> None:
    absent = [i for i, v in enumerate(levels_text) if v is None]
    unreadable = [i for i, v in enumerate(levels_text) if v is not None and _floors(v) is None]
    if absent:
        problems.append(
            Problem(
                "info",
                f"{len(absent)} of {len(levels_text)} buildings have no building:levels tag; their "
                "floors are set to 1.",
                "correct the floors in the buildings layer where they matter (they weigh "
                "households when grids are balanced).",
                path,
                "buildings",
                absent,
            )
        )
    if unreadable:
        problems.append(
            Problem(
                "warning",
                f"{len(unreadable)} buildings have a building:levels value that is not a "
                "number; their floors are set to 1.",
                "correct the floors in the buildings layer.",
                path,
                "buildings",
                unreadable,
            )
        )


# --------------------------------------------------------------------------------------------
# reading: workspaces


def read_workspace(path: str | os.PathLike[str]) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Read the gridmap layers of a workspace GeoPackage.

    Parameters
    ----------
    path
        A GeoPackage whose layers are named after :data:`gridmap.schema.LAYERS`.

    Returns
    -------
    dict
        Layer name to GeoDataFrame (DataFrame for attribute tables such as ``members``), in
        the order of :data:`gridmap.schema.LAYERS`.  Layers with other names are left out;
        :func:`list_layers` shows them.

    Raises
    ------
    InputError
        When the file is missing, not a GeoPackage or cannot be read.
    """
    p = _check_file(path)
    if p.suffix.lower() != ".gpkg":
        raise InputError(
            "a workspace is a GeoPackage (.gpkg).",
            file=str(path),
            fix="give the workspace .gpkg file (run `gridmap sample` for an example).",
        )
    names = {name for name, _ in list_layers(path)}
    return {name: read_layer(path, name) for name in LAYERS if name in names}


# --------------------------------------------------------------------------------------------
# writing


def _target(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.is_dir():
        raise InputError(
            "this is a folder; a file name is needed.",
            file=str(path),
            fix="add a file name, e.g. out.gpkg.",
        )
    if not p.parent.is_dir():
        raise InputError(
            f"the folder {p.parent} does not exist.",
            file=str(path),
            fix="create the folder first, or write to an existing one.",
        )
    return p


def _temp_path(p: Path) -> Path:
    return p.with_name(f".{p.stem}.{uuid.uuid4().hex[:12]}.tmp{p.suffix}")


def _discard(temp: Path) -> None:
    for leftover in (temp, *(Path(f"{temp}{s}") for s in ("-journal", "-wal", "-shm"))):
        with suppress(FileNotFoundError):
            leftover.unlink()


@contextmanager
def _atomic(p: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``p``; move it onto ``p`` only if the block succeeds."""
    temp = _temp_path(p)
    try:
        yield temp
        os.replace(temp, p)
    except BaseException:
        _discard(temp)
        raise
    _discard(temp)


def _require_geo(gdf: Any, path: str | os.PathLike[str], what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(
            f"{what} needs a GeoDataFrame with geometries, not {type(gdf).__name__}.",
            file=str(path),
            fix="pass a GeoDataFrame (write attribute tables to a GeoPackage).",
        )
    return gdf


def _wgs84(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        if gdf.geometry.isna().all() or gdf.empty:
            return gdf.set_crs(_WGS84, allow_override=True)
        raise InputError(
            "the data has no CRS, so it cannot be written as lon/lat.",
            file=str(path),
            fix="set the CRS first (GeoDataFrame.set_crs), e.g. EPSG:4547.",
        )
    if _same_crs(gdf.crs, CRS.from_user_input(_WGS84)):
        return gdf
    return gdf.to_crs(_WGS84)


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        return None if value is pd.NaT else value.isoformat()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, shapely.Geometry):
        return value.wkt
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_column(column: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in column]
    return [_json_value(v) for v in column.to_numpy(dtype=object)]


def _rounded(coords: Any, digits: int) -> list[Any]:
    if len(coords) and isinstance(coords[0], int | float):
        return [round(float(c), digits) + 0.0 for c in coords]
    return [_rounded(c, digits) for c in coords]


def _geometry_json(geom: Any, digits: int) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "GeometryCollection":
        parts = [_geometry_json(g, digits) for g in geom.geoms]
        return {"type": "GeometryCollection", "geometries": [p for p in parts if p]}
    if geom.geom_type == "LinearRing":
        geom = shapely.LineString(geom)
    mapped = shapely.geometry.mapping(geom)
    return {"type": mapped["type"], "coordinates": _rounded(mapped["coordinates"], digits)}


def _snapped(geoms: np.ndarray, digits: int) -> np.ndarray:
    """Geometries snapped to the ``digits`` grid that stay valid, polygons oriented (RFC 7946).

    Rounding coordinates can turn a valid polygon invalid (a hairline hole touching its
    shell becomes a ring self-intersection).  GEOS's precision reducer snaps and keeps
    polygons valid, dropping what collapses; a polygon still invalid after snapping is
    repaired (:func:`shapely.make_valid`, polygonal parts kept) and snapped again.
    """
    geoms = geoms.copy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    grid = 10.0**-digits
    snapped = shapely.set_precision(geoms[present], grid)
    polygonal = np.isin(shapely.get_type_id(geoms[present]), (3, 6))
    bad = polygonal & ~shapely.is_valid(snapped)
    if bad.any():
        fixed = [_polygonal_part(shapely.make_valid(g)) for g in snapped[bad]]
        snapped[bad] = shapely.set_precision(np.asarray(fixed, dtype=object), grid)
    keep_original = polygonal & shapely.is_empty(snapped)  # collapsed under the grid: keep it
    snapped[keep_original] = geoms[present][keep_original]
    geoms[present] = snapped
    return shapely.orient_polygons(geoms, exterior_cw=False)


def _polygonal_part(geom: Any) -> Any:
    """The polygons of ``geom`` (make_valid may return a collection with lines)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()


def write_geojson(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    precision: int = 7,
    *,
    bbox: bool = False,
) -> None:
    """Write a GeoDataFrame as RFC 7946 GeoJSON.

    Geometries are reprojected to EPSG:4326 (lon, lat), snapped to ``precision`` decimals
    so that they stay valid (polygons that rounding would make invalid are repaired), polygon
    exteriors turned counter-clockwise and holes clockwise.  No ``crs`` member is written.
    Dates and times become ISO 8601 text; NaN, NaT and missing values become ``null``; text is
    UTF-8 (Chinese is not escaped).  One feature per line.

    Parameters
    ----------
    gdf
        The features (the index is not written).
    path
        The file to write (replaced atomically).
    precision
        Decimals kept (7 is about 1 cm, 6 about 10 cm).
    bbox
        Also write the collection's ``bbox``.

    Raises
    ------
    InputError
        When ``gdf`` has no CRS, or the folder does not exist.
    """
    p = _target(path)
    gdf = _wgs84(_require_geo(gdf, path, "GeoJSON"), path)
    if not 0 <= int(precision) <= 15:
        raise ValueError(f"precision must be between 0 and 15, not {precision}")
    geoms = _snapped(np.asarray(gdf.geometry.array, dtype=object), int(precision))
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    values = [_json_column(gdf[c]) for c in columns]
    names = [str(c) for c in columns]
    collection: dict[str, Any] = {"type": "FeatureCollection"}
    if bbox:
        box = _coordinate_range(geoms)
        if box is not None:
            collection["bbox"] = [round(v, int(precision)) for v in box]
    head = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))[:-1]
    with _atomic(p) as temp, open(temp, "x", encoding="utf-8", newline="\n") as out:
        out.write(head + ',"features":[')
        for i, geom in enumerate(geoms):
            feature = {
                "type": "Feature",
                "properties": {n: v[i] for n, v in zip(names, values, strict=True)},
                "geometry": _geometry_json(geom, int(precision)),
            }
            text = json.dumps(feature, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            out.write(("\n" if i == 0 else ",\n") + text)
        out.write("\n]}\n")


@contextmanager
def _fixed_gdal_date() -> Iterator[None]:
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def write_geopackage(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    mode: str = "w",
) -> None:
    """Write several layers into one GeoPackage, atomically and reproducibly.

    The same data written twice gives the same bytes (GDAL's timestamps are fixed to
    :data:`GPKG_FIXED_DATE`).  Plain DataFrames become attribute tables; datetime columns
    stay datetimes.

    Parameters
    ----------
    layers
        Layer name to GeoDataFrame or DataFrame, written in this order.
    path
        The GeoPackage.
    mode
        ``"w"``: replace the whole file.  ``"a"``: keep the file's other layers and replace
        or add the given ones (the file is created if it does not exist).

    Raises
    ------
    InputError
        When the folder does not exist, a layer is not a table, or GDAL cannot write a layer
        (the existing file is then left as it was).
    """
    p = _target(path)
    if mode not in ("w", "a"):
        raise ValueError(f"mode must be 'w' or 'a', not {mode!r}")
    if not layers:
        raise InputError(
            "no layers to write.", file=str(path), fix="pass at least one layer to write."
        )
    for name, data in layers.items():
        if not isinstance(name, str) or not name.strip():
            raise InputError(
                f"layer name {name!r} is not a name.", file=str(path), fix="name every layer."
            )
        if not isinstance(data, pd.DataFrame):
            raise InputError(
                f"layer {name!r} is a {type(data).__name__}, not a table.",
                file=str(path),
                fix="pass GeoDataFrames or DataFrames.",
            )
    with _atomic(p) as temp, _fixed_gdal_date():
        if mode == "a" and p.exists():
            shutil.copyfile(p, temp)
            _list_gdal(str(temp), path, "a GeoPackage")
        for name, data in layers.items():
            _write_gpkg_layer(data, temp, name, path)


def _write_gpkg_layer(
    data: gpd.GeoDataFrame | pd.DataFrame, temp: Path, name: str, path: str | os.PathLike[str]
) -> None:
    frame = data
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(drop=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(frame, str(temp), layer=name, driver="GPKG")
    except (*_PYOGRIO_ERRORS, NotImplementedError, TypeError, ValueError) as error:
        raise InputError(
            f"GDAL could not write layer {name!r}: {' '.join(str(error).split())}.",
            file=str(path),
            layer=name,
            fix="convert the offending column to text, numbers or datetimes (GeoPackage "
            "cannot store other types) and write again; the existing file was not changed.",
        ) from None


def write_csv(gdf: gpd.GeoDataFrame | pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a table as UTF-8 CSV: points as ``lon``/``lat``, other geometries as WKT.

    Parameters
    ----------
    gdf
        The table.  Points read from lon/lat columns of a CSV (``attrs["coordinate_columns"]``,
        set by :func:`read_layer`) keep those columns as they are (after a GCJ-02 / BD-09
        shift they hold the shifted WGS84 values already); other points are written in WGS84
        to 7 decimals in new ``lon`` and ``lat`` columns (``wgs84_lon`` / ``wgs84_lat`` when
        the table has a column of either name already: no column is overwritten).  If any
        geometry is not a point, all are written as WKT in a ``geometry_wkt`` column.  Missing
        geometries leave the cells blank.  Datetimes become ISO 8601 text.
    path
        The file to write (replaced atomically).

    Raises
    ------
    InputError
        When geometries have no CRS, or the folder does not exist.
    """
    p = _target(path)
    table = pd.DataFrame(gdf).copy()
    if isinstance(gdf, gpd.GeoDataFrame):
        geo = _wgs84(gdf, path)
        geoms = np.asarray(geo.geometry.array, dtype=object)
        table = table.drop(columns=[gdf.geometry.name])
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        points = shapely.get_type_id(geoms[present]) == 0
        source = tuple(gdf.attrs.get("coordinate_columns") or ())
        own = len(source) == 2 and all(c in table.columns for c in source)
        if points.all() and not own:
            xs = np.full(len(geoms), np.nan)
            ys = np.full(len(geoms), np.nan)
            xs[present] = np.round(shapely.get_x(geoms[present]), 7)
            ys[present] = np.round(shapely.get_y(geoms[present]), 7)
            names = ["lon", "lat"]
            while any(name in table.columns for name in names):
                names = [f"wgs84_{name}" for name in names]
            table[names[0]] = xs
            table[names[1]] = ys
        elif not points.all():
            wkt = np.full(len(geoms), None, dtype=object)
            wkt[present] = shapely.to_wkt(geoms[present], rounding_precision=7, trim=True)
            table["geometry_wkt"] = wkt
    for name in table.columns:
        column = table[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            table[name] = [None if pd.isna(v) else v.isoformat() for v in column]
        elif column.dtype == object:
            table[name] = [
                v.wkt if isinstance(v, shapely.Geometry) else v for v in column.to_numpy()
            ]
    with _atomic(p) as temp:
        table.to_csv(temp, index=False, encoding="utf-8", lineterminator="\n", mode="x")


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    path: str | os.PathLike[str],
    layer: str | None = None,
) -> None:
    """Write one layer, choosing the format by extension (.geojson/.json, .gpkg, .csv).

    Parameters
    ----------
    gdf
        The layer.
    path
        The file to write; a GeoPackage is replaced as a whole (use
        :func:`write_geopackage` with ``mode="a"`` to add a layer to one).
    layer
        The layer name in a GeoPackage (default: the file stem).

    Raises
    ------
    InputError
        For an extension gridmap does not write, or as the writer raises.
    """
    ext = Path(path).suffix.lower()
    if ext in (".geojson", ".json"):
        write_geojson(gdf, path)
    elif ext == ".gpkg":
        write_geopackage({layer or Path(path).stem: gdf}, path)
    elif ext == ".csv":
        write_csv(gdf, path)
    else:
        raise _unknown_extension(path, WRITE_FORMATS)
