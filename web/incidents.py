"""The incidents page: heat of incidents, per-grid choropleth and Getis-Ord Gi* hot spots.

The page (``/incidents``, viewer role) is a Leaflet map drawn by ``static/incidents.js``; all
data comes from the JSON endpoints below, aggregated on the server so that no incident point
(nor anything household-level) leaves it:

``GET /api/incidents/shapes``
    The street outline, the community lines and the published grids (code, community,
    households) for display, in lon/lat.
``GET /api/incidents/heat``
    Incident counts in a regular hexagon lattice (:func:`gridmap.hotspots.hex_bins`) as a
    GeoJSON FeatureCollection with a fill colour per hexagon and a legend.
``GET /api/incidents/grids``
    Incidents per grid of the published plan (``measure=count`` or ``per_1000`` households)
    with class colours and a legend; no geometry (the page has it from ``shapes``).
``GET /api/incidents/hotspots``
    Getis-Ord Gi* of the per-grid counts (or rates): one row per grid with z, p and its class
    (hot/cold at 99, 95, 90 % confidence, :data:`gridmap.hotspots.HOTSPOT_CLASSES`).
``GET /api/incidents/weeks``
    Incidents per ISO week over the date range (zero-filled), for the week slider.

Every endpoint takes the same filters: ``category``, ``status``, ``level`` (handling level)
(each one value, several comma-separated or repeated), ``from`` and ``to`` (dates,
``YYYY-MM-DD``, both included) and ``week`` (``2025-W45``; not for ``weeks``).  Unknown values
and bad dates are answered with 400 JSON naming the allowed values.

The incidents are read once per app and kept until the incidents table or the published plan
changes (a new incident, a status change or an escalation shows on the next request).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from gridmap import hotspots
from gridmap import incidents as engine
from gridmap.schema import INCIDENT_CATEGORIES, INCIDENT_STATUSES
from gridmap.store import HANDLING_LEVELS
from web import maps
from web import workspace as store
from web.auth import require
from web.errors import ApiError
from web.i18n import translate as _

bp = Blueprint("incidents", __name__)

#: Views of the page: hexagon heat, per-grid choropleth, Gi* hot spots.
VIEWS = ("heat", "grids", "hotspots")

#: Per-grid measures: incidents, or incidents per 1,000 households.
MEASURES = ("count", "per_1000")

#: Hexagon widths offered (metres, flat to flat) and the default.
HEX_SIZES = (50, 100, 200, 400)
DEFAULT_HEX_SIZE = 100

#: Most weeks the slider may span (ten years).
MAX_WEEKS = 530

#: Most permutations of the Gi* pseudo p-values.
MAX_PERMUTATIONS = 9999

#: Fill colour of each hot spot class (ColorBrewer RdBu, 7 classes, hot = red).
HOTSPOT_FILLS = {
    "hot 99%": "#b2182b",
    "hot 95%": "#ef8a62",
    "hot 90%": "#fddbc7",
    "not significant": "#f7f7f7",
    "cold 90%": "#d1e5f0",
    "cold 95%": "#67a9cf",
    "cold 99%": "#2166ac",
}

#: Legend text of each hot spot class (translated on use).
HOTSPOT_LABELS = {
    "hot 99%": "Hot spot, 99 % confidence",
    "hot 95%": "Hot spot, 95 % confidence",
    "hot 90%": "Hot spot, 90 % confidence",
    "not significant": "Not significant",
    "cold 90%": "Cold spot, 90 % confidence",
    "cold 95%": "Cold spot, 95 % confidence",
    "cold 99%": "Cold spot, 99 % confidence",
}

#: Heat answers kept per version of the incidents (the week slider goes back and forth).
MAX_ANSWERS = 128

#: Key of the incidents frame in the app's cache.
CACHE_KEY = "incidents_page_frame"

#: Decimals of lon/lat sent for hexagons (6: about 0.1 m).
DECIMALS = 6

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DATE_FIX = "give dates as YYYY-MM-DD, e.g. from=2025-11-01&to=2025-11-30."


# ------------------------------------------------------------------ data


@dataclass(frozen=True)
class Incidents:
    """The workspace's incidents as the page needs them (no description, no address)."""

    key: tuple[Any, ...]  #: what the frame was read from (see :func:`_version`)
    frame: gpd.GeoDataFrame  #: category, status, handling_level, reported_at, grid, geometry
    plan_id: int
    codes: tuple[str, ...]  #: grid codes of the published plan, in its order
    answers: dict[Any, Any] = field(default_factory=dict)  #: heat answers made from it

    def answer(self, key: Any, make: Any) -> Any:
        """The answer cached under ``key`` (at most :data:`MAX_ANSWERS`), made on first use."""
        lock = store.state().lock
        with lock:
            if key in self.answers:
                return self.answers[key]
        made = make()  # outside the lock: other requests go on meanwhile
        with lock:
            while len(self.answers) >= MAX_ANSWERS:
                self.answers.pop(next(iter(self.answers)))
            self.answers[key] = made
        return made


