"""Bring data into a workspace and take it out again: imports, exports and plan files.

Imports
-------
:func:`import_file` reads a CSV, GeoJSON or GeoPackage (anything :func:`gridmap.io.read_layer`
reads) of households, buildings or incidents and adds its rows to the workspace store:

* every row is validated against the layer schema (:func:`gridmap.layers.validate_layer`): a
  required value missing, a value outside the allowed list, a number or date that does not
  parse, an id repeated within the file, missing or broken coordinates or geometry.  A file
  with bad rows imports **nothing** unless ``skip_bad=True``; then the good rows are imported
  and :attr:`ImportReport.skipped` names every skipped row (1-based, as gridmap's messages
  count them: row 1 is the first data line of a CSV) with the reason;
* incidents farther than the grid index's tolerance from every grid of the published plan
  (flag ``unassigned``) are stored without a grid by default, counted in
  :attr:`ImportReport.grid_flags`; with ``refuse_unassigned=True`` (the web import, like the
  intake API) they are bad rows instead;
* rows are keyed by their ``id``: ids already in the store are left as they are (counted in
  :attr:`ImportReport.already_present`), so importing a file twice adds nothing twice.  The
  file's SHA-256 is kept in ``gridmap_imports``; an identical file is reported as already
  imported without being read again;
* households and buildings go into the workspace's ``households`` / ``buildings`` GeoPackage
  layers (EPSG:4326), incidents into ``incidents`` with the grid of the published plan
  (``grid_code``/``grid_flag``; with no plan published yet both stay empty and publishing a
  plan fills them in);
* everything happens in one transaction, audit-logged: a failure leaves the store as it was.

Mappings
--------
Files whose columns are not gridmap's are mapped with ``mapping=``: a preset name from
:data:`MAPPINGS`, a ``{gridmap column: file column}`` dict, or a function of the read layer.
The preset ``"open311-nyc"`` reads NYC 311 service requests (the Open311 export of NYC Open
Data) as incidents:

================================  ===============================================
NYC 311 column                    gridmap incident column
================================  ===============================================
``Unique Key``                    ``id`` = ``"NYC" + key``; ``external_id`` = key
``Created Date``                  ``reported_at`` (New York time, converted)
``Closed Date``                   ``closed_at`` (New York time, converted)
``Complaint Type``/``Descriptor`` ``description`` ("type: descriptor (location type)")
                                  and ``category`` (table below)
``Status``                        ``status`` (table below)
``Incident Address``/``City``     ``address``
``Longitude``/``Latitude``        the point (rows without them are bad rows)
(none)                            ``source`` = ``hotline``, ``priority`` = ``normal``
================================  ===============================================

Times are New York wall-clock times; like every time with a known zone they are stored as
:data:`gridmap.schema.LOCAL_TIMEZONE` wall-clock times, so durations (time to close) stay
exact.  Categories (:data:`NYC_CATEGORIES`, by complaint type, refined by descriptor in
:data:`NYC_DESCRIPTOR_CATEGORIES`; anything else: ``municipal_facilities``):

==================================  ==========================================================
NYC complaint type / descriptor     gridmap category (why)
==================================  ==========================================================
Dead Animal                         ``sanitation`` (carcass removal by the sanitation service)
Unsanitary Animal Pvt Property      ``sanitation``
Unsanitary Animal Facility          ``sanitation``
descriptor Animal Waste / Odor      ``sanitation``
Animal-Abuse                        ``neighbour_dispute`` (a neighbour's animal, police call)
Illegal Animal Kept as Pet          ``safety_hazard`` (wild or dangerous animals)
descriptor Rooster                  ``noise``
Illegal Animal Sold                 ``street_vending`` (unlicensed selling)
Animal in a Park                    ``municipal_facilities`` (parks)
Pet Shop, Animal Facility - No      ``municipal_facilities`` (licensing; no closer category)
Permit, anything else
==================================  ==========================================================

Statuses (:data:`NYC_STATUSES`): Closed -> ``closed``; In Progress, Started -> ``in_progress``;
Assigned, Pending -> ``accepted``; Open, Unspecified -> ``reported``.  Other values are bad
rows.

Exports
-------
:func:`export` writes the grids of a plan, per-grid aggregates, the incidents (with their
grid) or, only when asked for explicitly, the households, as RFC 7946 GeoJSON, GeoPackage or
CSV by extension (atomic writes, lon/lat).

Plan files
----------
:func:`save_plan_file` keeps a plan file (written by ``gridmap partition``, or any grid
polygons) as a new draft plan of the workspace.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import io
from gridmap.crs import local_metric_crs
from gridmap.errors import NO_GEOMETRY, InputError, Problem, format_rows
from gridmap.incidents import TIME_COLUMNS, times_with_offset
from gridmap.index import GridIndex
from gridmap.layers import validate_layer
from gridmap.plan import read_plan
from gridmap.schema import (
    INCIDENT_CATEGORIES,
    INCIDENT_STATUSES,
    LOCAL_TIMEZONE,
)
from gridmap.store import OPEN_STATUSES, Workspace, _blob_geometry, gpkg_blob, now

#: Layers :func:`import_file` takes in.
IMPORT_KINDS = ("households", "buildings", "incidents")

#: What :func:`export` writes.
EXPORTS = ("grids", "aggregates", "incidents", "households")

#: Defaults for incident columns a file leaves out entirely (as live intake does).
INCIDENT_DEFAULTS: dict[str, str | None] = {
    "status": "reported",
    "priority": "normal",
    "source": "other",
    "closed_at": None,
    "description": None,
}

#: NYC 311 complaint type -> gridmap incident category.
NYC_CATEGORIES = {
    "Dead Animal": "sanitation",
    "Unsanitary Animal Pvt Property": "sanitation",
    "Unsanitary Animal Facility": "sanitation",
    "Animal-Abuse": "neighbour_dispute",
    "Illegal Animal Kept as Pet": "safety_hazard",
    "Illegal Animal Sold": "street_vending",
    "Animal in a Park": "municipal_facilities",
    "Pet Shop": "municipal_facilities",
    "Animal Facility - No Permit": "municipal_facilities",
}
#: NYC 311 descriptors that decide the category whatever the complaint type.
NYC_DESCRIPTOR_CATEGORIES = {
    "Rooster": "noise",
    "Animal Waste": "sanitation",
    "Animal Odor": "sanitation",
}
#: Category of NYC complaint types not listed above.
NYC_DEFAULT_CATEGORY = "municipal_facilities"
#: NYC 311 status -> gridmap incident status.
NYC_STATUSES = {
    "closed": "closed",
    "in progress": "in_progress",
    "started": "in_progress",
    "assigned": "accepted",
    "pending": "accepted",
    "open": "reported",
    "unspecified": "reported",
}
#: The zone of NYC 311 times.
NYC_TIMEZONE = "America/New_York"

_WGS84 = 4326
#: About a metre in degrees: features this close outside the street still count as inside.
STREET_TOLERANCE_DEG = 1e-5


class BadRowsError(InputError):
    """A file has rows that cannot be imported, so nothing was imported.

    Attributes
    ----------
    problems
        The problems that make rows bad (``rows`` zero-based, as in every :class:`Problem`).
    """

    def __init__(self, message: str, *, problems: list[Problem], **kwargs: Any) -> None:
        self.problems = problems
        super().__init__(message, **kwargs)


class UnusableFileError(InputError):
    """A file that cannot be imported at all (a required column missing...); nothing was.

    Attributes
    ----------
    problems
        Every problem that stops the file; the message names the first and adds the others.
    """

    def __init__(self, message: str, *, problems: list[Problem], **kwargs: Any) -> None:
        self.problems = problems
        super().__init__(message, **kwargs)


@dataclass
class ImportReport:
    """What :func:`import_file` did.

    Attributes
    ----------
    source, kind
        The file and the layer it was imported as.
    sha256
        The file's SHA-256 (the key of ``gridmap_imports``).
    rows_read
        Rows in the file.
    imported
        Rows added to the store.
    already_present
        Rows whose id was in the store already (left as they were).
    skipped
        1-based row number -> why the row was skipped (only with ``skip_bad``).
    skipped_problems
        The problems that made those rows bad (``rows`` zero-based, with their ``code``), for
        front ends that word the reasons themselves.
    already_imported
        True when this very file had been imported before: nothing was read or changed.
    problems
        Everything validation noticed that did not stop the import (warnings, notes).
    grid_flags
        Incidents only: how many rows got each grid flag (``inside``, ``snapped``,
        ``unassigned``...; ``no plan published`` when no plan was published).
    """

    source: str
    kind: str
    sha256: str
    rows_read: int = 0
    imported: int = 0
    already_present: int = 0
    skipped: dict[int, str] = field(default_factory=dict)
    skipped_problems: list[Problem] = field(default_factory=list)
    already_imported: bool = False
    problems: list[Problem] = field(default_factory=list)
    grid_flags: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_rows(self) -> list[int]:
        """The skipped rows, 1-based, in file order."""
        return sorted(self.skipped)


# ------------------------------------------------------------------------------- mappings


def _nyc_times(values: pd.Series) -> pd.Series:
    """NYC wall-clock times as local ISO text; text that does not parse is kept as it is."""
    text = values.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy()
    parsed = pd.to_datetime(text.mask(blank), format="mixed", errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(NYC_TIMEZONE).dt.tz_localize(None)
    local = parsed.dt.tz_localize(NYC_TIMEZONE, ambiguous=False, nonexistent="shift_forward")
    local = local.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    out = np.full(len(values), None, dtype=object)
    good = ~blank & local.notna().to_numpy()
    out[good] = [t.isoformat(timespec="seconds") for t in local[good]]
    unread = ~blank & ~good
    out[unread] = text[unread].to_numpy(dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def _column(data: pd.DataFrame, name: str, path: str) -> pd.Series:
    if name not in data.columns:
        raise InputError(
            f"the open311-nyc mapping needs a column {name!r}; the file has "
            f"{', '.join(map(str, data.columns))}.",
            file=path,
            fix="give an NYC 311 export (NYC Open Data '311 Service Requests'), or another "
            "mapping.",
        )
    return data[name]


def open311_nyc(data: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Map NYC 311 service requests onto gridmap incident columns (see the module docstring).

    Parameters
    ----------
    data
        The file as :func:`gridmap.io.read_layer` reads it (points from Longitude/Latitude).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``external_id``, ``category``, ``status``, ``priority``, ``reported_at``,
        ``closed_at``, ``source``, ``description``, ``address``, in the rows' order.
    """
    path = str(data.attrs.get("source", ""))

    def text(name: str) -> pd.Series:
        return _column(data, name, path).astype("string").str.strip().fillna("")

    key = text("Unique Key")
    kind = text("Complaint Type")
    descriptor = text("Descriptor")
    category = kind.map(NYC_CATEGORIES).fillna(NYC_DEFAULT_CATEGORY)
    category = descriptor.map(NYC_DESCRIPTOR_CATEGORIES).fillna(category)
    status_text = text("Status")
    status = status_text.str.lower().map(NYC_STATUSES)
    status = status.where(status.notna(), status_text)  # unknown: kept, refused by validation
    where = text("Location Type") if "Location Type" in data.columns else key.str.slice(0, 0)
    description = kind.where(descriptor == "", kind + ": " + descriptor)
    description = description.where(where == "", description + " (" + where + ")")
    address = text("Incident Address") if "Incident Address" in data.columns else key.str[:0]
    city = text("City") if "City" in data.columns else key.str[:0]
    address = address.where((city == "") | (address == ""), address + ", " + city)
    mapped = pd.DataFrame(
        {
            "id": ("NYC" + key).where(key != "", None),
            "external_id": key.where(key != "", None),
            "category": category,
            "status": status,
            "priority": "normal",
            "reported_at": _nyc_times(_column(data, "Created Date", path)),
            "closed_at": _nyc_times(_column(data, "Closed Date", path)),
            "source": "hotline",
            "description": description.where(description != "", None),
            "address": address.where(address != "", None),
        },
        index=data.index,
    ).astype(object)
    mapped = mapped.where(mapped.notna(), None)
    result = gpd.GeoDataFrame(mapped, geometry=data.geometry.values, crs=data.crs)
    result.attrs = dict(data.attrs)
    return result


