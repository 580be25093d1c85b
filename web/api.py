"""The JSON API: plans, the published plan's grids (GeoJSON) and grid look-up by lon/lat.

Errors are JSON ``{"error", "message", "fix"}`` with a 4xx or 5xx status, never HTML; the
refusals of bad requests are in English, or in Chinese for a request in Chinese
(:func:`web.messages.refusal`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from web import workspace as store
from web.auth import require
from web.errors import geojson_response
from web.messages import refusal

bp = Blueprint("api", __name__, url_prefix="/api")

#: Decimals of lon/lat kept in API geometries (7: about 1 cm).
API_DECIMALS = 7

#: Grid properties returned by the API, in order.
GRID_FIELDS = ("code", "community", "community_name", "households", "persons", "buildings",
               "area_m2", "polsby_popper", "open_incidents")  # fmt: skip


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN and infinities as ``None``."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


@bp.get("/plans")
@require("viewer")
def plans() -> ResponseReturnValue:
    """Every plan version of the workspace: id, version, status, author, times, grids, metrics."""
    table = store.workspace().plans()
    return jsonify(plans=_records(table))


def _grid_rows() -> tuple[int, Any]:
    record = store.published()
    grids = store.grids(record.plan_id).copy()
    counts = store.open_incidents()
    grids["open_incidents"] = [counts.get(str(c), 0) for c in grids["code"]]
    return record.plan_id, grids


def _properties(row: Any) -> dict[str, Any]:
    return {name: _plain(row[name]) for name in GRID_FIELDS if name in row}


@bp.get("/grids")
@require("viewer")
def grids() -> ResponseReturnValue:
    """The published plan's grids as an RFC 7946 GeoJSON FeatureCollection (lon/lat)."""
    plan_id, frame = _grid_rows()
    geoms = shapely.set_precision(frame.geometry.to_numpy(), 10.0**-API_DECIMALS)
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)  # after: GEOS may turn rings
    features = []
    for (_, row), geom in zip(frame.iterrows(), geoms, strict=True):
        features.append(
            {
                "type": "Feature",
                "id": str(row["code"]),
                "geometry": None if geom is None else shapely.geometry.mapping(geom),
                "properties": _properties(row),
            }
        )
    return geojson_response(features, plan_id=plan_id)


@bp.get("/grids/<code>")
@require("viewer")
def grid(code: str) -> ResponseReturnValue:
    """One grid of the published plan: its properties (no geometry); 404 for an unknown code."""
    plan_id, frame = _grid_rows()
    match = frame[frame["code"].astype(str) == code]
    if match.empty:
        raise refusal(
            404,
            "there is no grid {code} in the published plan.",
            "list the grids with GET /api/grids (codes have 15 digits).",
            code=repr(code),
        )
    return jsonify(plan_id=plan_id, **_properties(match.iloc[0]))


def _coordinate(name: str, limit: float) -> float:
    raw = request.args.get(name)
    fix = "give lat and lon in decimal degrees (WGS84), e.g. {example}."
    example = "/api/lookup?lat=30.65&lon=104.06"
    if raw is None or not raw.strip():
        raise refusal(400, "{name} is missing.", fix, name=name, example=example)
    try:
        value = float(raw)
    except ValueError:
        raise refusal(
            400, "{name}={value} is not a number.", fix, name=name, value=repr(raw),
            example=example,
        ) from None  # fmt: skip
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise refusal(
            400, "{name}={value} is outside -{limit:g}..{limit:g} degrees.", fix, name=name,
            value=raw, limit=limit, example=example,
        )  # fmt: skip
    return value


@bp.get("/lookup")
@require("viewer", tokens=("intake",))
def lookup() -> ResponseReturnValue:
    """The published plan's grid holding a point (``lat``, ``lon`` in WGS84 degrees).

    Answers ``code`` (``null`` outside every grid), ``flag`` (``inside``, ``snapped`` within
    the index's tolerance, ``unassigned``) and ``distance_m`` to the grid (0 inside).
    """
    lat = _coordinate("lat", 90.0)
    lon = _coordinate("lon", 180.0)
    record = store.published()
    code, flag, distance = store.workspace().grid_index().lookup(lon, lat)
    return jsonify(
        lat=lat, lon=lon, code=code, flag=flag, distance_m=_plain(round(distance, 1)),
        plan_id=record.plan_id,
    )  # fmt: skip
