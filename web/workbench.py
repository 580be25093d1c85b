"""The redraw workbench (editor role): run a plan, set it beside the published one, edit, publish.

An editor asks for a plan on the page (``/workbench``): a redraw of the published plan that
moves as few households as possible (:func:`gridmap.redraw.redraw`) or a fresh partition
(:func:`gridmap.plan.make_plan`).  The proposed plan is kept in memory as a *draft* of that
editor: a :class:`gridmap.edit.PlanEditor` over the plan (at most :data:`MAX_DRAFTS` per user,
the oldest dropped), which the page edits by hand (move units, split, merge, lock, undo, redo),
then saves as a draft plan version of the workspace or publishes.

The JSON endpoints live under ``/workbench/api/``; all need the editor role (and the CSRF
header for POSTs) and answer errors as JSON ``{"error", "message", "fix"}``, in the page's
language (English, or Chinese for a request in Chinese; :func:`web.messages.refusal`):

``POST run``
    Body ``{"mode": "redraw"|"afresh", "weight", "target", "minimum", "maximum", "grids",
    "per_community": {code: n}, "locked": [codes], "seed"}`` -> the new draft's state.
``GET drafts``, ``GET published``
    The user's drafts; the published grids as GeoJSON with their deviation from target.
``GET <draft>``, ``GET <draft>/grids``, ``GET <draft>/units``, ``GET <draft>/changes``
    State (metrics, grids, changes, history); proposed grids and units as GeoJSON; what changes
    grid against the published plan (``?full=1``: :func:`gridmap.compare.compare_plans` rerun).
``POST <draft>/move`` ``{"units": [i...], "to": code}``, ``split`` ``{"code"}``, ``merge``
``{"keep", "other"}``, ``lock``/``unlock`` ``{"code"}``, ``undo``, ``redo``
    One edit; a refused edit answers 400 with the engine's reason (``"refused": true``).
``POST <draft>/save`` ``{"note"}``, ``POST <draft>/publish`` ``{"note"}``
    Keep the draft as a plan version (author: the logged-in user); publish it.

What changes grid is counted per building (households follow their building) and per incident,
against the published plan's own assignments, exactly as :func:`gridmap.compare.compare_plans`
places them: the comparison runs once per draft, after which each edit recounts the flows from
unit labels in milliseconds (incidents are placed in units once).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from gridmap.compare import compare_plans
from gridmap.edit import EditRefused, EditResult, PlanEditor
from gridmap.errors import GridmapError
from gridmap.metrics import buildings_split
from gridmap.plan import Plan, make_plan, overlap_codes
from gridmap.redraw import redraw
from web import workspace as store
from web.auth import current_account, require
from web.errors import ApiError as ApiError  # the refusals' class, for callers
from web.errors import geojson_response
from web.i18n import current_language, translate
from web.messages import error_text, problem_text, refusal

bp = Blueprint("workbench", __name__, url_prefix="/workbench")

#: Drafts kept per user; the oldest is dropped when a run makes one more.
MAX_DRAFTS = 3

#: How a plan is asked for: a redraw of the published plan, or a fresh partition.
MODES = ("redraw", "afresh")

#: What grids are balanced on.
WEIGHTS = ("households", "persons")

#: Key of the workbench's drafts in ``app.extensions``.
EXTENSION = "gridmap_workbench"

#: Most grids a request may ask for (per street or per community).
MAX_GRIDS = 999

#: How refusals name the fields of a run (English; the catalogue holds their Chinese).
FIELDS = {
    "mode": "mode",
    "weight": "weight",
    "target": "target",
    "minimum": "minimum",
    "maximum": "maximum",
    "grids": "number of grids",
    "seed": "seed",
}

#: Per-grid values sent to the page, in order.
GRID_FIELDS = (
    "code",
    "community",
    "units",
    "weight",
    "households",
    "persons",
    "buildings",
    "deviation",
    "in_range",
    "polsby_popper",
    "parts",
    "locked",
)


#: Words the page's script shows, translated on the server (key -> English).
JS_TEXTS = {
    "grids": "Grids",
    "in_range_share": "Grids in range",
    "max_abs_deviation": "Largest deviation from target",
    "mean_polsby_popper": "Mean compactness (Polsby-Popper)",
    "contiguous_share": "Grids in one piece",
    "buildings_split": "Buildings split",
    "households_moved": "Households moved vs published",
    "grid": "Grid",
    "community": "Community",
    "households": "Households",
    "persons": "Persons",
    "units": "Units",
    "move_to": "Move to grid {code}",
    "split": "Split grid {code} in two",
    "merge": "Merge grid {other} into {code}",
    "lock": "Lock grid {code}",
    "unlock": "Unlock grid {code}",
    "selected": "Selected: {n} unit(s) in grid {code}",
    "no_neighbour": "No neighbouring grid in this community.",
    "nothing_selected": "No unit selected.",
    "refused": "Refused",
    "done": "Done",
    "changes": "{b} buildings, {h} households, {p} persons and {i} incidents change grid.",
    "no_changes": "Nothing changes grid.",
    "saved": "Saved as plan {id}, version {version} ({status}).",
    "published": "Published: plan {id}, version {version}; {n} open incidents moved grid.",
    "confirm_publish": "Publish this plan? It replaces the published plan for everybody.",
    "draft": "Draft {id}: {mode}, {n} grids, run in {s} s, compared with version {v}.",
    "redraw": "redraw",
    "afresh": "partition afresh",
    "deviation": "Deviation from target",
    "range": "Allowed range",
    "out_of_range": "out of range",
    "loading": "Loading…",
    "failed": "Failed",
    "none": "(no grid)",
    "locked": "locked",
}

# ------------------------------------------------------------------------------ drafts


@dataclass
class Draft:
    """One proposed plan of one editor, with its edit history and what it changes.

    Attributes
    ----------
    draft_id, owner
        The draft's id (random) and the user it belongs to.
    mode, request
        How it was asked for (see :data:`MODES`) and the validated parameters.
    plan, editor
        The proposed plan as run, and the :class:`gridmap.edit.PlanEditor` over it.
    table
        One row per current grid (indexed by code), the columns of :data:`GRID_FIELDS`.
    base_plan_id, base_summary
        The published plan the draft is compared with, and its plan metrics.
    building_before, building_unit, households, persons
        Per workspace building: its grid in the base plan (``None``: none), its unit in the
        draft (-1: none), its households and persons (persons NaN when unknown).
    incident_before, incident_unit
        Per incident: its grid in the base plan and the draft's unit holding it (-1: none).
    split
        Buildings cut between grids (units are never cut, so edits keep it).
    revision
        Increases with every accepted edit, undo and redo.
    """

    draft_id: str
    owner: str
    mode: str
    request: dict[str, Any]
    plan: Plan
    editor: PlanEditor
    table: pd.DataFrame
    base_plan_id: int
    base_version: int
    base_summary: dict[str, Any]
    building_before: np.ndarray
    building_unit: np.ndarray
    households: np.ndarray
    persons: np.ndarray
    incident_before: np.ndarray | None
    incident_unit: np.ndarray | None
    split: int
    problems: list[dict[str, str]]
    seconds: float
    created: float = field(default_factory=time.time)
    revision: int = 0
    saved: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    cache: dict[str, Any] = field(default_factory=dict)


class Drafts:
    """The drafts of every user of one app, in memory, at most :data:`MAX_DRAFTS` per user."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_user: dict[str, OrderedDict[str, Draft]] = {}

    def add(self, draft: Draft) -> list[str]:
        """Keep ``draft``; returns the ids of the user's drafts dropped to make room."""
        with self.lock:
            mine = self.by_user.setdefault(draft.owner, OrderedDict())
            mine[draft.draft_id] = draft
            dropped = []
            while len(mine) > MAX_DRAFTS:
                dropped.append(mine.popitem(last=False)[0])
            return dropped

    def get(self, owner: str, draft_id: str) -> Draft:
        """The user's draft ``draft_id``; 404 when there is none (or it was dropped)."""
        with self.lock:
            draft = self.by_user.get(owner, {}).get(draft_id)
        if draft is None:
            raise refusal(
                404,
                "there is no draft {id} of {owner}.",
                "run a plan again (the “Run” button, or POST /workbench/api/run): drafts live in "
                "memory, at most {n} per user, and are lost when the app restarts.",
                id=repr(draft_id),
                owner=owner,
                n=MAX_DRAFTS,
            )
        return draft

    def of(self, owner: str) -> list[Draft]:
        """The user's drafts, oldest first."""
        with self.lock:
            return list(self.by_user.get(owner, {}).values())

    def drop(self, owner: str, draft_id: str) -> None:
        """Forget a draft of the user (404 when there is none)."""
        self.get(owner, draft_id)
        with self.lock:
            self.by_user.get(owner, {}).pop(draft_id, None)


