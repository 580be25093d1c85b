"""The Exports page: grids, per-grid aggregates and incidents as GeoJSON, GeoPackage or CSV.

``GET /exports`` lists the downloads; ``GET /exports/<what>.<fmt>`` streams one:

* ``what``: ``grids`` (of the published plan), ``aggregates`` (per-grid counts,
  :func:`gridmap.transfer.aggregates`), ``incidents`` (with their grid; filtered by the query's
  ``status``, ``category``, ``grid``, ``level``, ``since``, ``until`` as on the page) or
  ``households`` (personal data: editors only, refused with 403 and not shown to viewers);
* ``fmt``: ``geojson`` (RFC 7946: lon/lat, counter-clockwise exteriors, no ``crs``), ``gpkg``
  or ``csv``.

Files are written by :func:`gridmap.transfer.export` / :func:`gridmap.io.write_layer` into a
temporary folder that is removed before the answer is sent (the open file streams on).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Blueprint, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from gridmap import io, transfer
from gridmap.schema import INCIDENT_CATEGORIES, INCIDENT_STATUSES, LOCAL_TIMEZONE
from web import workspace as store
from web.api_incidents import filtered_incidents, incident_filters
from web.auth import current_account, require
from web.errors import ApiError

bp = Blueprint("exports", __name__, url_prefix="/exports")

#: Download formats: extension of the file written and media type of the answer.
FORMATS: dict[str, tuple[str, str]] = {
    "geojson": (".geojson", "application/geo+json"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
    "csv": (".csv", "text/csv"),
}

#: What can be downloaded, in the page's order; households need the editor role.
DATASETS = ("grids", "aggregates", "incidents", "households")

#: Incident filters the page offers (and the download keeps).
FILTERS = ("status", "category", "since", "until")


def _check(what: str, fmt: str) -> None:
    if what not in DATASETS or fmt not in FORMATS:
        raise ApiError(
            404,
            f"there is no export {what}.{fmt}.",
            fix=f"ask for one of {', '.join(DATASETS[:3])} as .geojson, .gpkg or .csv "
            "(see the Exports page).",
        )
    account = current_account()
    if what == "households" and (account is None or not account.may("editor")):
        raise ApiError(
            403,
            "household-level data is personal: only editors may export it.",
            fix="export the per-grid aggregates instead, or ask an editor.",
        )


def _incidents_frame() -> Any:
    """The filtered incidents laid out as the store exports them (times as ISO text)."""
    _checked_filters()  # unknown values, bad or reversed dates: 400 rather than an empty file
    frame = filtered_incidents(incident_filters())
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].map(
                lambda t: None if pd.isna(t) else t.isoformat(timespec="seconds")
            )
    first = [c for c in ("id", "grid_code", "grid_flag") if c in frame.columns]
    return frame[[*first, *(c for c in frame.columns if c not in first)]]


def _filename(what: str, fmt: str) -> str:
    layer = store.outline()["street"]
    street = str(layer.iloc[0]["code"]) if layer is not None and "code" in layer else "street"
    if what == "incidents":
        since, until = request.args.get("since"), request.args.get("until")
        span = f"-{since or 'start'}_{until or 'now'}" if since or until else ""
        name = f"{street}-incidents{span}"
    else:
        name = f"{street}-{what}-plan-v{store.published().version}"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return f"{safe}.{fmt}"


@bp.get("/<what>.<fmt>")
@require("viewer")
def download(what: str, fmt: str) -> ResponseReturnValue:
    """One export as a file download (``Content-Disposition: attachment``)."""
    _check(what, fmt)
    ws = store.workspace()
    record = store.published()
    suffix, mimetype = FORMATS[fmt]
    folder = Path(tempfile.mkdtemp(prefix="gridmap-export-"))
    try:
        target = folder / f"{what}{suffix}"
        if what == "incidents":
            io.write_layer(_incidents_frame(), target, layer="incidents")
        else:
            transfer.export(
                ws, what, target, plan_id=record.plan_id,
                include_households=what == "households",
            )  # fmt: skip
        handle = target.open("rb")  # stays readable after the folder is removed
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    response = send_file(
        handle, mimetype=mimetype, as_attachment=True, download_name=_filename(what, fmt)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _count_incidents(filters: dict[str, list[str] | None]) -> int:
    """How many incidents the filters keep (counted in SQL, for the page)."""
    where, params = [], []
    for column, name in (("status", "status"), ("category", "category")):
        values = filters.get(name)
        if values:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    for name, op in (("since", ">="), ("until", "<")):
        values = filters.get(name)
        if values:
            stamp = pd.Timestamp(values[-1])
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
            where.append(f"reported_at {op} ?")
            params.append(stamp.isoformat(timespec="seconds"))
    sql = "SELECT count(*) FROM incidents" + (f" WHERE {' AND '.join(where)}" if where else "")
    return int(store.workspace().connect().execute(sql, params).fetchone()[0])


def _count_households() -> int:
    con = store.workspace().connect()
    if con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'households'").fetchone()[0]:
        return int(con.execute("SELECT count(*) FROM households").fetchone()[0])
    return 0


def _checked_filters() -> dict[str, list[str] | None]:
    """The page's incident filters, refused with 400 when a value is unknown or not a date."""
    filters = {name: value for name, value in incident_filters().items() if name in FILTERS}
    for name, allowed in (("status", INCIDENT_STATUSES), ("category", INCIDENT_CATEGORIES)):
        unknown = [v for v in filters.get(name) or () if v not in allowed]
        if unknown:
            raise ApiError(
                400, f"unknown {name} {unknown[0]!r}.", fix=f"use one of: {', '.join(allowed)}."
            )
    for name in ("since", "until"):
        for value in filters.get(name) or ():
            try:
                pd.Timestamp(value)
            except (ValueError, TypeError):
                raise ApiError(
                    400, f"{name}={value!r} is not a date.", fix="give a date like 2025-12-01."
                ) from None
    since, until = ((filters.get(name) or [None])[-1] for name in ("since", "until"))
    if since and until and pd.Timestamp(since) >= pd.Timestamp(until):
        raise ApiError(
            400,
            f"since={since} is not before until={until}: no incident could match.",
            fix="give since before until (until itself is left out: 'up to, not including').",
        )
    return filters


@bp.get("")
@require("viewer")
def page() -> ResponseReturnValue:
    """The Exports page: every download in three formats, incidents with the chosen filters."""
    record = store.published()
    filters = _checked_filters()
    query = {name: ",".join(values) for name, values in filters.items() if values}
    account = current_account()
    datasets = [d for d in DATASETS if d != "households" or (account and account.may("editor"))]
    links = {
        (what, fmt): url_for(
            "exports.download", what=what, fmt=fmt, **(query if what == "incidents" else {})
        )
        for what in datasets
        for fmt in FORMATS
    }
    counts = {
        "grids": len(store.grid_table(record.plan_id)),
        "incidents": _count_incidents(filters),
        "households": _count_households() if "households" in datasets else 0,
    }
    counts["aggregates"] = counts["grids"]
    return render_template(
        "exports.html",
        plan=record,
        datasets=datasets,
        formats=list(FORMATS),
        links=links,
        counts=counts,
        filters={name: (values or [""])[-1] for name, values in filters.items()},
        statuses=INCIDENT_STATUSES,
        categories=INCIDENT_CATEGORIES,
    )