#: Mapping presets by name (``mapping=`` of :func:`import_file`, ``--mapping`` of the CLI).
MAPPINGS: dict[str, Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]] = {
    "open311-nyc": open311_nyc,
}


def _apply_mapping(
    data: gpd.GeoDataFrame,
    mapping: str | Mapping[str, str] | Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] | None,
    path: str,
) -> gpd.GeoDataFrame:
    if mapping is None:
        return data
    attrs = dict(data.attrs)
    if isinstance(mapping, str):
        if mapping not in MAPPINGS:
            raise InputError(
                f"unknown mapping {mapping!r}.",
                file=path,
                fix=f"use one of {', '.join(MAPPINGS)}, or a {{column: file column}} mapping.",
            )
        result = MAPPINGS[mapping](data)
    elif isinstance(mapping, Mapping):
        missing = [source for source in mapping.values() if source not in data.columns]
        if missing:
            raise InputError(
                f"the mapping names columns the file does not have: {', '.join(missing)}.",
                file=path,
                fix=f"the file's columns are {', '.join(map(str, data.columns))}.",
            )
        renamed = {source: target for target, source in mapping.items()}
        keep = [c for c in data.columns if c not in mapping or c in renamed]
        result = data[keep].rename(columns=renamed)
    else:
        result = mapping(data)
    if len(result) != len(data):
        raise InputError(
            f"the mapping returned {len(result)} rows for {len(data)}.",
            file=path,
            fix="map rows one to one, in file order, so that row numbers stay right.",
        )
    result.attrs = attrs
    return result