def drafts() -> Drafts:
    """The current app's drafts."""
    return current_app.extensions.setdefault(EXTENSION, Drafts())


def _user() -> str:
    account = current_account()
    assert account is not None  # the views are guarded
    return account.name


def _draft(draft_id: str) -> Draft:
    return drafts().get(_user(), draft_id)


# ------------------------------------------------------------------------------ guard & errors


@bp.before_request
def _guard_api() -> None:
    """API calls: 401 JSON without a log-in, 403 JSON without the editor role (pages redirect)."""
    if not request.path.startswith("/workbench/api/"):
        return
    account = current_account()
    if account is None:
        raise refusal(401, "the workbench needs a log-in.", "log in through /login.")
    if not account.may("editor"):
        raise refusal(
            403,
            "{name} ({role}) may not use the workbench: it needs editor.",
            "log in with an editor or admin account.",
            name=account.name,
            role=_word(account.role),
        )


def _json_error(code: int, message: str, fix: str = "", **extra: Any) -> ResponseReturnValue:
    from werkzeug.http import HTTP_STATUS_CODES

    body: dict[str, Any] = {"error": HTTP_STATUS_CODES.get(code, "Error"), "message": message}
    if fix:
        body["fix"] = fix
    body.update(extra)
    return jsonify(body), code


@bp.errorhandler(EditRefused)
def _refused(error: EditRefused) -> ResponseReturnValue:
    """A refused edit: 400 with the engine's reason, fix and the grids and units involved."""
    message, fix = error_text(error)
    return _json_error(400, message, fix, refused=True, codes=error.codes, units=error.units)