def _version() -> tuple[Any, ...]:
    """What identifies the incidents table's content and the published plan (cheap query)."""
    con = store.workspace().connect()
    row = con.execute("SELECT count(*), max(fid), max(updated_at) FROM incidents").fetchone()
    return (*tuple(row), store.published().plan_id)


def _load(key: tuple[Any, ...]) -> Incidents:
    """Read every incident and give each the grid of the published plan it lies in."""
    ws = store.workspace()
    plan_id = int(key[-1])
    grids = store.grids(plan_id)
    codes = tuple(str(c) for c in grids["code"])
    frame = engine.incidents(ws)
    keep = ["category", "status", "handling_level", "reported_at", "grid_code", "geometry"]
    frame = frame[[c for c in keep if c in frame.columns]].copy()
    frame["handling_level"] = frame.get("handling_level", pd.Series(dtype=object)).fillna("grid")
    grid = frame.pop("grid_code").astype(object).where(lambda s: s.notna(), None)
    grid = grid.map(lambda c: None if c is None else str(c))
    stale = ~grid.isin(codes).to_numpy()
    if stale.any():
        # closed incidents keep the grid of an older plan: place them in today's grids
        found = ws.grid_index().assign_points(frame.geometry[stale]).codes
        grid[stale] = [None if c is None else str(c) for c in found]
    frame["grid"] = grid.to_numpy()
    return Incidents(key, frame, plan_id, codes)


def data() -> Incidents:
    """The app's cached incidents, read again when the table or the published plan changed."""
    state = store.state()
    key = _version()
    held = state.cached((CACHE_KEY, key), lambda: _load(key))
    with state.lock:
        for old in [k for k in state.cache if isinstance(k, tuple) and k[:1] == (CACHE_KEY,)]:
            if old != (CACHE_KEY, key):
                del state.cache[old]
    return held


def categories() -> list[str]:
    """The categories a filter may ask for: the schema's and any others in the data."""
    con = store.workspace().connect()
    found = [r[0] for r in con.execute("SELECT DISTINCT category FROM incidents") if r[0]]
    return [*INCIDENT_CATEGORIES, *sorted(set(map(str, found)) - set(INCIDENT_CATEGORIES))]


def date_span() -> tuple[date | None, date | None]:
    """The first and last dates an incident was reported on (``None`` with no incidents)."""
    con = store.workspace().connect()
    first, last = con.execute("SELECT min(reported_at), max(reported_at) FROM incidents").fetchone()
    parse = [pd.Timestamp(v) if v else pd.NaT for v in (first, last)]
    return tuple(None if pd.isna(v) else v.date() for v in parse)  # type: ignore[return-value]


# ------------------------------------------------------------------ filters


@dataclass(frozen=True)
class Filters:
    """The filters of a request, checked."""

    category: tuple[str, ...] | None
    status: tuple[str, ...] | None
    level: tuple[str, ...] | None
    start: date | None  #: first day included
    end: date | None  #: last day included
    week: str | None  #: ISO week label, e.g. ``2025-W45``

    def query(self) -> dict[str, str]:
        """The filters as query parameters (what a shared link carries)."""
        out = {}
        for name in ("category", "status", "level"):
            values = getattr(self, name)
            if values:
                out[name] = ",".join(values)
        if self.start:
            out["from"] = self.start.isoformat()
        if self.end:
            out["to"] = self.end.isoformat()
        if self.week:
            out["week"] = self.week
        return out

    def window(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """Reported at or after the first value and before the second (``None``: open)."""
        since = None if self.start is None else pd.Timestamp(self.start)
        until = None if self.end is None else pd.Timestamp(self.end) + pd.Timedelta(days=1)
        if self.week:
            monday = week_start(self.week)
            since = monday if since is None else max(since, monday)
            sunday_end = monday + pd.Timedelta(days=7)
            until = sunday_end if until is None else min(until, sunday_end)
        return since, until


def _values(name: str, allowed: Sequence[str], label: str) -> tuple[str, ...] | None:
    """A filter's values (repeated or comma-separated), each one checked."""
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",")]
    values = [v for v in values if v]
    if not values:
        return None
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ApiError(
            400,
            f"unknown {label} {', '.join(map(repr, unknown))}.",
            fix=f"use one of: {', '.join(allowed)} (or leave {name} out for all).",
        )
    return tuple(dict.fromkeys(values))