# -------------------------------------------------------------------------------- imports


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _previous_import(con: sqlite3.Connection, sha256: str, kind: str) -> tuple | None:
    return con.execute(
        "SELECT source, rows, imported_at, actor FROM gridmap_imports "
        "WHERE sha256 = ? AND kind = ?",
        (sha256, kind),
    ).fetchone()


def _table_columns(con: sqlite3.Connection, table: str) -> dict[str, str]:
    """Column name -> declared type (upper case) of a table; empty if it does not exist."""
    return {row[1]: str(row[2]).upper() for row in con.execute(f'PRAGMA table_info("{table}")')}


def _geometry_type(con: sqlite3.Connection, table: str) -> str | None:
    row = con.execute(
        "SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
    ).fetchone()
    return None if row is None else str(row[0]).upper()


def _single_parts(
    geoms: np.ndarray, table_type: str | None, source: str, layer: str
) -> tuple[np.ndarray, list[Problem]]:
    """Unwrap one-part multi geometries for a single-type table; many-part ones are bad rows."""
    if table_type not in ("POINT", "POLYGON", "LINESTRING"):
        return geoms, []
    geoms = geoms.copy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    multi = present & np.isin(shapely.get_type_id(geoms), (4, 5, 6))
    parts = np.zeros(len(geoms), dtype=int)
    parts[multi] = shapely.get_num_geometries(geoms[multi])
    one = multi & (parts == 1)
    geoms[one] = shapely.get_geometry(geoms[one], 0)
    many = np.flatnonzero(multi & (parts > 1)).tolist()
    problems = []
    if many:
        kind = table_type.lower()
        problems.append(
            Problem(
                "error",
                f"{len(many)} feature(s) have several parts; each must be one {kind}.",
                f"split them into one feature per {kind}, each with its own id.",
                source,
                layer,
                many,
                "several_parts",
                {"kind": kind},
            )
        )
    return geoms, problems


def _bad_rows(
    problems: list[Problem], n: int
) -> tuple[list[Problem], list[Problem], list[Problem]]:
    """Split problems into file-level errors, row errors and the rest (warnings, notes)."""
    fatal, rows, other = [], [], []
    for problem in problems:
        valid_rows = [r for r in problem.rows if 0 <= r < n]
        if problem.severity == "error" and not valid_rows:
            fatal.append(problem)
        elif valid_rows and (problem.severity == "error" or problem.code == NO_GEOMETRY):
            rows.append(problem)
        else:
            other.append(problem)
    return fatal, rows, other


def _row_reason(problem: Problem) -> str:
    """A problem's message as the reason of one row ("62 of 70 rows have no x" -> "no x")."""
    message = problem.message.strip()
    counted = re.match(r"^\d+ of \d+ (?:rows|feature\(s\)) (?:have|has) (.+)$", message)
    if counted:
        message = counted.group(1).split(";")[0]
        message = re.sub(r" and will be left out\.?$", "", message)
    return message.rstrip(".")


