"""Validate the layers of a street workspace and report every problem by file, layer and row.

Validation never raises on bad data: it repairs what can be repaired (invalid geometries via
``make_valid``) and returns a :class:`ValidationReport` listing the rest, each problem with the
file, the layer, the rows and the fix.  The schema itself lives in :mod:`gridmap.schema`.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridmap import io
from gridmap.crs import crs_label, local_metric_crs
from gridmap.errors import NO_GEOMETRY, InputError, Problem
from gridmap.schema import FINAL_STATUSES, LAYERS, LOCAL_TIMEZONE, Column, LayerSpec

#: A progress callback: ``progress(step, steps, label)``, step counted from 0.
Progress = Callable[[int, int, str], None]

#: Geometry type names belonging to each family of :data:`gridmap.schema.GeometryFamily`.
GEOMETRY_TYPES = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString", "LinearRing"),
    "point": ("Point", "MultiPoint"),
}
#: Shapely type ids per family, used to pull the right parts out of a repaired geometry.
_SHAPELY_TYPE_IDS = {"polygon": (3, 6), "line": (1, 2, 5), "point": (0, 4)}

#: Layers whose unusable features are left out with a warning instead of refusing the layer.
LENIENT_LAYERS = ("incidents", "water", "roads")
#: Polygons sharing at least this much boundary (metres) are neighbours.
SHARED_EDGE_M = 0.5
#: Buildings and points this far outside the street (metres) are still counted as inside.
OUTSIDE_TOLERANCE_M = 1.0
#: Gaps or overlaps between communities are reported when larger than this share of the street
#: area (at least 1 m²): smaller slivers come from reprojecting straight edges, not from drawing.
COVERAGE_TOLERANCE = 1e-5
#: Rough lon/lat box of China, used to recognise swapped coordinates in Chinese data.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)


@dataclass
class LayerSummary:
    """What one layer of a validated file holds."""

    name: str
    kind: str | None
    features: int
    geometry_type: str | None
    crs: str | None
    bounds: tuple[float, float, float, float] | None  # lon/lat: minx, miny, maxx, maxy
    repaired: int = 0


@dataclass
class ValidationReport:
    """The result of validating a file or a workspace: layer summaries and problems."""

    source: str
    layers: list[LayerSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: The validated (repaired) layers, by gridmap layer kind or by layer name.
    data: dict[str, gpd.GeoDataFrame | pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def errors(self) -> list[Problem]:
        """Problems that make the data unusable as it is."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth checking that do not stop the work."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not self.errors


_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


