"""The workspace the app serves: opened once per app, with a published plan and display caches.

:func:`init_app` runs in :func:`web.create_app`: it picks the workspace file (a working copy of
the committed sample unless told otherwise), opens one :class:`gridmap.store.Workspace` for the
app (the store keeps one SQLite connection per thread) and publishes the default plan when the
workspace has none.  Views reach it through :func:`workspace` and :func:`published`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Flask, current_app

from gridmap.crs import local_metric_crs
from gridmap.errors import GridmapError
from gridmap.store import OPEN_STATUSES, PlanRecord, Workspace
from web.errors import ApiError

#: Key of the app's state in ``app.extensions``.
EXTENSION = "gridmap"

#: Name of the working copy of the sample street in the instance folder.
SAMPLE_COPY = "sample_street.gpkg"

#: Metres within which geometries are simplified for display.
DISPLAY_TOLERANCE_M = 1.0

#: Decimals kept in displayed lon/lat coordinates (6: about 0.1 m).
DISPLAY_DECIMALS = 6


@dataclass
class WebState:
    """What one app keeps about its workspace: the store and caches of display geometry."""

    path: Path
    ws: Workspace | None = None
    demo: bool = False  #: a working copy of the sample street (demo accounts shown)
    lock: threading.RLock = field(default_factory=threading.RLock)
    cache: dict[Any, Any] = field(default_factory=dict)

    def cached(self, key: Any, make: Any) -> Any:
        """The value cached under ``key``, made by ``make()`` on first use.

        ``make()`` runs outside the lock, so a slow value never holds up other keys; two
        threads asking at once may both make it, and the first one kept wins.
        """
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        value = make()
        with self.lock:
            return self.cache.setdefault(key, value)

    def latest(self, key: Any, version: Any, make: Any, app: Flask | None = None) -> Any:
        """The value of ``key`` for ``version``, or while it is being remade, the last one.

        The first call waits for ``make()``.  When ``version`` changes (a new incident, say),
        the value made for the previous version is returned at once and ``make()`` runs in a
        background thread (in an app context of ``app``), so pages stay fast and show the
        change a moment later.  Without ``app`` the new value is made at once.
        """
        with self.lock:
            found = self.cache.get(("latest", key))
            if found is not None and found[0] == version:
                return found[1]
            background = found is not None and app is not None
            if background and ("refreshing", key) not in self.cache:
                self.cache[("refreshing", key)] = True
                threading.Thread(
                    target=self._refresh, args=(key, version, make, app), daemon=True
                ).start()
        if background:
            return found[1]
        value = make()
        with self.lock:
            self.cache[("latest", key)] = (version, value)
        return value

    def _refresh(self, key: Any, version: Any, make: Any, app: Flask) -> None:
        try:
            with app.app_context():
                value = make()
            with self.lock:
                self.cache[("latest", key)] = (version, value)
        except Exception:  # noqa: BLE001 - the next request tries again, in the foreground
            app.logger.exception("refreshing %s failed", key)
        finally:
            with self.lock:
                self.cache.pop(("refreshing", key), None)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def working_copy(app: Flask, sample: Path) -> Path:
    """The working copy of the sample street in the instance folder, copied on first use."""
    target = Path(app.instance_path) / SAMPLE_COPY
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        shutil.copyfile(sample, partial)
        os.replace(partial, target)  # atomic: a second process never sees half a file
        app.logger.info("copied the sample street to %s", target)
    return target


def ensure_published(app: Flask, ws: Workspace) -> PlanRecord | None:
    """The published plan; on first start, make the default plan and publish it."""
    record = ws.published()
    if record is not None:
        return record
    from gridmap.plan import make_plan

    app.logger.warning("%s has no published plan: making the default plan...", ws.path.name)
    try:
        plan_id = ws.save_plan(make_plan(ws.read_layers()), note="made at first start")
        ws.publish(plan_id)
    except GridmapError as error:
        app.logger.error("could not make a plan for %s: %s", ws.path, error)
        return None
    record = ws.published()
    app.logger.warning(
        "published plan %s (version %s) with %s grids, made at first start",
        record.plan_id,
        record.version,
        len(ws.plan_grids(record.plan_id)),
    )
    return record


def init_app(app: Flask, sample: Path) -> WebState:
    """Open the app's workspace (see the module docstring) and keep it in ``app.extensions``."""
    configured = app.config.get("WORKSPACE")
    if not configured or _same_file(Path(configured), sample):
        path, demo = working_copy(app, sample), True
    else:
        path, demo = Path(configured), False
    app.config["WORKSPACE"] = str(path)
    state = WebState(path, demo=demo)
    if path.is_file():
        state.ws = Workspace(path, actor="web")
        ensure_published(app, state.ws)
        app.logger.info("serving the workspace %s", path)
    else:
        app.logger.error("the workspace %s does not exist", path)
    app.extensions[EXTENSION] = state
    return state