def _reasons(row_problems: list[Problem]) -> dict[int, str]:
    reasons: dict[int, list[str]] = {}
    for problem in row_problems:
        for row in problem.rows:
            reasons.setdefault(row + 1, []).append(_row_reason(problem))
    return {row: "; ".join(messages) for row, messages in sorted(reasons.items())}


def _sql_value(value: Any, declared: str) -> Any:
    """A cell as SQLite stores it in a column of the declared type (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
        return stamp.isoformat(timespec="seconds")
    if isinstance(value, np.generic):
        value = value.item()
    if declared.startswith("INT"):
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if declared in ("REAL", "DOUBLE", "FLOAT"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    if declared in ("DATETIME", "DATE") and isinstance(value, str):
        try:
            return pd.Timestamp(value).isoformat(timespec="seconds")
        except ValueError:
            return value
    return value if isinstance(value, int | float | bytes) else str(value)


def _grow_extent(con: sqlite3.Connection, table: str, geoms: np.ndarray) -> None:
    """Widen the layer's extent in ``gpkg_contents`` to hold the new features."""
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(present):
        return
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(present))
    con.execute(
        "UPDATE gpkg_contents SET "
        "min_x = CASE WHEN min_x IS NULL OR min_x > ? THEN ? ELSE min_x END, "
        "min_y = CASE WHEN min_y IS NULL OR min_y > ? THEN ? ELSE min_y END, "
        "max_x = CASE WHEN max_x IS NULL OR max_x < ? THEN ? ELSE max_x END, "
        "max_y = CASE WHEN max_y IS NULL OR max_y < ? THEN ? ELSE max_y END "
        "WHERE table_name = ?",
        (minx, minx, miny, miny, maxx, maxx, maxy, maxy, table),
    )


def _read_for_import(
    path: Path,
    kind: str,
    layer: str | None,
    mapping: Any,
    read_options: Mapping[str, Any],
) -> gpd.GeoDataFrame:
    data = io.read_layer(path, layer, **read_options)
    source = str(path)
    if not isinstance(data, gpd.GeoDataFrame):
        raise InputError(
            f"{kind} need coordinates, and no coordinate columns were found.",
            file=source,
            fix="give lon/lat columns (--lon COL --lat COL) or a GeoJSON/GeoPackage.",
            code="no_coordinate_columns",
            params={"columns": [str(c) for c in data.columns]},
        )
    data = _apply_mapping(data, mapping, source)
    if kind == "incidents":
        attrs = dict(data.attrs)
        missing = {k: v for k, v in INCIDENT_DEFAULTS.items() if k not in data.columns}
        if missing:
            data = data.assign(**missing)
            data.attrs = attrs
            data.attrs["defaulted"] = list(missing)
            data.attrs["problems"] = [
                *attrs.get("problems", []),
                Problem(
                    "info",
                    "the file has no "
                    + ", ".join(
                        f"{k!r} column (" + ("left empty)" if v is None else f"all rows {v!r})")
                        for k, v in missing.items()
                    )
                    + ".",
                    "add the columns to the file to set them row by row.",
                    source,
                    attrs.get("layer"),
                    code="columns_defaulted",
                    params={"defaults": missing},
                ),
            ]
    return data