class _Collector:
    """Collects problems for one layer of one file."""

    def __init__(self, file: str | None, layer: str | None, notes: Sequence[Problem] = ()) -> None:
        self.file = file
        self.layer = layer
        self.notes = [copy.copy(n) for n in notes]  # problems found while reading the file
        self.problems: list[Problem] = list(self.notes)

    def add(
        self,
        severity: str,
        message: str,
        fix: str = "",
        rows: Sequence[int] = (),
        *,
        merge_with_notes: bool = False,
        code: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        """Record a problem (``code`` and ``params`` as in :class:`gridmap.errors.Problem`).

        With ``merge_with_notes``, rows that the reader already reported (naming the cause)
        are not reported again: those notes take the graver severity instead.
        """
        rows = [int(r) for r in rows]
        if merge_with_notes and rows:
            wanted = set(rows)
            for note in self.notes:
                if note.code == NO_GEOMETRY and wanted & set(note.rows):
                    if _SEVERITY_RANK[severity] > _SEVERITY_RANK[note.severity]:
                        note.severity = severity  # type: ignore[assignment]
                    wanted -= set(note.rows)
            if not wanted:
                return
            rows = sorted(wanted)
        self.problems.append(
            Problem(severity, message, fix, self.file, self.layer, rows, code, dict(params or {}))
        )


# --------------------------------------------------------------------------------------------
# columns


def _close_matches(name: str, columns: Sequence[str]) -> list[str]:
    lowered = {c.lower(): c for c in columns}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    return [lowered[h] for h in hits]


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    return np.flatnonzero(np.asarray(mask, dtype=bool)).tolist()


def _examples(values: pd.Series, limit: int) -> list[str]:
    """Up to ``limit`` distinct values, as text (the examples a problem's params carry)."""
    return [str(v) for v in values.astype(str).unique()[:limit]]


def _check_column(
    values: pd.Series, column: Column, out: _Collector, *, unique: bool = False
) -> pd.Series:
    """Check one present column; return it converted to its schema type where possible.

    ``unique`` asks for no value to appear twice (the layer's own id column).
    """
    name = column.name
    missing = values.isna().to_numpy() | (values.astype("string").str.strip() == "").fillna(False)
    missing = np.asarray(missing, dtype=bool)
    if not column.nullable and missing.any():
        out.add(
            "error",
            f"column {name!r} is empty in {missing.sum()} feature(s).",
            f"fill in {name!r} for these rows or delete them.",
            _rows(missing),
            code="empty_values",
            params={"column": name},
        )
    present = ~missing

    if column.type in ("int", "float"):
        numbers = pd.to_numeric(values.where(present), errors="coerce")
        bad = present & numbers.isna().to_numpy()
        if bad.any():
            examples = ", ".join(repr(v) for v in values[bad].astype(str).unique()[:3])
            out.add(
                "error",
                f"column {name!r} must hold numbers; found {examples}.",
                f"correct the values of {name!r} in these rows.",
                _rows(bad),
                code="not_numbers",
                params={"column": name, "examples": _examples(values[bad], 3)},
            )
        ok = present & ~bad
        if column.type == "int":
            fractional = ok & (np.asarray(numbers.fillna(0)) % 1 != 0)
            if fractional.any():
                out.add(
                    "error",
                    f"column {name!r} must hold whole numbers.",
                    f"round the values of {name!r} in these rows.",
                    _rows(fractional),
                    code="not_whole_numbers",
                    params={"column": name},
                )
        if column.minimum is not None:
            low = ok & (np.asarray(numbers.fillna(column.minimum)) < column.minimum)
            if low.any():
                out.add(
                    "error",
                    f"column {name!r} must be at least {column.minimum:g}.",
                    f"correct the values of {name!r} in these rows.",
                    _rows(low),
                    code="below_minimum",
                    params={"column": name, "minimum": column.minimum},
                )
        return numbers

    if column.type == "datetime":
        parsed = _local_times(values.where(present))
        bad = present & parsed.isna().to_numpy()
        if bad.any():
            examples = ", ".join(repr(v) for v in values[bad].astype(str).unique()[:3])
            out.add(
                "error",
                f"column {name!r} must hold dates and times; could not read {examples}.",
                f"write {name!r} as ISO 8601, e.g. 2026-03-01T14:30:00.",
                _rows(bad),
                code="not_datetimes",
                params={"column": name, "examples": _examples(values[bad], 3)},
            )
        return parsed

    values = _whole_numbers_as_integers(values) if column.type in ("id", "code") else values
    if column.type in ("id", "code") and pd.api.types.is_float_dtype(values):
        huge = present & (values.abs() >= 2**53).fillna(False).to_numpy()
        if huge.any():
            out.add(
                "error",
                f"column {name!r} holds ids too large to keep exactly as numbers; distinct ids "
                "may have become equal.",
                f"store {name!r} as text in the source file.",
                _rows(huge),
            )
    text = values.astype("string").str.strip()
    if unique:
        dup = present & text.duplicated(keep=False).fillna(False).to_numpy()
        if dup.any():
            examples = ", ".join(repr(v) for v in text[dup].unique()[:3])
            out.add(
                "error",
                f"column {name!r} must be unique; {examples} appear more than once.",
                "give each feature its own id or remove the duplicate features.",
                _rows(dup),
                code="duplicate_ids",
                params={"column": name, "examples": _examples(text[dup], 3)},
            )
    if column.type == "code":
        not_digits = present & ~text.str.fullmatch(r"\d+").fillna(False).to_numpy()
        wrong_len = present & ~not_digits & ~text.str.len().isin(column.digits or ()).to_numpy()
        if not_digits.any():
            out.add(
                "error",
                f"column {name!r} must be a code of digits only.",
                f"write {name!r} as digits, kept as text so leading zeros survive.",
                _rows(not_digits),
            )
        if column.digits and wrong_len.any():
            lengths = " or ".join(str(d) for d in column.digits)
            out.add(
                "error",
                f"column {name!r} must have {lengths} digits ({column.description}).",
                f"correct {name!r}; store it as text so leading zeros are kept.",
                _rows(wrong_len),
            )
    if column.allowed is not None:
        bad = present & ~text.str.lower().isin(column.allowed).fillna(False).to_numpy()
        if bad.any():
            examples = ", ".join(repr(v) for v in text[bad].unique()[:5])
            out.add(
                "error",
                f"column {name!r} has values outside the allowed list: {examples}.",
                f"use one of {', '.join(column.allowed)}.",
                _rows(bad),
                code="not_allowed",
                params={
                    "column": name,
                    "examples": _examples(text[bad], 5),
                    "allowed": list(column.allowed),
                },
            )
        return text.str.lower()
    return text


def _local_times(values: pd.Series) -> pd.Series:
    """Parse times as naive local wall-clock times (times with a UTC offset are converted).

    Workspace times are naive :data:`gridmap.schema.LOCAL_TIMEZONE` wall-clock times; a
    time written with an offset (``2026-03-01T06:30:00Z``) is converted to that zone.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError):  # offsets that differ between rows, or mixed with naive
        parsed = None
    if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed):
        # Mixed naive and offset times: convert row by row.
        def one(value: object) -> pd.Timestamp:
            stamp = pd.to_datetime(value, errors="coerce")
            if stamp is not pd.NaT and stamp.tzinfo is not None:
                stamp = stamp.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
            return stamp

        return pd.Series([one(v) for v in values], index=values.index, dtype="datetime64[ns]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    return parsed


def _whole_numbers_as_integers(values: pd.Series) -> pd.Series:
    """Ids read as floats because of empty cells (1.0, NaN) become integers again (1, <NA>)."""
    if not pd.api.types.is_float_dtype(values):
        return values
    finite = values.dropna()
    if len(finite) and (finite % 1 == 0).all() and (finite.abs() < 2**53).all():
        return values.astype("Int64")
    return values


def _check_columns(df: pd.DataFrame, spec: LayerSpec, out: _Collector) -> pd.DataFrame:
    columns = [c for c in df.columns if c != getattr(df, "_geometry_column_name", None)]
    df = df.copy()
    for column in spec.columns:
        if column.name not in df.columns:
            if column.required:
                near = _close_matches(column.name, columns)
                hint = f" Columns found that look close: {', '.join(near)}." if near else ""
                out.add(
                    "error",
                    f"required column {column.name!r} ({column.type}) is missing.{hint}",
                    f"add a {column.name!r} column or rename the column that holds it.",
                    code="missing_column",
                    params={"column": column.name, "near": near, "columns": columns},
                )
            continue
        unique = column.name == spec.id_column
        df[column.name] = _check_column(df[column.name], column, out, unique=unique)
    for name in columns:
        if name.lower() in spec.forbidden:
            out.add(
                "error",
                f"column {name!r} holds personal data, which the {spec.name} layer must not keep.",
                f"delete the column {name!r} before importing.",
                code="personal_data",
                params={"column": name, "layer": spec.name},
            )
    return df


# --------------------------------------------------------------------------------------------
# geometry


def _within(low: float, high: float, lower_limit: float, upper_limit: float) -> bool:
    """True when the range low..high lies within lower_limit..upper_limit."""
    return lower_limit <= low and high <= upper_limit


def _check_coordinates(gdf: gpd.GeoDataFrame, out: _Collector) -> None:
    """Report a missing CRS, numbers that do not fit the CRS, and swapped lat/lon."""
    geoms = gdf.geometry.to_numpy()
    nonempty = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not nonempty.any():
        return
    minx, miny, maxx, maxy = shapely.total_bounds(geoms[nonempty])
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        out.add(
            "error",
            "some coordinates are not finite numbers (NaN or infinite).",
            "correct or delete the features with broken coordinates.",
        )
        return
    looks_lonlat = _within(minx, maxx, -180, 180) and _within(miny, maxy, -90, 90)
    crs = gdf.crs
    if crs is None:
        out.add(
            "error",
            "the layer has no coordinate reference system (CRS).",
            "set the CRS in the file, or pass it with --crs (e.g. --crs EPSG:4326 for lon/lat).",
        )
        return
    if crs.is_geographic:
        if not looks_lonlat:
            if _within(minx, maxx, -90, 90) and _within(miny, maxy, -180, 180):
                out.add(
                    "error",
                    "coordinates look like latitude/longitude in swapped order "
                    f"(x runs {minx:.4f}..{maxx:.4f}, y runs {miny:.4f}..{maxy:.4f}).",
                    "swap the x and y columns, or with CSV input pass --lon and --lat explicitly.",
                )
            else:
                out.add(
                    "error",
                    f"the CRS {crs_label(crs)} is in degrees but the coordinates run "
                    f"{minx:.0f}..{maxx:.0f}, {miny:.0f}..{maxy:.0f}, which look like metres.",
                    "give the file its real projected CRS with --crs (e.g. --crs EPSG:4547).",
                )
        elif _within(minx, maxx, *CHINA_LAT) and _within(miny, maxy, *CHINA_LON):
            out.add(
                "error",
                "coordinates look like latitude/longitude in swapped order: the x values "
                f"({minx:.4f}..{maxx:.4f}) are latitudes in China and the y values "
                f"({miny:.4f}..{maxy:.4f}) longitudes.",
                "swap the x and y columns, or with CSV input pass --lon and --lat explicitly.",
            )
        return
    # Projected CRS: numbers that look like degrees, or lie far outside the CRS's area of use.
    if looks_lonlat and max(maxx - minx, maxy - miny) < 360:
        out.add(
            "error",
            f"the CRS {crs_label(crs)} is in metres but the coordinates look like degrees "
            f"({minx:.4f}..{maxx:.4f}, {miny:.4f}..{maxy:.4f}).",
            "declare the file as lon/lat with --crs EPSG:4326.",
        )
        return
    area = crs.area_of_use
    if area is None:
        return
    try:
        lon_lat = gpd.GeoSeries(
            shapely.points([minx, maxx, minx, maxx], [miny, miny, maxy, maxy]), crs=crs
        ).to_crs(4326)
        lons, lats = lon_lat.x.to_numpy(), lon_lat.y.to_numpy()
    except (CRSError, ValueError):
        return
    margin = 5.0
    inside = (
        np.isfinite(lons).all()
        and lons.min() >= area.west - margin
        and lons.max() <= area.east + margin
        and lats.min() >= area.south - margin
        and lats.max() <= area.north + margin
    )
    if not inside:
        out.add(
            "warning",
            f"the coordinates fall outside the area where {crs_label(crs)} ({crs.name}) is "
            "used; the CRS declared in the file may be wrong.",
            "check the CRS and pass the right one with --crs.",
        )


def _check_geometry(
    gdf: gpd.GeoDataFrame, spec: LayerSpec | None, out: _Collector
) -> tuple[gpd.GeoDataFrame, int]:
    """Report empty, mistyped and invalid geometries; repair what ``make_valid`` can."""
    geoms = gdf.geometry.to_numpy().copy()
    n = len(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    # Layers where every feature counts refuse broken features; others leave them out.
    lenient = spec is None or spec.name in LENIENT_LAYERS
    severity = "warning" if lenient and not empty.all() else "error"
    if empty.any():
        out.add(
            severity,
            f"{empty.sum()} of {n} feature(s) have no geometry"
            + (" and will be left out." if severity == "warning" else "."),
            "draw or geocode these features, or delete them.",
            _rows(empty),
            merge_with_notes=True,
            code=NO_GEOMETRY,
        )
    families = spec.geometry if spec is not None and spec.geometry else _families(geoms[~empty])

    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    nonfinite = np.zeros(n, dtype=bool)
    nonfinite[owner[~np.isfinite(coords).all(axis=1)]] = True
    if nonfinite.any():
        out.add(
            "error",
            f"{nonfinite.sum()} feature(s) have coordinates that are not numbers (NaN or "
            "infinite); they are left out of every other check.",
            "correct or delete the coordinates of these features.",
            _rows(nonfinite),
        )
        geoms[nonfinite] = None
        empty = empty | nonfinite

    invalid = ~empty & ~shapely.is_valid(geoms)
    repaired = 0
    if invalid.any():
        idx = np.flatnonzero(invalid)
        fixed = shapely.make_valid(geoms[idx])
        if families:
            fixed = np.array([_keep_family(g, families) for g in fixed], dtype=object)
        broken = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
        geoms[idx[~broken]] = fixed[~broken]
        repaired = int((~broken).sum())
        if repaired:
            reasons = {
                shapely.is_valid_reason(g).split("[")[0] for g in gdf.geometry.iloc[idx[:20]]
            }
            out.add(
                "info",
                f"{repaired} invalid geometr{'y was' if repaired == 1 else 'ies were'} repaired "
                f"with make_valid ({'; '.join(sorted(reasons))}).",
                "check the repaired shapes; fix them at the source to silence this note.",
                idx[~broken].tolist(),
            )
        if broken.any():
            out.add(
                severity,
                f"{broken.sum()} invalid geometr{'y' if broken.sum() == 1 else 'ies'} could not "
                "be repaired" + (" and will be left out." if severity == "warning" else "."),
                "redraw these features.",
                idx[broken].tolist(),
            )
            geoms[idx[broken]] = None
            empty[idx[broken]] = True

    if families:
        allowed_ids = [i for f in families for i in _SHAPELY_TYPE_IDS[f]]
        type_ids = shapely.get_type_id(geoms)
        wrong = ~empty & ~np.isin(type_ids, allowed_ids)
        if wrong.any():
            found = ", ".join(sorted({g.geom_type for g in geoms[wrong]}))
            allowed = sorted({t for f in families for t in GEOMETRY_TYPES[f]})
            layer_name = spec.name if spec is not None else "this"
            out.add(
                "error",
                f"geometry must be {' or '.join(families)}; found {found}.",
                f"export the {layer_name} layer with {' or '.join(allowed)} geometries.",
                _rows(wrong),
            )
    result = gdf.copy()
    result[result.geometry.name] = geoms
    return result, repaired


def _families(geoms: np.ndarray) -> tuple[str, ...] | None:
    """The geometry families (polygon, line, point) present among valid geometries."""
    ids = set(np.unique(shapely.get_type_id(geoms[shapely.is_valid(geoms)])).tolist())
    found = tuple(f for f, f_ids in _SHAPELY_TYPE_IDS.items() if ids & set(f_ids))
    return found or None


def _keep_family(geom: shapely.Geometry, families: Sequence[str]) -> shapely.Geometry:
    """From a repaired geometry keep only the parts of the wanted family (polygons, lines...)."""
    ids = {i for f in families for i in _SHAPELY_TYPE_IDS[f]}
    if shapely.get_type_id(geom) in ids:
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in ids]
    if not parts:
        return shapely.Polygon() if "polygon" in families else shapely.LineString()
    merged = shapely.union_all(parts)
    return merged


def _check_islands(gdf: gpd.GeoDataFrame, out: _Collector) -> None:
    """Note polygons of a coverage that share no edge with any other (islands for a partitioner).

    Polygons that meet others only at a point count as islands too: a grid cannot be
    contiguous through a point.
    """
    if gdf.crs is None:
        return
    geoms = gdf.geometry
    ok = ~(geoms.isna() | geoms.is_empty).to_numpy()
    if ok.sum() < 2 or ok.sum() > 200_000:
        return
    if gdf.crs.is_geographic:
        try:
            geoms = geoms.to_crs(local_metric_crs(gdf))
        except InputError:
            return
    parts = geoms.to_numpy()[ok]
    left, right = shapely.STRtree(parts).query(parts, predicate="intersects")
    pair = left != right
    left, right = left[pair], right[pair]
    edges = shapely.boundary(parts)
    shared = shapely.length(shapely.intersection(edges[left], edges[right]))
    overlap = shapely.area(shapely.intersection(parts[left], parts[right]))
    neighbours = (shared > SHARED_EDGE_M) | (overlap > 1.0)
    has_neighbour = np.zeros(len(parts), dtype=bool)
    has_neighbour[left[neighbours]] = True
    # Only a coverage (blocks, tracts) has islands worth naming; buildings all stand alone.
    if not has_neighbour.all() and has_neighbour.mean() >= 0.9:
        rows = np.flatnonzero(ok)[~has_neighbour].tolist()
        out.add(
            "info",
            f"{len(rows)} polygon(s) share no edge with any other polygon (islands): a partition "
            "has to join them to a grid across water or a gap.",
            "nothing to do unless these are digitising errors.",
            rows,
        )


# --------------------------------------------------------------------------------------------
# layers


def validate_layer(
    data: gpd.GeoDataFrame | pd.DataFrame,
    kind: str | None,
    *,
    file: str | None = None,
    layer: str | None = None,
) -> tuple[gpd.GeoDataFrame | pd.DataFrame, list[Problem]]:
    """Validate one layer against the schema of ``kind`` (or geometry and CRS only if None).

    Parameters
    ----------
    data
        The layer as read by :func:`gridmap.io.read_layer` (a DataFrame for attribute tables).
    kind
        A key of :data:`gridmap.schema.LAYERS`, or None for a layer gridmap does not know:
        then only its geometries and coordinates are checked.
    file, layer
        Where the data came from, for the messages (default: ``data.attrs``).

    Returns
    -------
    (repaired, problems)
        A copy with invalid geometries repaired and columns converted to their schema types,
        and every problem found, in the order found.
    """
    if kind is not None and kind not in LAYERS:
        raise InputError(
            f"unknown layer kind {kind!r}.", fix=f"use one of {', '.join(LAYERS)}.", file=file
        )
    file = file if file is not None else data.attrs.get("source")
    layer = layer if layer is not None else data.attrs.get("layer", kind)
    out = _Collector(file, layer, data.attrs.get("problems", []))
    spec = LAYERS[kind] if kind else None
    result: gpd.GeoDataFrame | pd.DataFrame = data
    has_geometry = isinstance(data, gpd.GeoDataFrame) and data.geometry.name in data.columns

    if len(data) == 0:
        needed = spec is not None and spec.required
        out.add(
            "error" if needed else "warning",
            "the layer has no features.",
            "check that the right file and layer were given." if needed else "",
        )
    if spec is not None and spec.geometry and not has_geometry:
        out.add(
            "error",
            f"the {spec.name} layer needs {' or '.join(spec.geometry)} geometries but has none.",
            "export it from a GIS as GeoPackage/GeoJSON, or give a CSV with lon/lat columns.",
        )
    repaired = 0
    if has_geometry and len(data):
        result, repaired = _check_geometry(data, spec, out)
        _check_coordinates(result, out)
        if spec is None and all(
            t in GEOMETRY_TYPES["polygon"] for t in result.geom_type.dropna().unique()
        ):
            _check_islands(result, out)
    if spec is not None and len(data):
        result = _check_columns(result, spec, out)
        if spec.name == "incidents":
            _check_incident_times(result, out)
    result.attrs = {**data.attrs, "problems": [], "repaired": repaired}
    return result, out.problems


def _check_incident_times(df: pd.DataFrame, out: _Collector) -> None:
    if not {"reported_at", "closed_at", "status"} <= set(df.columns):
        return
    reported = _local_times(df["reported_at"])
    closed = _local_times(df["closed_at"])
    before = (closed < reported).fillna(False).to_numpy()
    if before.any():
        out.add(
            "error",
            "closed_at is earlier than reported_at.",
            "correct the times of these incidents.",
            _rows(before),
        )
    status = df["status"].astype("string")
    final = status.isin(FINAL_STATUSES).fillna(False).to_numpy()
    no_close = final & closed.isna().to_numpy()
    if no_close.any():
        out.add(
            "warning",
            f"incidents with a final status ({', '.join(FINAL_STATUSES)}) have no closed_at.",
            "fill in closed_at so time-to-close can be measured.",
            _rows(no_close),
        )
    open_closed = ~final & status.notna().to_numpy() & closed.notna().to_numpy()
    if open_closed.any():
        out.add(
            "warning",
            "open incidents carry a closed_at time.",
            "clear closed_at or set the status to closed.",
            _rows(open_closed),
        )


# --------------------------------------------------------------------------------------------
# workspace


def _summary(name: str, kind: str | None, data: pd.DataFrame) -> LayerSummary:
    repaired = int(data.attrs.get("repaired", 0))
    if not isinstance(data, gpd.GeoDataFrame) or data.geometry.name not in data.columns:
        return LayerSummary(name, kind, len(data), None, None, None, repaired)
    geoms = data.geometry
    types = sorted(set(geoms.geom_type.dropna()))
    bounds = None
    nonempty = geoms[~(geoms.isna() | geoms.is_empty)]
    if len(nonempty) and data.crs is not None:
        try:
            b = nonempty.to_crs(4326).total_bounds if not data.crs.is_geographic else None
            b = nonempty.total_bounds if b is None else b
            if np.isfinite(b).all():
                bounds = tuple(float(v) for v in b)
        except (CRSError, ValueError):
            bounds = None
    return LayerSummary(
        name, kind, len(data), "/".join(types) or "(none)", crs_label(data.crs), bounds, repaired
    )


def validate_workspace(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    source: str,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate every layer of a workspace and the rules that link them.

    Parameters
    ----------
    layers
        Layers by gridmap kind (``street``, ``buildings``...), as :func:`gridmap.io.read_workspace`
        returns them.
    source
        The workspace file, named in every problem.
    progress
        Called as ``progress(step, steps, label)`` before each step.

    Returns
    -------
    ValidationReport
        Layer summaries, problems, and the repaired layers in ``report.data``.
    """
    report = ValidationReport(source=str(source))
    steps = len(layers) + 1
    for name, spec in LAYERS.items():
        if name not in layers and spec.required:
            report.problems.append(
                Problem(
                    "error",
                    f"the workspace has no {name!r} layer ({spec.title}).",
                    f"add a layer named {name!r}: {spec.description} To check only the "
                    "layers that are there, pass --layer NAME.",
                    str(source),
                    name,
                )
            )
    for step, (name, data) in enumerate(layers.items()):
        if progress:
            progress(step, steps, name)
        _validate_into(report, name, data, name if name in LAYERS else None)
    if progress:
        progress(steps - 1, steps, "links between layers")
    _check_links(report)
    return report


def _metric(data: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoSeries:
    geoms = data.geometry
    return geoms.to_crs(crs) if data.crs is not None and data.crs != crs else geoms


def _check_inside_street(
    data: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    street: gpd.GeoDataFrame,
    add: Callable[..., None],
) -> None:
    """Buildings and points inside the street; communities that tile it, with matching codes."""
    try:
        metric = local_metric_crs(street)
    except InputError:
        return  # the street's coordinates are broken; its own checks say how
    boundary = shapely.union_all(_metric(street, metric).dropna().to_numpy())
    outer = boundary.buffer(OUTSIDE_TOLERANCE_M)
    shapely.prepare(outer)
    area = boundary.area
    for name in ("buildings", "households", "incidents", "compounds"):
        layer = data.get(name)
        if not isinstance(layer, gpd.GeoDataFrame) or layer.crs is None or not len(layer):
            continue
        geoms = _metric(layer, metric).to_numpy()
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        inside = np.ones(len(geoms), dtype=bool)
        inside[present] = shapely.covers(outer, geoms[present])
        if (~inside).any():
            add(
                "warning",
                name,
                f"{(~inside).sum()} of {len(geoms)} {name} lie outside or across the street "
                "boundary; they will not be counted in any grid.",
                "check their coordinates (CRS, GCJ-02/BD-09 shift) or the street boundary.",
                _rows(~inside),
            )
    communities = data.get("communities")
    if isinstance(communities, gpd.GeoDataFrame) and communities.crs is not None:
        parts = _metric(communities, metric).dropna().to_numpy()
        parts = parts[~shapely.is_empty(parts)]
        if len(parts):
            union = shapely.union_all(parts)
            gap = shapely.difference(boundary, union).area
            outside = shapely.difference(union, boundary).area
            overlap = float(shapely.area(parts).sum() - union.area)
            for amount, what in ((gap, "gaps"), (outside, "outside"), (overlap, "overlap")):
                if amount > max(1.0, COVERAGE_TOLERANCE * area):
                    text = {
                        "gaps": "communities leave parts of the street uncovered",
                        "outside": "communities reach outside the street boundary",
                        "overlap": "communities overlap each other",
                    }[what]
                    add(
                        "warning",
                        "communities",
                        f"{text} ({amount:,.0f} m²).",
                        "snap community boundaries to the street boundary and to each other.",
                    )
    street_codes = street.get("code")
    if (
        street_codes is not None
        and pd.notna(street_codes.iloc[0])
        and communities is not None
        and "code" in communities
    ):
        prefix = str(street_codes.iloc[0])
        codes = communities["code"].astype("string")
        long_codes = codes.str.len() == 12
        wrong = (long_codes & ~codes.str.startswith(prefix)).fillna(False).to_numpy()
        if wrong.any():
            add(
                "error",
                "communities",
                f"12-digit community codes must start with the street code {prefix}.",
                "correct the community codes.",
                _rows(wrong),
            )


def _check_links(report: ValidationReport) -> None:
    """Cross-layer rules: everything inside the street, references that resolve, tiling."""
    data, source = report.data, report.source

    def add(severity: str, layer: str, message: str, fix: str, rows: Sequence[int] = ()) -> None:
        report.problems.append(Problem(severity, message, fix, source, layer, list(rows)))

    street = data.get("street")
    usable = (
        isinstance(street, gpd.GeoDataFrame)
        and street.crs is not None
        and len(street) > 0
        and street.geometry.geom_type.isin(GEOMETRY_TYPES["polygon"]).all()
    )
    if isinstance(street, gpd.GeoDataFrame) and len(street) > 1:
        add(
            "warning",
            "street",
            f"the street layer has {len(street)} features; they are treated as one area.",
            "merge them into one polygon if they are one street.",
        )
    if usable:
        _check_inside_street(data, street, add)

    buildings = data.get("buildings")
    households = data.get("households")
    if buildings is not None and "id" in buildings:
        building_ids = set(buildings["id"].dropna().astype(str))
        if households is not None and "building_id" in households:
            refs = households["building_id"].astype("string")
            dangling = (refs.notna() & ~refs.isin(building_ids)).fillna(False).to_numpy()
            if dangling.any():
                add(
                    "error",
                    "households",
                    "building_id refers to buildings that are not in the buildings layer.",
                    "correct building_id or add the missing buildings.",
                    _rows(dangling),
                )
            if "households" in buildings:
                counted = refs.value_counts()
                declared = pd.to_numeric(buildings["households"], errors="coerce")
                actual = buildings["id"].astype(str).map(counted).fillna(0).to_numpy()
                mismatch = declared.notna().to_numpy() & (declared.to_numpy() != actual)
                if mismatch.any():
                    add(
                        "warning",
                        "buildings",
                        "the households column differs from the number of household points "
                        "that name the building.",
                        "recount households, or drop the column and let the points count.",
                        _rows(mismatch),
                    )
        compounds = data.get("compounds")
        if compounds is not None and "compound_id" in buildings and "id" in compounds:
            refs = buildings["compound_id"].astype("string")
            known = set(compounds["id"].dropna().astype(str))
            dangling = (refs.notna() & ~refs.isin(known)).fillna(False).to_numpy()
            if dangling.any():
                add(
                    "warning",
                    "buildings",
                    "compound_id refers to compounds that are not in the compounds layer.",
                    "correct compound_id or add the compound outlines.",
                    _rows(dangling),
                )
    members = data.get("members")
    communities = data.get("communities")
    if (
        members is not None
        and communities is not None
        and "community_code" in members
        and "code" in communities
    ):
        codes = communities["code"].astype(str)
        known = set(codes) | {c[-3:] for c in codes}
        refs = members["community_code"].astype("string")
        dangling = (refs.notna() & ~refs.isin(known)).fillna(False).to_numpy()
        if dangling.any():
            add(
                "warning",
                "members",
                "community_code refers to communities that are not in the communities layer.",
                "correct the members' community codes.",
                _rows(dangling),
            )


def validate_path(
    path: str | Path,
    *,
    layer: str | None = None,
    kind: str | None = None,
    progress: Progress | None = None,
    **read_options: object,
) -> ValidationReport:
    """Read a file (any format :mod:`gridmap.io` reads) and validate it.

    A GeoPackage whose layers carry gridmap layer names (``street``, ``buildings``...) is
    validated as a workspace, links between layers included.  Any other file is validated
    layer by layer: against the schema of ``kind`` when given, otherwise by geometry and CRS.

    Parameters
    ----------
    path
        The file.
    layer
        Validate only this layer of the file.
    kind
        Check the layer(s) against this gridmap layer schema (``--as`` on the command line).
    progress
        Called as ``progress(step, steps, label)`` while reading and validating.
    **read_options
        Passed to :func:`gridmap.io.read_layer` (``crs``, ``lon``, ``lat``, ``coords``...).

    Returns
    -------
    ValidationReport

    Raises
    ------
    InputError
        When the file cannot be read at all (missing, unknown format, corrupt).
    """
    path = Path(path)
    source = str(path)
    given = sorted(name for name, value in read_options.items() if value not in (None, "wgs84"))
    if progress:
        progress(0, 1, "reading")
    if path.suffix.lower() in (".pbf", ".osm"):
        if kind is not None or given:
            raise InputError(
                "an OpenStreetMap extract is read as its buildings and roads, in WGS84; "
                f"{', '.join(['--as', *given] if kind else given)} do not apply to it.",
                file=source,
                fix="leave out these options (use --layer buildings or --layer roads to pick).",
            )
        wanted = [layer] if layer else ["buildings", "roads"]
        layers = {what: io.read_osm(path, what) for what in wanted}
        kinds: dict[str, str | None] = {w: w for w in wanted}
        return validate_workspace_layers(layers, source, kinds=kinds, progress=progress)
    names = [name for name, _ in io.list_layers(path)]
    if layer is not None:
        names = [layer]
    known = [n for n in names if n in LAYERS]
    if kind is None and layer is None and known and len(known) == len(names):
        if given:
            raise InputError(
                f"options {', '.join('--' + g for g in given)} say how to read one layer, but "
                "this is a workspace of several layers.",
                file=source,
                fix="pick the layer with --layer NAME, or leave the options out.",
            )
        return validate_workspace(io.read_workspace(path), source, progress)
    if kind is not None and len(names) > 1:
        raise InputError(
            f"--as {kind} checks one layer, but the file has {len(names)}: {', '.join(names)}.",
            file=source,
            fix="pick the layer with --layer NAME.",
        )
    pick = len(names) > 1 or layer is not None
    table_ok = kind is not None and LAYERS[kind].geometry is None
    layers = {
        name: io.read_layer(
            path, name if pick else None, require_geometry=not table_ok, **read_options
        )
        for name in names
    }
    kinds = {name: kind or (name if name in LAYERS else None) for name in names}
    return validate_workspace_layers(layers, source, kinds=kinds, progress=progress)


def validate_workspace_layers(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    source: str,
    *,
    kinds: Mapping[str, str | None],
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate layers that do not form a whole workspace, each against its own kind."""
    report = ValidationReport(source=str(source))
    for step, (name, data) in enumerate(layers.items()):
        if progress:
            progress(step, len(layers), name)
        kind = kinds.get(name)
        _validate_into(report, name, data, kind)
        if kind is None:
            report.problems.append(
                Problem(
                    "info",
                    "not a gridmap layer name; checked geometry and coordinates only.",
                    f"pass --as KIND ({', '.join(LAYERS)}) to check it against a layer schema.",
                    report.source,
                    name,
                )
            )
    return report


def _validate_into(
    report: ValidationReport, name: str, data: gpd.GeoDataFrame | pd.DataFrame, kind: str | None
) -> None:
    fixed, problems = validate_layer(data, kind, file=report.source, layer=name)
    report.layers.append(_summary(name, kind, fixed))
    report.problems.extend(problems)
    report.data[name] = fixed
