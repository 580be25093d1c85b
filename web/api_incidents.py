"""The JSON API for the street, plan runs and publishing, and incidents (intake and lifecycle).

Endpoints (all under ``/api``; errors are JSON ``{"error", "message", "fix"}``):

``GET /api/street``
    The street: name, code, district, its communities with households and grids, bounds.
``GET /api/plans/<id>``
    One plan version with its parameters, metrics and per-grid table.
``POST /api/plans``
    Run a partition (:func:`gridmap.plan.make_plan`) and keep it as a draft (editor).
``POST /api/plans/<id>/publish``, ``POST /api/plans/<id>/archive``
    Publish a draft (open incidents move to the new grids) or archive one (editor).
``GET /api/incidents``
    Incidents with filters and paging, as JSON or a GeoJSON FeatureCollection.
``GET /api/incidents/<id>``
    One incident with its status history and escalations.
``POST /api/incidents``
    Report an incident at a point: the published plan's grid is found at intake (editors and
    ``intake`` tokens).  A point farther than the index's tolerance from every grid is refused
    with 422 and its distance: the store would keep it ``unassigned``, which nobody handles.
``POST /api/incidents/<id>/transition``, ``POST /api/incidents/<id>/escalate``
    Move an incident through its lifecycle or hand it one level up (editor); a move the current
    status does not allow is refused with 409 naming the allowed next statuses.

Every change is written to the workspace's audit log under the logged-in account's name (or the
API token's ``token:<label>``).

Refusals are in English, or in Chinese for a request in Chinese (``Accept-Language: zh``, or
the pages' language switch, whose page scripts call the API): :func:`web.messages.refusal`.
Field names and values stay as the API takes them (``lat``, ``in_progress``).  The lifecycle's
refusals (409, an unknown status) keep the engine's English text, which names the statuses a
client may send.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from gridmap import incidents as engine
from gridmap.errors import GridmapError
from gridmap.schema import (
    INCIDENT_CATEGORIES,
    INCIDENT_PRIORITIES,
    INCIDENT_SOURCES,
    LAYERS,
    LOCAL_TIMEZONE,
)
from gridmap.store import HANDLING_LEVELS, INCIDENT_TRANSITIONS, StoreError
from web import workspace as store
from web.api import API_DECIMALS, _plain
from web.auth import current_account, require
from web.errors import ApiError, geojson_response
from web.messages import refusal

bp = Blueprint("api_incidents", __name__, url_prefix="/api")

#: Incidents per page of ``GET /api/incidents``: the default and the most allowed.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

#: Columns of an incident in the API, in order (times are ISO 8601 with the local offset).
INCIDENT_FIELDS = ("id", "category", "status", "priority", "source", "description", "address",
                   "handling_level", "grid_code", "grid_flag", "external_id")  # fmt: skip
TIME_FIELDS = engine.TIME_COLUMNS

#: Grid properties of ``GET /api/plans/<id>``.
PLAN_GRID_FIELDS = ("code", "community", "households", "persons", "buildings", "area_m2",
                    "polsby_popper")  # fmt: skip

#: The ``source`` of an incident taken in through the web service (the JSON API, Open311)
#: when the client names none: the intake channel is the web, whoever calls it.
DEFAULT_SOURCE = "web"

#: What a client's own incident id may look like.
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

#: One partition run at a time per process (each takes a few seconds of CPU).
_RUN_LOCK = threading.Lock()


# ------------------------------------------------------------------ helpers


def actor() -> str:
    """The name the audit log records for the current request's account."""
    account = current_account()
    return account.name if account is not None else "web"


def body() -> dict[str, Any]:
    """The request's fields: a JSON object, or form fields; 400 for JSON that is not an object."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise refusal(
                400,
                "the request body is not a JSON object.",
                "send a JSON object, e.g. {example}, with Content-Type: application/json.",
                example='{"status": "accepted"}',
            )
        return data
    return request.form.to_dict()


def iso(value: Any) -> str | None:
    """A stored local wall-clock time as ISO 8601 with its UTC offset (``None`` when empty).

    The engine's :func:`gridmap.incidents.iso_with_offset`: the API, the lifecycle events and
    the exports write times the same way.
    """
    return engine.iso_with_offset(value)


def incident_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One incident as JSON: its fields, times with offsets, ``lon``/``lat`` (WGS84)."""
    record = {name: _plain(row.get(name)) for name in INCIDENT_FIELDS}
    for name in TIME_FIELDS:
        record[name] = iso(row.get(name))
    point = row.get("geometry")
    empty = point is None or point.is_empty
    record["lon"] = None if empty else round(point.x, API_DECIMALS)
    record["lat"] = None if empty else round(point.y, API_DECIMALS)
    return record