def import_file(
    ws: Workspace,
    path: str | os.PathLike[str],
    kind: str,
    *,
    skip_bad: bool = False,
    actor: str | None = None,
    mapping: str | Mapping[str, str] | Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None,
    layer: str | None = None,
    refuse_unassigned: bool = False,
    **read_options: Any,
) -> ImportReport:
    """Import the households, buildings or incidents of a file into the workspace store.

    Parameters
    ----------
    ws
        The workspace.
    path
        A CSV (lon/lat columns), GeoJSON or GeoPackage file.
    kind
        ``"households"``, ``"buildings"`` or ``"incidents"``.
    skip_bad
        Import the good rows of a file that has bad rows (listed in the report) instead of
        refusing the whole file.
    actor
        Who imports, for the audit log (default: the workspace's actor).
    mapping
        How the file's columns become gridmap's: a preset name (``"open311-nyc"``, see
        :data:`MAPPINGS`), a ``{gridmap column: file column}`` dict, or a function taking and
        returning the layer (rows one to one).
    layer
        The layer of a file with several.
    refuse_unassigned
        Incidents only, with a plan published: treat a point farther than the grid index's
        tolerance from every grid (flag ``unassigned``: outside the street) as a bad row,
        as the intake API does, instead of storing it without a grid.
    **read_options
        Passed to :func:`gridmap.io.read_layer`: ``crs``, ``lon``, ``lat``, ``x``, ``y``,
        ``coords`` (``gcj02``/``bd09``), ``encoding``.

    Returns
    -------
    ImportReport

    Raises
    ------
    BadRowsError
        When rows are bad and ``skip_bad`` is False: names the file, the rows, why and the fix.
        Nothing was imported.
    InputError
        When the file cannot be imported at all (unreadable, a required column missing, no
        CRS, personal-data columns).
    """
    if kind not in IMPORT_KINDS:
        raise InputError(
            f"cannot import {kind!r}.", fix=f"import one of {', '.join(IMPORT_KINDS)}."
        )
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError("the file does not exist.", file=source, fix="check the path.")
    if path.resolve() == ws.path.resolve():
        raise InputError(
            "this is the workspace itself.", file=source, fix="import another file into it."
        )
    if not _table_columns(ws.connect(), kind):
        raise InputError(
            f"the workspace has no {kind} layer to import into.",
            file=str(ws.path),
            fix=f"add a {kind!r} layer to the workspace GeoPackage first (e.g. with QGIS or "
            "gridmap.io.write_geopackage(..., mode='a')).",
        )
    sha = file_sha256(path)
    report = ImportReport(source, kind, sha)
    before = _previous_import(ws.connect(), sha, kind)
    if before is not None:
        report.already_imported = True
        report.rows_read = int(before[1])
        return report

    data = _read_for_import(path, kind, layer, mapping, read_options)
    n = len(data)
    report.rows_read = n
    layer_name = str(data.attrs.get("layer") or kind)
    checked, problems = validate_layer(data, kind, file=source, layer=layer_name)
    _file_columns_only(problems, data.attrs.get("defaulted", []))
    table_type = _geometry_type(ws.connect(), kind)
    geoms = np.asarray(checked.geometry.array, dtype=object) if n else np.array([], dtype=object)
    geoms, part_problems = _single_parts(geoms, table_type, source, layer_name)
    fatal, row_problems, other = _bad_rows([*problems, *part_problems], n)
    if fatal:
        first = fatal[0]
        more = "; ".join(p.message for p in fatal[1:])
        raise UnusableFileError(
            first.message + (f" Also: {more}" if more else "") + " Nothing was imported.",
            problems=fatal,
            file=source,
            layer=first.layer,
            fix=first.fix,
            code=first.code,
            params=first.params,
        )
    bad = sorted({r for p in row_problems for r in p.rows if 0 <= r < n})
    assignment = None
    if kind == "incidents" and n and ws.published() is not None:
        assignment = _assign_grids(ws, geoms, checked.crs, bad)
        if refuse_unassigned:
            outside = _unassigned(ws, assignment, source, layer_name)
            row_problems.extend(outside)
            bad = sorted({*bad, *(r for p in outside for r in p.rows)})
    if bad and not skip_bad:
        reasons = "; ".join(f"{_row_reason(p)} ({format_rows(p.rows)})" for p in row_problems)
        shown = [
            Problem("error", _row_reason(p) + ".", p.fix, p.file, p.layer, p.rows, p.code, p.params)
            for p in row_problems
        ]
        raise BadRowsError(
            f"{len(bad)} of {n} rows cannot be imported, so nothing was imported: {reasons}.",
            problems=shown,
            file=source,
            rows=bad,
            fix="correct these rows, or import with --skip-bad (skip_bad=True) to import the "
            "good rows and skip these.",
            code="bad_rows",
            params={"bad": len(bad), "rows": n},
        )
    report.skipped = _reasons(row_problems) if bad else {}
    report.skipped_problems = row_problems if bad else []
    report.problems = other
    keep = np.ones(n, dtype=bool)
    keep[bad] = False
    good = checked.loc[keep].copy()
    good_geoms = geoms[keep]
    if len(good):
        good = gpd.GeoDataFrame(
            good.drop(columns=[checked.geometry.name]),
            geometry=gpd.GeoSeries(good_geoms, crs=checked.crs).to_crs(_WGS84).values,
            crs=_WGS84,
        )
    stamp = now()
    who = actor or ws.actor
    codes = flags = None
    if kind == "incidents" and len(good):
        if assignment is not None:
            codes, flags = assignment.codes[keep], assignment.flag_names()[keep]
            names, counts = np.unique(flags.astype(str), return_counts=True)
            report.grid_flags = {str(k): int(v) for k, v in zip(names, counts, strict=True)}
        else:
            report.grid_flags = {"no plan published": len(good)}
    with ws.transaction() as con:
        if _previous_import(con, sha, kind) is not None:  # imported meanwhile by someone else
            report.already_imported = True
            report.skipped, report.problems, report.grid_flags = {}, [], {}
            return report
        columns = _table_columns(con, kind)
        existing = {str(r[0]) for r in con.execute(f'SELECT id FROM "{kind}"')}
        ids = good["id"].astype(str).to_numpy() if len(good) else np.array([], dtype=object)
        new = ~np.isin(ids, list(existing)) if len(ids) else np.array([], dtype=bool)
        report.already_present = int((~new).sum())
        rows = good.loc[new] if len(good) else good
        fields = [c for c in rows.columns if c in columns and c not in ("fid", "geom")]
        extra: dict[str, list[Any]] = {}
        if kind == "incidents":
            chosen = np.flatnonzero(new)
            extra = {
                "updated_at": [stamp] * len(chosen),
                "handling_level": ["grid"] * len(chosen),
                "grid_code": [None if codes is None else codes[i] for i in chosen],
                "grid_flag": [None if flags is None else str(flags[i]) for i in chosen],
            }
            fields = [f for f in fields if f not in extra]
            extra = {k: v for k, v in extra.items() if k in columns}
        names = ["geom", *fields, *extra]
        values = [
            [gpkg_blob(geom)]
            + [_sql_value(v, columns[f]) for f, v in zip(fields, record, strict=True)]
            + [extra[k][i] for k in extra]
            for i, (geom, record) in enumerate(
                zip(rows.geometry.to_numpy(), rows[fields].itertuples(index=False), strict=True)
            )
        ]
        quoted = ", ".join(f'"{c}"' for c in names)
        marks = ", ".join("?" * len(names))
        verb = "INSERT OR IGNORE" if kind == "incidents" else "INSERT"
        con.executemany(f'{verb} INTO "{kind}" ({quoted}) VALUES ({marks})', values)
        report.imported = len(values)
        if kind == "incidents" and values:
            status_at = names.index("status") if "status" in names else None
            con.executemany(
                "INSERT INTO gridmap_incident_events (incident_id, from_status, to_status, at, "
                "actor, note) VALUES (?, NULL, ?, ?, ?, ?)",
                [
                    (row[names.index("id")], "reported" if status_at is None else row[status_at],
                     stamp, who, f"import {path.name}")
                    for row in values
                ],
            )  # fmt: skip
        if values:
            _grow_extent(con, kind, rows.geometry.to_numpy())
        con.execute(
            "INSERT INTO gridmap_imports (sha256, kind, source, rows, imported_at, actor) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sha, kind, source, n, stamp, who),
        )
        ws.audit(
            con,
            "import",
            kind,
            path.name,
            {
                "source": source, "sha256": sha, "rows": n, "imported": report.imported,
                "already_present": report.already_present,
                "skipped_rows": report.skipped_rows[:200], "skipped": len(report.skipped),
                "mapping": mapping if isinstance(mapping, str) else None,
            },
            who,
        )  # fmt: skip
    if kind == "households":
        report.problems.extend(_dangling_buildings(ws, good, source, layer_name, keep))
    if kind in ("households", "buildings"):
        report.problems.extend(_outside_street(ws, good, source, layer_name, keep))
    return report


