"""Incidents (网格事项): their lifecycle, escalation, queries, statistics and grid members.

Every incident a grid member (网格员) or a resident reports goes through one lifecycle.  The
allowed moves are :data:`gridmap.store.INCIDENT_TRANSITIONS`::

    reported --> accepted --> in_progress --> resolved --> closed
        |            |             ^              |
        |            |             +-- reopen ----+
        |            |
        +------------+--> rejected     (not a matter for the grid: 不予受理)
        +------------+--> duplicate    (already reported)

``closed``, ``rejected`` and ``duplicate`` are final: nothing leaves them.  Each move is
timestamped in the incidents layer (``accepted_at``, ``in_progress_at``, ``resolved_at``;
``closed_at`` for all three final statuses; ``updated_at`` always), written as a row of
``gridmap_incident_events`` and of the audit log, all in one transaction.  A ``*_at`` column
holds the time the incident last entered that status; reopening (``resolved`` ->
``in_progress``) clears ``resolved_at``.  The events keep the whole history.  Times are stored
as local wall-clock text (:data:`gridmap.schema.LOCAL_TIMEZONE`); the events
:func:`transition` returns, the API and the exports write them in ISO 8601 with the street's
UTC offset (:func:`iso_with_offset`).

Escalation is separate from the status: an incident is handled by the grid, the community
(社区) or the street (街道), :data:`gridmap.store.HANDLING_LEVELS`; :func:`escalate` moves it
one level up while it is not final.

Open311 (GeoReport v2) knows two statuses; gridmap maps them as follows:

=============  =====================================================
Open311        gridmap status
=============  =====================================================
``open``       ``reported``, ``accepted``, ``in_progress``
``closed``     ``resolved``, ``closed``, ``rejected``, ``duplicate``
=============  =====================================================

(:data:`gridmap.store.OPEN_STATUSES` are the open ones.)  :func:`stats` counts incidents per
grid of the published plan and per month or week; :func:`assign_member` and
:func:`member_workload` tie grid members to the grids they serve.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.schema import (
    FINAL_STATUSES,
    INCIDENT_CATEGORIES,
    INCIDENT_STATUSES,
    LOCAL_TIMEZONE,
)
from gridmap.store import (
    HANDLING_LEVELS,
    INCIDENT_TRANSITIONS,
    OPEN_STATUSES,
    StoreError,
    Workspace,
    _blob_geometry,
    _iso,
    now,
)

#: Hours allowed to close an incident of each priority when it has no ``expected_at``
#: (used by :func:`stats` for the share closed within the service level).
DEFAULT_SLA_HOURS: dict[str, float] = {"urgent": 24.0, "high": 72.0, "normal": 168.0, "low": 336.0}

#: The time column set when an incident enters each status.
STATUS_TIME_COLUMNS: dict[str, str] = {
    "accepted": "accepted_at",
    "in_progress": "in_progress_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
    "rejected": "closed_at",
    "duplicate": "closed_at",
}

#: Time columns of the incidents layer (parsed as datetimes by :func:`incidents`).
TIME_COLUMNS = (
    "reported_at",
    "accepted_at",
    "in_progress_at",
    "resolved_at",
    "closed_at",
    "expected_at",
    "updated_at",
)

#: Periods :func:`stats` groups by, as pandas period frequencies.
PERIODS = {"month": "M", "week": "W"}


# ------------------------------------------------------------------ helpers


def _local_text(value: Any) -> str | None:
    """One stored time as local ISO text (``None`` when it is not a time)."""
    try:
        return _iso(value)
    except (ValueError, TypeError, OverflowError):
        return None


def _times(values: pd.Series) -> pd.Series:
    """ISO 8601 text as naive local datetimes (aware ones converted to local time)."""
    try:
        parsed = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # mixed offsets: one at a time
        parsed = pd.to_datetime(values.map(_local_text), format="ISO8601", errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    return parsed


def iso_with_offset(value: Any) -> str | None:
    """A local wall-clock time as ISO 8601 with the street's UTC offset, to the second.

    Times are stored as local wall-clock text without an offset (:data:`LOCAL_TIMEZONE`);
    whatever leaves gridmap for people or other systems (the API, exports, lifecycle events)
    carries the offset, e.g. ``2026-03-01T08:00:00+08:00``.  ``value`` is stored text, a
    datetime or a pandas timestamp; an aware one is converted to local time first.  ``None``
    for an empty value; text that is not a time comes back as it is, and a local time that
    does not exist or occurs twice (a daylight-saving change) comes back without an offset.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(LOCAL_TIMEZONE)
        except (ValueError, TypeError):  # a skipped or doubled hour: keep it naive
            return stamp.isoformat(timespec="seconds")
    else:
        stamp = stamp.tz_convert(LOCAL_TIMEZONE)
    return stamp.isoformat(timespec="seconds")