def _values(name: str) -> list[str] | None:
    """A filter given once, several times or comma-separated (``None`` when not given)."""
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",")]
    values = [v for v in values if v]
    return values or None


def _count(name: str, default: int, largest: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    if largest is None:
        fix = "give {name} as a whole number >= 0."
    else:
        fix = "give {name} as a whole number from 0 to {largest}."
    try:
        value = int(raw)
    except ValueError:
        raise refusal(
            400, "{name}={value} is not a whole number.", fix, name=name, value=repr(raw),
            largest=largest,
        ) from None  # fmt: skip
    if value < 0 or (largest is not None and value > largest):
        raise refusal(
            400, "{name}={value} is out of range.", fix, name=name, value=value, largest=largest
        )
    return value


def check_category(category: Any) -> str:
    """``category`` when it is an incident category; else 400 naming the allowed ones."""
    fix = "use one of: {allowed} (GET /open311/v2/services.json)."
    allowed = ", ".join(INCIDENT_CATEGORIES)
    if category is None or not str(category).strip():
        raise refusal(400, "{name} is missing.", fix, name="category", allowed=allowed)
    if category not in INCIDENT_CATEGORIES:
        raise refusal(
            400, "unknown {name} {value}.", fix, name="category", value=repr(category),
            allowed=allowed,
        )  # fmt: skip
    return str(category)


def _engine_filters(args: Mapping[str, list[str] | None]) -> dict[str, Any]:
    """The keywords of :func:`gridmap.incidents.incidents` for query-string filters."""
    for category in args.get("category") or ():
        check_category(category)
    since, until = args.get("since"), args.get("until")
    return {
        "status": args.get("status"),
        "category": args.get("category"),
        "grid": args.get("grid"),
        "level": args.get("level"),
        "since": since[-1] if since else None,
        "until": until[-1] if until else None,
    }


def filtered_incidents(args: Mapping[str, list[str] | None]) -> gpd.GeoDataFrame:
    """Incidents matching filters, oldest first, laid out for a file: times as offset text.

    ``args`` maps ``status``, ``category``, ``grid``, ``level``, ``since``, ``until`` to lists
    of values (``None``: no filter; dates as text).  Unknown values are refused with 400.  The
    time columns are ISO 8601 text with the street's UTC offset, as
    :func:`gridmap.transfer.export` writes them (``2026-03-01T08:00:00+08:00``).
    """
    frame = engine.incidents(store.workspace(), **_engine_filters(args))
    for column in TIME_FIELDS:
        if column in frame.columns:
            frame[column] = engine.times_with_offset(frame[column])
    return frame


def incident_filters() -> dict[str, list[str] | None]:
    """The incident filters of the query string (see :func:`filtered_incidents`)."""
    names = ("status", "category", "grid", "level", "since", "until")
    return {name: _values(name) for name in names}


def _coordinate(fields: Mapping[str, Any], names: tuple[str, ...], limit: float) -> float:
    fix = "give lat and long (or lon) in decimal degrees (WGS84), e.g. lat=30.65, long=104.06."
    raw = next((fields[n] for n in names if fields.get(n) not in (None, "")), None)
    if raw is None:
        raise refusal(400, "{name} is missing.", fix, name=names[0])
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise refusal(
            400, "{name}={value} is not a number.", fix, name=names[0], value=repr(raw)
        ) from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise refusal(
            400, "{name}={value} is outside -{limit:g}..{limit:g} degrees.", fix,
            name=names[0], value=raw, limit=limit,
        )  # fmt: skip
    return value


def _new_id() -> str:
    stamp = pd.Timestamp.now(tz=LOCAL_TIMEZONE).strftime("%Y%m%d%H%M%S")
    return f"W{stamp}{secrets.token_hex(3).upper()}"


def take_in(
    fields: Mapping[str, Any], *, default_source: str = DEFAULT_SOURCE
) -> tuple[dict[str, Any], bool]:
    """Take in one incident reported at a point; the published plan's grid is found at intake.

    Parameters
    ----------
    fields
        ``category``, ``lat``, ``long`` (or ``lon``), optional ``description``, ``address``,
        ``priority``, ``source``, ``id`` (a client's own id makes retries idempotent),
        ``external_id``.
    default_source
        The ``source`` when none is given (default :data:`DEFAULT_SOURCE`, ``web``).

    Returns
    -------
    tuple
        The stored incident (as :func:`incident_record`) and whether it was added now
        (``False``: an incident with this id was already stored; nothing changed).

    Raises
    ------
    ApiError
        400 for a missing or unknown category, priority or source, or bad coordinates;
        422 for a point farther than the index's tolerance from every grid.
    """
    category = check_category(fields.get("category"))
    lat = _coordinate(fields, ("lat", "latitude"), 90.0)
    lon = _coordinate(fields, ("long", "lon", "longitude"), 180.0)
    for name, allowed in (("priority", INCIDENT_PRIORITIES), ("source", INCIDENT_SOURCES)):
        value = fields.get(name)
        if value not in (None, "") and value not in allowed:
            raise refusal(
                400, "unknown {name} {value}.", "use one of: {allowed}.", name=name,
                value=repr(value), allowed=", ".join(allowed),
            )  # fmt: skip
    incident_id = str(fields.get("id") or "").strip() or _new_id()
    if not _ID.match(incident_id):
        raise refusal(
            400,
            "id {value} is not a usable incident id.",
            "use 1 to 64 letters, digits, '_', '.', ':' or '-', or leave id out.",
            value=repr(incident_id[:80]),
        )
    ws = store.workspace()
    store.published()
    index = ws.grid_index()
    code, flag, distance = index.lookup(lon, lat)
    if flag == "unassigned":
        raise refusal(
            422,
            "the point lat={lat}, long={lon} is {distance} m from the nearest grid, farther than "
            "the {tolerance:g} m allowed: it is outside the street.",
            "check the coordinates (WGS84 decimal degrees, lat first) or report it to the "
            "street that holds the place.",
            lat=lat,
            lon=lon,
            distance=f"{distance:,.0f}",
            tolerance=index.tolerance,
        )
    text = {}
    for name in ("description", "address", "external_id"):
        value = str(fields.get(name) or "").strip()
        if value:
            text[name] = value
    frame = gpd.GeoDataFrame(
        {
            "id": [incident_id],
            "category": [category],
            "priority": [fields.get("priority") or "normal"],
            "source": [fields.get("source") or default_source],
            **{name: [value] for name, value in text.items()},
        },
        geometry=[shapely.Point(lon, lat)],
        crs="EPSG:4326",
    )
    result = ws.add_incidents(frame, actor=actor())
    added = bool(result["added"].iloc[0])
    return incident_record(one_incident(incident_id)), added


def no_incident(incident_id: str) -> ApiError:
    """The 404 for an incident id that is not stored."""
    return refusal(
        404,
        "there is no incident {id}.",
        "list incidents with GET /api/incidents.",
        id=repr(incident_id),
    )


def one_incident(incident_id: str) -> dict[str, Any]:
    """The stored row of one incident (read by its id alone); 404 when there is none."""
    frame = engine.incidents(store.workspace(), ids=[incident_id])
    if frame.empty:
        raise no_incident(incident_id)
    return frame.iloc[0].to_dict()


def _plan_record(plan_id: int) -> Any:
    """The record of plan ``plan_id``; 404 when there is none."""
    ws = store.workspace()
    row = ws.connect().execute("SELECT 1 FROM gridmap_plans WHERE plan_id = ?", (plan_id,))
    if row.fetchone() is None:
        raise refusal(
            404, "there is no plan {id}.", "list the plans with GET /api/plans.", id=plan_id
        )
    return ws.plan(plan_id)


def plan_json(plan_id: int, *, with_grids: bool = True) -> dict[str, Any]:
    """One plan version as JSON: its record, metrics and (optionally) per-grid table."""
    record = _plan_record(plan_id)
    grids = store.workspace().plan_grids(plan_id)
    out = {
        "plan_id": record.plan_id,
        "version": record.version,
        "status": record.status,
        "author": record.author,
        "created_at": iso(record.created_at),
        "published_at": iso(record.published_at),
        "archived_at": iso(record.archived_at),
        "note": record.note,
        "parameters": record.parameters,
        "metrics": record.summary,
        "grid_count": len(grids),
    }
    if with_grids:
        out["grids"] = [
            {name: _plain(row[name]) for name in PLAN_GRID_FIELDS}
            for _, row in grids.drop(columns="geometry").iterrows()
        ]
    return out


def _conflict(error: StoreError) -> ApiError:
    """A store refusal (a move the state does not allow) as 409 with the store's words."""
    return ApiError(409, error.message, fix=error.fix or "")


# ------------------------------------------------------------------ street and plans


@bp.get("/street")
@require("viewer")
def street() -> ResponseReturnValue:
    """The street: name, code, district, bounds, and its communities with households and grids.

    Households and grids per community are those of the published plan.
    """
    outline = store.outline()
    layer = outline["street"]
    if layer is None or layer.empty:
        raise ApiError(
            503, "the workspace has no street layer.", fix="import the street outline first."
        )
    first = layer.iloc[0]
    record = store.published()
    table = store.grid_table(record.plan_id)
    table["community"] = table["community"].astype(str)
    per = table.groupby("community").agg(
        households=("households", "sum"), persons=("persons", "sum"), grids=("code", "size")
    )
    names = store.community_names()
    communities = [
        {
            "code": code,
            "name": names.get(code, code),
            "households": _plain(per["households"].get(code, 0)),
            "persons": _plain(per["persons"].get(code, 0)),
            "grids": _plain(per["grids"].get(code, 0)),
        }
        for code in (names or dict.fromkeys(per.index))
    ]
    minx, miny, maxx, maxy = (round(float(v), 6) for v in layer.total_bounds)
    return jsonify(
        code=_plain(first.get("code")),
        name=_plain(first.get("name")),
        district=_plain(first.get("district_code")),
        bounds=[minx, miny, maxx, maxy],
        plan_id=record.plan_id,
        households=int(table["households"].sum()),
        grids=len(table),
        communities=communities,
    )


@bp.get("/plans/<int:plan_id>")
@require("viewer")
def plan(plan_id: int) -> ResponseReturnValue:
    """One plan version: status, author, times, parameters, metrics and its grids (no shapes)."""
    return jsonify(plan_json(plan_id))


def _number(fields: Mapping[str, Any], name: str, default: float | None) -> float | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value) or value <= 0:
        raise refusal(
            400, "{name}={value} is not a positive number.", "give {name} > 0.", name=name,
            value=repr(raw),
        )  # fmt: skip
    return value