def _date(name: str) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10]) if len(raw) == 10 else date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name}={raw!r} is not a date.", fix=_DATE_FIX) from None


def week_start(label: str) -> pd.Timestamp:
    """The Monday starting ISO week ``label`` (``2025-W45``)."""
    found = _WEEK.match(label)
    fix = "give an ISO week as YYYY-Www, e.g. week=2025-W45 (GET /api/incidents/weeks lists them)."
    if not found:
        raise ApiError(400, f"week={label!r} is not an ISO week.", fix=fix)
    try:
        return pd.Timestamp(date.fromisocalendar(int(found[1]), int(found[2]), 1))
    except ValueError:
        raise ApiError(400, f"week={label!r} does not exist.", fix=fix) from None


def week_label(day: date) -> str:
    """The ISO week holding ``day`` (``2025-W45``)."""
    year, week, _day = day.isocalendar()
    return f"{year}-W{week:02d}"


def filters(*, with_week: bool = True) -> Filters:
    """The request's filters, checked: 400 JSON (or an error page) naming what is allowed."""
    start, end = _date("from"), _date("to")
    if start and end and start > end:
        raise ApiError(
            400,
            f"from={start} is after to={end}.",
            fix="give a from date on or before the to date (both are included).",
        )
    week = (request.args.get("week") or "").strip() if with_week else ""
    if week in ("all", ""):
        week = None
    if week:
        monday = week_start(week).date()
        if (start and monday + timedelta(days=6) < start) or (end and monday > end):
            raise ApiError(
                400,
                f"week {week} is outside the dates {start or '…'} to {end or '…'}.",
                fix="pick a week inside the date range (GET /api/incidents/weeks lists them), "
                "or leave week out for all weeks.",
            )
    return Filters(
        category=_values("category", categories(), "category"),
        status=_values("status", INCIDENT_STATUSES, "status"),
        level=_values("level", HANDLING_LEVELS, "handling level"),
        start=start,
        end=end,
        week=week,
    )


def select(incidents: Incidents, chosen: Filters) -> gpd.GeoDataFrame:
    """The incidents matching ``chosen`` (as :func:`gridmap.incidents.incidents` filters)."""
    frame = incidents.frame
    keep = np.ones(len(frame), dtype=bool)
    for column, values in (
        ("category", chosen.category),
        ("status", chosen.status),
        ("handling_level", chosen.level),
    ):
        if values is not None:
            keep &= frame[column].isin(values).to_numpy()
    since, until = chosen.window()
    if since is not None:
        keep &= (frame["reported_at"] >= since).to_numpy()
    if until is not None:
        keep &= (frame["reported_at"] < until).to_numpy()
    return frame[keep]


def _choice(name: str, allowed: Sequence[Any], default: Any) -> Any:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    for value in allowed:
        if raw == str(value):
            return value
    raise ApiError(
        400,
        f"{name}={raw!r} is not one of the choices.",
        fix=f"use {name}= one of: {', '.join(map(str, allowed))}.",
    )