def _file_columns_only(problems: list[Problem], defaulted: list[str]) -> None:
    """Name only the file's own columns in the params of missing-column problems."""
    for problem in problems:
        if problem.code == "missing_column" and defaulted:
            for name in ("columns", "near"):
                values = problem.params.get(name, [])
                problem.params[name] = [c for c in values if c not in defaulted]


def _assign_grids(ws: Workspace, geoms: np.ndarray, crs: Any, bad: list[int]) -> Any:
    """The published plan's grid of every row (rows already bad are left ``invalid``)."""
    usable = np.ones(len(geoms), dtype=bool)
    usable[bad] = False
    points = np.where(usable, geoms, None)
    return ws.grid_index().assign_points(gpd.GeoSeries(points, crs=crs))


def _unassigned(ws: Workspace, assignment: Any, source: str, layer: str) -> list[Problem]:
    """A bad-row problem naming the incidents farther than the tolerance from every grid."""
    far = np.flatnonzero(assignment.flag_names() == "unassigned")
    if not far.size:
        return []
    tolerance = ws.grid_index().tolerance
    distances = [round(float(d), 1) for d in assignment.distance_m[far]]
    return [
        Problem(
            "error",
            f"{far.size} of {len(assignment.flags)} rows have points outside the street, farther "
            f"than {tolerance:g} m from every grid (up to {max(distances):,.0f} m).",
            "check their coordinates (WGS84 lon/lat, or the coordinate system they were "
            "given in) or report them to the street that holds the place.",
            source,
            layer,
            far.tolist(),
            "outside_grids",
            {"tolerance": tolerance, "distances": distances},
        )
    ]


def _outside_street(
    ws: Workspace, good: gpd.GeoDataFrame, source: str, layer: str, keep: np.ndarray
) -> list[Problem]:
    """A warning naming imported features that lie outside (or across) the street boundary."""
    if not len(good) or not _table_columns(ws.connect(), "street"):
        return []
    parts = [_blob_geometry(r[0]) for r in ws.connect().execute("SELECT geom FROM street")]
    parts = [g for g in parts if g is not None and not g.is_empty]
    if not parts:
        return []
    street = shapely.union_all(parts).buffer(STREET_TOLERANCE_DEG)
    geoms = good.geometry.to_numpy()
    outside = ~shapely.covers(street, geoms)
    if not outside.any():
        return []
    return [
        Problem(
            "warning",
            f"{outside.sum()} imported feature(s) lie outside or across the street boundary; "
            "no grid will count them.",
            "check their coordinates (CRS, --coords gcj02/bd09) or the street boundary.",
            source,
            layer,
            np.flatnonzero(keep)[outside].tolist(),
            "outside_street",
            {"count": int(outside.sum())},
        )
    ]


def _dangling_buildings(
    ws: Workspace, good: pd.DataFrame, source: str, layer: str, keep: np.ndarray
) -> list[Problem]:
    """A warning naming households whose ``building_id`` is not a building of the store."""
    if "building_id" not in good.columns or not len(good):
        return []
    known = {str(r[0]) for r in ws.connect().execute("SELECT id FROM buildings")}
    refs = good["building_id"].astype("string")
    dangling = (refs.notna() & ~refs.isin(known)).fillna(False).to_numpy()
    if not dangling.any():
        return []
    rows = np.flatnonzero(keep)[dangling].tolist()
    return [
        Problem(
            "warning",
            "building_id refers to buildings that are not in the workspace; these households "
            "count in grids by their location only.",
            "import the buildings too, or correct building_id.",
            source,
            layer,
            rows,
            "unknown_buildings",
        )
    ]


# -------------------------------------------------------------------------------- exports


def _read_table(ws: Workspace, table: str, columns: list[str] | None = None) -> gpd.GeoDataFrame:
    """A layer of the store as committed now (EPSG:4326), straight from SQLite."""
    con = ws.connect()
    have = _table_columns(con, table)
    if not have:
        return gpd.GeoDataFrame({c: [] for c in columns or []}, geometry=[], crs=_WGS84)
    wanted = [c for c in (columns or have) if c in have and c not in ("fid", "geom")]
    quoted = ", ".join(f'"{c}"' for c in wanted)
    rows = con.execute(
        f'SELECT geom{", " + quoted if quoted else ""} FROM "{table}" ORDER BY fid'
    ).fetchall()
    frame = pd.DataFrame([r[1:] for r in rows], columns=wanted)
    geoms = [_blob_geometry(r[0]) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=_WGS84).values, crs=_WGS84)


def _plan_id(ws: Workspace, plan_id: int | None) -> int:
    if plan_id is not None:
        return ws.plan(int(plan_id)).plan_id
    record = ws.published()
    if record is None:
        raise InputError(
            "no plan is published in this workspace, so there are no grids to export.",
            file=str(ws.path),
            fix="name a plan (--plan ID; list them with `gridmap plans WORKSPACE list`) or "
            "publish one.",
        )
    return record.plan_id


