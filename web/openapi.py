"""The OpenAPI 3.1 document of the app's API and Open311 endpoints, and a page listing them.

``GET /api/openapi.json`` answers the document, built as a Python dict from :data:`OPERATIONS`
(parameters, request bodies, responses with schemas) and each view's docstring (summary and
description), for the rules the app really has: the test suite checks that every rule under
``/api`` and ``/open311`` is described here and that nothing else is, so the document cannot
drift from the app.  ``GET /api/docs`` lists the same operations as a plain page (no Swagger
UI, nothing from a CDN).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from gridmap import __version__
from gridmap.schema import (
    INCIDENT_CATEGORIES,
    INCIDENT_PRIORITIES,
    INCIDENT_SOURCES,
    INCIDENT_STATUSES,
)
from gridmap.store import HANDLING_LEVELS
from web.auth import require

bp = Blueprint("openapi", __name__, url_prefix="/api")

#: Methods Flask adds to every rule, not documented.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_NULL_STR = {"type": ["string", "null"]}
_NULL_NUM = {"type": ["number", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict[str, Any], text: str, *, explode: bool = False) -> dict:
    out = {"name": name, "in": "query", "required": False, "description": text, "schema": schema}
    if explode:
        out["style"] = "form"
        out["explode"] = False
    return out


def _path(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": text, "schema": schema}


def _list_of(values: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": list(values)}}


def _ok(schema: dict[str, Any], text: str, media: str = "application/json") -> dict[str, Any]:
    return {"description": text, "content": {media: {"schema": schema}}}


def _errors(*codes: int, open311: bool = False) -> dict[str, Any]:
    name = "Open311Errors" if open311 else "Error"
    texts = {400: "Bad input (the message names what and the fix)", 401: "Not logged in, or "
             "the API token is not valid", 403: "The account's role may not do this",
             404: "Not found", 409: "The current state does not allow it", 413: "The request "
             "body is larger than the upload limit", 422: "The point is outside the street",
             503: "No workspace or no published plan"}  # fmt: skip
    content = {"application/json": {"schema": _ref(name)}}
    return {str(c): {"description": texts[c], "content": content} for c in codes}


def _json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


#: Filters of ``GET /api/incidents`` (and the Exports page's incident downloads).
INCIDENT_FILTERS = [
    _query("status", _list_of(INCIDENT_STATUSES), "Statuses (comma-separated or repeated).",
           explode=True),
    _query("category", _list_of(INCIDENT_CATEGORIES), "Categories.", explode=True),
    _query("grid", {"type": "array", "items": _STR}, "Grid codes.", explode=True),
    _query("level", _list_of(HANDLING_LEVELS), "Handling levels.", explode=True),
    _query("since", _STR, "Reported at or after (ISO 8601 date or time)."),
    _query("until", _STR, "Reported before (ISO 8601 date or time)."),
]  # fmt: skip

#: Filters shared by the incident page's aggregate endpoints (``/api/incidents/heat``...).
PAGE_FILTERS = [
    _query("category", _list_of(INCIDENT_CATEGORIES), "Categories.", explode=True),
    _query("status", _list_of(INCIDENT_STATUSES), "Statuses.", explode=True),
    _query("level", _list_of(HANDLING_LEVELS), "Handling levels.", explode=True),
    _query("from", {"type": "string", "format": "date"}, "First day (included)."),
    _query("to", {"type": "string", "format": "date"}, "Last day (included)."),
]  # fmt: skip
_WEEK = _query("week", {"type": "string", "pattern": r"^\d{4}-W\d{2}$"}, "One ISO week.")
_MEASURE = _query("measure", {"type": "string", "enum": ["count", "per_1000"]},
                  "Incident count, or rate per 1,000 households.")  # fmt: skip

_PLAN_ID = _path("plan_id", _INT, "The plan's id.")
_INCIDENT_ID = _path("incident_id", _STR, "The incident's id.")

#: Reusable schemas.
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": _STR, "message": _STR, "fix": _STR},
    },
    "Open311Errors": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": _INT, "description": _STR},
        },
    },  # fmt: skip
    "Point": {
        "type": "object",
        "properties": {
            "type": {"const": "Point"},
            "coordinates": {"type": "array", "items": _NUM, "minItems": 2},
        },
    },  # fmt: skip
    "FeatureCollection": {
        "type": "object",
        "description": "RFC 7946 GeoJSON: lon/lat (WGS84), counter-clockwise exteriors.",
        "required": ["type", "features"],
        "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "geometry", "properties"],
                    "properties": {
                        "type": {"const": "Feature"},
                        "id": _STR,
                        "geometry": {"type": ["object", "null"]},
                        "properties": {"type": "object"},
                    },
                },
            },
        },
    },  # fmt: skip
    "Grid": {
        "type": "object",
        "properties": {
            name: schema
            for name, schema in (
                ("code", _STR),
                ("community", _STR),
                ("community_name", _STR),
                ("households", _INT),
                ("persons", _INT),
                ("buildings", _INT),
                ("area_m2", _NULL_NUM),
                ("polsby_popper", _NULL_NUM),
                ("open_incidents", _INT),
                ("plan_id", _INT),
            )
        },
    },  # fmt: skip
    "Lookup": {
        "type": "object",
        "properties": {
            "lat": _NUM,
            "lon": _NUM,
            "code": _NULL_STR,
            "plan_id": _INT,
            "flag": {"enum": ["inside", "snapped", "unassigned"]},
            "distance_m": _NUM,
        },
    },  # fmt: skip
    "Street": {
        "type": "object",
        "properties": {
            "code": _STR,
            "name": _STR,
            "district": _STR,
            "plan_id": _INT,
            "households": _INT,
            "grids": _INT,
            "bounds": {
                "type": "array",
                "items": _NUM,
                "minItems": 4,
                "maxItems": 4,
                "description": "min lon, min lat, max lon, max lat",
            },
            "communities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "code": _STR,
                        "name": _STR,
                        "households": _INT,
                        "persons": _INT,
                        "grids": _INT,
                    },
                },
            },
        },
    },  # fmt: skip
    "PlanSummary": {
        "type": "object",
        "properties": {
            "plan_id": _INT,
            "version": _INT,
            "status": {"enum": ["draft", "published", "archived"]},
            "author": _STR,
            "created_at": _STR,
            "published_at": _NULL_STR,
            "archived_at": _NULL_STR,
            "note": _STR,
            "grids": _INT,
            "in_range_share": _NULL_NUM,
            "contiguous_share": _NULL_NUM,
            "mean_polsby_popper": _NULL_NUM,
        },
    },  # fmt: skip
    "Plan": {
        "type": "object",
        "properties": {
            "plan_id": _INT,
            "version": _INT,
            "status": {"enum": ["draft", "published", "archived"]},
            "author": _STR,
            "created_at": _TIME,
            "published_at": _TIME,
            "archived_at": _TIME,
            "note": _STR,
            "parameters": {"type": "object"},
            "metrics": {"type": "object"},
            "grid_count": _INT,
            "grids": {"type": "array", "items": _ref("Grid")},
            "incidents_reassigned": _INT,
            "problems": {"type": "array", "items": {"type": "object"}},
        },
    },  # fmt: skip
    "PlanRequest": {
        "type": "object",
        "properties": {
            "target": {"type": "number", "exclusiveMinimum": 0, "default": 400},
            "min": {"type": "number", "exclusiveMinimum": 0, "description": "default 0.75 target"},
            "max": {"type": "number", "exclusiveMinimum": 0, "description": "default 1.25 target"},
            "grids": {"type": "integer", "minimum": 1, "description": "a total instead"},
            "per_community": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "community code -> number of grids",
            },
            "weight": {"enum": ["households", "persons"], "default": "households"},
            "seed": {"type": "integer", "default": 0},
            "note": _STR,
        },
    },  # fmt: skip
    "Incident": {
        "type": "object",
        "properties": {
            "id": _STR,
            "category": {"enum": list(INCIDENT_CATEGORIES)},
            "status": {"enum": list(INCIDENT_STATUSES)},
            "priority": {"enum": list(INCIDENT_PRIORITIES)},
            "source": {"enum": list(INCIDENT_SOURCES)},
            "description": _NULL_STR,
            "address": _NULL_STR,
            "handling_level": {"enum": list(HANDLING_LEVELS)},
            "grid_code": _NULL_STR,
            "grid_flag": {
                "type": ["string", "null"],
                "enum": ["inside", "snapped", "unassigned", None],
            },
            "external_id": _NULL_STR,
            "reported_at": _TIME,
            "accepted_at": _TIME,
            "in_progress_at": _TIME,
            "resolved_at": _TIME,
            "closed_at": _TIME,
            "expected_at": _TIME,
            "updated_at": _TIME,
            "lon": _NULL_NUM,
            "lat": _NULL_NUM,
        },
    },  # fmt: skip
    "IncidentList": {
        "type": "object",
        "properties": {
            "incidents": {"type": "array", "items": _ref("Incident")},
            "total": _INT,
            "limit": _INT,
            "offset": _INT,
            "count": _INT,
        },
    },  # fmt: skip
    "IncidentDetail": {
        "allOf": [
            _ref("Incident"),
            {
                "type": "object",
                "properties": {
                    "history": {"type": "array", "items": _ref("Event")},
                    "escalations": {"type": "array", "items": {"type": "object"}},
                    "allowed_next": {"type": "array", "items": _STR},
                },
            },
        ],
    },  # fmt: skip
    "Event": {
        "type": "object",
        "properties": {
            "event_id": _INT,
            "incident_id": _STR,
            "from_status": _NULL_STR,
            "to_status": _STR,
            "at": _TIME,
            "actor": _STR,
            "note": _STR,
        },
    },  # fmt: skip
    "NewIncident": {
        "type": "object",
        "required": ["category", "lat", "long"],
        "properties": {
            "category": {"enum": list(INCIDENT_CATEGORIES)},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {
                "type": "number",
                "minimum": -180,
                "maximum": 180,
                "description": "also accepted as lon",
            },
            "description": _STR,
            "address": _STR,
            "priority": {"enum": list(INCIDENT_PRIORITIES)},
            "source": {"enum": list(INCIDENT_SOURCES), "default": "web"},
            "id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.:-]{1,64}$",
                "description": "your own id: sending it again adds nothing",
            },
            "external_id": _STR,
        },
    },  # fmt: skip
    "Service": {
        "type": "object",
        "properties": {
            "service_code": _STR,
            "service_name": _STR,
            "description": _STR,
            "metadata": {"type": "boolean"},
            "type": {"const": "realtime"},
            "keywords": _STR,
            "group": _STR,
        },
    },  # fmt: skip
    "ServiceRequest": {
        "type": "object",
        "properties": {
            "service_request_id": _STR,
            "status": {"enum": ["open", "closed"]},
            "status_notes": _NULL_STR,
            "service_name": _STR,
            "service_code": _STR,
            "description": _NULL_STR,
            "agency_responsible": _STR,
            "service_notice": _NULL_STR,
            "requested_datetime": _TIME,
            "updated_datetime": _TIME,
            "expected_datetime": _TIME,
            "address": _NULL_STR,
            "address_id": _NULL_STR,
            "zipcode": _NULL_STR,
            "lat": _NULL_NUM,
            "long": _NULL_NUM,
            "media_url": _NULL_STR,
        },
    },  # fmt: skip
    "Aggregate": {
        "type": "object",
        "description": "An aggregate answer of the incidents page (see the description).",
    },
}

_VIEWER_OR_INTAKE = [{"bearerToken": []}, {"cookieSession": []}]
_OPEN311_KEY = [{"open311ApiKey": []}, {"bearerToken": []}, {"cookieSession": []}]

#: Every operation: ``(method, OpenAPI path) -> operation`` (summary and description come from
#: the view's docstring).
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/plans"): {
        "tags": ["plans"],
        "responses": {
            "200": _ok(
                {
                    "type": "object",
                    "properties": {"plans": {"type": "array", "items": _ref("PlanSummary")}},
                },
                "The plan versions",
            ),
            **_errors(401),
        },
    },  # fmt: skip
    ("post", "/api/plans"): {
        "tags": ["plans"],
        "x-role": "editor",
        "requestBody": _json_body(_ref("PlanRequest")),
        "responses": {
            "201": _ok(_ref("Plan"), "The new draft"),
            **_errors(400, 401, 403, 413, 503),
        },
    },  # fmt: skip
    ("get", "/api/plans/{plan_id}"): {
        "tags": ["plans"],
        "parameters": [_PLAN_ID],
        "responses": {"200": _ok(_ref("Plan"), "The plan"), **_errors(401, 404)},
    },  # fmt: skip
    ("post", "/api/plans/{plan_id}/publish"): {
        "tags": ["plans"],
        "x-role": "editor",
        "parameters": [_PLAN_ID],
        "responses": {
            "200": _ok(_ref("Plan"), "The published plan"),
            **_errors(401, 403, 404, 409),
        },
    },  # fmt: skip
    ("post", "/api/plans/{plan_id}/archive"): {
        "tags": ["plans"],
        "x-role": "editor",
        "parameters": [_PLAN_ID],
        "responses": {"200": _ok(_ref("Plan"), "The archived plan"), **_errors(401, 403, 404, 409)},
    },  # fmt: skip
    ("get", "/api/street"): {
        "tags": ["street"],
        "responses": {"200": _ok(_ref("Street"), "The street"), **_errors(401, 503)},
    },
    ("get", "/api/grids"): {
        "tags": ["street"],
        "responses": {
            "200": _ok(_ref("FeatureCollection"), "The published grids", "application/geo+json"),
            **_errors(401, 503),
        },
    },  # fmt: skip
    ("get", "/api/grids/{code}"): {
        "tags": ["street"],
        "parameters": [_path("code", _STR, "The grid's 15-digit code.")],
        "responses": {"200": _ok(_ref("Grid"), "The grid"), **_errors(401, 404)},
    },  # fmt: skip
    ("get", "/api/lookup"): {
        "tags": ["street"],
        "security": _VIEWER_OR_INTAKE,
        "x-role": "viewer or intake token",
        "parameters": [
            {
                **_query("lat", {"type": "number", "minimum": -90, "maximum": 90}, "Latitude."),
                "required": True,
            },
            {
                **_query("lon", {"type": "number", "minimum": -180, "maximum": 180}, "Longitude."),
                "required": True,
            },
        ],
        "responses": {
            "200": _ok(_ref("Lookup"), "The grid holding the point"),
            **_errors(400, 401, 403),
        },
    },  # fmt: skip
    ("get", "/api/incidents"): {
        "tags": ["incidents"],
        "parameters": [
            *INCIDENT_FILTERS,
            _query(
                "limit",
                {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100},
                "Incidents per page.",
            ),
            _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Incidents skipped."),
            _query(
                "format",
                {"enum": ["json", "geojson"], "default": "json"},
                "JSON list or RFC 7946 FeatureCollection.",
            ),
        ],
        "responses": {
            "200": {
                "description": "One page of incidents",
                "content": {
                    "application/json": {"schema": _ref("IncidentList")},
                    "application/geo+json": {"schema": _ref("FeatureCollection")},
                },
            },
            **_errors(400, 401, 403),
        },
    },  # fmt: skip
    ("post", "/api/incidents"): {
        "tags": ["incidents"],
        "security": _VIEWER_OR_INTAKE,
        "x-role": "editor or intake token",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _ref("NewIncident")},
                "application/x-www-form-urlencoded": {"schema": _ref("NewIncident")},
            },
        },
        "responses": {
            "201": _ok(_ref("Incident"), "Taken in, with its grid"),
            "200": _ok(_ref("Incident"), "Already taken in with this id"),
            **_errors(400, 401, 403, 413, 422, 503),
        },
    },  # fmt: skip
    ("get", "/api/incidents/{incident_id}"): {
        "tags": ["incidents"],
        "parameters": [_INCIDENT_ID],
        "responses": {"200": _ok(_ref("IncidentDetail"), "The incident"), **_errors(401, 403, 404)},
    },  # fmt: skip
    ("post", "/api/incidents/{incident_id}/transition"): {
        "tags": ["incidents"],
        "x-role": "editor",
        "parameters": [_INCIDENT_ID],
        "requestBody": _json_body(
            {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"enum": list(INCIDENT_STATUSES)}, "note": _STR},
            }
        ),
        "responses": {
            "200": _ok(
                {
                    "type": "object",
                    "properties": {"event": _ref("Event"), "incident": _ref("Incident")},
                },
                "Moved",
            ),
            **_errors(400, 401, 403, 404, 409),
        },
    },  # fmt: skip
    ("post", "/api/incidents/{incident_id}/escalate"): {
        "tags": ["incidents"],
        "x-role": "editor",
        "parameters": [_INCIDENT_ID],
        "requestBody": _json_body({"type": "object", "properties": {"note": _STR}}, required=False),
        "responses": {
            "200": _ok(
                {
                    "type": "object",
                    "properties": {
                        "handling_level": {"enum": list(HANDLING_LEVELS)},
                        "levels": {"type": "array", "items": _STR},
                        "incident": _ref("Incident"),
                    },
                },
                "Escalated",
            ),
            **_errors(401, 403, 404, 409),
        },
    },  # fmt: skip
    ("get", "/api/incidents/shapes"): {
        "tags": ["incident maps"],
        "responses": {
            "200": _ok(
                {
                    "type": "object",
                    "properties": {
                        "plan_id": _INT,
                        "version": _INT,
                        "grids": _ref("FeatureCollection"),
                        "street": _ref("FeatureCollection"),
                        "communities": _ref("FeatureCollection"),
                    },
                },
                "Shapes for display",
            ),
            **_errors(401, 503),
        },
    },  # fmt: skip
    ("get", "/api/incidents/heat"): {
        "tags": ["incident maps"],
        "parameters": [
            *PAGE_FILTERS,
            _WEEK,
            _query(
                "size",
                {"type": "integer", "enum": [50, 100, 200, 400], "default": 100},
                "Hexagon width in metres.",
            ),
        ],
        "responses": {
            "200": _ok(_ref("FeatureCollection"), "Hexagons with counts"),
            **_errors(400, 401),
        },
    },  # fmt: skip
    ("get", "/api/incidents/grids"): {
        "tags": ["incident maps"],
        "parameters": [*PAGE_FILTERS, _WEEK, _MEASURE],
        "responses": {"200": _ok(_ref("Aggregate"), "Counts per grid"), **_errors(400, 401)},
    },
    ("get", "/api/incidents/hotspots"): {
        "tags": ["incident maps"],
        "parameters": [
            *PAGE_FILTERS,
            _WEEK,
            _MEASURE,
            _query(
                "permutations",
                {"type": "integer", "minimum": 0, "maximum": 9999},
                "Permutations for p_sim.",
            ),
        ],
        "responses": {"200": _ok(_ref("Aggregate"), "Gi* per grid"), **_errors(400, 401)},
    },  # fmt: skip
    ("get", "/api/incidents/weeks"): {
        "tags": ["incident maps"],
        "parameters": PAGE_FILTERS,
        "responses": {"200": _ok(_ref("Aggregate"), "Counts per ISO week"), **_errors(400, 401)},
    },  # fmt: skip
    ("get", "/api/openapi.json"): {
        "tags": ["meta"],
        "security": _VIEWER_OR_INTAKE,
        "responses": {"200": _ok({"type": "object"}, "This document"), **_errors(401)},
    },
    ("get", "/api/docs"): {
        "tags": ["meta"],
        "responses": {"200": _ok(_STR, "A page listing the endpoints", "text/html")},
    },
    ("get", "/open311/v2/services.json"): {
        "tags": ["open311"],
        "security": _OPEN311_KEY,
        "x-role": "viewer or intake token",
        "responses": {
            "200": _ok({"type": "array", "items": _ref("Service")}, "The services"),
            **_errors(401, 403, open311=True),
        },
    },  # fmt: skip
    ("get", "/open311/v2/requests.json"): {
        "tags": ["open311"],
        "security": _OPEN311_KEY,
        "parameters": [
            _query("service_request_id", _STR, "Comma list of ids (other filters ignored)."),
            _query("service_code", _STR, "Comma list of service codes."),
            _query("status", {"enum": ["open", "closed"]}, "open or closed."),
            _query("start_date", {"type": "string", "format": "date-time"}, "From."),
            _query("end_date", {"type": "string", "format": "date-time"}, "Until."),
            _query("api_key", _STR, "An API token (viewer role to list)."),
        ],
        "responses": {
            "200": _ok(
                {"type": "array", "items": _ref("ServiceRequest")},
                "Requests, newest first, at most 1000",
            ),
            **_errors(400, 401, 403, open311=True),
        },
    },  # fmt: skip
    ("post", "/open311/v2/requests.json"): {
        "tags": ["open311"],
        "security": _OPEN311_KEY,
        "x-role": "editor or intake token",
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["service_code", "lat", "long"],
                        "properties": {
                            "service_code": {"enum": list(INCIDENT_CATEGORIES)},
                            "lat": _NUM,
                            "long": _NUM,
                            "address_string": _STR,
                            "description": _STR,
                            "api_key": _STR,
                        },
                    }
                }
            },
        },
        "responses": {
            "201": _ok(
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "service_request_id": _STR,
                            "service_notice": _STR,
                            "account_id": _NULL_STR,
                        },
                    },
                },
                "Taken in",
            ),
            **_errors(400, 401, 403, 413, 422, open311=True),
        },
    },  # fmt: skip
    ("get", "/open311/v2/requests/{request_id}.json"): {
        "tags": ["open311"],
        "security": _OPEN311_KEY,
        "x-role": "viewer or intake token",
        "parameters": [
            _path("request_id", _STR, "The service request id."),
            _query("api_key", _STR, "An API token."),
        ],
        "responses": {
            "200": _ok(
                {"type": "array", "items": _ref("ServiceRequest"), "maxItems": 1}, "The request"
            ),
            **_errors(401, 403, 404, open311=True),
        },
    },  # fmt: skip
}

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``/api/plans/<int:plan_id>`` -> ``/api/plans/{plan_id}``."""
    return _CONVERTER.sub(r"{\1}", rule)


