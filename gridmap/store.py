"""The workspace store: one GeoPackage per street holding inputs, plans, incidents and an audit log.

The GeoPackage is SQLite underneath and opens in QGIS.  Beside the input layers written by
:func:`gridmap.io.write_geopackage` (street, communities, roads, buildings, households,
incidents, members...), gridmap keeps its own tables, created on first use:

``gridmap_plans``
    one row per plan version: status ``draft`` -> ``published`` -> ``archived``, parameters,
    metrics, author and times.  A partial unique index lets at most one plan be published.
``gridmap_grids``
    the grids of every plan (a GeoPackage feature table: polygons in EPSG:4326).
``gridmap_assignments``
    building -> grid code, per plan.
``gridmap_member_grids``
    which grid member serves which grid of the published plan.
``gridmap_incident_events``
    every status change of every incident, timestamped.
``gridmap_audit``
    who changed what, when: plans, assignments and incidents.

Every change runs in one SQLite transaction (``BEGIN IMMEDIATE``, write-ahead log), so several
threads or processes may write at once and a process killed half-way leaves the previous state
intact.  Times are local wall-clock time (:data:`gridmap.schema.LOCAL_TIMEZONE`), ISO 8601.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import io
from gridmap.errors import GridmapError, InputError
from gridmap.index import GridIndex
from gridmap.plan import Plan, PlanFile
from gridmap.schema import LAYERS, LOCAL_TIMEZONE

#: Version of gridmap's own tables in a workspace.
SCHEMA_VERSION = 1

#: Plan statuses, in lifecycle order.
PLAN_STATUSES = ("draft", "published", "archived")

#: Incident statuses and the transitions allowed from each (Open311 "open"/"closed" map onto
#: them: ``reported``/``accepted``/``in_progress`` are open).
INCIDENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "reported": ("accepted", "rejected", "duplicate"),
    "accepted": ("in_progress", "rejected", "duplicate"),
    "in_progress": ("resolved",),
    "resolved": ("closed", "in_progress"),
    "closed": (),
    "rejected": (),
    "duplicate": (),
}

#: Statuses of incidents still being handled.
OPEN_STATUSES = ("reported", "accepted", "in_progress")

#: Who handles an incident, lowest first; escalation moves one step up.
HANDLING_LEVELS = ("grid", "community", "street")

#: Columns gridmap adds to the incidents layer (Open311 GeoReport v2 superset).
INCIDENT_EXTRA_COLUMNS = {
    "address": "TEXT",
    "updated_at": "DATETIME",
    "expected_at": "DATETIME",
    "accepted_at": "DATETIME",
    "in_progress_at": "DATETIME",
    "resolved_at": "DATETIME",
    "handling_level": "TEXT",
    "grid_code": "TEXT",
    "grid_flag": "TEXT",
    "external_id": "TEXT",
}

_SRS_WGS84 = 4326
_LOCAL = ZoneInfo(LOCAL_TIMEZONE)


_TABLES = """
CREATE TABLE IF NOT EXISTS gridmap_plans (
    plan_id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    published_at TEXT,
    archived_at TEXT,
    parameters TEXT NOT NULL,
    summary TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS gridmap_one_published
    ON gridmap_plans (status) WHERE status = 'published';
CREATE TABLE IF NOT EXISTS gridmap_assignments (
    plan_id INTEGER NOT NULL REFERENCES gridmap_plans (plan_id),
    building_id TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (plan_id, building_id)
);
CREATE TABLE IF NOT EXISTS gridmap_member_grids (
    member_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    plan_id INTEGER NOT NULL,
    assigned_at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gridmap_incident_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS gridmap_incident_events_incident
    ON gridmap_incident_events (incident_id);
CREATE TABLE IF NOT EXISTS gridmap_audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gridmap_imports (
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    rows INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (sha256, kind)
);
"""


class StoreError(GridmapError):
    """A change the store refuses (an invalid transition, a plan that cannot be published)."""


def now() -> str:
    """The local wall-clock time, ISO 8601 to the millisecond (how the store stamps changes)."""
    return datetime.now(_LOCAL).replace(tzinfo=None).isoformat(timespec="milliseconds")


# ------------------------------------------------------------------ GeoPackage geometry blobs


def gpkg_blob(geom: Any, srs_id: int = _SRS_WGS84) -> bytes | None:
    """Encode a shapely geometry as a GeoPackage geometry blob (little endian, with envelope)."""
    if geom is None:
        return None
    empty = shapely.is_empty(geom)
    flags = 0x01  # little endian
    envelope = b""
    if empty:
        flags |= 0x10
    else:
        minx, miny, maxx, maxy = shapely.bounds(geom)
        flags |= 0x02  # envelope [minx, maxx, miny, maxy]
        envelope = struct.pack("<4d", minx, maxx, miny, maxy)
    return b"GP" + bytes([0, flags]) + struct.pack("<i", srs_id) + envelope + shapely.to_wkb(geom)


def _blob_geometry(blob: bytes | None) -> Any:
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0x07, 0)
    return shapely.from_wkb(bytes(blob[8 + size :]))


def _blob_bounds(blob: bytes | None) -> tuple[float, float, float, float] | None:
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    order = "<" if flags & 0x01 else ">"
    if (flags >> 1) & 0x07:
        minx, maxx, miny, maxy = struct.unpack(order + "4d", blob[8:40])
        return minx, miny, maxx, maxy
    geom = _blob_geometry(blob)
    if geom is None or shapely.is_empty(geom):
        return None
    return tuple(shapely.bounds(geom))


def _register_functions(con: sqlite3.Connection) -> None:
    """The SQL functions GDAL's spatial index triggers call, so plain SQLite can write layers."""

    def bound(i: int):
        def get(blob: bytes | None) -> float | None:
            box = _blob_bounds(blob)
            return None if box is None else box[i]

        return get

    def is_empty(blob: bytes | None) -> int:
        if blob is None:
            return 1
        if len(blob) >= 4 and blob[3] & 0x10:
            return 1
        return int(_blob_bounds(blob) is None)

    con.create_function("ST_MinX", 1, bound(0), deterministic=True)
    con.create_function("ST_MinY", 1, bound(1), deterministic=True)
    con.create_function("ST_MaxX", 1, bound(2), deterministic=True)
    con.create_function("ST_MaxY", 1, bound(3), deterministic=True)
    con.create_function("ST_IsEmpty", 1, is_empty, deterministic=True)


# ------------------------------------------------------------------ the workspace


@dataclass
class PlanRecord:
    """One plan version kept in a workspace."""

    plan_id: int
    version: int
    status: str
    author: str
    created_at: str
    published_at: str | None
    archived_at: str | None
    parameters: dict[str, Any]
    summary: dict[str, Any]
    note: str


def _json(value: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return json.dumps(clean(value), ensure_ascii=False, sort_keys=True)


class Workspace:
    """A street workspace GeoPackage: inputs, plan versions, incidents, members, audit log.

    Parameters
    ----------
    path
        The GeoPackage (made by ``gridmap sample`` or :meth:`create`).
    actor
        Who makes the changes through this object (user name), for the audit log.

    Raises
    ------
    InputError
        When the file does not exist or is not a GeoPackage.
    """

    def __init__(self, path: str | os.PathLike[str], *, actor: str = "gridmap") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(
                f"{self.path} does not exist.",
                fix="create the workspace first (gridmap sample, or Workspace.create).",
            )
        self.actor = actor
        self._local = threading.local()
        self._index: tuple[int, GridIndex] | None = None
        try:
            with self.transaction() as con:
                kind = con.execute("SELECT count(*) FROM sqlite_master WHERE name='gpkg_contents'")
                if not kind.fetchone()[0]:
                    raise InputError(
                        f"{self.path} is not a GeoPackage.", fix="give a workspace .gpkg file."
                    )
                self._migrate(con)
        except sqlite3.DatabaseError as error:
            raise InputError(f"{self.path} cannot be opened as a GeoPackage: {error}.") from error

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
        *,
        actor: str = "gridmap",
    ) -> Workspace:
        """Write ``layers`` as a new workspace GeoPackage and open it."""
        io.write_geopackage(layers, path)
        return cls(path, actor=actor)

    # -------------------------------------------------------------- connections

    def connect(self) -> sqlite3.Connection:
        """Open (once per thread) the connection: write-ahead log, waits a minute for locks."""
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            con.execute("PRAGMA busy_timeout = 60000")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            _register_functions(con)
            self._local.con = con
            self._local.pid = os.getpid()
        return con

    def close(self) -> None:
        """Close this thread's connection."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing change: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        con = self.connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def audit(
        self,
        con: sqlite3.Connection,
        action: str,
        entity: str,
        entity_id: Any,
        details: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        """Write one audit row inside the caller's transaction."""
        con.execute(
            "INSERT INTO gridmap_audit (at, actor, action, entity, entity_id, details) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (now(), actor or self.actor, action, entity, str(entity_id), _json(details or {})),
        )

    # -------------------------------------------------------------- schema

    def _migrate(self, con: sqlite3.Connection) -> None:
        con.execute("CREATE TABLE IF NOT EXISTS gridmap_meta (key TEXT PRIMARY KEY, value TEXT)")
        row = con.execute("SELECT value FROM gridmap_meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise InputError(
                f"{self.path} was written by a newer gridmap (store version {row[0]}).",
                fix="upgrade gridmap.",
            )
        for statement in filter(str.strip, _TABLES.split(";")):
            con.execute(statement)
        self._grids_table(con)
        self._incidents_table(con)
        con.execute(
            "INSERT OR REPLACE INTO gridmap_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    @staticmethod
    def _register_layer(con: sqlite3.Connection, table: str, kind: str, title: str) -> None:
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change, srs_id) VALUES (?, 'features', ?, ?, ?, ?)",
            (table, table, title, "2000-01-01T00:00:00.000Z", _SRS_WGS84),
        )
        con.execute(
            "INSERT OR IGNORE INTO gpkg_geometry_columns (table_name, column_name, "
            "geometry_type_name, srs_id, z, m) VALUES (?, 'geom', ?, ?, 0, 0)",
            (table, kind, _SRS_WGS84),
        )

    def _grids_table(self, con: sqlite3.Connection) -> None:
        con.execute(
            """
            CREATE TABLE IF NOT EXISTS gridmap_grids (
                fid INTEGER PRIMARY KEY AUTOINCREMENT,
                geom MULTIPOLYGON,
                plan_id INTEGER NOT NULL REFERENCES gridmap_plans (plan_id),
                code TEXT NOT NULL,
                community TEXT,
                households INTEGER,
                persons INTEGER,
                buildings INTEGER,
                area_m2 REAL,
                polsby_popper REAL,
                UNIQUE (plan_id, code)
            )
            """
        )
        self._register_layer(con, "gridmap_grids", "MULTIPOLYGON", "grids of every plan")

    def _incidents_table(self, con: sqlite3.Connection) -> None:
        exists = con.execute("SELECT count(*) FROM sqlite_master WHERE name='incidents'")
        if not exists.fetchone()[0]:
            con.execute(
                """
                CREATE TABLE incidents (
                    fid INTEGER PRIMARY KEY AUTOINCREMENT,
                    geom POINT,
                    id TEXT,
                    category TEXT,
                    status TEXT,
                    priority TEXT,
                    reported_at DATETIME,
                    closed_at DATETIME,
                    source TEXT,
                    description TEXT
                )
                """
            )
            self._register_layer(con, "incidents", "POINT", "Incidents (网格事项)")
        have = {row[1] for row in con.execute("PRAGMA table_info(incidents)")}
        for name, kind in INCIDENT_EXTRA_COLUMNS.items():
            if name not in have:
                con.execute(f'ALTER TABLE incidents ADD COLUMN "{name}" {kind}')
        con.execute("UPDATE incidents SET handling_level = 'grid' WHERE handling_level IS NULL")
        con.execute("CREATE UNIQUE INDEX IF NOT EXISTS gridmap_incidents_id ON incidents (id)")

    # -------------------------------------------------------------- inputs

    def layers(self) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
        """The input layers (as :func:`gridmap.io.read_workspace` reads them)."""
        self.close()  # GDAL reads the file on its own; let it see every committed change
        return io.read_workspace(self.path)

    def read_layer(self, name: str) -> gpd.GeoDataFrame | None:
        """A feature layer read through the store's own SQLite connection (``None``: missing).

        Prefer it to GDAL (:meth:`layers`) in a process that keeps store connections open in
        other threads: GDAL brings its own SQLite, and two SQLite libraries on one file in one
        process lose each other's locks (``disk I/O error``).
        """
        con = self.connect()
        row = con.execute(
            "SELECT c.column_name, s.organization, s.organization_coordsys_id "
            "FROM gpkg_geometry_columns c JOIN gpkg_spatial_ref_sys s ON s.srs_id = c.srs_id "
            "WHERE c.table_name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        column, organization, srs = row
        table = pd.read_sql_query(f'SELECT * FROM "{name}"', con)
        blobs = table.pop(column)
        table = table.drop(columns=["fid"], errors="ignore")
        crs = f"{organization}:{srs}" if organization else _SRS_WGS84
        return gpd.GeoDataFrame(table, geometry=[_blob_geometry(b) for b in blobs], crs=crs)

    def read_layers(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """The input layers as :meth:`layers` gives them, read through the store's connection.

        What a process serving several threads must use instead of :meth:`layers` (see
        :meth:`read_layer`): feature layers come as GeoDataFrames, attribute tables (the
        ``members`` roster) as DataFrames; layers the workspace lacks are left out.

        Parameters
        ----------
        names
            The layers wanted (default: every layer of :data:`gridmap.schema.LAYERS`).
        """
        con = self.connect()
        present = {row[0] for row in con.execute("SELECT table_name FROM gpkg_contents")}
        layers: dict[str, Any] = {}
        for name in LAYERS if names is None else names:
            if name not in present:
                continue
            frame = self.read_layer(name)
            if frame is None:
                frame = pd.read_sql_query(f'SELECT * FROM "{name}"', con)
                frame = frame.drop(columns=["fid"], errors="ignore")
            layers[name] = frame
        return layers

    # -------------------------------------------------------------- plans

    def save_plan(self, plan: Plan, *, note: str = "", actor: str | None = None) -> int:
        """Keep a plan as a new draft version; returns its ``plan_id``."""
        grids = plan.grids_wgs84()
        codes = plan.building_codes()
        rows = []
        for record in grids.itertuples(index=False):
            geom = record.geometry
            if geom is not None and geom.geom_type == "Polygon":
                geom = shapely.MultiPolygon([geom])
            rows.append(
                (
                    gpkg_blob(geom), str(record.code), str(getattr(record, "group", "")),
                    _int(getattr(record, "households", None)),
                    _int(getattr(record, "persons", None)),
                    _int(getattr(record, "buildings", None)),
                    _float(getattr(record, "area_m2", None)),
                    _float(getattr(record, "polsby_popper", None)),
                )
            )  # fmt: skip
        with self.transaction() as con:
            version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM gridmap_plans")
            version = int(version.fetchone()[0])
            cur = con.execute(
                "INSERT INTO gridmap_plans (version, status, author, created_at, parameters, "
                "summary, note) VALUES (?, 'draft', ?, ?, ?, ?, ?)",
                (version, actor or self.actor, now(), _json(plan.parameters),
                 _json(plan.summary), note),
            )  # fmt: skip
            plan_id = int(cur.lastrowid)
            con.executemany(
                "INSERT INTO gridmap_grids (geom, plan_id, code, community, households, persons, "
                "buildings, area_m2, polsby_popper) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(row[0], plan_id, *row[1:]) for row in rows],
            )
            con.executemany(
                "INSERT INTO gridmap_assignments (plan_id, building_id, code) VALUES (?, ?, ?)",
                [(plan_id, str(b), str(c)) for b, c in codes.items()],
            )
            self.audit(con, "save", "plan", plan_id, {"version": version, "grids": len(rows),
                                                     "note": note}, actor)  # fmt: skip
        return plan_id

    def plans(self) -> pd.DataFrame:
        """Every plan version: id, version, status, author, times, grids and key metrics."""
        con = self.connect()
        table = pd.read_sql_query(
            "SELECT p.plan_id, p.version, p.status, p.author, p.created_at, p.published_at, "
            "p.archived_at, p.note, p.summary, count(g.fid) AS grids FROM gridmap_plans p "
            "LEFT JOIN gridmap_grids g ON g.plan_id = p.plan_id GROUP BY p.plan_id "
            "ORDER BY p.version",
            con,
        )
        summary = table.pop("summary").map(json.loads)
        for key in ("in_range_share", "contiguous_share", "mean_polsby_popper"):
            table[key] = summary.map(lambda s, key=key: s.get(key))
        return table

    def plan(self, plan_id: int) -> PlanRecord:
        """One plan version's record."""
        row = (
            self.connect()
            .execute(
                "SELECT plan_id, version, status, author, created_at, published_at, archived_at, "
                "parameters, summary, note FROM gridmap_plans WHERE plan_id = ?",
                (int(plan_id),),
            )
            .fetchone()
        )
        if row is None:
            raise InputError(f"there is no plan {plan_id}.", fix="list plans with gridmap plans.")
        return PlanRecord(*row[:7], json.loads(row[7]), json.loads(row[8]), row[9])

    def published(self) -> PlanRecord | None:
        """The published plan, or ``None`` when none is published yet."""
        row = (
            self.connect()
            .execute("SELECT plan_id FROM gridmap_plans WHERE status = 'published'")
            .fetchone()
        )
        return None if row is None else self.plan(int(row[0]))

    def plan_grids(self, plan_id: int) -> gpd.GeoDataFrame:
        """The grids of a plan version (EPSG:4326)."""
        self.plan(plan_id)
        rows = (
            self.connect()
            .execute(
                "SELECT code, community, households, persons, buildings, area_m2, polsby_popper, "
                "geom "
                "FROM gridmap_grids WHERE plan_id = ? ORDER BY code",
                (int(plan_id),),
            )
            .fetchall()
        )
        columns = ["code", "community", "households", "persons", "buildings", "area_m2",
                   "polsby_popper"]  # fmt: skip
        frame = pd.DataFrame([r[:-1] for r in rows], columns=columns)
        return gpd.GeoDataFrame(
            frame, geometry=[_blob_geometry(r[-1]) for r in rows], crs=_SRS_WGS84
        )

    def plan_file(self, plan_id: int) -> PlanFile:
        """A plan version as :class:`gridmap.plan.PlanFile` (for redraw, compare, the index)."""
        record = self.plan(plan_id)
        assignments = pd.read_sql_query(
            "SELECT building_id, code FROM gridmap_assignments WHERE plan_id = ?",
            self.connect(),
            params=(int(plan_id),),
        )
        series = pd.Series(
            assignments["code"].to_numpy(), index=assignments["building_id"].to_numpy(), name="code"
        )
        info = {"parameters": record.parameters, "summary": record.summary}
        return PlanFile(self.plan_grids(plan_id), series, info, f"{self.path}#plan{plan_id}")

    def publish(self, plan_id: int, *, actor: str | None = None) -> int:
        """Publish a draft: the published plan is archived, open incidents move to the new grids.

        Incidents without a grid yet (imported history) get one too.  All in one transaction:
        a crash half-way leaves the previous plan published.

        Returns
        -------
        int
            The number of open incidents whose grid changed.
        """
        record = self.plan(plan_id)
        if record.status != "draft":
            raise StoreError(
                f"plan {plan_id} (version {record.version}) is {record.status}, not a draft.",
                fix="publish a draft; save the plan again to get a new draft.",
            )
        index = GridIndex(self.plan_grids(plan_id))
        with self.transaction() as con:
            stamp = now()
            current = con.execute(
                "SELECT plan_id FROM gridmap_plans WHERE status = 'published'"
            ).fetchone()
            if current is not None:
                con.execute(
                    "UPDATE gridmap_plans SET status = 'archived', archived_at = ? "
                    "WHERE plan_id = ?",
                    (stamp, current[0]),
                )
                self.audit(con, "archive", "plan", current[0], {"replaced_by": plan_id}, actor)
            con.execute(
                "UPDATE gridmap_plans SET status = 'published', published_at = ? "
                "WHERE plan_id = ? AND status = 'draft'",
                (stamp, int(plan_id)),
            )
            moved = self._reassign_open(con, index, plan_id, actor)
            self._carry_members(con, plan_id, actor)
            pause = float(os.environ.get("GRIDMAP_PUBLISH_PAUSE", "0") or 0)
            if pause > 0:  # fault injection for the crash tests: a window to kill the process
                time.sleep(pause)
            self.audit(con, "publish", "plan", plan_id,
                       {"version": record.version, "incidents_reassigned": moved},
                       actor)  # fmt: skip
        self._index = (int(plan_id), index)
        return moved

    def _carry_members(self, con: sqlite3.Connection, plan_id: int, actor: str | None) -> None:
        """Members keep their grid in the new plan when its code survives; the rest are freed."""
        codes = {r[0] for r in con.execute("SELECT code FROM gridmap_grids WHERE plan_id = ?",
                                            (int(plan_id),))}  # fmt: skip
        members = con.execute("SELECT member_id, code FROM gridmap_member_grids").fetchall()
        kept = [m for m, code in members if code in codes]
        freed = [(m, code) for m, code in members if code not in codes]
        con.execute("UPDATE gridmap_member_grids SET plan_id = ? WHERE code IN "
                    "(SELECT code FROM gridmap_grids WHERE plan_id = ?)",
                    (int(plan_id), int(plan_id)))  # fmt: skip
        con.executemany("DELETE FROM gridmap_member_grids WHERE member_id = ?",
                        [(m,) for m, _ in freed])  # fmt: skip
        if members:
            self.audit(con, "carry_over", "members", plan_id,
                       {"kept": len(kept), "freed": [[m, c] for m, c in freed]}, actor)  # fmt: skip

    def archive(self, plan_id: int, *, actor: str | None = None) -> None:
        """Archive a draft (a published plan is archived by publishing another)."""
        record = self.plan(plan_id)
        if record.status != "draft":
            raise StoreError(
                f"plan {plan_id} is {record.status}: only drafts are archived directly.",
                fix="publish another plan to archive the published one.",
            )
        with self.transaction() as con:
            con.execute(
                "UPDATE gridmap_plans SET status = 'archived', archived_at = ? WHERE plan_id = ?",
                (now(), int(plan_id)),
            )
            self.audit(con, "archive", "plan", plan_id, {}, actor)

    def _reassign_open(
        self, con: sqlite3.Connection, index: GridIndex, plan_id: int, actor: str | None
    ) -> int:
        rows = con.execute(
            "SELECT id, geom, grid_code, grid_flag FROM incidents "
            "WHERE status IN (?, ?, ?) OR grid_code IS NULL OR grid_flag IS NULL",
            OPEN_STATUSES,
        ).fetchall()
        if not rows:
            return 0
        points = [_blob_geometry(r[1]) for r in rows]
        xs = np.array([p.x if p is not None and not p.is_empty else np.nan for p in points])
        ys = np.array([p.y if p is not None and not p.is_empty else np.nan for p in points])
        result = index.assign(xs, ys)
        codes, flags = result.codes, result.flag_names()
        changes = [
            (codes[i], flags[i], rows[i][0])
            for i in range(len(rows))
            if codes[i] != rows[i][2] or rows[i][3] is None
        ]
        con.executemany("UPDATE incidents SET grid_code = ?, grid_flag = ? WHERE id = ?", changes)
        if changes:
            self.audit(con, "reassign", "incidents", plan_id,
                       {"count": len(changes),
                        "sample": [[c[2], c[0]] for c in changes[:20]]}, actor)  # fmt: skip
        return len(changes)

    def grid_index(self) -> GridIndex:
        """The spatial index of the published plan (cached until another plan is published)."""
        record = self.published()
        if record is None:
            raise StoreError(
                "no plan is published yet: incidents cannot be given a grid.",
                fix="publish a plan first (gridmap plans publish).",
            )
        if self._index is None or self._index[0] != record.plan_id:
            self._index = (record.plan_id, GridIndex(self.plan_grids(record.plan_id)))
        return self._index[1]

    # -------------------------------------------------------------- incident intake

    def add_incidents(
        self, incidents: gpd.GeoDataFrame, *, actor: str | None = None
    ) -> pd.DataFrame:
        """Take in new incidents, each given the grid of the published plan that holds it.

        Parameters
        ----------
        incidents
            Points (any CRS) with ``id``, ``category``, ``priority``, ``source`` and optionally
            ``description``, ``address``, ``reported_at``, ``expected_at``, ``external_id``,
            ``status`` (default ``reported``).  Ids already in the store are skipped, so a
            repeated intake adds nothing twice.
        actor
            Who reports them (default: the workspace's actor).

        Returns
        -------
        pandas.DataFrame
            ``id``, ``grid_code``, ``grid_flag`` and ``added`` (False for ids already stored).
        """
        if incidents.crs is None:
            raise InputError("the incidents have no CRS", fix="give their CRS")
        _check_intake(incidents)
        points = incidents.to_crs(_SRS_WGS84)
        result = self.grid_index().assign_points(points)
        codes, flags = result.codes, result.flag_names()
        stamp = now()
        rows = []
        for i, record in enumerate(points.itertuples(index=False)):
            get = record._asdict().get
            reported = get("reported_at")
            reported = stamp if reported is None or pd.isna(reported) else _iso(reported)
            rows.append(
                (
                    gpkg_blob(record.geometry), str(get("id")), get("category"),
                    get("status") or "reported", get("priority") or "normal", reported,
                    _iso(get("closed_at")),
                    get("source") or "other", get("description"), get("address"), stamp,
                    _iso(get("expected_at")), "grid", codes[i], flags[i], get("external_id"),
                )
            )  # fmt: skip
        added = []
        with self.transaction() as con:
            for row in rows:
                cur = con.execute(
                    "INSERT OR IGNORE INTO incidents (geom, id, category, status, priority, "
                    "reported_at, closed_at, source, description, address, updated_at, "
                    "expected_at, handling_level, grid_code, grid_flag, external_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                added.append(cur.rowcount == 1)
                if cur.rowcount == 1:
                    con.execute(
                        "INSERT INTO gridmap_incident_events (incident_id, from_status, "
                        "to_status, at, actor, note) VALUES (?, NULL, ?, ?, ?, 'intake')",
                        (row[1], row[3], stamp, actor or self.actor),
                    )
            count = sum(added)
            if count:
                self.audit(con, "add", "incidents", rows[0][1] if count == 1 else f"{count}",
                           {"count": count,
                            "ids": [r[1] for r, a in zip(rows, added, strict=True) if a][:50]},
                           actor)  # fmt: skip
        return pd.DataFrame(
            {"id": [r[1] for r in rows], "grid_code": codes, "grid_flag": flags, "added": added}
        )

    def incident_count(self) -> int:
        """Number of incidents stored."""
        return int(self.connect().execute("SELECT count(*) FROM incidents").fetchone()[0])

    # -------------------------------------------------------------- audit

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        """The audit log, newest first."""
        sql = "SELECT * FROM gridmap_audit ORDER BY audit_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        table = pd.read_sql_query(sql, self.connect())
        table["details"] = table["details"].map(json.loads)
        return table


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _check_intake(incidents: pd.DataFrame) -> None:
    """Refuse incidents with unknown values, or final ones without their closing time."""
    spec = {c.name: c for c in LAYERS["incidents"].columns}
    if "id" not in incidents.columns or incidents["id"].isna().any():
        raise InputError("every incident needs an 'id'", fix="give each incident an id")
    for name in ("category", "priority", "source", "status"):
        if name not in incidents.columns:
            if name == "category":
                raise InputError("the incidents have no 'category'", fix="give a category")
            continue
        allowed = spec[name].allowed or ()
        values = incidents[name]
        bad = np.flatnonzero(values.notna().to_numpy() & ~values.isin(allowed).to_numpy())
        if name == "category":
            bad = np.flatnonzero(~values.isin(allowed).to_numpy())
        if bad.size:
            raise InputError(
                f"unknown {name} {values.iloc[bad[0]]!r} in {bad.size} incident(s)",
                rows=bad.tolist(),
                fix=f"use one of: {', '.join(allowed)}",
            )
    if "status" in incidents.columns:
        final = incidents["status"].isin(["closed", "rejected", "duplicate"]).to_numpy()
        closed = incidents.get("closed_at")
        missing = final & (closed.isna().to_numpy() if closed is not None else True)
        if np.any(missing):
            raise InputError(
                "incidents taken in as closed, rejected or duplicate need 'closed_at'",
                rows=np.flatnonzero(missing).tolist(),
                fix="give their closing time, or take them in as reported",
            )


def _iso(value: Any) -> str | None:
    """A timestamp as local ISO 8601 text (aware times converted to local wall-clock time)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
    return stamp.isoformat(timespec="seconds")