def _number(value: Any, digits: int = 3) -> Any:
    """A JSON-ready number: numpy unwrapped, rounded, NaN and infinities as ``None``."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded


def _legend(bounds: Sequence[float]) -> list[dict[str, Any]]:
    return [{"fill": f, "from": lo, "to": hi} for f, lo, hi in maps.legend(bounds)]


# ------------------------------------------------------------------ page


@bp.get("/incidents")
@require("viewer")
def page() -> ResponseReturnValue:
    """The incidents map: heat, per-grid choropleth or hot spots, with filters and a week slider."""
    chosen = filters()
    view = _choice("view", VIEWS, "heat")
    measure = _choice("measure", MEASURES, "count")
    size = _choice("size", HEX_SIZES, DEFAULT_HEX_SIZE)
    first, last = date_span()
    record = store.published()
    labels = {
        "incidents": _("Incidents"),
        "grid": _("Grid"),
        "community": _("Community"),
        "households": _("Households"),
        "per_1000": _("Incidents per 1,000 households"),
        "all_weeks": _("All weeks"),
        "week": _("Week"),
        "count": _("{n} incidents", n="{n}"),
        "outside": _("{n} outside the street", n="{n}"),
        "unassigned": _("{n} outside every grid", n="{n}"),
        "heat_title": _("Incidents per hexagon ({size} m)", size="{size}"),
        "grids_title": _("Incidents per grid"),
        "hot_title": _("Hot spots (Getis-Ord Gi*)"),
        "hot_note": _("Clusters of grids with many (hot) or few (cold) incidents."),
        "up_to": _("up to {v}", v="{v}"),
        "z": _("z-score"),
        "p": _("p-value"),
        "p_sim": _("pseudo p-value"),
        "loading": _("Loading…"),
        "error": _("The map could not be updated"),
        "play": _("Play"),
        "pause": _("Pause"),
        "no_data": _("no data"),
        "classes": {k: _(v) for k, v in HOTSPOT_LABELS.items()},
    }
    config = {
        "api": {
            "shapes": "/api/incidents/shapes",
            "heat": "/api/incidents/heat",
            "grids": "/api/incidents/grids",
            "hotspots": "/api/incidents/hotspots",
            "weeks": "/api/incidents/weeks",
        },
        "tiles": current_app.config["TILES"],
        "attribution": current_app.config["TILES_ATTRIBUTION"],
        "labels": labels,
    }
    return render_template(
        "incidents.html",
        plan=record,
        chosen=chosen,
        view=view,
        measure=measure,
        size=size,
        sizes=HEX_SIZES,
        categories=categories(),
        statuses=INCIDENT_STATUSES,
        levels=HANDLING_LEVELS,
        first=first,
        last=last,
        config=config,
    )


# ------------------------------------------------------------------ API


@bp.get("/api/incidents/shapes")
@require("viewer")
def shapes() -> ResponseReturnValue:
    """The street, its communities and the published grids for display (lon/lat GeoJSON)."""
    record = store.published()

    def make() -> dict[str, Any]:
        grids = store.display_grids(record.plan_id)
        columns = [c for c in ("code", "community_name", "households") if c in grids]
        out: dict[str, Any] = {"plan_id": record.plan_id, "version": record.version}
        out["grids"] = _geojson(grids[[*columns, "geometry"]])
        outline = store.outline()
        for name in ("street", "communities"):
            layer = outline[name]
            out[name] = None if layer is None else _geojson(layer[["geometry"]])
        return out

    body = store.state().cached(("incidents_page_shapes", record.plan_id), make)
    return jsonify(body)


def _geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    import json

    return json.loads(frame.to_json(drop_id=True, to_wgs84=True))


def _heat_class(share: float) -> int:
    """The ramp class of a hexagon: equal steps of ``sqrt(share)``.

    A square-root scale keeps one busy hexagon from leaving every other in the lightest class.
    """
    steps = len(maps.PALETTE)
    return min(steps - 1, max(0, math.ceil(math.sqrt(max(share, 0.0)) * steps) - 1))


def _heat_legend(top: float) -> list[dict[str, Any]]:
    """The heat ramp's rows: colour and the whole counts it stands for (empty classes left out).

    Each count from 1 to ``top`` is put in its class exactly as the hexagons are
    (:func:`_heat_class` of ``count / top``), so a legend row never claims a count that is drawn
    in another colour, and its bounds are whole numbers.
    """
    top_count = int(round(top))
    if top_count < 1:
        return []
    counts = np.arange(1, top_count + 1, dtype=np.float64)
    steps = len(maps.PALETTE)
    share = counts / float(top_count)
    classes = np.clip(np.ceil(np.sqrt(share) * steps) - 1, 0, steps - 1).astype(int)
    rows = []
    for i, fill in enumerate(maps.PALETTE):
        members = counts[classes == i]
        if members.size:
            low = None if not rows else int(members[0])
            rows.append({"fill": fill, "from": low, "to": int(members[-1])})
    return rows


@bp.get("/api/incidents/heat")
@require("viewer")
def heat() -> ResponseReturnValue:
    """Incidents per hexagon: GeoJSON hexagons with ``count``, ``share`` and ``fill``.

    Query: the filters (see the module docstring) and ``size`` (hexagon width in metres,
    one of :data:`HEX_SIZES`).  The answer also holds ``total`` (incidents matching),
    ``binned`` (those in a hexagon), ``outside`` (outside the street), ``legend`` and the
    filters as applied.
    """
    chosen = filters()
    size = _choice("size", HEX_SIZES, DEFAULT_HEX_SIZE)
    incidents = data()
    key = ("heat", tuple(sorted(chosen.query().items())), size)
    return jsonify(incidents.answer(key, lambda: _heat_body(incidents, chosen, size)))


def _heat_body(incidents: Incidents, chosen: Filters, size: int) -> dict[str, Any]:
    """The heat answer for ``chosen`` filters and hexagons ``size`` metres wide."""
    selected = select(incidents, chosen)
    street = store.outline()["street"]
    extent = street if street is not None and not street.empty else None
    bins = hotspots.hex_bins(selected, size_m=size, extent=extent)
    features = []
    if len(bins):
        rings = shapely.get_exterior_ring(bins.geometry.to_numpy())
        xy = np.round(shapely.get_coordinates(rings), DECIMALS)
        ends = np.cumsum(shapely.get_num_coordinates(rings))
        starts = ends - shapely.get_num_coordinates(rings)
        for i, row in enumerate(bins.itertuples(index=False)):
            features.append(
                {
                    "type": "Feature",
                    "id": f"{row.q},{row.r}",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [xy[starts[i] : ends[i]].tolist()],
                    },
                    "properties": {
                        "count": _number(row.count),
                        "share": _number(row.share),
                        "density_per_km2": _number(row.density_per_km2, 1),
                        "fill": maps.PALETTE[_heat_class(float(row.share))],
                    },
                }
            )
    top = float(bins["count"].max()) if len(bins) else 0.0
    legend = _heat_legend(top)
    return {
        "type": "FeatureCollection",
        "features": features,
        "layer": "heat",
        "total": len(selected),
        "binned": _number(bins["count"].sum()) if len(bins) else 0,
        "outside": int(bins.attrs.get("outside", 0)),
        "skipped": int(bins.attrs.get("skipped", 0)),
        "size_m": size,
        "max_count": _number(top),
        "legend": legend,
        "filters": chosen.query(),
    }


def _grid_counts(incidents: Incidents, selected: gpd.GeoDataFrame) -> pd.Series:
    """Incidents per grid code of the published plan, in the plan's order (0 for none)."""
    counts = selected["grid"].dropna().value_counts()
    return counts.reindex(list(incidents.codes), fill_value=0).astype("int64")