def _partition_layers() -> dict[str, Any]:
    """The layers a partition needs, read through the store's own connection (not GDAL)."""
    names = [name for name in LAYERS if name not in ("incidents", "members")]
    return store.workspace().read_layers(names)


@bp.post("/plans")
@require("editor")
def run_plan() -> ResponseReturnValue:
    """Run a partition on the workspace's layers and keep it as a draft plan (a few seconds).

    Body (JSON): ``target``, ``min``, ``max`` (households or persons per grid), or ``grids`` (a
    total), or ``per_community`` (``{community code: grids}``); ``weight`` (``households`` or
    ``persons``), ``seed`` and ``note``.  A request the street cannot meet is refused with 400
    and the engine's message.  Answers 201 with the new draft (as ``GET /api/plans/<id>``).
    """
    from gridmap.plan import make_plan

    fields = body()
    target = _number(fields, "target", 400.0)
    minimum = _number(fields, "min", None)
    maximum = _number(fields, "max", None)
    minimum = minimum if minimum is not None else round(target * 0.75)
    maximum = maximum if maximum is not None else round(target * 1.25)
    if not minimum <= target <= maximum:
        raise refusal(
            400,
            "the range min={minimum:g}..max={maximum:g} does not hold target={target:g}.",
            "give min <= target <= max.",
            minimum=minimum,
            maximum=maximum,
            target=target,
        )
    grids = _number(fields, "grids", None)
    if grids is not None and grids != int(grids):
        raise refusal(
            400, "{name}={value} is not a whole number.", "give a whole number.", name="grids",
            value=f"{grids:g}",
        )  # fmt: skip
    per_community = fields.get("per_community") or None
    if per_community is not None:
        bad = not isinstance(per_community, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in per_community.values()
        )
        if bad:
            raise refusal(
                400,
                "per_community must map community codes to whole numbers of grids.",
                "send e.g. {example}.",
                example='{"per_community": {"510104090001": 12, "510104090002": 9}}',
            )
    weight = fields.get("weight") or "households"
    if weight not in ("households", "persons"):
        raise refusal(
            400, "unknown {name} {value}.", "use one of: {allowed}.", name="weight",
            value=repr(weight), allowed="households, persons",
        )  # fmt: skip
    seed = fields.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise refusal(
                400, "{name}={value} is not a whole number.", "give 0, 1, 2...", name="seed",
                value=repr(seed),
            ) from None  # fmt: skip
    note = str(fields.get("note") or "")
    if not _RUN_LOCK.acquire(blocking=False):
        raise ApiError(
            503,
            "another partition is running in this server.",
            fix="wait a few seconds and send the request again.",
        )
    try:
        result = make_plan(
            _partition_layers(), target=target, minimum=minimum, maximum=maximum,
            grids=None if grids is None else int(grids), per_community=per_community,
            weight=weight, seed=seed,
        )  # fmt: skip
        plan_id = store.workspace().save_plan(result, note=note, actor=actor())
    finally:
        _RUN_LOCK.release()
    out = plan_json(plan_id)
    out["problems"] = [
        {"severity": p.severity, "message": p.message, "fix": p.fix}
        for p in getattr(result, "problems", ()) or ()
    ]
    response = jsonify(out)
    response.status_code = 201
    response.headers["Location"] = url_for("api_incidents.plan", plan_id=plan_id)
    return response