def state() -> WebState:
    """The current app's :class:`WebState`."""
    return current_app.extensions[EXTENSION]


def workspace() -> Workspace:
    """The current app's workspace; 503 when its file is missing."""
    current = state()
    if current.ws is None:
        raise ApiError(
            503,
            f"the workspace {current.path.name} does not exist.",
            fix="set WORKSPACE to a street workspace GeoPackage (gridmap sample makes one).",
        )
    return current.ws


def published() -> PlanRecord:
    """The published plan of the current app's workspace; 503 when there is none."""
    record = workspace().published()
    if record is None:
        raise ApiError(
            503,
            "no plan is published in this workspace.",
            fix="publish a plan (gridmap plans publish) and reload.",
        )
    return record


# ------------------------------------------------------------------ display data


def for_display(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in lon/lat, simplified to :data:`DISPLAY_TOLERANCE_M` and rounded.

    Light enough to inline in a page: shapes are simplified in a local metric CRS (keeping
    their topology) and coordinates rounded to :data:`DISPLAY_DECIMALS` decimals.
    """
    if frame.empty:
        return frame.to_crs(4326)
    metric = frame.to_crs(local_metric_crs(frame))
    simple = metric.geometry.simplify(DISPLAY_TOLERANCE_M, preserve_topology=True)
    lonlat = gpd.GeoSeries(simple, crs=metric.crs).to_crs(4326).to_numpy()
    rounded = shapely.transform(lonlat, lambda xy: np.round(xy, DISPLAY_DECIMALS))
    out = frame.drop(columns=frame.geometry.name).copy()
    return gpd.GeoDataFrame(out, geometry=list(rounded), crs=4326)


def outline() -> dict[str, gpd.GeoDataFrame | None]:
    """The street and its communities, for display (read once per app)."""
    ws = workspace()

    def make() -> dict[str, gpd.GeoDataFrame | None]:
        layers = {name: ws.read_layer(name) for name in ("street", "communities")}
        return {k: None if v is None else for_display(v) for k, v in layers.items()}

    return state().cached("outline", make)


def community_names() -> dict[str, str]:
    """Community code -> name (the code itself when the layer has no names)."""
    communities = outline()["communities"]
    if communities is None or "code" not in communities:
        return {}
    names = communities["name"] if "name" in communities else communities["code"]
    return {str(c): str(n) for c, n in zip(communities["code"], names, strict=True)}


def grids(plan_id: int) -> gpd.GeoDataFrame:
    """The grids of a plan with their community names, exact geometry (cached per plan)."""
    ws = workspace()

    def make() -> gpd.GeoDataFrame:
        frame = ws.plan_grids(plan_id)
        names = community_names()
        community = frame["community"].astype(str)
        frame.insert(2, "community_name", community.map(names).fillna(community))
        return frame

    return state().cached(("grids", int(plan_id)), make)


def display_grids(plan_id: int) -> gpd.GeoDataFrame:
    """The grids of a plan for display (simplified, rounded; cached per plan)."""
    return state().cached(("display", int(plan_id)), lambda: for_display(grids(plan_id)))


def open_incidents() -> dict[str, int]:
    """Open incidents per grid code of the published plan (publishing re-assigns them)."""
    con = workspace().connect()
    marks = ", ".join("?" * len(OPEN_STATUSES))
    rows = con.execute(
        f"SELECT grid_code, count(*) FROM incidents WHERE status IN ({marks}) "
        "AND grid_code IS NOT NULL GROUP BY grid_code",
        OPEN_STATUSES,
    ).fetchall()
    return {str(code): int(count) for code, count in rows}


def grid_table(plan_id: int) -> pd.DataFrame:
    """One row per grid: code, community, households, persons, buildings, area, open incidents."""
    frame = pd.DataFrame(grids(plan_id).drop(columns="geometry"))
    counts = open_incidents()
    frame["open_incidents"] = [counts.get(str(c), 0) for c in frame["code"]]
    return frame


def data_version() -> tuple[int, int, int]:
    """A cheap fingerprint of the incidents and the audit log: it changes with every change.

    Caches of figures computed from incidents key on it (with the plan id), so that a new
    incident, a transition or an import shows at the next request.
    """
    con = workspace().connect()
    count, last = con.execute("SELECT count(*), coalesce(max(fid), 0) FROM incidents").fetchone()
    (audit,) = con.execute("SELECT coalesce(max(audit_id), 0) FROM gridmap_audit").fetchone()
    return int(count), int(last), int(audit)


def members_by_grid() -> dict[str, str]:
    """Grid code -> the names of the members serving it in the published plan ("" if none)."""
    from gridmap.incidents import member_workload

    table = member_workload(workspace())
    table = table[table["current"].fillna(False).astype(bool)]
    label = table["name"] if "name" in table else table["member_id"]
    names: dict[str, list[str]] = {}
    for code, name in zip(table["code"], label, strict=True):
        names.setdefault(str(code), []).append(str(name))
    return {code: ", ".join(found) for code, found in names.items()}


#: Measures counted from every incident of the workspace (a second or so to count afresh).
INCIDENT_MEASURES = ("incidents", "per_1000_households", "median_hours_to_close")


def grid_measures(plan_id: int, *, incident_figures: bool = True) -> pd.DataFrame:
    """One row per grid of the published plan with every measure the overview can colour by.

    Columns: ``code``, ``community``, ``community_name``, ``households``, ``persons``,
    ``buildings``, ``area_m2``, ``polsby_popper``, ``deviation_pct`` (households against the
    plan's target, %), ``open_incidents``, ``member`` and, with ``incident_figures``, the
    :data:`INCIDENT_MEASURES` (all incidents of the workspace on today's grids; NaN without).
    Those are cached per plan; after a change of :func:`data_version` the last figures are
    served while new ones are counted in the background, except in tests.
    """
    ws = workspace()
    version = data_version()
    frame = grid_table(plan_id)
    target = ws.plan(plan_id).parameters.get("target") or frame["households"].mean()
    frame["deviation_pct"] = (frame["households"] / float(target) - 1.0) * 100.0
    codes = frame["code"].astype(str)
    members = state().cached(("members", int(plan_id), version), members_by_grid)
    frame["member"] = [members.get(code, "") for code in codes]
    if not incident_figures:
        for column in INCIDENT_MEASURES:
            frame[column] = np.nan
        return frame

    def make() -> pd.DataFrame:
        from gridmap.incidents import stats

        return stats(ws, period=None).set_index("code")

    app = None if current_app.testing else current_app._get_current_object()  # type: ignore[attr-defined]
    figures = state().latest(("incident figures", int(plan_id)), version, make, app)
    frame["incidents"] = codes.map(figures["total"]).fillna(0).astype(int).to_numpy()
    for column in INCIDENT_MEASURES[1:]:
        frame[column] = codes.map(figures[column]).to_numpy(dtype=float)
    return frame


def assign_demo_members(ws: Workspace) -> int:
    """Give each grid of the published plan a member of its community's roster, in order.

    For the working copy of the sample street only (a demo of member workload); members
    already serving a grid of the published plan are left where they are.  Returns how many
    members were assigned.
    """
    from gridmap.incidents import assign_member, member_workload

    record = ws.published()
    try:
        layer = pd.read_sql_query("SELECT id, community_code FROM members", ws.connect())
    except (pd.errors.DatabaseError, sqlite3.Error):  # no roster, or no communities in it
        return 0
    if record is None:
        return 0
    workload = member_workload(ws)
    if workload["current"].fillna(False).astype(bool).any():
        return 0
    grids = ws.plan_grids(record.plan_id).sort_values("code")
    roster: dict[str, list[str]] = {}
    for member, community in zip(layer["id"], layer["community_code"], strict=True):
        roster.setdefault(str(community)[-3:], []).append(str(member))
    assigned = 0
    for code, community in zip(grids["code"], grids["community"], strict=True):
        pool = roster.get(str(community)[-3:], [])
        if pool:
            assign_member(ws, pool.pop(0), str(code), actor="web")
            assigned += 1
    return assigned


def warm_up(app: Flask) -> threading.Thread | None:
    """Count the overview's figures in the background at start, so the first page is quick."""
    current = app.extensions[EXTENSION]
    if current.ws is None or app.testing:
        return None

    def work() -> None:
        with app.app_context():
            try:
                record = current.ws.published()
                if record is not None:
                    grid_measures(record.plan_id)
            except Exception:  # noqa: BLE001 - the first request counts them instead
                app.logger.exception("warming up the overview failed")

    thread = threading.Thread(target=work, name="gridmap-warm-up", daemon=True)
    thread.start()
    return thread