def _offset_text(seconds: float) -> str:
    """A UTC offset in seconds as ``+08:00``."""
    sign = "-" if seconds < 0 else "+"
    minutes = round(abs(seconds) / 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def times_with_offset(values: pd.Series) -> pd.Series:
    """A column of stored times or datetimes as :func:`iso_with_offset` text (vectorised).

    Text that does not parse as a time is kept as it is (nothing an export writes is lost);
    empty values become ``None``.
    """
    text_in = values.astype(object).where(values.notna(), None)
    local = values if pd.api.types.is_datetime64_any_dtype(values) else _times(values)
    if getattr(local.dt, "tz", None) is not None:
        local = local.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    aware = local.dt.tz_localize(LOCAL_TIMEZONE, ambiguous="NaT", nonexistent="NaT")
    shift = (local - aware.dt.tz_convert("UTC").dt.tz_localize(None)).dt.total_seconds()
    labels = {value: _offset_text(value) for value in shift.dropna().unique()}
    seconds = np.datetime_as_string(local.to_numpy(dtype="datetime64[ns]"), unit="s")
    out = pd.Series(seconds, index=values.index, dtype=object)
    out = out.where(local.notna(), None)
    out[shift.notna()] = out[shift.notna()] + shift[shift.notna()].map(labels)
    blank = text_in.map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
    unparsed = local.isna() & ~blank
    out[unparsed] = text_in[unparsed].astype(str)
    return out


def _stamp(value: Any, name: str) -> pd.Timestamp:
    """A ``since``/``until``/``at`` value as a naive local timestamp."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise InputError(
            f"{name}={value!r} is not a date or time.",
            fix="give an ISO 8601 date or time, e.g. 2025-11-01 or 2025-11-01T08:30.",
        ) from error
    if stamp is pd.NaT:
        raise InputError(f"{name} is empty.", fix="give a date or time, or leave it out.")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
    return stamp


def _choices(
    value: str | Iterable[str] | None, name: str, allowed: tuple[str, ...] | None
) -> list[str] | None:
    """A filter given as one value or several, checked against the allowed values."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else [str(v) for v in value]
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise InputError(
                f"unknown {name} {', '.join(map(repr, unknown))}.",
                fix=f"use one of: {', '.join(allowed)}.",
            )
    return values


def _no_incident(incident_id: str) -> InputError:
    return InputError(
        f"there is no incident {incident_id!r} in the workspace.",
        fix="check the id (gridmap incidents WORKSPACE list shows them).",
        code="unknown_incident",
        params={"incident": incident_id},
    )


def _published_id(con: sqlite3.Connection) -> tuple[int, int] | None:
    row = con.execute(
        "SELECT plan_id, version FROM gridmap_plans WHERE status = 'published'"
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def _nothing_published(what: str) -> StoreError:
    return StoreError(
        f"no plan is published yet: {what}.",
        fix="publish a plan first (gridmap plans publish).",
    )


def _member_columns(con: sqlite3.Connection) -> set[str]:
    return {row[1] for row in con.execute("PRAGMA table_info(members)")}


# ------------------------------------------------------------------ lifecycle


def transition(
    ws: Workspace,
    incident_id: str,
    to_status: str,
    *,
    actor: str | None = None,
    note: str = "",
    at: Any = None,
) -> dict[str, Any]:
    """Move an incident to its next status, timestamped, with an event row and an audit row.

    The current status is read inside the transaction (``BEGIN IMMEDIATE``), so of several
    writers trying the same move at once exactly one succeeds and the others are refused.

    Parameters
    ----------
    ws
        The workspace.
    incident_id
        The incident's ``id``.
    to_status
        The new status: one the current status allows (:data:`gridmap.store.INCIDENT_TRANSITIONS`).
    actor
        Who makes the change (default: the workspace's actor).
    note
        A remark kept with the event and in the audit log.
    at
        When it happened (date/time, ISO text or datetime; default: now).  Times with a UTC
        offset are converted to local time.  It may not be earlier than ``reported_at``.

    Returns
    -------
    dict
        The event: ``event_id``, ``incident_id``, ``from_status``, ``to_status``, ``at``
        (ISO 8601 with the street's UTC offset, to the second, as :func:`iso_with_offset`
        writes it; the store keeps the local time to the millisecond), ``actor`` and ``note``.

    Raises
    ------
    InputError
        For an unknown incident or status, or ``at`` before the report.
    StoreError
        When the current status does not allow the move (nothing is changed).

    The refusals carry a ``code`` and ``params`` (:class:`gridmap.errors.GridmapError`):
    ``unknown_status`` (``to``, ``statuses``; ``reason`` ``"empty"`` for an empty status),
    ``unknown_incident`` (``incident``), ``transition_refused`` (``incident``, ``status``,
    ``to``, ``next``: the allowed next statuses; ``reason`` ``"final"`` when there is none),
    ``before_report`` (``incident``, ``at``, ``reported``) and ``incident_changed``
    (``incident``, ``to``).
    """
    incident_id = str(incident_id)
    if to_status not in INCIDENT_TRANSITIONS:
        params = {"to": to_status, "statuses": list(INCIDENT_TRANSITIONS)}
        raise InputError(
            f"{to_status!r} is not an incident status.",
            fix=f"use one of: {', '.join(INCIDENT_TRANSITIONS)}.",
            code="unknown_status",
            params={**params, "reason": "" if to_status else "empty"},
        )
    stamp = now() if at is None else _iso(_stamp(at, "at"))
    who = actor or ws.actor
    with ws.transaction() as con:
        row = con.execute(
            "SELECT status, reported_at FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        if row is None:
            raise _no_incident(incident_id)
        current, reported = row
        allowed = INCIDENT_TRANSITIONS.get(current, ())
        if to_status not in allowed:
            following = ", ".join(allowed) if allowed else "none (it is final)"
            raise StoreError(
                f"incident {incident_id} is {current}: it cannot become {to_status}; "
                f"allowed next statuses: {following}.",
                fix=(
                    f"move it to one of: {', '.join(allowed)}."
                    if allowed
                    else "report a new incident if the matter came back."
                ),
                code="transition_refused",
                params={
                    "incident": incident_id,
                    "status": current,
                    "to": to_status,
                    "next": list(allowed),
                    "reason": "" if allowed else "final",
                },
            )
        if at is not None and reported is not None:
            reported_stamp = _times(pd.Series([reported])).iloc[0]
            if reported_stamp is not pd.NaT and pd.Timestamp(stamp) < reported_stamp:
                raise InputError(
                    f"at={stamp} is before incident {incident_id} was reported ({reported}).",
                    fix="give a time after the report.",
                    code="before_report",
                    params={"incident": incident_id, "at": stamp, "reported": reported},
                )
        sets = [f"{STATUS_TIME_COLUMNS[to_status]} = :at", "status = :to", "updated_at = :at"]
        if current == "resolved" and to_status == "in_progress":
            sets.append("resolved_at = NULL")  # reopened
        cur = con.execute(
            f"UPDATE incidents SET {', '.join(sets)} WHERE id = :id AND status = :from",
            {"at": stamp, "to": to_status, "id": incident_id, "from": current},
        )
        if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; refuse rather than guess
            raise StoreError(
                f"incident {incident_id} changed while it was being moved to {to_status}.",
                fix="try again.",
                code="incident_changed",
                params={"incident": incident_id, "to": to_status},
            )
        cur = con.execute(
            "INSERT INTO gridmap_incident_events (incident_id, from_status, to_status, at, "
            "actor, note) VALUES (?, ?, ?, ?, ?, ?)",
            (incident_id, current, to_status, stamp, who, note),
        )
        event_id = int(cur.lastrowid)
        ws.audit(
            con,
            "transition",
            "incident",
            incident_id,
            {"from": current, "to": to_status, "at": stamp, "note": note, "event_id": event_id},
            who,
        )
    return {
        "event_id": event_id,
        "incident_id": incident_id,
        "from_status": current,
        "to_status": to_status,
        "at": iso_with_offset(stamp),
        "actor": who,
        "note": note,
    }


def escalate(ws: Workspace, incident_id: str, *, actor: str | None = None, note: str = "") -> str:
    """Hand an incident one level up: grid -> community -> street (网格 -> 社区 -> 街道).

    Parameters
    ----------
    ws
        The workspace.
    incident_id
        The incident's ``id``.
    actor
        Who escalates it (default: the workspace's actor).
    note
        Why, kept in the audit log.

    Returns
    -------
    str
        The new handling level.

    Raises
    ------
    InputError
        For an unknown incident.
    StoreError
        When it is already handled by the street, or is closed, rejected or a duplicate.

    The refusals carry a ``code`` and ``params``: ``unknown_incident`` (``incident``),
    ``escalate_final`` (``incident``, ``status``), ``unknown_level`` (``incident``, ``level``,
    ``levels``) and ``highest_level`` (``incident``, ``level``).
    """
    incident_id = str(incident_id)
    who = actor or ws.actor
    with ws.transaction() as con:
        row = con.execute(
            "SELECT status, handling_level FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        if row is None:
            raise _no_incident(incident_id)
        status, level = row[0], row[1] or HANDLING_LEVELS[0]
        if status in FINAL_STATUSES:
            raise StoreError(
                f"incident {incident_id} is {status}: a final incident is not escalated.",
                fix="report a new incident if the matter needs more handling.",
                code="escalate_final",
                params={"incident": incident_id, "status": status},
            )
        if level not in HANDLING_LEVELS:
            raise StoreError(
                f"incident {incident_id} has an unknown handling level {level!r}.",
                fix=f"set handling_level to one of: {', '.join(HANDLING_LEVELS)}.",
                code="unknown_level",
                params={"incident": incident_id, "level": level, "levels": list(HANDLING_LEVELS)},
            )
        step = HANDLING_LEVELS.index(level)
        if step == len(HANDLING_LEVELS) - 1:
            raise StoreError(
                f"incident {incident_id} is already handled by the {level}, the highest level.",
                fix="handle it at the street level.",
                code="highest_level",
                params={"incident": incident_id, "level": level},
            )
        new = HANDLING_LEVELS[step + 1]
        stamp = now()
        con.execute(
            "UPDATE incidents SET handling_level = ?, updated_at = ? WHERE id = ?",
            (new, stamp, incident_id),
        )
        ws.audit(
            con,
            "escalate",
            "incident",
            incident_id,
            {"from": level, "to": new, "status": status, "note": note},
            who,
        )
    return new


# ------------------------------------------------------------------ queries


#: ``reported_at`` as a fixed-width sort key (``YYYY-MM-DDTHH:MM:SS.fffffffff``) for rows in
#: the canonical form (see :data:`_CANONICAL`): ordering and comparing the keys as text is
#: ordering and comparing the times.
_KEY = (
    "(CASE WHEN length(reported_at) = 19 THEN reported_at || '.000000000' "
    "ELSE substr(reported_at || '000000000', 1, 29) END)"
)

#: A ``reported_at`` the store writes: empty, or a valid local time ``YYYY-MM-DDTHH:MM:SS``
#: with up to nine decimals of a second and no offset (years pandas can hold).  SQLite's
#: ``strftime`` with a ``+0 seconds`` modifier normalises the time, so 30 February and 24:00
#: do not come back unchanged.
_CANONICAL = (
    "reported_at IS NULL OR (typeof(reported_at) = 'text' "
    "AND length(reported_at) BETWEEN 19 AND 29 "
    "AND substr(reported_at, 1, 4) BETWEEN '1678' AND '2261' "
    "AND strftime('%Y-%m-%dT%H:%M:%S', reported_at, '+0 seconds') = substr(reported_at, 1, 19) "
    "AND (length(reported_at) = 19 OR (substr(reported_at, 20, 1) = '.' "
    "AND length(reported_at) > 20 AND substr(reported_at, 21) NOT GLOB '*[^0-9]*')))"
)


def _key(stamp: pd.Timestamp) -> str:
    """A naive timestamp as the text of :data:`_KEY`."""
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{stamp.microsecond:06d}{stamp.nanosecond:03d}"


def _canonical_times(con: sqlite3.Connection, where: list[str], params: list[Any]) -> bool:
    """Whether the ``reported_at`` of every row matching ``where`` is in :data:`_CANONICAL` form.

    Only those rows are checked: the others are neither compared nor ordered.
    """
    conditions = " AND ".join([*where, f"NOT ({_CANONICAL})"])
    sql = f"SELECT EXISTS (SELECT 1 FROM incidents WHERE {conditions})"
    return not con.execute(sql, params).fetchone()[0]


def _query(
    status: str | Iterable[str] | None,
    category: str | Iterable[str] | None,
    grid: str | Iterable[str] | None,
    since: Any,
    until: Any,
    level: str | Iterable[str] | None,
    open_only: bool,
    ids: str | Iterable[str] | None = None,
) -> tuple[list[str], list[Any], pd.Timestamp | None, pd.Timestamp | None]:
    """The SQL conditions and bound values of the filters, and the ``since``/``until`` stamps.

    The conditions hold the filters on text columns; ``since`` and ``until`` are checked here
    and left to the caller, which compares them in SQL or in pandas as the stored times allow.
    """
    statuses = _choices(status, "status", INCIDENT_STATUSES)
    categories = _choices(category, "category", None)
    levels = _choices(level, "handling level", HANDLING_LEVELS)
    grids = _choices(grid, "grid", None)
    wanted = _choices(ids, "id", None)
    where: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("id", wanted),
        ("status", statuses),
        ("category", categories),
        ("handling_level", levels),
        ("grid_code", grids),
    ):
        if values is not None:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if open_only:
        where.append(f"status IN ({', '.join('?' * len(OPEN_STATUSES))})")
        params.extend(OPEN_STATUSES)
    first = None if since is None else _stamp(since, "since")
    last = None if until is None else _stamp(until, "until")
    return where, params, first, last


def _time_bounds(
    where: list[str], params: list[Any], since: pd.Timestamp | None, until: pd.Timestamp | None
) -> tuple[list[str], list[Any]]:
    """The conditions and values with ``since``/``until`` compared in SQL (canonical times)."""
    where, params = list(where), list(params)
    if since is not None:
        where.append(f"{_KEY} >= ?")
        params.append(_key(since))
    if until is not None:
        where.append(f"{_KEY} < ?")
        params.append(_key(until))
    return where, params


#: The largest whole number SQLite takes; bigger limits and offsets are cut down to it.
_SQL_INT_MAX = 2**63 - 1


def _paging(limit: Any, offset: Any) -> tuple[int | None, int]:
    """``limit`` and ``offset`` checked: whole numbers >= 0 (``limit`` ``None``: all)."""
    checked = []
    for name, value in (("limit", limit), ("offset", offset)):
        if value is None and name == "limit":
            checked.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise InputError(
                f"{name}={value!r} is not a whole number >= 0.", fix=f"give {name} >= 0."
            )
        checked.append(min(int(value), _SQL_INT_MAX))  # past any table: same rows, no overflow
    return checked[0], checked[1]


def _frame(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """Rows of the incidents table as a GeoDataFrame: points, times parsed, no ``fid``."""
    blobs = table.pop("geom") if "geom" in table else pd.Series([None] * len(table))
    table = table.drop(columns=["fid"], errors="ignore")
    for column in TIME_COLUMNS:
        if column in table:
            table[column] = _times(table[column])
    return gpd.GeoDataFrame(table, geometry=[_blob_geometry(b) for b in blobs], crs="EPSG:4326")


def incidents(
    ws: Workspace,
    *,
    status: str | Iterable[str] | None = None,
    category: str | Iterable[str] | None = None,
    grid: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    level: str | Iterable[str] | None = None,
    open_only: bool = False,
    ids: str | Iterable[str] | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> gpd.GeoDataFrame:
    """The incidents of a workspace, filtered, ordered and optionally one page of them.

    Filters, order and paging run in SQLite, so a page of a large table costs only the rows
    it holds (count every match with :func:`incident_count`).  When some ``reported_at`` is
    stored in another form than the store writes (an offset, a space before the time, a
    date alone), the times are compared and ordered in pandas instead, with the same result.

    Parameters
    ----------
    ws
        The workspace.
    status, category, level
        Keep these statuses, categories or handling levels (one value or several).
    grid
        Keep incidents whose ``grid_code`` is one of these.
    since, until
        Keep incidents reported at or after ``since`` and before ``until`` (dates or times;
        times with a UTC offset are converted to local time).
    open_only
        Keep only open incidents (:data:`gridmap.store.OPEN_STATUSES`).
    ids
        Keep the incidents with these ``id`` values (one or several; ids not stored are left
        out): one incident is read through the index on ``id``, not the whole table.  Each id
        is a bound value of the query, so at most SQLite's limit of bound values (32,766
        since SQLite 3.32) may be asked for at once.
    newest_first
        Order by ``reported_at`` then ``id``, both descending (incidents without
        ``reported_at`` first), instead of ascending (those last).
    limit, offset
        Skip the first ``offset`` incidents of that order and keep at most ``limit``
        (``None``: all the rest).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per incident, points in EPSG:4326, the time columns (:data:`TIME_COLUMNS`)
        as naive local datetimes (:func:`iso_with_offset` writes them with the street's UTC
        offset), in the order asked for (index 0, 1...).

    Raises
    ------
    InputError
        For an unknown status, category or level, a bad date, or a negative ``limit`` or
        ``offset``.
    """
    where, params, first, last = _query(status, category, grid, since, until, level, open_only, ids)
    limit, offset = _paging(limit, offset)
    con = ws.connect()
    if _canonical_times(con, where, params):
        where, params = _time_bounds(where, params, first, last)
        way = " DESC" if newest_first else ""
        order = f"(reported_at IS NULL){way}, {_KEY}{way}, (id IS NULL){way}, id{way}, rowid{way}"
        matching = "FROM incidents" + (f" WHERE {' AND '.join(where)}" if where else "")
        if limit is None and not offset:
            sql = f"SELECT * {matching} ORDER BY {order}"
        else:  # the page's rows are chosen on narrow sort records, then read whole
            sql = (
                f"SELECT * FROM incidents WHERE rowid IN (SELECT rowid {matching} "
                f"ORDER BY {order} LIMIT ? OFFSET ?) ORDER BY {order}"
            )
            params += [-1 if limit is None else limit, offset]
        return _frame(pd.read_sql_query(sql, con, params=params))
    # some reported_at is in another form: compare and order the parsed times
    sql = "SELECT * FROM incidents" + (f" WHERE {' AND '.join(where)}" if where else "")
    frame = _frame(pd.read_sql_query(sql + " ORDER BY rowid", con, params=params))
    keep = np.ones(len(frame), dtype=bool)
    if first is not None:
        keep &= (frame["reported_at"] >= first).to_numpy()
    if last is not None:
        keep &= (frame["reported_at"] < last).to_numpy()
    frame = frame[keep].sort_values(["reported_at", "id"], kind="stable")
    if newest_first:
        frame = frame.iloc[::-1]
    stop = None if limit is None else offset + limit
    return frame.iloc[offset:stop].reset_index(drop=True)


def incident_count(
    ws: Workspace,
    *,
    status: str | Iterable[str] | None = None,
    category: str | Iterable[str] | None = None,
    grid: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    level: str | Iterable[str] | None = None,
    open_only: bool = False,
    ids: str | Iterable[str] | None = None,
) -> int:
    """How many incidents :func:`incidents` keeps with these filters, counted in SQLite.

    The parameters are those of :func:`incidents`; the count is that of every match (a page
    of :func:`incidents` holds at most ``limit`` of them).

    Raises
    ------
    InputError
        For an unknown status, category or level, or a bad date.
    """
    where, params, first, last = _query(status, category, grid, since, until, level, open_only, ids)
    con = ws.connect()
    if (first is not None or last is not None) and not _canonical_times(con, where, params):
        return len(
            incidents(
                ws, status=status, category=category, grid=grid, since=since, until=until,
                level=level, open_only=open_only, ids=ids,
            )
        )  # fmt: skip
    where, params = _time_bounds(where, params, first, last)
    sql = "SELECT count(*) FROM incidents" + (f" WHERE {' AND '.join(where)}" if where else "")
    return int(con.execute(sql, params).fetchone()[0])


def history(ws: Workspace, incident_id: str) -> pd.DataFrame:
    """The status changes of one incident, oldest first.

    Incidents taken in through :meth:`gridmap.store.Workspace.add_incidents` start with an
    intake event (``from_status`` empty); incidents imported with the input layers have only
    the events made since.  Escalations are in the audit log (action ``escalate``).

    Parameters
    ----------
    ws
        The workspace.
    incident_id
        The incident's ``id``.

    Returns
    -------
    pandas.DataFrame
        ``event_id``, ``incident_id``, ``from_status``, ``to_status``, ``at`` (a naive local
        datetime, as the times of :func:`incidents`; :func:`iso_with_offset` writes it with
        the street's UTC offset), ``actor`` and ``note``.

    Raises
    ------
    InputError
        For an unknown incident.
    """
    incident_id = str(incident_id)
    con = ws.connect()
    if con.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone() is None:
        raise _no_incident(incident_id)
    table = pd.read_sql_query(
        "SELECT event_id, incident_id, from_status, to_status, at, actor, note "
        "FROM gridmap_incident_events WHERE incident_id = ? ORDER BY event_id",
        con,
        params=(incident_id,),
    )
    table["at"] = _times(table["at"])
    return table


# ------------------------------------------------------------------ statistics


def _period_labels(reported: pd.Series, period: str) -> tuple[pd.Series, pd.Series]:
    """Label (``2025-11``, ``2025-W45``) and start of each incident's month or week."""
    periods = reported.dt.to_period(PERIODS[period])
    start = periods.dt.start_time.dt.normalize()
    if period == "month":
        label = periods.astype(str)
    else:
        iso = start.dt.isocalendar()
        label = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    return label.where(reported.notna()), start


def stats(
    ws: Workspace,
    *,
    period: str | None = "month",
    by: str = "grid",
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """Incident statistics per grid (or community) of the published plan and per period.

    Every incident is placed in the published plan's grid that holds its point (so history
    recorded under older plans is counted on today's grids) and in the month or week of its
    ``reported_at``.  Every grid gets a row for every period that has incidents, with zeros
    where it had none.

    Parameters
    ----------
    ws
        The workspace (a plan must be published).
    period
        ``"month"``, ``"week"`` (ISO weeks, Monday first) or ``None`` for the whole time.
    by
        ``"grid"`` or ``"community"`` (the grids' community: their households summed).
    since, until
        Count incidents reported at or after ``since`` and before ``until``.

    Returns
    -------
    pandas.DataFrame
        One row per grid (``code``, ``community``) or community (``community``) and period,
        with columns:

        ``households``
            Households of the grid (or community) in the published plan.
        ``period``, ``period_start``
            The period's label (``2025-11``, ``2025-W45``) and first day (absent when
            ``period`` is ``None``).
        ``total``, ``open``
            Incidents reported, and those of them still open (:data:`OPEN_STATUSES`).
        one column per category, one per status
            Counts (categories of :data:`gridmap.schema.INCIDENT_CATEGORIES` and any other
            found; statuses of :data:`gridmap.schema.INCIDENT_STATUSES`).
        ``per_1000_households``
            ``total`` per 1,000 households (NaN without households).
        ``median_hours_to_close``, ``p90_hours_to_close``
            Of ``closed`` incidents: ``closed_at - reported_at`` in hours (the 90th
            percentile interpolated linearly, as :meth:`pandas.Series.quantile` does).
        ``sla_share``
            Share of ``closed`` incidents closed by ``expected_at``, or when it is missing,
            within :data:`DEFAULT_SLA_HOURS` of the report (by priority; ``normal`` for an
            unknown one).  NaN when none was closed.

        Incidents outside every grid are counted in a row whose ``code`` is empty.

    Raises
    ------
    StoreError
        When no plan is published.
    InputError
        For an unknown ``period`` or ``by``, or a bad date.
    """
    if period is not None and period not in PERIODS:
        raise InputError(f"period={period!r} is not known.", fix="use 'month', 'week' or None.")
    if by not in ("grid", "community"):
        raise InputError(f"by={by!r} is not known.", fix="use 'grid' or 'community'.")
    record = ws.published()
    if record is None:
        raise _nothing_published("statistics are counted on the published plan's grids")
    grids = pd.DataFrame(ws.plan_grids(record.plan_id).drop(columns="geometry"))
    frame = incidents(ws, since=since, until=until)
    codes = ws.grid_index().assign_points(frame).codes
    key = "code" if by == "grid" else "community"
    community_of = dict(zip(grids["code"], grids["community"], strict=True))
    data = pd.DataFrame(
        {
            "code": pd.Series(codes, dtype=object).to_numpy(),
            "category": frame["category"].to_numpy(),
            "status": frame["status"].to_numpy(),
            "priority": frame["priority"].to_numpy(),
            "reported_at": frame["reported_at"].to_numpy(),
            "closed_at": frame["closed_at"].to_numpy(),
            "expected_at": frame["expected_at"].to_numpy(),
        }
    )
    if by == "community":
        data["community"] = data["code"].map(community_of)
    if by == "grid":
        units = grids[["code", "community", "households"]].copy()
    else:
        units = grids.groupby("community", as_index=False, dropna=False)["households"].sum(
            min_count=1
        )
    units["households"] = pd.to_numeric(units["households"], errors="coerce").astype(float)
    _NONE = "\x00none"  # rows outside every grid, while grouping
    data[key] = data[key].fillna(_NONE)
    if (data[key] == _NONE).any():
        units = pd.concat([units, pd.DataFrame({key: [_NONE]})], ignore_index=True)
    if period is None:
        data["period"] = ""
        periods = pd.DataFrame({"period": [""]})
    else:
        data["period"], data["period_start"] = _period_labels(data["reported_at"], period)
        data = data[data["period"].notna()]
        periods = data[["period", "period_start"]].drop_duplicates().sort_values("period_start")
    table = units.merge(periods, how="cross")
    groups = [key, "period"]
    counted = data.groupby(groups).size().rename("total")
    opened = data[data["status"].isin(OPEN_STATUSES)].groupby(groups).size().rename("open")
    categories = list(INCIDENT_CATEGORIES) + sorted(
        set(data["category"].dropna()) - set(INCIDENT_CATEGORIES)
    )
    by_category = (
        pd.crosstab([data[key], data["period"]], data["category"])
        .reindex(columns=categories, fill_value=0)
        .rename_axis(index=groups, columns=None)
    )
    by_status = (
        pd.crosstab([data[key], data["period"]], data["status"])
        .reindex(columns=list(INCIDENT_STATUSES), fill_value=0)
        .rename_axis(index=groups, columns=None)
    )
    closed = data[
        (data["status"] == "closed") & data["closed_at"].notna() & data["reported_at"].notna()
    ].copy()
    closed["hours"] = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600
    sla = pd.to_timedelta(
        closed["priority"].map(DEFAULT_SLA_HOURS).fillna(DEFAULT_SLA_HOURS["normal"]), unit="h"
    )
    deadline = closed["expected_at"].fillna(closed["reported_at"] + sla)
    closed["in_sla"] = (closed["closed_at"] <= deadline).astype(float)
    grouped = closed.groupby(groups)
    timing = pd.DataFrame(
        {
            "median_hours_to_close": grouped["hours"].median(),
            "p90_hours_to_close": grouped["hours"].quantile(0.9),
            "sla_share": grouped["in_sla"].mean(),
        }
    )
    for part in (counted, opened, by_category, by_status):
        table = table.merge(part, how="left", left_on=groups, right_index=True)
    table = table.merge(timing, how="left", left_on=groups, right_index=True)
    counts = ["total", "open", *categories, *INCIDENT_STATUSES]
    table[counts] = table[counts].fillna(0).astype(np.int64)
    households = table["households"].where(table["households"] > 0)
    table["per_1000_households"] = table["total"] / households * 1000
    table["households"] = table["households"].round().astype("Int64")
    table[key] = table[key].replace({_NONE: None})
    head = ["code", "community"] if by == "grid" else ["community"]
    head += ["households"]
    if period is not None:
        head += ["period", "period_start"]
    columns = [
        *head,
        "total",
        "open",
        *categories,
        *INCIDENT_STATUSES,
        "per_1000_households",
        "median_hours_to_close",
        "p90_hours_to_close",
        "sla_share",
    ]
    order = [key, "period_start"] if period is not None else [key]
    table = table.sort_values(order, kind="stable", na_position="last")
    return table[columns].reset_index(drop=True)


# ------------------------------------------------------------------ grid members


def assign_member(
    ws: Workspace, member_id: str, code: str, *, actor: str | None = None
) -> str | None:
    """Make a grid member (网格员) serve a grid of the published plan.

    A member serves one grid; assigning again moves them.  Several members may share a grid.

    Parameters
    ----------
    ws
        The workspace.
    member_id
        The member's ``id`` in the ``members`` layer.
    code
        A grid code of the published plan.
    actor
        Who assigns (default: the workspace's actor).

    Returns
    -------
    str or None
        The grid the member served before, or ``None``.

    Raises
    ------
    InputError
        For a member not in the ``members`` layer (or no such layer), or a grid code not in
        the published plan.
    StoreError
        When no plan is published.
    """
    member_id, code = str(member_id), str(code)
    who = actor or ws.actor
    with ws.transaction() as con:
        if "id" not in _member_columns(con):
            raise InputError(
                "the workspace has no members layer (grid member roster).",
                fix="add a members layer with id and name columns.",
                layer="members",
            )
        if con.execute("SELECT 1 FROM members WHERE id = ?", (member_id,)).fetchone() is None:
            raise InputError(
                f"there is no member {member_id!r} in the members layer.",
                fix="check the id, or add the member to the roster first.",
                layer="members",
            )
        published = _published_id(con)
        if published is None:
            raise _nothing_published("members are assigned to the published plan's grids")
        plan_id, version = published
        found = con.execute(
            "SELECT 1 FROM gridmap_grids WHERE plan_id = ? AND code = ?", (plan_id, code)
        ).fetchone()
        if found is None:
            some = [
                r[0]
                for r in con.execute(
                    "SELECT code FROM gridmap_grids WHERE plan_id = ? ORDER BY code LIMIT 3",
                    (plan_id,),
                )
            ]
            raise InputError(
                f"grid {code!r} is not in the published plan (version {version}).",
                fix=f"give a grid code of the published plan, e.g. {', '.join(some)}.",
            )
        before = con.execute(
            "SELECT code, plan_id FROM gridmap_member_grids WHERE member_id = ?", (member_id,)
        ).fetchone()
        con.execute(
            "INSERT OR REPLACE INTO gridmap_member_grids (member_id, code, plan_id, "
            "assigned_at, actor) VALUES (?, ?, ?, ?, ?)",
            (member_id, code, plan_id, now(), who),
        )
        ws.audit(
            con,
            "assign",
            "member",
            member_id,
            {
                "code": code,
                "plan_id": plan_id,
                "previous": None if before is None else before[0],
                "previous_plan_id": None if before is None else before[1],
            },
            who,
        )
    return None if before is None else str(before[0])


def member_workload(ws: Workspace, member_id: str | None = None) -> pd.DataFrame:
    """Each grid member's grid, its households and its open incidents.

    Parameters
    ----------
    ws
        The workspace.
    member_id
        One member, or ``None`` for the whole roster (members not assigned yet included,
        with an empty ``code``).

    Returns
    -------
    pandas.DataFrame
        ``member_id``, ``name`` (when the roster has names), ``code``, ``plan_id``,
        ``assigned_at``, ``current`` (the assignment is to the published plan),
        ``households`` (of the grid in the published plan) and ``open_incidents`` (open
        incidents whose ``grid_code`` is the grid).  Assignments to an older plan are not
        counted: their ``households`` and ``open_incidents`` are empty.

    Raises
    ------
    InputError
        For an unknown ``member_id``.
    """
    con = ws.connect()
    have = _member_columns(con)
    if "id" in have:
        name = ", name" if "name" in have else ""
        roster = pd.read_sql_query(f"SELECT id AS member_id{name} FROM members", con)
    else:
        roster = pd.DataFrame({"member_id": pd.Series(dtype=object)})
    roster["member_id"] = roster["member_id"].astype(str)
    assigned = pd.read_sql_query(
        "SELECT member_id, code, plan_id, assigned_at FROM gridmap_member_grids", con
    )
    assigned["member_id"] = assigned["member_id"].astype(str)
    table = roster.merge(assigned, how="outer", on="member_id", sort=False)
    order = {m: i for i, m in enumerate(roster["member_id"])}
    table = table.sort_values(
        "member_id", key=lambda s: s.map(lambda m: (order.get(m, len(order)), m)), kind="stable"
    )
    if member_id is not None:
        table = table[table["member_id"] == str(member_id)]
        if table.empty:
            raise InputError(
                f"there is no member {member_id!r} in the members layer.",
                fix="check the id.",
                layer="members",
            )
    published = _published_id(con)
    table["current"] = table["plan_id"].eq(-1 if published is None else published[0])
    households: dict[str, Any] = {}
    if published is not None:
        grids = ws.plan_grids(published[0])
        households = dict(zip(grids["code"], grids["households"], strict=True))
    open_counts = dict(
        con.execute(
            "SELECT grid_code, count(*) FROM incidents "
            f"WHERE status IN ({', '.join('?' * len(OPEN_STATUSES))}) GROUP BY grid_code",
            OPEN_STATUSES,
        ).fetchall()
    )
    current = table["current"]
    table["households"] = table["code"].map(households).where(current).astype("Int64")
    table["open_incidents"] = (
        table["code"].map(lambda c: open_counts.get(c, 0)).where(current).astype("Int64")
    )
    table["plan_id"] = table["plan_id"].astype("Int64")
    table["assigned_at"] = _times(table["assigned_at"])
    columns = ["member_id", *(["name"] if "name" in table else [])]
    columns += ["code", "plan_id", "assigned_at", "current", "households", "open_incidents"]
    return table[columns].reset_index(drop=True)