def _grid_of_buildings(
    ws: Workspace, plan_id: int, index: GridIndex, buildings: gpd.GeoDataFrame
) -> pd.Series:
    """Building id -> grid code: the plan's assignments, else the grid holding most of it."""
    assigned = dict(
        ws.connect()
        .execute("SELECT building_id, code FROM gridmap_assignments WHERE plan_id = ?", (plan_id,))
        .fetchall()
    )
    ids = buildings["id"].astype(str)
    codes = ids.map(assigned).to_numpy(dtype=object)
    missing = pd.isna(codes)
    geoms = buildings.geometry.to_numpy()
    usable = missing & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if usable.any():
        found, _ = index.assign_polygons(buildings.loc[usable])
        codes[usable] = found
    return pd.Series(codes, index=ids.to_numpy(), dtype=object)


def aggregates(ws: Workspace, plan_id: int | None = None) -> gpd.GeoDataFrame:
    """Per-grid counts of what the store holds now, over the grids of a plan.

    Households count in the grid of their building (the plan's building assignments; a
    building imported later goes to the grid holding most of it), or of their location when
    the building is unknown.  Incidents count in the grid that holds them.

    Parameters
    ----------
    ws
        The workspace.
    plan_id
        The plan (default: the published one).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per grid (EPSG:4326): ``code``, ``community``, ``households``, ``persons``,
        ``buildings``, ``incidents``, ``incidents_open``, ``median_hours_to_close`` (of
        ``closed`` incidents, ``closed_at - reported_at``) and one ``status_<status>`` and
        ``category_<category>`` count per schema value.
    """
    pid = _plan_id(ws, plan_id)
    grids = ws.plan_grids(pid)
    index = GridIndex(grids)
    codes = grids["code"].astype(str)
    out = pd.DataFrame({"code": codes.to_numpy(), "community": grids["community"].to_numpy()})

    def count(values: Any, weights: Any = None) -> np.ndarray:
        series = pd.Series(np.ones(len(values)) if weights is None else weights, dtype=float)
        totals = series.groupby(pd.Series(values, dtype=object).to_numpy()).sum()
        return codes.map(totals).fillna(0).to_numpy()

    buildings = _read_table(ws, "buildings", ["id"])
    building_grid = _grid_of_buildings(ws, pid, index, buildings)
    out["buildings"] = count(building_grid.to_numpy()).astype(int)
    households = _read_table(ws, "households", ["id", "persons", "building_id"])
    by_building = (
        households["building_id"].astype(str).map(building_grid).to_numpy(dtype=object)
        if len(households)
        else np.array([], dtype=object)
    )
    lost = pd.isna(by_building)
    if lost.any():
        by_building[lost] = index.assign_points(households.loc[lost]).codes
    persons = pd.to_numeric(households.get("persons"), errors="coerce")
    out["households"] = count(by_building).astype(int)
    out["persons"] = count(by_building, persons.fillna(0).to_numpy()).astype(int)
    incidents = _read_table(ws, "incidents", ["status", "category", "reported_at", "closed_at"])
    where = index.assign_points(incidents).codes if len(incidents) else np.array([], object)
    out["incidents"] = count(where).astype(int)
    status = incidents["status"].astype("string")
    out["incidents_open"] = count(where[status.isin(OPEN_STATUSES).fillna(False).to_numpy()])
    out["incidents_open"] = out["incidents_open"].astype(int)
    hours = (
        pd.to_datetime(incidents["closed_at"], errors="coerce", format="mixed")
        - pd.to_datetime(incidents["reported_at"], errors="coerce", format="mixed")
    ).dt.total_seconds() / 3600
    timed = hours.notna().to_numpy() & (status == "closed").fillna(False).to_numpy()
    medians = pd.Series(hours[timed].to_numpy()).groupby(where[timed]).median()
    out["median_hours_to_close"] = codes.map(medians).to_numpy(dtype=float).round(2)
    for name in INCIDENT_STATUSES:
        out[f"status_{name}"] = count(where[(status == name).fillna(False).to_numpy()]).astype(int)
    category = incidents["category"].astype("string")
    for name in INCIDENT_CATEGORIES:
        chosen = (category == name).fillna(False).to_numpy()
        out[f"category_{name}"] = count(where[chosen]).astype(int)
    return gpd.GeoDataFrame(out, geometry=grids.geometry.values, crs=_WGS84)