@bp.get("/api/incidents/grids")
@require("viewer")
def grid_counts() -> ResponseReturnValue:
    """Incidents per grid of the published plan, coloured by class.

    Query: the filters and ``measure`` (``count`` or ``per_1000`` households).  Rows: ``code``,
    ``community_name``, ``households``, ``count``, ``per_1000``, ``fill``; also ``total``
    (incidents matching), ``in_grids`` (the sum of the rows' counts), ``unassigned`` (outside
    every grid) and ``legend``.
    """
    chosen = filters()
    measure = _choice("measure", MEASURES, "count")
    incidents = data()
    selected = select(incidents, chosen)
    counts = _grid_counts(incidents, selected)
    table = store.grid_table(incidents.plan_id)
    households = pd.to_numeric(table["households"], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(households > 0, counts.to_numpy() / households * 1000.0, np.nan)
    values = counts.to_numpy(float) if measure == "count" else rate
    bounds = maps.classes(values.tolist())
    rows = []
    for i, row in enumerate(table.itertuples(index=False)):
        rows.append(
            {
                "code": str(row.code),
                "community_name": str(getattr(row, "community_name", "")),
                "households": _number(households[i]),
                "count": int(counts.iloc[i]),
                "per_1000": _number(rate[i], 1),
                "fill": maps.colour(values[i], bounds),
            }
        )
    body = {
        "layer": "grids",
        "measure": measure,
        "plan_id": incidents.plan_id,
        "grids": rows,
        "total": len(selected),
        "in_grids": int(counts.sum()),
        "unassigned": int(selected["grid"].isna().sum()),
        "legend": _legend(bounds),
        "filters": chosen.query(),
    }
    return jsonify(body)


@bp.get("/api/incidents/hotspots")
@require("viewer")
def grid_hotspots() -> ResponseReturnValue:
    """Getis-Ord Gi* hot and cold spots of the per-grid counts (or rates).

    Query: the filters, ``measure`` (``count`` or ``per_1000``: test the rate per 1,000
    households) and ``permutations`` (0 to 9999; above 0 adds a pseudo p-value ``p_sim``).
    One row per grid: ``code``, ``count``, ``rate``, ``neighbours``, ``gi_star`` (z),
    ``p_value``, ``p_sim``, ``hotspot`` (a class of :data:`gridmap.hotspots.HOTSPOT_CLASSES`),
    ``label`` and ``fill``; ``classes`` gives the legend with the number of grids in each.
    """
    chosen = filters()
    measure = _choice("measure", MEASURES, "count")
    raw = (request.args.get("permutations") or "0").strip()
    if not raw.isdigit() or int(raw) > MAX_PERMUTATIONS:
        raise ApiError(
            400,
            f"permutations={raw!r} is not a whole number from 0 to {MAX_PERMUTATIONS}.",
            fix="use 0 (normal approximation) or e.g. permutations=999.",
        )
    incidents = data()
    selected = select(incidents, chosen)
    counts = _grid_counts(incidents, selected)
    grids = store.grids(incidents.plan_id)
    result = hotspots.grid_hotspots(
        grids, counts, per_households=measure == "per_1000", permutations=int(raw), seed=0
    )
    rows = []
    for row in result.drop(columns="geometry").to_dict("records"):
        rows.append(
            {
                "code": str(row["code"]),
                "count": _number(row["count"]),
                "rate": _number(row.get("rate"), 2),
                "neighbours": int(row["neighbours"]),
                "gi_star": _number(row["gi_star"], 3),
                "p_value": _number(row["p_value"], 4),
                "p_sim": _number(row.get("p_sim"), 4),
                "hotspot": row["hotspot"],
                "label": _(HOTSPOT_LABELS[row["hotspot"]]),
                "fill": HOTSPOT_FILLS[row["hotspot"]],
            }
        )
    tally = result["hotspot"].value_counts()
    classes = [
        {"hotspot": c, "label": _(HOTSPOT_LABELS[c]), "fill": HOTSPOT_FILLS[c],
         "grids": int(tally.get(c, 0))}
        for c in hotspots.HOTSPOT_CLASSES
    ]  # fmt: skip
    body = {
        "layer": "hotspots",
        "measure": measure,
        "tested": result.attrs.get("tested", "count"),
        "permutations": int(raw),
        "plan_id": incidents.plan_id,
        "grids": rows,
        "total": len(selected),
        "unassigned": int(selected["grid"].isna().sum()),
        "classes": classes,
        "note": result.attrs.get("note", ""),
        "filters": chosen.query(),
    }
    return jsonify(body)


@bp.get("/api/incidents/weeks")
@require("viewer")
def weeks() -> ResponseReturnValue:
    """Incidents per ISO week (zero-filled), for the week slider.

    Query: the filters except ``week``.  The weeks run from the week of ``from`` (or of the
    first incident) to the week of ``to`` (or of the last incident); each row has ``week``
    (``2025-W45``), ``start`` (Monday), ``end`` (Sunday) and ``count``.
    """
    chosen = filters(with_week=False)
    incidents = data()
    selected = select(incidents, chosen)
    first, last = date_span()
    start = chosen.start or first
    end = chosen.end or last
    rows: list[dict[str, Any]] = []
    if start is not None and end is not None:
        monday = start - timedelta(days=start.weekday())
        span = ((end - monday).days // 7) + 1
        if span > MAX_WEEKS:
            raise ApiError(
                400,
                f"{start} to {end} spans {span} weeks, more than {MAX_WEEKS}.",
                fix="narrow the dates (from, to) to ten years or less.",
            )
        reported = selected["reported_at"].dropna()
        offsets = ((reported - pd.Timestamp(monday)).dt.days // 7).to_numpy()
        tally = np.bincount(offsets[(offsets >= 0) & (offsets < span)], minlength=span)
        for i in range(span):
            day = monday + timedelta(days=7 * i)
            rows.append(
                {
                    "week": week_label(day),
                    "start": day.isoformat(),
                    "end": (day + timedelta(days=6)).isoformat(),
                    "count": int(tally[i]),
                }
            )
    body = {"weeks": rows, "total": len(selected), "filters": chosen.query()}
    return jsonify(body)