@bp.post("/plans/<int:plan_id>/publish")
@require("editor")
def publish(plan_id: int) -> ResponseReturnValue:
    """Publish a draft plan: the published one is archived, open incidents move to new grids.

    Answers the plan (without its grid table) and ``incidents_reassigned``; 409 when the plan
    is not a draft.
    """
    _plan_record(plan_id)
    try:
        moved = store.workspace().publish(plan_id, actor=actor())
    except StoreError as error:
        raise _conflict(error) from error
    return jsonify(incidents_reassigned=moved, **plan_json(plan_id, with_grids=False))


@bp.post("/plans/<int:plan_id>/archive")
@require("editor")
def archive(plan_id: int) -> ResponseReturnValue:
    """Archive a draft plan; 409 for the published plan or one already archived."""
    _plan_record(plan_id)
    try:
        store.workspace().archive(plan_id, actor=actor())
    except StoreError as error:
        raise _conflict(error) from error
    return jsonify(plan_json(plan_id, with_grids=False))


# ------------------------------------------------------------------ incidents


@bp.get("/incidents")
@require("viewer")
def incident_list() -> ResponseReturnValue:
    """Incidents, newest first, filtered and paged.

    Query: ``status``, ``category``, ``grid``, ``level`` (each repeatable or comma-separated),
    ``since``, ``until`` (ISO dates or times, on ``reported_at``), ``limit`` (default 100, at
    most 1000), ``offset``, ``format`` (``json``, the default, or ``geojson`` for an RFC 7946
    FeatureCollection).  ``total`` counts every match, not only this page.  Filters, order
    and paging run in the workspace's SQLite, so a page costs its own rows, not the table's.
    """
    kind = request.args.get("format", "json")
    if kind not in ("json", "geojson"):
        raise refusal(
            400, "unknown {name} {value}.", "use format=json or format=geojson.", name="format",
            value=repr(kind),
        )  # fmt: skip
    limit = _count("limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _count("offset", 0)
    filters = _engine_filters(incident_filters())
    ws = store.workspace()
    total = engine.incident_count(ws, **filters)  # filters and pages in SQLite
    page = engine.incidents(ws, **filters, newest_first=True, limit=limit, offset=offset)
    records = [incident_record(row) for row in page.to_dict("records")]
    paging = {"total": total, "limit": limit, "offset": offset, "count": len(records)}
    if kind == "json":
        return jsonify(incidents=records, **paging)
    features = [
        {
            "type": "Feature",
            "id": rec["id"],
            "geometry": None
            if rec["lon"] is None
            else {"type": "Point", "coordinates": [rec["lon"], rec["lat"]]},
            "properties": {k: v for k, v in rec.items() if k not in ("lon", "lat")},
        }
        for rec in records
    ]
    return geojson_response(features, **paging)


def incident_details(incident_id: str) -> dict[str, Any]:
    """One incident as JSON with its history, escalations and the statuses it may move to.

    The data of both ``GET /api/incidents/<id>`` and the incident's page; 404 when there is
    no such incident.
    """
    record = incident_record(one_incident(incident_id))
    ws = store.workspace()
    events = engine.history(ws, incident_id)
    record["history"] = [
        {
            "event_id": int(e["event_id"]),
            "from_status": _plain(e["from_status"]),
            "to_status": e["to_status"],
            "at": iso(e["at"]),
            "actor": e["actor"],
            "note": e["note"],
        }
        for e in events.to_dict("records")
    ]
    rows = ws.connect().execute(
        "SELECT at, actor, details FROM gridmap_audit WHERE action = 'escalate' "
        "AND entity = 'incident' AND entity_id = ? ORDER BY audit_id",
        (incident_id,),
    )
    record["escalations"] = [
        {
            "at": iso(at),
            "actor": who,
            "from": d.get("from"),
            "to": d.get("to"),
            "note": d.get("note"),
        }
        for at, who, d in ((a, w, json.loads(t)) for a, w, t in rows.fetchall())
    ]
    record["allowed_next"] = list(INCIDENT_TRANSITIONS.get(record["status"], ()))
    return record


@bp.get("/incidents/<incident_id>")
@require("viewer")
def incident(incident_id: str) -> ResponseReturnValue:
    """One incident with its status history (oldest first), escalations and allowed next moves."""
    return jsonify(incident_details(incident_id))


@bp.post("/incidents")
@require("editor", tokens=("intake",))
def report() -> ResponseReturnValue:
    """Report an incident at a point; the published plan's grid is found at intake.

    Body (JSON or form): ``category``, ``lat``, ``long`` (or ``lon``), optional
    ``description``, ``address``, ``priority`` (default ``normal``), ``source`` (one of
    :data:`gridmap.schema.INCIDENT_SOURCES`; default ``web``, the intake channel, for
    logged-in users and API tokens alike: a hotline's or an app's client names its own),
    ``id`` (your own id: sending the same id again adds nothing and answers 200),
    ``external_id``.  Answers 201 with the incident (``grid_code``, ``grid_flag`` ``inside``
    or ``snapped``); 400 for an unknown category (naming the allowed ones), source or
    priority, or bad coordinates; 422 for a point outside the street.
    """
    record, added = take_in(body(), default_source=DEFAULT_SOURCE)
    response = jsonify(added=added, **record)
    response.status_code = 201 if added else 200
    response.headers["Location"] = url_for("api_incidents.incident", incident_id=record["id"])
    return response


@bp.post("/incidents/<incident_id>/transition")
@require("editor")
def transition(incident_id: str) -> ResponseReturnValue:
    """Move an incident to its next status: body ``{"status": ..., "note": ...}``.

    409 (naming the allowed next statuses) when the current status does not allow the move;
    400 for a status that does not exist.
    """
    one_incident(incident_id)
    fields = body()
    status = fields.get("status")
    if not status:
        raise refusal(
            400, "{name} is missing.", "give one of: {allowed}.", name="status",
            allowed=", ".join(INCIDENT_TRANSITIONS),
        )  # fmt: skip
    try:
        event = engine.transition(
            store.workspace(), incident_id, str(status), actor=actor(),
            note=str(fields.get("note") or ""),
        )  # fmt: skip
    except StoreError as error:
        raise _conflict(error) from error
    except GridmapError as error:  # an unknown status: the engine's text names the statuses
        raise ApiError(400, error.message, fix=error.fix) from error
    return jsonify(event=event, incident=incident_record(one_incident(incident_id)))


@bp.post("/incidents/<incident_id>/escalate")
@require("editor")
def escalate(incident_id: str) -> ResponseReturnValue:
    """Hand an incident one level up (grid -> community -> street); body ``{"note": ...}``.

    409 when it is final or already handled by the street.
    """
    one_incident(incident_id)
    note = str(body().get("note") or "")
    try:
        level = engine.escalate(store.workspace(), incident_id, actor=actor(), note=note)
    except StoreError as error:
        raise _conflict(error) from error
    return jsonify(
        handling_level=level,
        levels=list(HANDLING_LEVELS),
        incident=incident_record(one_incident(incident_id)),
    )