def export(
    ws: Workspace,
    what: str,
    path: str | os.PathLike[str],
    *,
    plan_id: int | None = None,
    include_households: bool = False,
) -> int:
    """Write grids, per-grid aggregates, incidents or households to a file.

    Incidents' times are written as ISO 8601 text with the street's UTC offset, to the second
    (``2026-03-01T08:00:00+08:00``, :func:`gridmap.incidents.iso_with_offset`), in every
    format, as the API gives them; importing such a file stores them as local times again.

    Parameters
    ----------
    ws
        The workspace.
    what
        ``"grids"`` (of a plan), ``"aggregates"`` (per-grid counts, see :func:`aggregates`),
        ``"incidents"`` (with their ``grid_code``) or ``"households"`` (only with
        ``include_households``; with the grid of the plan when one is published or named).
    path
        ``.geojson``/``.json`` (RFC 7946: lon/lat, counter-clockwise exterior rings, no
        ``crs`` member), ``.gpkg`` (one layer named ``what``) or ``.csv``; replaced
        atomically.
    plan_id
        The plan whose grids are used (default: the published one).
    include_households
        Household-level data is personal: it is written only when asked for explicitly.

    Returns
    -------
    int
        The number of features written.

    Raises
    ------
    InputError
        For an unknown ``what`` or extension, households without ``include_households``, no
        plan to take grids from, or a target that is the workspace itself.
    """
    if what not in EXPORTS:
        raise InputError(f"cannot export {what!r}.", fix=f"export one of {', '.join(EXPORTS)}.")
    target = Path(path)
    if target.suffix.lower() not in io.WRITE_FORMATS:
        raise InputError(
            "unknown output format.",
            file=str(path),
            fix=f"end the file name in one of {', '.join(io.WRITE_FORMATS)}.",
        )
    if target.exists() and target.resolve() == ws.path.resolve():
        raise InputError(
            "this is the workspace itself; exporting would replace it.",
            file=str(path),
            fix="write to another file.",
        )
    if what == "households" and not include_households:
        raise InputError(
            "household-level data is personal and is exported only when asked for explicitly.",
            file=str(path),
            fix="pass --households (include_households=True) if you need it, or export the "
            "per-grid aggregates instead.",
        )
    if what == "grids":
        data = ws.plan_grids(_plan_id(ws, plan_id))
    elif what == "aggregates":
        data = aggregates(ws, plan_id)
    elif what == "incidents":
        data = _read_table(ws, "incidents")
        for column in TIME_COLUMNS:  # local times with the street's offset, as the API has them
            if column in data.columns:
                data[column] = times_with_offset(data[column])
        first = [c for c in ("id", "grid_code", "grid_flag") if c in data.columns]
        data = data[[*first, *(c for c in data.columns if c not in first)]]
    else:
        data = _read_table(ws, "households")
        if "building_id" in data.columns and (plan_id is not None or ws.published() is not None):
            pid = _plan_id(ws, plan_id)
            index = GridIndex(ws.plan_grids(pid))
            buildings = _read_table(ws, "buildings", ["id"])
            grid = _grid_of_buildings(ws, pid, index, buildings)
            codes = data["building_id"].astype(str).map(grid).to_numpy(dtype=object)
            lost = pd.isna(codes)
            if lost.any():
                codes[lost] = index.assign_points(data.loc[lost]).codes
            data = data.assign(grid_code=codes)
    io.write_layer(data, target, layer=what)
    return len(data)


# ----------------------------------------------------------------------------- plan files


class _FilePlan:
    """What :meth:`gridmap.store.Workspace.save_plan` needs from a plan, built from a file."""

    def __init__(
        self,
        grids: gpd.GeoDataFrame,
        codes: pd.Series,
        parameters: dict[str, Any],
        summary: dict[str, Any],
    ) -> None:
        self._grids = grids
        self._codes = codes
        self.parameters = parameters
        self.summary = summary

    def grids_wgs84(self) -> gpd.GeoDataFrame:
        return self._grids

    def building_codes(self) -> pd.Series:
        return self._codes


def save_plan_file(
    ws: Workspace,
    path: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    note: str = "",
    actor: str | None = None,
) -> int:
    """Keep a plan file as a new draft plan of the workspace.

    Parameters
    ----------
    ws
        The workspace.
    path
        A plan written by ``gridmap partition``/``redraw`` (its building assignments and
        metrics are kept) or any grid polygons (GeoJSON, GeoPackage, Shapefile): buildings
        then go to the grid holding most of them and the counts are measured here.
    id_column
        The column naming the grids (default ``code``).
    note, actor
        Kept with the plan and in the audit log.

    Returns
    -------
    int
        The new draft's ``plan_id`` (publish it with :meth:`Workspace.publish`).
    """
    plan = read_plan(path, id_column=id_column)
    grids = plan.grids.to_crs(_WGS84) if plan.grids.crs is not None else plan.grids
    if grids.crs is None:
        raise InputError("the grids have no CRS.", file=str(path), fix="give the file a CRS.")
    grids = grids.reset_index(drop=True)
    index = GridIndex(grids)
    buildings = _read_table(ws, "buildings", ["id"])
    if plan.assignments is not None and len(plan.assignments):
        codes = plan.assignments.astype(str)
    else:
        found, _ = index.assign_polygons(buildings) if len(buildings) else ([], [])
        codes = pd.Series(found, index=buildings["id"].astype(str).to_numpy(), dtype=object)
        codes = codes.dropna()
    households = _read_table(ws, "households", ["persons", "building_id"])
    grid_of = households["building_id"].astype(str).map(codes)
    persons = pd.to_numeric(households["persons"], errors="coerce").fillna(0)
    code_text = grids["code"].astype(str)
    table = grids.assign(code=code_text)
    table["group"] = grids["group"] if "group" in grids.columns else ""
    measured = {
        "households": grid_of.value_counts(),
        "persons": persons.groupby(grid_of.to_numpy()).sum(),
        "buildings": codes.value_counts(),
    }
    for name, values in measured.items():
        if name not in grids.columns or grids[name].isna().all():
            table[name] = code_text.map(values).fillna(0).astype(int).to_numpy()
    metric = grids.geometry.to_crs(local_metric_crs(grids))
    if "area_m2" not in grids.columns:
        table["area_m2"] = metric.area.to_numpy()
    if "polsby_popper" not in grids.columns:
        length = metric.length.to_numpy()
        table["polsby_popper"] = np.where(
            length > 0, 4 * np.pi * metric.area.to_numpy() / np.maximum(length, 1e-9) ** 2, np.nan
        )
    parameters = {**plan.info.get("parameters", {}), "source": str(path)}
    summary = dict(plan.info.get("summary", {}))
    return ws.save_plan(_FilePlan(table, codes, parameters, summary), note=note, actor=actor)
