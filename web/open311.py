"""Open311 GeoReport v2 for incident intake: services, requests, one request (JSON).

A subset of https://wiki.open311.org/GeoReport_v2 at ``/open311/v2``:

``GET services.json``
    One service per incident category (``service_code`` = the category).
``GET requests.json``
    Service requests, newest first, at most 1000: filters ``service_request_id`` (a comma list;
    the other filters are then ignored, as the spec says), ``service_code`` (comma list),
    ``status`` (``open`` or ``closed``), ``start_date`` and ``end_date`` (on the requested time,
    W3C date-times).  With no date given every request is searched (not only the last 90 days).
``GET requests/<id>.json``
    One request (a one-item list, as the spec has it).
``POST requests.json``
    Report a request (form-encoded): ``service_code``, ``lat``, ``long``, ``address_string``,
    ``description``, ``api_key``; answers ``[{service_request_id, service_notice,
    account_id}]``.  The grid is found at intake; a point outside the street is refused (422).
    ``address_id`` (geocoding) and media uploads are not supported: give ``lat``/``long``.

``api_key`` is a gridmap API token (``gridmap users WORKSPACE token LABEL``), in the query
string or the form; ``Authorization: Bearer`` works too.  ``intake`` tokens may read the
services, report requests and read one request back by its id; listing requests needs the
``viewer`` role.  Errors are, as the spec says, a JSON list of ``{"code", "description"}``,
in English whatever language the client asks for (Open311 clients are machines; the JSON API
and the pages answer Chinese requests in Chinese).
Open311's two statuses map onto gridmap's lifecycle as :mod:`gridmap.incidents` describes
(``open``: reported, accepted, in progress).  The XML variants are not offered.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from gridmap import incidents as engine
from gridmap.errors import GridmapError
from gridmap.schema import INCIDENT_CATEGORIES, INCIDENT_STATUSES
from gridmap.store import OPEN_STATUSES
from web import workspace as store
from web.api_incidents import incident_record, one_incident, take_in
from web.auth import current_account, require
from web.errors import ApiError

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

#: Most requests one ``requests.json`` answers (the spec's limit).
MAX_REQUESTS = 1000

#: Ids read per query when requests are asked for by id (each id is a bound SQL value).
IDS_PER_QUERY = 500

#: Name, description, keywords and group of each service (= incident category).
SERVICES: dict[str, tuple[str, str, str, str]] = {
    "sanitation": ("Sanitation (环境卫生)", "Rubbish not collected, dirty public spaces, "
                   "overflowing bins.", "rubbish,litter,bins,垃圾", "environment"),
    "illegal_construction": ("Illegal construction (违章搭建)", "Building or extending "
                             "without a permit.", "construction,building,违建", "order"),
    "neighbour_dispute": ("Neighbour dispute (邻里纠纷)", "Disputes between neighbours for "
                          "mediation.", "dispute,mediation,纠纷", "community"),
    "safety_hazard": ("Safety hazard (安全隐患)", "Fire risks, broken railings, dangerous "
                      "structures.", "safety,fire,hazard,隐患", "safety"),
    "municipal_facilities": ("Municipal facilities (市政设施)", "Street lights, manholes, "
                             "pavements, public facilities out of order.",
                             "streetlight,manhole,pavement,设施", "infrastructure"),
    "street_vending": ("Street vending (占道经营)", "Unlicensed vending that blocks the "
                       "street.", "vending,stall,占道", "order"),
    "noise": ("Noise (噪声扰民)", "Noise from building sites, shops or neighbours.",
              "noise,噪音", "environment"),
}  # fmt: skip


@bp.before_request
def english() -> None:
    """Answer Open311 in English, whatever the client's ``Accept-Language`` or cookie says."""
    g.language = "en"


def _errors(code: int, description: str) -> tuple[Any, int]:
    return jsonify([{"code": code, "description": description}]), code


@bp.errorhandler(ApiError)
def api_error(error: ApiError) -> tuple[Any, int]:
    """A refused request as Open311 errors: ``[{"code", "description"}]``."""
    text = error.description or ""
    if error.fix:
        text = f"{text} Fix: {error.fix}"
    return _errors(error.code or 400, text)


@bp.errorhandler(GridmapError)
def gridmap_error(error: GridmapError) -> tuple[Any, int]:
    """An engine refusal (bad value, bad date) as an Open311 400 error."""
    text = error.message + (f" Fix: {error.fix}" if error.fix else "")
    return _errors(400, text)


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError) -> tuple[Any, int]:
    """A browser POST without its CSRF token (API clients send ``api_key`` instead)."""
    return _errors(400, f"{error.description} Fix: send api_key (an API token).")


@bp.errorhandler(413)
def too_large(error: HTTPException) -> tuple[Any, int]:
    """A request body over the upload limit (``MAX_CONTENT_LENGTH``)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return _errors(413, f"the request is larger than this server accepts ({limit:,} bytes).")


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[Any, int]:
    """Any other HTTP error (413 too large, 405...) as an Open311 error list."""
    return _errors(error.code or 500, error.description or "")


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> tuple[Any, int]:
    """An unexpected error: logged, answered with a short Open311 error."""
    current_app.logger.exception("unexpected error in Open311")
    return _errors(500, "unexpected error; see the server log.")


# ------------------------------------------------------------------ mapping


def open311_status(status: str | None) -> str:
    """The Open311 status of a gridmap status: ``open`` or ``closed``."""
    return "open" if status in OPEN_STATUSES else "closed"


def _notes(incident_ids: list[str]) -> dict[str, str]:
    """The note of each incident's latest status change (its ``status_notes``)."""
    if not incident_ids:
        return {}
    con = store.workspace().connect()
    notes: dict[str, str] = {}
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        rows = con.execute(
            "SELECT incident_id, note FROM gridmap_incident_events WHERE incident_id IN "
            f"({', '.join('?' * len(chunk))}) ORDER BY event_id",
            chunk,
        )
        for incident_id, note in rows:
            notes[incident_id] = note or ""
    return notes