@bp.errorhandler(GridmapError)
def _engine_error(error: GridmapError) -> ResponseReturnValue:
    """An engine refusal (infeasible request, bad parameters): 400 with its message and fix."""
    return _json_error(400, *error_text(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    """Errors of the API as JSON (the page's errors go to the app's handlers)."""
    if not request.path.startswith("/workbench/api/"):
        from web.errors import error_response

        return error_response(error.code or 500, error.description or "", getattr(error, "fix", ""))
    return _json_error(error.code or 500, error.description or "", getattr(error, "fix", ""))


# ------------------------------------------------------------------------------ input


def _word(text: str) -> str:
    """A word of the catalogue in Chinese for a Chinese request; in English as it is."""
    return translate(text) if current_language() == "zh" else text


def _field(name: str) -> str:
    """A field of a run as refusals name it (``grids``: "number of grids", "网格总数")."""
    return _word(FIELDS.get(name, name))


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise refusal(
            400,
            "the request body is not a JSON object.",
            "send JSON such as {example}.",
            example='{"mode": "redraw", "target": 400}',
        )
    return body


def _number(
    body: dict[str, Any],
    name: str,
    default: Any,
    *,
    integer: bool = False,
    field: str | None = None,
) -> Any:
    """A positive number of the body (``default`` when absent or empty); 400 otherwise.

    ``field`` is how refusals name the value (default: :func:`_field` of ``name``).
    """
    raw = body.get(name, default)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    words = {
        "field": field or _field(name),
        "kind": _word("a whole number" if integer else "a number"),
        "value": str(raw).strip(),
        "limit": MAX_GRIDS,
    }
    try:
        value = math.nan if isinstance(raw, bool) else float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0 or (integer and value != int(value)):
        raise refusal(
            400,
            "{field} must be {kind} greater than 0, not {value}.",
            "enter {kind} greater than 0 for {field}.",
            **words,
        )
    if integer:
        if value > MAX_GRIDS:
            raise refusal(
                400,
                "{field} must be at most {limit}, not {value}.",
                "ask for at most {limit} grids.",
                **words,
            )
        return int(value)
    return value


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name, allowed[0])
    if value not in allowed:
        raise refusal(
            400,
            "{field} {value} is not one of {allowed}.",
            "give {field} as one of: {allowed}.",
            field=_field(name),
            value=repr(value),
            allowed=", ".join(allowed),
        )
    return str(value)


def _code(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise refusal(
            400,
            "{name} is missing or not a grid code.",
            "give {name} as a grid code string, e.g. {example}.",
            name=name,
            example=f'{{"{name}": "510104090001003"}}',
        )
    return str(value).strip()


def parse_request(body: dict[str, Any]) -> dict[str, Any]:
    """The validated parameters of a run (see the module docstring); 400 on bad input."""
    mode = _choice(body, "mode", MODES)
    weight = _choice(body, "weight", WEIGHTS)
    target = _number(body, "target", 400.0)
    minimum = _number(body, "minimum", 300.0)
    maximum = _number(body, "maximum", 500.0)
    if not minimum <= target <= maximum:
        raise refusal(
            400,
            "the range {minimum:g}-{maximum:g} does not hold the target {target:g}.",
            "give minimum <= target <= maximum (e.g. 300, 400, 500).",
            minimum=minimum,
            maximum=maximum,
            target=target,
        )
    grids = _number(body, "grids", None, integer=True)
    per_community = body.get("per_community") or None
    if per_community is not None:
        if not isinstance(per_community, dict):
            raise refusal(
                400,
                "per_community is not an object of community code -> grids.",
                "give per_community as {example}.",
                example='{"510104090001": 12, ...}',
            )
        names = store.community_names()
        unknown = sorted(str(k) for k in per_community if str(k) not in names)
        if unknown:
            raise refusal(
                400,
                "per_community names unknown communities: {unknown}.",
                "use the community codes {codes}.",
                unknown=", ".join(unknown),
                codes=", ".join(sorted(names)),
            )
        per_community = {
            str(k): _number(
                per_community,
                k,
                None,
                integer=True,
                field=translate(
                    "the number of grids of community {name}", name=names[str(k)] or str(k)
                ),
            )
            for k in per_community
        }
        missing = sorted(k for k, v in per_community.items() if v is None)
        if missing:
            raise refusal(
                400,
                "no number of grids is given for community {names}.",
                "give every community a number of grids (1 or more).",
                names=("、" if current_language() == "zh" else ", ").join(
                    names[k] or k for k in missing
                ),
            )
    if grids is not None and per_community is not None:
        raise refusal(
            400,
            "both grids and per_community were given.",
            "ask for a number of grids for the street, or per community, not both.",
        )
    locked = body.get("locked") or []
    if not isinstance(locked, list) or not all(isinstance(c, str) for c in locked):
        raise refusal(
            400,
            "locked is not a list of grid codes.",
            "give locked as {example}.",
            example='["510104090001003", ...]',
        )
    if mode == "redraw" and (grids is not None or per_community is not None):
        raise refusal(
            400,
            "a redraw keeps the published grids and balances them to a range; it takes no "
            "number of grids.",
            "choose “Partition afresh” to ask for a number of grids, or give a target range.",
        )
    if mode == "afresh" and locked:
        raise refusal(
            400,
            "locked grids apply to a redraw of the published plan.",
            "choose “Redraw from the published plan”, or leave the locked grids empty.",
        )
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise refusal(
            400,
            "{field} {value} is not a whole number >= 0.",
            "give {field} as 0, 1...",
            field=_field("seed"),
            value=repr(seed),
        )
    return {
        "mode": mode,
        "weight": weight,
        "target": target,
        "minimum": minimum,
        "maximum": maximum,
        "grids": grids,
        "per_community": per_community,
        "locked": sorted(set(locked)),
        "seed": seed,
    }


# ------------------------------------------------------------------------------ engine


_layers_lock = threading.Lock()


def _layers() -> dict[str, Any]:
    """The workspace layers, read once per change of the workspace (plans, imports, incidents)."""
    ws = store.workspace()
    con = ws.connect()
    (audit,) = con.execute("SELECT coalesce(max(audit_id), 0) FROM gridmap_audit").fetchone()
    key = (int(audit), ws.incident_count())
    holder = current_app.extensions.setdefault(EXTENSION + "_layers", {})
    with _layers_lock:
        if holder.get("key") != key:
            holder["layers"] = ws.read_layers()
            holder["key"] = key
        return holder["layers"]


def _problems(problems: list[Any]) -> list[dict[str, str]]:
    texts = [problem_text(p) for p in problems]
    return [
        {"severity": p.severity, "message": message, "fix": fix}
        for p, (message, fix) in zip(problems, texts, strict=True)
    ]


def _unit_of_points(plan: Plan, points: gpd.GeoSeries) -> np.ndarray:
    """The draft unit holding each point (-1 outside every unit or without geometry)."""
    out = np.full(len(points), -1, dtype=np.int64)
    present = ~(points.isna() | points.is_empty).to_numpy()
    if present.any():
        units = gpd.GeoDataFrame(
            {"code": [f"{i:06d}" for i in range(len(plan.units))]},
            geometry=plan.units.geometry.to_numpy(),
            crs=plan.units.crs,
        )
        codes = overlap_codes(points[present], units)[0]
        out[present] = [-1 if c is None else int(c) for c in codes]
    return out


def _split_count(layers: dict[str, Any], grids: gpd.GeoDataFrame) -> int:
    buildings = layers.get("buildings")
    if not isinstance(buildings, gpd.GeoDataFrame) or grids.empty:
        return 0
    return int(len(buildings_split(buildings, grids)))


def _published_split(plan_id: int, crs: Any) -> int:
    """Buildings cut by the published plan's grids (cached per plan)."""

    def make() -> int:
        grids = store.workspace().plan_grids(plan_id).to_crs(crs)
        return _split_count(_layers(), grids)

    return store.state().cached(("workbench", "split", int(plan_id)), make)


def run(params: dict[str, Any], owner: str) -> Draft:
    """Make the plan asked for, compare it with the published plan and keep it as a draft."""
    ws = store.workspace()
    record = store.published()
    layers = _layers()
    started = time.perf_counter()
    common = {
        "weight": params["weight"],
        "target": params["target"],
        "minimum": params["minimum"],
        "maximum": params["maximum"],
    }
    base = ws.plan_file(record.plan_id)
    if params["mode"] == "redraw":
        result = redraw(layers, base, locked=params["locked"], **common)
        plan, problems = result.plan, result.problems
    else:
        plan = make_plan(
            layers,
            grids=params["grids"],
            per_community=params["per_community"],
            seed=params["seed"],
            **common,
        )
        problems = plan.problems
    editor = PlanEditor(plan)
    for code in params["locked"]:
        if code in editor.codes:
            editor.lock(code)
    comparison = compare_plans(base, plan, layers)
    table = comparison.buildings
    building_unit = plan.building_unit
    if building_unit is not None:
        unit_of = pd.Series(building_unit.to_numpy(), index=building_unit.index.astype(str))
        units = unit_of.reindex(table["building_id"].astype(str)).fillna(-1).to_numpy(np.int64)
    else:  # pragma: no cover - workspace plans always carry their buildings
        units = np.full(len(table), -1, dtype=np.int64)
    incidents = layers.get("incidents")
    incident_before = incident_unit = None
    if comparison.incidents is not None and isinstance(incidents, gpd.GeoDataFrame):
        incident_before = comparison.incidents["before"].to_numpy(dtype=object)
        incident_unit = _unit_of_points(plan, incidents.geometry)
    draft = Draft(
        draft_id=secrets.token_hex(6),
        owner=owner,
        mode=params["mode"],
        request=params,
        plan=plan,
        editor=editor,
        table=_grid_table(editor.measure()),
        base_plan_id=record.plan_id,
        base_version=record.version,
        base_summary=dict(record.summary),
        building_before=table["before"].to_numpy(dtype=object),
        building_unit=units,
        households=table["households"].to_numpy(dtype=float),
        persons=pd.to_numeric(table["persons"], errors="coerce").to_numpy(dtype=float),
        incident_before=incident_before,
        incident_unit=incident_unit,
        split=_split_count(layers, plan.grids),
        problems=_problems(problems),
        seconds=round(time.perf_counter() - started, 2),
    )
    draft.revision = 1 if editor.history else 0
    return draft


def _grid_table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The per-grid values of :data:`GRID_FIELDS` (from an editor measure), indexed by code."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    for name in GRID_FIELDS:
        if name not in table:
            table[name] = None
    return table[list(GRID_FIELDS)].set_index("code", drop=False)


def _refresh_deviation(draft: Draft) -> None:
    """Without a target, deviations are from the community mean: recompute them all."""
    if draft.plan.context.target:
        return
    table = draft.table
    means = table.groupby("community")["weight"].transform("mean").astype(float)
    weight = table["weight"].astype(float)
    table["deviation"] = np.where(means > 0, weight / means.where(means > 0, 1.0) - 1.0, np.nan)


def _unit_codes(draft: Draft) -> np.ndarray:
    return np.asarray(draft.editor.codes, dtype=object)[draft.editor.labels]


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    lost, gone = pd.isna(before), pd.isna(after)
    same = np.zeros(len(before), dtype=bool)
    both = ~lost & ~gone
    same[both] = before[both] == after[both]
    return ~(same | (lost & gone))


def changes(draft: Draft) -> dict[str, Any]:
    """What changes grid between the published plan and the draft: flows and totals.

    Buildings (with their households and persons) and incidents, counted per (from -> to)
    pair of grids as :func:`gridmap.compare.compare_plans` counts them, sorted by households.
    """
    codes = _unit_codes(draft)
    after = np.where(draft.building_unit >= 0, codes[np.maximum(draft.building_unit, 0)], None)
    moved = _changed(draft.building_before, after)
    none = "\0"
    frame = pd.DataFrame(
        {
            "before": pd.Series(draft.building_before[moved], dtype=object).fillna(none),
            "after": pd.Series(after[moved], dtype=object).fillna(none),
            "households": draft.households[moved],
            "persons": draft.persons[moved],
        }
    )
    grouped = frame.groupby(["before", "after"], sort=False)
    flows = pd.DataFrame(
        {
            "buildings": grouped.size(),
            "households": grouped["households"].sum(),
            "persons": grouped["persons"].sum(min_count=1),
        }
    )
    incidents_moved = 0
    if draft.incident_before is not None and draft.incident_unit is not None:
        unit = draft.incident_unit
        inc_after = np.where(unit >= 0, codes[np.maximum(unit, 0)], None)
        changed = _changed(draft.incident_before, inc_after)
        incidents_moved = int(changed.sum())
        pairs = pd.DataFrame(
            {
                "before": pd.Series(draft.incident_before[changed], dtype=object).fillna(none),
                "after": pd.Series(inc_after[changed], dtype=object).fillna(none),
            }
        )
        counts = pairs.groupby(["before", "after"], sort=False).size().rename("incidents")
        flows = flows.join(counts, how="outer")
    else:
        flows["incidents"] = 0
    flows = flows.reset_index()
    for column in ("buildings", "households", "incidents"):
        flows[column] = flows[column].fillna(0).astype(np.int64)
    if not np.isnan(draft.persons).all():  # persons known: a flow of incidents moves 0
        flows["persons"] = flows["persons"].fillna(0)
    flows = flows.assign(_b=flows["before"], _a=flows["after"]).sort_values(
        ["households", "buildings", "incidents", "_b", "_a"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    rows = []
    for record in flows.itertuples(index=False):
        persons = record.persons
        rows.append(
            {
                "from": None if record.before == none else str(record.before),
                "to": None if record.after == none else str(record.after),
                "buildings": int(record.buildings),
                "households": int(record.households),
                "persons": None if pd.isna(persons) else int(persons),
                "incidents": int(record.incidents),
            }
        )
    total = float(np.nansum(draft.households))
    households_moved = int(draft.households[moved].sum())
    persons = draft.persons[moved]
    return {
        "flows": rows,
        "buildings_moved": int(moved.sum()),
        "households_moved": households_moved,
        "share_households_moved": households_moved / total if total else None,
        "persons_moved": None if np.isnan(persons).all() else int(np.nansum(persons)),
        "incidents_changing_grid": incidents_moved,
    }


def _finite(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def metrics(draft: Draft, moved: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan metrics of the published plan and of the draft, one row per metric."""
    table = draft.table
    in_range = table["in_range"]
    deviation = pd.to_numeric(table["deviation"], errors="coerce").abs()
    base = draft.base_summary
    split_before = _published_split(draft.base_plan_id, draft.plan.units.crs)
    ranged = in_range.notna().any()
    rows = [
        ("grids", base.get("grids"), len(table)),
        (
            "in_range_share",
            base.get("in_range_share"),
            float(in_range.astype(bool).mean()) if ranged and len(table) else None,
        ),
        (
            "max_abs_deviation",
            base.get("max_abs_deviation"),
            float(deviation.max()) if deviation.notna().any() else None,
        ),
        (
            "mean_polsby_popper",
            base.get("mean_polsby_popper"),
            float(pd.to_numeric(table["polsby_popper"]).mean()) if len(table) else None,
        ),
        (
            "contiguous_share",
            base.get("contiguous_share"),
            float((table["parts"] == 1).mean()) if len(table) else None,
        ),
        ("buildings_split", split_before, draft.split),
        ("households_moved", 0, moved["households_moved"]),
    ]
    return [{"metric": m, "published": _finite(b), "proposed": _finite(a)} for m, b, a in rows]


def grid_rows(draft: Draft, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """Per-grid values (:data:`GRID_FIELDS`) of some grids of the draft (all by default)."""
    table = draft.table if codes is None else draft.table.loc[codes]
    names = store.community_names()
    rows = []
    for record in table.to_dict("records"):
        row = {name: _finite(record[name]) for name in GRID_FIELDS}
        row["community_name"] = names.get(str(row["community"]), row["community"])
        rows.append(row)
    return rows


def state(draft: Draft) -> dict[str, Any]:
    """Everything the page shows of a draft except geometry."""
    editor = draft.editor
    moved = changes(draft)
    context = draft.plan.context
    published = store.published()
    return {
        "draft": draft.draft_id,
        "mode": draft.mode,
        "request": draft.request,
        "seconds": draft.seconds,
        "revision": draft.revision,
        "target": context.target,
        "minimum": context.minimum,
        "maximum": context.maximum,
        "weight": context.weight,
        "base": {"plan_id": draft.base_plan_id, "version": draft.base_version},
        "published": {"plan_id": published.plan_id, "version": published.version},
        "stale": published.plan_id != draft.base_plan_id,
        "grids": grid_rows(draft),
        "metrics": metrics(draft, moved),
        "changes": moved,
        "history": editor.history,
        "history_length": len(editor.history),
        "can_undo": editor.can_undo,
        "can_redo": editor.can_redo,
        "locked": sorted(editor.locked),
        "problems": draft.problems,
        "saved": draft.saved,
        "publish_result": draft.published,
    }


def _features(
    frame: gpd.GeoDataFrame, properties: Callable[[dict[str, Any]], dict[str, Any]], ident: str
) -> list[dict[str, Any]]:
    shown = store.for_display(frame)
    geoms = shapely.orient_polygons(shown.geometry.to_numpy(), exterior_cw=False)
    records = shown.drop(columns=shown.geometry.name).to_dict("records")
    return [
        {
            "type": "Feature",
            "id": str(rec[ident]),
            "geometry": None if geom is None else shapely.geometry.mapping(geom),
            "properties": properties(rec),
        }
        for rec, geom in zip(records, geoms, strict=True)
    ]


def grid_features(draft: Draft, frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Grids measured by the editor as GeoJSON features (lon/lat, simplified for display)."""
    rows = {row["code"]: row for row in grid_rows(draft, [str(c) for c in frame["code"]])}
    return _features(frame, lambda rec: rows[str(rec["code"])], "code")


def _edit_answer(draft: Draft, result: EditResult) -> ResponseReturnValue:
    """Apply an edit's result to the draft's table and answer with what the page redraws."""
    editor = draft.editor
    draft.revision += 1
    draft.cache.clear()
    touched = result.touched
    table = draft.table.drop(index=[c for c in result.retired if c in draft.table.index])
    fresh = _grid_table(touched)
    table = pd.concat([table.drop(index=[c for c in fresh.index if c in table.index]), fresh])
    order = {code: i for i, code in enumerate(editor.codes)}
    draft.table = table.loc[sorted(table.index, key=order.__getitem__)]
    _refresh_deviation(draft)
    moved_units = [int(u) for u in result.moved]
    body = state(draft)
    body.update(
        operation=result.operation,
        touched=[str(c) for c in touched["code"]],
        retired=list(result.retired),
        added=list(result.added),
        units={str(u): editor.grid_of(u) for u in moved_units},
        features=grid_features(draft, touched),
    )
    return jsonify(body)


# ------------------------------------------------------------------------------ page


@bp.get("")
@require("editor")
def page() -> ResponseReturnValue:
    """The workbench: parameters, the proposed plan beside the published one, edits, publish."""
    record = store.published()
    grids = store.grids(record.plan_id)
    per_community = grids.groupby(grids["community"].astype(str)).size().to_dict()
    names = store.community_names()
    communities = [
        {"code": code, "name": name, "grids": int(per_community.get(code, 0))}
        for code, name in sorted(names.items())
    ]
    params = record.parameters or {}
    mine = drafts().of(_user())
    config = {
        "api": url_for("workbench.api_run").rsplit("/", 1)[0],
        "tiles": current_app.config["TILES"],
        "attribution": current_app.config["TILES_ATTRIBUTION"],
        "drafts": [d.draft_id for d in mine],
        "max_drafts": MAX_DRAFTS,
        "communities": {c["code"]: c["name"] for c in communities},
        "texts": {key: translate(text) for key, text in JS_TEXTS.items()},
    }
    return render_template(
        "workbench.html",
        plan=record,
        communities=communities,
        defaults={
            "target": params.get("target") or 400,
            "minimum": params.get("minimum") or 300,
            "maximum": params.get("maximum") or 500,
            "weight": params.get("weight") or "households",
        },
        wb_config=config,
    )


# ------------------------------------------------------------------------------ API


@bp.post("/api/run")
@require("editor")
def api_run() -> ResponseReturnValue:
    """Run a redraw or a fresh partition; the result becomes a new draft of the user."""
    params = parse_request(_body())
    draft = run(params, _user())
    dropped = drafts().add(draft)
    body = state(draft)
    body["dropped"] = dropped
    return jsonify(body), 201


@bp.get("/api/drafts")
@require("editor")
def api_drafts() -> ResponseReturnValue:
    """The user's drafts, oldest first: id, mode, grids, edits, when made, saved as."""
    rows = [
        {
            "draft": d.draft_id,
            "mode": d.mode,
            "grids": len(d.table),
            "history_length": len(d.editor.history),
            "created": d.created,
            "saved": d.saved,
        }
        for d in drafts().of(_user())
    ]
    return jsonify(drafts=rows, max_drafts=MAX_DRAFTS)


def _published_deviation(frame: pd.DataFrame, parameters: dict[str, Any]) -> pd.DataFrame:
    weight = str(parameters.get("weight") or "households")
    values = pd.to_numeric(frame[weight if weight in frame else "households"], errors="coerce")
    by_count = bool(parameters.get("grids") or parameters.get("per_community"))
    target = parameters.get("target")
    out = frame.copy()
    if target and not by_count:
        out["deviation"] = values / float(target) - 1.0
        low, high = parameters.get("minimum"), parameters.get("maximum")
        if low is not None and high is not None:
            out["in_range"] = (values >= float(low)) & (values <= float(high))
    else:
        means = values.groupby(frame["community"].astype(str)).transform("mean")
        out["deviation"] = values / means - 1.0
    if "in_range" not in out:
        out["in_range"] = None
    return out


@bp.get("/api/published")
@require("editor")
def api_published() -> ResponseReturnValue:
    """The published plan's grids (display geometry) with their deviation from its target."""
    record = store.published()
    frame = _published_deviation(store.display_grids(record.plan_id), record.parameters or {})
    keys = (
        "code",
        "community",
        "community_name",
        "households",
        "persons",
        "buildings",
        "deviation",
        "in_range",
        "polsby_popper",
    )
    geoms = shapely.orient_polygons(frame.geometry.to_numpy(), exterior_cw=False)
    records = frame.drop(columns=frame.geometry.name).to_dict("records")
    features = [
        {
            "type": "Feature",
            "id": str(rec["code"]),
            "geometry": None if g is None else shapely.geometry.mapping(g),
            "properties": {k: _finite(rec.get(k)) for k in keys},
        }
        for rec, g in zip(records, geoms, strict=True)
    ]
    return geojson_response(features, plan_id=record.plan_id, version=record.version)


@bp.get("/api/<draft_id>")
@require("editor")
def api_state(draft_id: str) -> ResponseReturnValue:
    """A draft's state: metrics, grids, changes against the published plan, history."""
    draft = _draft(draft_id)
    with draft.lock:
        return jsonify(state(draft))


@bp.delete("/api/<draft_id>")
@require("editor")
def api_discard(draft_id: str) -> ResponseReturnValue:
    """Forget a draft."""
    drafts().drop(_user(), draft_id)
    return jsonify(discarded=draft_id)


@bp.get("/api/<draft_id>/grids")
@require("editor")
def api_grids(draft_id: str) -> ResponseReturnValue:
    """The draft's current grids as GeoJSON (lon/lat, simplified for display)."""
    draft = _draft(draft_id)
    with draft.lock:
        features = grid_features(draft, draft.editor.measure())
        return geojson_response(features, draft=draft.draft_id, revision=draft.revision)


@bp.get("/api/<draft_id>/units")
@require("editor")
def api_units(draft_id: str) -> ResponseReturnValue:
    """The draft's units as GeoJSON: index, unit id, grid, counts and touching units."""
    draft = _draft(draft_id)
    with draft.lock:
        units = draft.plan.units
        if "units" not in draft.cache:
            xadj, adjncy, _ = draft.plan.graph.csr()
            frame = gpd.GeoDataFrame(
                {"unit": np.arange(len(units))},
                geometry=units.geometry.to_numpy(),
                crs=units.crs,
            )
            shown = store.for_display(frame)
            geoms = shapely.orient_polygons(shown.geometry.to_numpy(), exterior_cw=False)
            draft.cache["units"] = (
                [None if g is None else shapely.geometry.mapping(g) for g in geoms],
                [sorted(set(adjncy[xadj[i] : xadj[i + 1]].tolist())) for i in range(len(units))],
            )
        geometries, touches = draft.cache["units"]
        codes = _unit_codes(draft)
        ids = units["unit_id"].astype(str).tolist() if "unit_id" in units else None
        counts = {
            c: units[c].to_numpy() for c in ("households", "persons", "buildings") if c in units
        }
        features = []
        for i, geom in enumerate(geometries):
            props: dict[str, Any] = {
                "unit": i,
                "unit_id": ids[i] if ids else str(i),
                "code": str(codes[i]),
                "community": str(units["community"].iloc[i]) if "community" in units else None,
                "touches": touches[i],
            }
            props.update({c: _finite(v[i]) for c, v in counts.items()})
            features.append({"type": "Feature", "id": i, "geometry": geom, "properties": props})
        return geojson_response(features, draft=draft.draft_id, revision=draft.revision)


@bp.get("/api/<draft_id>/changes")
@require("editor")
def api_changes(draft_id: str) -> ResponseReturnValue:
    """What changes grid against the published plan; ``?full=1`` reruns compare_plans."""
    draft = _draft(draft_id)
    full = request.args.get("full", "0")
    if full not in ("0", "1"):
        raise refusal(
            400, "full={value} is neither 0 nor 1.", "give full=1 or leave it.", value=repr(full)
        )
    with draft.lock:
        body = {"draft": draft.draft_id, "revision": draft.revision, **changes(draft)}
        if full == "1":
            key = f"compare:{draft.revision}"
            if key not in draft.cache:
                ws = store.workspace()
                comparison = compare_plans(
                    ws.plan_file(draft.base_plan_id), draft.editor.plan(), _layers()
                )
                summary = comparison.summary
                draft.cache[key] = {
                    "flows": [
                        {
                            "from": r["before"],
                            "to": r["after"],
                            "buildings": int(r["buildings"]),
                            "households": int(r["households"]),
                            "persons": None if pd.isna(r["persons"]) else int(r["persons"]),
                            "incidents": int(r["incidents"]),
                        }
                        for r in comparison.flows.to_dict("records")
                    ],
                    "summary": [
                        {
                            "metric": r["metric"],
                            "before": _finite(r["before"]),
                            "after": _finite(r["after"]),
                            "change": _finite(r["change"]),
                        }
                        for r in summary.to_dict("records")
                    ],
                }
            body["compare_plans"] = draft.cache[key]
    return jsonify(body)


def _edit(draft_id: str, apply: Callable[[PlanEditor, dict[str, Any]], EditResult]):
    draft = _draft(draft_id)
    body = _body()
    with draft.lock:
        result = apply(draft.editor, body)
        return _edit_answer(draft, result)


def _units(body: dict[str, Any]) -> list[int]:
    units = body.get("units", body.get("unit"))
    if isinstance(units, int) and not isinstance(units, bool):
        units = [units]
    if (
        not isinstance(units, list)
        or not units
        or not all(isinstance(u, int) and not isinstance(u, bool) for u in units)
    ):
        raise refusal(
            400,
            "units is missing or not a list of unit indices.",
            "give units as whole numbers, e.g. {example}.",
            example='{"units": [12, 13], "to": "510104090001003"}',
        )
    return units


def _edit_view(name: str, doc: str, apply: Callable[[PlanEditor, dict[str, Any]], EditResult]):
    def view(draft_id: str) -> ResponseReturnValue:
        return _edit(draft_id, apply)

    view.__name__ = f"api_{name}"
    view.__doc__ = doc
    bp.add_url_rule(
        f"/api/<draft_id>/{name}", view.__name__, require("editor")(view), methods=["POST"]
    )


_edit_view(
    "move",
    "Move units into a neighbouring grid (``{units, to}``).",
    lambda e, b: e.move_units(_units(b), _code(b, "to")),
)
_edit_view(
    "split",
    "Split a grid in two balanced halves (``{code}``, optional ``units``).",
    lambda e, b: e.split_grid(_code(b, "code"), _units(b) if "units" in b else None),
)
_edit_view(
    "merge",
    "Merge two neighbouring grids (``{keep, other}``).",
    lambda e, b: e.merge_grids(_code(b, "keep"), _code(b, "other")),
)
_edit_view("lock", "Lock a grid (``{code}``).", lambda e, b: e.lock(_code(b, "code")))
_edit_view("unlock", "Unlock a grid (``{code}``).", lambda e, b: e.unlock(_code(b, "code")))
_edit_view("undo", "Take back the last edit.", lambda e, b: e.undo())
_edit_view("redo", "Make again the last edit taken back.", lambda e, b: e.redo())


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        raise refusal(
            400, "note is not a text of at most 500 characters.", "give a short note, or none."
        )
    return note.strip()


def _save(draft: Draft, note: str) -> dict[str, Any]:
    """Save the draft's current plan as a draft version (once per revision)."""
    ws = store.workspace()
    if draft.saved is not None and draft.saved["revision"] == draft.revision:
        record = ws.plan(draft.saved["plan_id"])
        if record.status == "draft":
            return draft.saved
    plan = draft.editor.plan()
    plan.parameters = {
        **plan.parameters,
        "workbench": {
            "mode": draft.mode,
            "edits": draft.editor.history,
            "base_plan_id": draft.base_plan_id,
        },
    }
    plan_id = ws.save_plan(plan, note=note or f"workbench {draft.mode}", actor=_user())
    record = ws.plan(plan_id)
    draft.saved = {
        "plan_id": plan_id,
        "version": record.version,
        "status": record.status,
        "revision": draft.revision,
        "author": record.author,
    }
    return draft.saved


@bp.post("/api/<draft_id>/save")
@require("editor")
def api_save(draft_id: str) -> ResponseReturnValue:
    """Keep the draft as a draft plan version of the workspace (author: the user)."""
    draft = _draft(draft_id)
    note = _note(_body())
    with draft.lock:
        saved = _save(draft, note)
    return jsonify(saved), 201


@bp.post("/api/<draft_id>/publish")
@require("editor")
def api_publish(draft_id: str) -> ResponseReturnValue:
    """Publish the draft (saved first when it changed since its last save)."""
    draft = _draft(draft_id)
    note = _note(_body())
    ws = store.workspace()
    with draft.lock:
        saved = _save(draft, note)
        moved = ws.publish(saved["plan_id"], actor=_user())
        record = ws.plan(saved["plan_id"])
        draft.saved = {**saved, "status": record.status}
        # the draft is now the published plan: compare later edits with it
        codes = _unit_codes(draft)
        draft.building_before = np.where(
            draft.building_unit >= 0, codes[np.maximum(draft.building_unit, 0)], None
        )
        if draft.incident_unit is not None:
            unit = draft.incident_unit
            draft.incident_before = np.where(unit >= 0, codes[np.maximum(unit, 0)], None)
        draft.base_plan_id, draft.base_version = record.plan_id, record.version
        draft.base_summary = dict(record.summary)
        draft.published = {
            "plan_id": record.plan_id,
            "version": record.version,
            "status": record.status,
            "published_at": record.published_at,
            "incidents_reassigned": int(moved),
        }
        body = state(draft)
    return jsonify(body)