def app_operations(app: Flask) -> dict[tuple[str, str], str]:
    """``(method, OpenAPI path) -> endpoint`` of every rule under ``/api`` and ``/open311``."""
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/open311/")):
            for method in sorted((rule.methods or set()) - IMPLICIT_METHODS):
                found[(method.lower(), openapi_path(rule.rule))] = rule.endpoint
    return found


#: Sphinx cross-references in docstrings (``:data:`X` ``): the name alone reads well.
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")

#: reStructuredText's double back-quotes for code, CommonMark's single ones.
_LITERAL = re.compile(r"``([^`]+)``")


def _plain_text(text: str) -> str:
    """A docstring's text as CommonMark: cross-references as `names`, literals in `quotes`."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    return _LITERAL.sub(r"`\1`", text)


def _docstring(app: Flask, endpoint: str) -> tuple[str, str]:
    text = _plain_text((app.view_functions[endpoint].__doc__ or "").strip())
    summary, _, rest = text.partition("\n")
    return summary.strip(), " ".join(line.strip() for line in rest.splitlines()).strip()


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``: the operations of :data:`OPERATIONS` it has."""
    present = app_operations(app)
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), spec in OPERATIONS.items():
        endpoint = present.get((method, path))
        if endpoint is None:
            continue
        summary, description = _docstring(app, endpoint)
        role = spec.get("x-role", "viewer")
        operation = {
            "operationId": endpoint.replace(".", "_"),
            "summary": summary,
            "description": f"{description} Role: {role}.".strip(),
            **{key: value for key, value in spec.items() if key != "x-role"},
        }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gridmap",
            "version": __version__,
            "description": "Grids of a street (网格), their incidents and Open311 intake. "
            "Errors are JSON {error, message, fix} (Open311: a list of {code, description}). "
            "Browsers log in through /login and send the X-CSRFToken header (the page's "
            "csrf-token meta tag) with every POST; API clients send a token instead.",
        },
        "servers": [{"url": "/"}],
        "security": [{"cookieSession": []}, {"bearerToken": []}],
        "tags": [
            {"name": name}
            for name in ("street", "plans", "incidents", "incident maps", "open311", "meta")
        ],  # fmt: skip
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "cookieSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "gridmap_session",
                    "description": "The session of a log-in at /login (POSTs "
                    "also need the X-CSRFToken header).",
                },
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token: gridmap users WORKSPACE token "
                    "LABEL --role intake|viewer|editor.",
                },
                "open311ApiKey": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "api_key",
                    "description": "Open311 paths: the token as api_key "
                    "(query string, or a form field when POSTing).",
                },
            },  # fmt: skip
        },
    }


@bp.get("/openapi.json")
@require("viewer", tokens=("intake",))
def openapi_json() -> ResponseReturnValue:
    """The API and Open311 described as an OpenAPI 3.1 document."""
    return jsonify(document(current_app._get_current_object()))  # type: ignore[attr-defined]


@bp.get("/docs")
@require("viewer")
def docs() -> ResponseReturnValue:
    """A page listing every endpoint of the API and Open311, from the OpenAPI document."""
    spec = document(current_app._get_current_object())  # type: ignore[attr-defined]
    rows = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            params = [p["name"] for p in operation.get("parameters", [])]
            body = operation.get("requestBody", {}).get("content", {})
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": operation["operationId"],
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "params": params,
                    "body": sorted(body),
                    "codes": sorted(operation.get("responses", {})),
                    "tag": (operation.get("tags") or [""])[0],
                }
            )
    return render_template("api_docs.html", spec=spec, rows=rows)