def service_request(row: dict[str, Any], notes: dict[str, str]) -> dict[str, Any]:
    """One incident as an Open311 service request."""
    item = incident_record(row)
    level, grid = item["handling_level"] or "grid", item["grid_code"]
    agency = f"{level} {grid}" if level == "grid" and grid else level
    note = notes.get(item["id"], "")
    status_notes = f"{item['status']}: {note}" if note and note != "intake" else item["status"]
    return {
        "service_request_id": item["id"],
        "status": open311_status(item["status"]),
        "status_notes": status_notes,
        "service_name": SERVICES.get(item["category"], (item["category"],))[0],
        "service_code": item["category"],
        "description": item["description"],
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": item["reported_at"],
        "updated_datetime": item["updated_at"] or item["reported_at"],
        "expected_datetime": item["expected_at"],
        "address": item["address"],
        "address_id": None,
        "zipcode": None,
        "lat": item["lat"],
        "long": item["lon"],
        "media_url": None,
    }


def _codes(name: str) -> list[str] | None:
    values = [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]
    return values or None


# ------------------------------------------------------------------ endpoints


@bp.get("/services.json")
@require("viewer", tokens=("intake",))
def services() -> ResponseReturnValue:
    """The services: one per incident category (no extra attributes: ``metadata`` false)."""
    return jsonify(
        [
            {
                "service_code": code,
                "service_name": SERVICES[code][0],
                "description": SERVICES[code][1],
                "metadata": False,
                "type": "realtime",
                "keywords": SERVICES[code][2],
                "group": SERVICES[code][3],
            }
            for code in INCIDENT_CATEGORIES
        ]
    )


@bp.get("/requests.json")
@require("viewer")
def requests_list() -> ResponseReturnValue:
    """Service requests, newest first (at most 1000), by id, service, status and dates."""
    ids = _codes("service_request_id")
    ws = store.workspace()
    if ids is not None:  # in the order asked for; unknown ids are left out
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), IDS_PER_QUERY):
            frame = engine.incidents(ws, ids=wanted[start : start + IDS_PER_QUERY])
            found.update((str(row["id"]), row) for row in frame.to_dict("records"))
        rows = [found[i] for i in ids if i in found]
    else:
        status = request.args.get("status")
        if status not in (None, "", "open", "closed"):
            raise ApiError(400, f"unknown status {status!r}.", fix="use open or closed.")
        chosen = None
        if status == "open":
            chosen = list(OPEN_STATUSES)
        elif status == "closed":
            chosen = [s for s in INCIDENT_STATUSES if s not in OPEN_STATUSES]
        codes = _codes("service_code")
        for code in codes or ():
            if code not in SERVICES:
                raise ApiError(
                    400,
                    f"unknown service_code {code!r}.",
                    fix=f"use one of: {', '.join(INCIDENT_CATEGORIES)} (services.json).",
                )
        frame = engine.incidents(  # the newest MAX_REQUESTS, chosen and read in SQLite
            ws,
            status=chosen,
            category=codes,
            since=request.args.get("start_date") or None,
            until=request.args.get("end_date") or None,
            newest_first=True,
            limit=MAX_REQUESTS,
        )
        rows = frame.to_dict("records")
    notes = _notes([str(r["id"]) for r in rows])
    return jsonify([service_request(r, notes) for r in rows])


@bp.get("/requests/<request_id>.json")
@require("viewer", tokens=("intake",))
def one_request(request_id: str) -> ResponseReturnValue:
    """One service request by its id, as a one-item list; 404 when there is none.

    An intake token reads only the requests it reported itself (to follow their status): any
    other id answers 404, as if it did not exist, so ids cannot be walked through.
    """
    account = current_account()
    if account is not None and account.kind == "token" and not account.may("viewer"):
        reported = (
            store.workspace()
            .connect()
            .execute(
                "SELECT 1 FROM gridmap_incident_events WHERE incident_id = ? "
                "AND from_status IS NULL AND actor = ?",
                (request_id, account.name),
            )
            .fetchone()
        )
        if reported is None:
            raise ApiError(
                404,
                f"there is no request {request_id} reported with this key.",
                fix="ask for the ids this key reported; other requests need a viewer account.",
            )
    row = one_incident(request_id)
    return jsonify([service_request(row, _notes([request_id]))])


@bp.post("/requests.json")
@require("editor", tokens=("intake",))
def create_request() -> ResponseReturnValue:
    """Report a service request (form-encoded); answers its id (201)."""
    form = request.form
    fields = {
        "category": form.get("service_code"),
        "lat": form.get("lat"),
        "long": form.get("long"),
        "description": form.get("description"),
        "address": form.get("address_string"),
    }
    if (
        not form.get("lat")
        and not form.get("long")
        and (form.get("address_string") or form.get("address_id"))
    ):
        raise ApiError(
            400,
            "this server cannot find a place from an address alone.",
            fix="send lat and long (WGS84 decimal degrees) with the request.",
        )
    record, _ = take_in(fields)  # Open311 has no source: the default, web
    notice = f"Received; handled by grid {record['grid_code']}."
    body = [{"service_request_id": record["id"], "service_notice": notice, "account_id": None}]
    return jsonify(body), 201
