"""Incidents: the lifecycle matrix, escalation, filters, statistics, members, concurrent moves."""

from __future__ import annotations

import itertools
import re
import shutil
import sqlite3
import threading
import time
from collections import deque

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gridmap.errors import InputError
from gridmap.incidents import (
    DEFAULT_SLA_HOURS,
    assign_member,
    escalate,
    history,
    incident_count,
    incidents,
    iso_with_offset,
    member_workload,
    stats,
    times_with_offset,
    transition,
)
from gridmap.schema import INCIDENT_CATEGORIES, INCIDENT_STATUSES
from gridmap.store import INCIDENT_TRANSITIONS, OPEN_STATUSES, StoreError, Workspace

# The lifecycle as documented: reported -> accepted -> in_progress -> resolved -> closed,
# rejected/duplicate from the first two, reopen resolved -> in_progress.
ALLOWED = {
    ("reported", "accepted"),
    ("reported", "rejected"),
    ("reported", "duplicate"),
    ("accepted", "in_progress"),
    ("accepted", "rejected"),
    ("accepted", "duplicate"),
    ("in_progress", "resolved"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),
}
# The column each status stamps (written out here, not taken from the module under test).
STAMPED = {
    "accepted": "accepted_at",
    "in_progress": "in_progress_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
    "rejected": "closed_at",
    "duplicate": "closed_at",
}
TIMES = ["accepted_at", "in_progress_at", "resolved_at", "closed_at", "updated_at"]
# The default service levels, hours by priority, as documented.
SLA_HOURS = {"urgent": 24, "high": 72, "normal": 168, "low": 336}
PAIRS = [(a, b) for a in INCIDENT_STATUSES for b in INCIDENT_STATUSES]
# ISO 8601 to the second with the street's UTC offset (Asia/Shanghai: +08:00).
OFFSET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def ws(sample_workspace, sample_plan, tmp_path_factory):
    """The sample street with its default plan published (shared by the whole module)."""
    path = tmp_path_factory.mktemp("incidents") / "street.gpkg"
    shutil.copy(sample_workspace, path)
    workspace = Workspace(path, actor="tester")
    workspace.publish(workspace.save_plan(sample_plan))
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def grids(ws):
    """The published plan's grids."""
    return ws.plan_grids(ws.published().plan_id)


@pytest.fixture
def unpublished(sample_workspace, tmp_path):
    """The sample street with no plan at all."""
    path = tmp_path / "street.gpkg"
    shutil.copy(sample_workspace, path)
    workspace = Workspace(path, actor="tester")
    yield workspace
    workspace.close()


def _raw(ws: Workspace, sql: str, params=()) -> list[tuple]:
    con = sqlite3.connect(ws.path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _add(ws, grids, *, grid=0, category="sanitation", priority="normal", reported_at=None,
         expected_at=None) -> str:  # fmt: skip
    """A new incident (status reported) inside grid number ``grid``; returns its id."""
    incident_id = f"T{next(_ids):05d}"
    frame = gpd.GeoDataFrame(
        {
            "id": [incident_id],
            "category": [category],
            "priority": [priority],
            "source": ["hotline"],
            "reported_at": [reported_at],
            "expected_at": [expected_at],
        },
        geometry=[grids.geometry.iloc[grid].representative_point()],
        crs="EPSG:4326",
    )
    added = ws.add_incidents(frame)
    assert added["added"].tolist() == [True]
    assert added["grid_code"].tolist() == [grids["code"].iloc[grid]]
    return incident_id


def _path_to(status: str) -> list[str]:
    """The shortest run of transitions from ``reported`` to ``status``."""
    queue = deque([("reported", [])])
    seen = {"reported"}
    while queue:
        here, path = queue.popleft()
        if here == status:
            return path
        for nxt in INCIDENT_TRANSITIONS[here]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*path, nxt]))
    raise AssertionError(f"{status} cannot be reached")


def _incident_in(ws, grids, status: str, **kwargs) -> str:
    incident_id = _add(ws, grids, **kwargs)
    for step in _path_to(status):
        transition(ws, incident_id, step, actor="setup")
    return incident_id


def _snapshot(ws, incident_id) -> dict:
    row = _raw(
        ws,
        "SELECT status, handling_level, " + ", ".join(TIMES) + " FROM incidents WHERE id = ?",
        (incident_id,),
    )[0]
    return {
        **dict(zip(["status", "handling_level", *TIMES], row, strict=True)),
        "events": _raw(
            ws,
            "SELECT count(*) FROM gridmap_incident_events WHERE incident_id = ?",
            (incident_id,),
        )[0][0],  # fmt: skip
        "all_events": _raw(ws, "SELECT count(*) FROM gridmap_incident_events")[0][0],
        "audit": _raw(ws, "SELECT count(*) FROM gridmap_audit")[0][0],
    }


# ------------------------------------------------------------------ lifecycle


def test_the_store_allows_exactly_the_documented_lifecycle():
    allowed = {(a, b) for a, nexts in INCIDENT_TRANSITIONS.items() for b in nexts}
    assert allowed == ALLOWED
    assert set(INCIDENT_TRANSITIONS) == set(INCIDENT_STATUSES)


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition_matrix(ws, grids, from_status, to_status):
    incident_id = _incident_in(ws, grids, from_status)
    before = _snapshot(ws, incident_id)
    assert before["status"] == from_status
    if (from_status, to_status) in ALLOWED:
        event = transition(ws, incident_id, to_status, actor="alice", note="checked on site")
        after = _snapshot(ws, incident_id)
        assert after["status"] == to_status
        column = STAMPED[to_status]
        assert after[column] == after["updated_at"] and after[column] is not None
        # the event carries the stored local time with the street's offset, to the second
        assert OFFSET_TIME.match(event["at"]), event["at"]
        assert event["at"] == after[column][:19] + "+08:00"
        for other in set(TIMES) - {column, "updated_at"}:
            if (from_status, to_status, other) == ("resolved", "in_progress", "resolved_at"):
                assert before["resolved_at"] is not None and after["resolved_at"] is None
            else:
                assert after[other] == before[other], other
        assert after["events"] == before["events"] + 1
        assert after["all_events"] == before["all_events"] + 1
        assert after["audit"] == before["audit"] + 1
        last = history(ws, incident_id).iloc[-1]
        assert (last["from_status"], last["to_status"]) == (from_status, to_status)
        assert (last["actor"], last["note"]) == ("alice", "checked on site")
        assert last["event_id"] == event["event_id"]
        audit = ws.audit_log(limit=1).iloc[0]
        assert (audit["action"], audit["entity"], audit["entity_id"]) == (
            "transition", "incident", incident_id,
        )  # fmt: skip
        assert audit["details"]["from"] == from_status and audit["details"]["to"] == to_status
        assert audit["actor"] == "alice"
    else:
        with pytest.raises(StoreError) as caught:
            transition(ws, incident_id, to_status, actor="alice")
        message = str(caught.value)
        assert incident_id in message and f"is {from_status}" in message
        for allowed in INCIDENT_TRANSITIONS[from_status]:
            assert allowed in message
        if not INCIDENT_TRANSITIONS[from_status]:
            assert "final" in message
        assert _snapshot(ws, incident_id) == before


def test_a_full_lifecycle_with_given_times_and_its_history(ws, grids):
    incident_id = _add(ws, grids, reported_at="2025-01-10T08:00:00")
    steps = [
        ("accepted", "2025-01-10T09:00:00"),
        ("in_progress", "2025-01-10T10:00:00"),
        ("resolved", "2025-01-11T10:00:00"),
        ("in_progress", "2025-01-12T10:00:00+08:00"),  # reopened; an offset is local time here
        ("resolved", "2025-01-13T02:00:00Z"),  # UTC: 10:00 in Shanghai
        ("closed", "2025-01-14T10:00:00"),
    ]
    for status, at in steps:
        transition(ws, incident_id, status, note=status, at=at)
    table = history(ws, incident_id)
    assert table["from_status"].tolist()[1:] == ["reported"] + [s for s, _ in steps[:-1]]
    assert table["to_status"].tolist() == ["reported"] + [s for s, _ in steps]
    assert table["note"].tolist() == ["intake"] + [s for s, _ in steps]
    assert table["at"].iloc[1:].tolist() == [
        pd.Timestamp(t)
        for t in ["2025-01-10T09:00", "2025-01-10T10:00", "2025-01-11T10:00", "2025-01-12T10:00",
                  "2025-01-13T10:00", "2025-01-14T10:00"]
    ]  # fmt: skip
    row = incidents(ws, status="closed", since="2025-01-10", until="2025-01-11")
    row = row[row["id"] == incident_id].iloc[0]
    assert row["accepted_at"] == pd.Timestamp("2025-01-10T09:00")
    assert row["in_progress_at"] == pd.Timestamp("2025-01-12T10:00")  # the last time it started
    assert row["resolved_at"] == pd.Timestamp("2025-01-13T10:00")
    assert row["closed_at"] == row["updated_at"] == pd.Timestamp("2025-01-14T10:00")


def test_unknown_incidents_statuses_and_times_are_refused(ws, grids):
    incident_id = _add(ws, grids, reported_at="2025-02-01T08:00:00")
    before = _snapshot(ws, incident_id)
    with pytest.raises(InputError, match="no incident 'NOPE'"):
        transition(ws, "NOPE", "accepted")
    with pytest.raises(InputError, match="'done' is not an incident status"):
        transition(ws, incident_id, "done")
    with pytest.raises(InputError, match="before incident"):
        transition(ws, incident_id, "accepted", at="2025-01-31T08:00:00")
    with pytest.raises(InputError, match="not a date"):
        transition(ws, incident_id, "accepted", at="yesterday-ish")
    with pytest.raises(InputError, match="no incident"):
        history(ws, "NOPE")
    assert _snapshot(ws, incident_id) == before


# ------------------------------------------------------------------ escalation


def test_escalation_goes_up_to_the_street_and_stops(ws, grids):
    incident_id = _incident_in(ws, grids, "in_progress")
    assert _snapshot(ws, incident_id)["handling_level"] == "grid"
    assert escalate(ws, incident_id, actor="chief", note="needs the community") == "community"
    assert escalate(ws, incident_id) == "street"
    before = _snapshot(ws, incident_id)
    assert before["handling_level"] == "street"
    with pytest.raises(StoreError, match="already handled by the street"):
        escalate(ws, incident_id)
    assert _snapshot(ws, incident_id) == before
    log = ws.audit_log(limit=5)
    mine = log[(log["action"] == "escalate") & (log["entity_id"] == incident_id)]
    assert [d["to"] for d in mine["details"]] == ["street", "community"]
    assert mine["actor"].tolist() == ["tester", "chief"]
    # escalation leaves the status alone, and the incident can still be handled
    assert before["status"] == "in_progress"
    transition(ws, incident_id, "resolved")
    assert _snapshot(ws, incident_id)["handling_level"] == "street"
    with pytest.raises(InputError, match="no incident"):
        escalate(ws, "NOPE")


@pytest.mark.parametrize("status", ["closed", "rejected", "duplicate"])
def test_final_incidents_are_not_escalated(ws, grids, status):
    incident_id = _incident_in(ws, grids, status)
    before = _snapshot(ws, incident_id)
    with pytest.raises(StoreError, match=f"is {status}"):
        escalate(ws, incident_id)
    assert _snapshot(ws, incident_id) == before


@pytest.mark.parametrize("status", ["reported", "accepted", "resolved"])
def test_unfinished_incidents_are_escalated(ws, grids, status):
    incident_id = _incident_in(ws, grids, status)
    assert escalate(ws, incident_id) == "community"


# ------------------------------------------------------------------ queries


def _all_raw(ws) -> pd.DataFrame:
    con = sqlite3.connect(ws.path)
    try:
        table = pd.read_sql_query(
            "SELECT id, category, status, priority, reported_at, closed_at, expected_at, "
            "grid_code, handling_level FROM incidents",
            con,
        )
    finally:
        con.close()
    for column in ("reported_at", "closed_at", "expected_at"):
        table[column] = pd.to_datetime(table[column], format="ISO8601")
    return table


def test_incident_filters(ws, grids):
    escalated = _incident_in(ws, grids, "accepted", grid=3, category="noise")
    escalate(ws, escalated)
    raw = _all_raw(ws)
    everything = incidents(ws)
    assert everything.crs.to_epsg() == 4326 and len(everything) == len(raw)
    assert set(everything.geom_type) == {"Point"}
    for column in ("reported_at", "closed_at", "accepted_at", "updated_at"):
        assert pd.api.types.is_datetime64_any_dtype(everything[column]), column
    assert everything["reported_at"].is_monotonic_increasing

    def ids(frame) -> set[str]:
        return set(frame["id"])

    assert ids(incidents(ws, status="resolved")) == ids(raw[raw["status"] == "resolved"])
    both = incidents(ws, status=["rejected", "duplicate"])
    assert ids(both) == ids(raw[raw["status"].isin(["rejected", "duplicate"])]) and len(both)
    noise_open = incidents(ws, category="noise", open_only=True)
    expected = raw[(raw["category"] == "noise") & raw["status"].isin(OPEN_STATUSES)]
    assert ids(noise_open) == ids(expected) and escalated in ids(noise_open)
    code = grids["code"].iloc[3]
    assert ids(incidents(ws, grid=code)) == ids(raw[raw["grid_code"] == code])
    two = [grids["code"].iloc[3], grids["code"].iloc[4]]
    assert ids(incidents(ws, grid=two)) == ids(raw[raw["grid_code"].isin(two)])
    window = incidents(ws, since="2026-01-01", until="2026-02-01T00:00:00")
    inside = (raw["reported_at"] >= "2026-01-01") & (raw["reported_at"] < "2026-02-01")
    assert ids(window) == ids(raw[inside]) and 0 < len(window) < len(raw)
    assert window["reported_at"].min() >= pd.Timestamp("2026-01-01")
    assert escalated in ids(incidents(ws, level="community"))
    assert ids(incidents(ws, level="community")) == ids(raw[raw["handling_level"] == "community"])
    assert len(incidents(ws, status="closed", category="noise", grid=code, since="2026-03-01"))
    with pytest.raises(InputError, match="unknown status 'open'"):
        incidents(ws, status="open")
    with pytest.raises(InputError, match="unknown handling level"):
        incidents(ws, level="city")
    with pytest.raises(InputError, match="not a date"):
        incidents(ws, since="last week")


def _local(value) -> pd.Timestamp:
    """A stored time as a naive Shanghai timestamp (NaT when it is not a time)."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return pd.NaT
    if stamp is not pd.NaT and stamp.tzinfo is not None:
        stamp = stamp.tz_convert("Asia/Shanghai").tz_localize(None)
    return stamp


def _expected_ids(ws, *, status=None, category=None, grid=None, level=None, since=None,
                  until=None, open_only=False) -> list[str]:  # fmt: skip
    """Ids the filters keep, newest first, by filtering the whole table in pandas."""
    raw = pd.DataFrame(
        _raw(ws, "SELECT id, status, category, grid_code, handling_level, reported_at "
                 "FROM incidents"),
        columns=["id", "status", "category", "grid_code", "handling_level", "reported_at"],
    )  # fmt: skip
    raw["reported_at"] = raw["reported_at"].map(_local)
    keep = pd.Series(True, index=raw.index)
    for column, values in (("status", status), ("category", category), ("grid_code", grid),
                           ("handling_level", level)):  # fmt: skip
        if values is not None:
            keep &= raw[column].isin([values] if isinstance(values, str) else values)
    if open_only:
        keep &= raw["status"].isin(OPEN_STATUSES)
    if since is not None:
        keep &= raw["reported_at"] >= _local(since)
    if until is not None:
        keep &= raw["reported_at"] < _local(until)
    table = raw[keep].sort_values(["reported_at", "id"], ascending=False)
    return table["id"].tolist()


@pytest.fixture(scope="module")
def recent(ws, grids):
    """Incidents reported just now (times to the millisecond) and one on a stored second."""
    ids = [_add(ws, grids, grid=g, category="noise") for g in (1, 2)]
    ids.append(_incident_in(ws, grids, "in_progress", grid=2, category="noise"))
    second = _raw(ws, "SELECT reported_at FROM incidents WHERE id = 'E000100'")[0][0]
    ids.append(_add(ws, grids, grid=5, category="noise", reported_at=second))
    return ids


PAGE_CASES = {
    "everything": {},
    "closed": {"status": "closed"},
    "two categories in December": {
        "category": ["noise", "sanitation"],
        "since": "2025-12-01",
        "until": "2026-01-01",
    },  # fmt: skip
    "since with an offset": {"since": "2026-03-01T08:30:00+08:00"},
    "since in UTC": {"since": "2026-03-01T00:30:00Z", "category": "noise"},
    "until a date": {"until": "2025-11-02"},
    "open only": {"open_only": True},
    "open noise": {"open_only": True, "category": "noise"},
    "handling level": {"level": ["grid", "community"], "status": ["rejected", "duplicate"]},
    "unknown grid": {"grid": "NO-SUCH-GRID"},
    "sql in a value": {"grid": "x') OR 1=1 --", "category": "noise' OR '1'='1"},
}


@pytest.mark.parametrize("filters", PAGE_CASES.values(), ids=PAGE_CASES.keys())
def test_pages_and_counts_match_filtering_the_whole_table(ws, recent, filters):
    expected = _expected_ids(ws, **filters)
    assert incident_count(ws, **filters) == len(expected)
    whole = incidents(ws, **filters)
    assert whole["id"].tolist() == expected[::-1]  # oldest first, as before
    assert whole.index.tolist() == list(range(len(whole)))
    newest = incidents(ws, **filters, newest_first=True)
    assert newest["id"].tolist() == expected
    for offset, limit in ((0, 100), (7, 25), (len(expected) - 3, 10), (len(expected), 10),
                          (len(expected) + 500, 10), (3, 0), (2, None)):  # fmt: skip
        offset = max(offset, 0)
        page = incidents(ws, **filters, newest_first=True, limit=limit, offset=offset)
        stop = None if limit is None else offset + limit
        assert page["id"].tolist() == expected[offset:stop], (offset, limit)
        assert page.index.tolist() == list(range(len(page)))
    oldest = incidents(ws, **filters, limit=5, offset=1)
    assert oldest["id"].tolist() == expected[::-1][1:6]


def test_a_page_has_the_whole_rows(ws, recent):
    page = incidents(ws, category="noise", newest_first=True, limit=4)
    newest = set(incidents(ws, category="noise", newest_first=True, limit=50)["id"])
    assert set(recent[:3]) <= newest and recent[3] not in newest  # the last one is of 2025
    assert page.crs.to_epsg() == 4326 and set(page.geom_type) == {"Point"}
    for column in ("reported_at", "closed_at", "accepted_at", "updated_at"):
        assert pd.api.types.is_datetime64_any_dtype(page[column]), column
    same = incidents(ws, category="noise").set_index("id").loc[page["id"]]

    def values(frame):  # pandas picks dtypes by content (datetime64[s] or [us], str or object)
        table = pd.DataFrame(frame.drop(columns="geometry")).astype(object)
        return table.where(table.notna(), None)

    pd.testing.assert_frame_equal(values(page.set_index("id")), values(same))
    assert page.geometry.equals(gpd.GeoSeries(same.geometry.to_numpy(), crs=4326))


def _as_values(frame):
    """A frame's columns as plain values, to compare rows read by different queries."""
    table = pd.DataFrame(frame.drop(columns="geometry")).astype(object)
    return table.where(table.notna(), None)


def test_the_ids_filter_gives_the_rows_of_the_whole_table(ws, recent):
    whole = incidents(ws).set_index("id")
    chosen = [recent[0], "E000200", "E000013"]
    for incident_id in chosen:
        one = incidents(ws, ids=incident_id)  # one id, as text
        assert one["id"].tolist() == [incident_id]
        pd.testing.assert_frame_equal(
            _as_values(one.set_index("id")), _as_values(whole.loc[[incident_id]])
        )
        assert one.geometry.iloc[0].equals(whole.geometry.loc[incident_id])
    several = incidents(ws, ids=[*chosen, "NO-SUCH-ID"], newest_first=True)
    assert several["id"].tolist() == [i for i in _expected_ids(ws) if i in chosen]
    assert incident_count(ws, ids=[*chosen, "NO-SUCH-ID"]) == 3
    assert incidents(ws, ids=["NO-SUCH-ID"]).empty and incidents(ws, ids=[]).empty
    assert incident_count(ws, ids="x' OR '1'='1") == 0  # a bound value, not SQL
    status = whole.loc["E000200", "status"]
    other = next(s for s in INCIDENT_STATUSES if s != status)
    assert len(incidents(ws, ids="E000200", status=status)) == 1  # filters combine
    assert incidents(ws, ids="E000200", status=other).empty


def test_lifecycle_refusals_carry_codes_and_params(ws, grids):
    """The web words these refusals from their code and params (the text stays the engine's)."""
    fresh = _add(ws, grids)
    with pytest.raises(InputError) as unknown:
        transition(ws, fresh, "done")
    assert unknown.value.code == "unknown_status"
    assert unknown.value.params["to"] == "done"
    assert unknown.value.params["statuses"] == list(INCIDENT_STATUSES)
    with pytest.raises(InputError) as empty:
        transition(ws, fresh, "")
    assert empty.value.params["reason"] == "empty"
    with pytest.raises(StoreError) as refused:
        transition(ws, fresh, "closed")
    assert refused.value.code == "transition_refused"
    assert refused.value.message.startswith(f"incident {fresh} is reported: it cannot become")
    assert refused.value.params == {"incident": fresh, "status": "reported", "to": "closed",
                                    "next": ["accepted", "rejected", "duplicate"],
                                    "reason": ""}  # fmt: skip
    closed = _incident_in(ws, grids, "closed")
    with pytest.raises(StoreError) as final:
        transition(ws, closed, "accepted")
    assert final.value.params["next"] == [] and final.value.params["reason"] == "final"
    with pytest.raises(StoreError) as not_escalated:
        escalate(ws, closed)
    assert not_escalated.value.code == "escalate_final"
    assert not_escalated.value.params == {"incident": closed, "status": "closed"}
    escalate(ws, fresh)
    escalate(ws, fresh)
    with pytest.raises(StoreError) as highest:
        escalate(ws, fresh)
    assert highest.value.code == "highest_level"
    assert highest.value.params == {"incident": fresh, "level": "street"}
    with pytest.raises(InputError) as missing:
        escalate(ws, "NOPE")
    assert missing.value.code == "unknown_incident" and missing.value.params == {"incident": "NOPE"}


def test_since_and_until_bounds_are_exact(ws):
    stored = _raw(ws, "SELECT id, reported_at FROM incidents WHERE id = 'E000200'")[0]
    at = stored[1]
    assert stored[0] in set(incidents(ws, since=at)["id"])  # since: at or after
    assert stored[0] not in set(incidents(ws, until=at)["id"])  # until: before, not at
    assert stored[0] in set(incidents(ws, until=at + ".000001")["id"])
    assert stored[0] not in set(incidents(ws, since=at + ".5")["id"])
    utc = (pd.Timestamp(at).tz_localize("Asia/Shanghai").tz_convert("UTC")).isoformat()
    assert incident_count(ws, since=utc) == incident_count(ws, since=at)
    one_second = incidents(ws, since=at, until=pd.Timestamp(at) + pd.Timedelta(seconds=1))
    assert stored[0] in set(one_second["id"])
    assert incident_count(ws, since="2030-01-01") == 0
    assert incident_count(ws, since="2026-01-01", until="2025-01-01") == 0


def test_bad_paging_is_refused(ws):
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(InputError, match="limit"):
            incidents(ws, limit=bad)
        with pytest.raises(InputError, match="offset"):
            incidents(ws, offset=bad)
    with pytest.raises(InputError, match="unknown status"):
        incident_count(ws, status="open")
    with pytest.raises(InputError, match="not a date"):
        incident_count(ws, until="soon")


def test_huge_limits_and_offsets_read_past_the_end_instead_of_overflowing(ws):
    huge = 2**70
    assert incidents(ws, newest_first=True, limit=5, offset=huge).empty
    assert len(incidents(ws, status="reported", limit=huge)) == incident_count(
        ws, status="reported"
    )


def test_times_stored_in_other_forms_give_the_same_rows(unpublished):
    """A layer written by other tools (space, offset, UTC, date alone) is read the same way."""
    ws = unpublished
    others = {
        "E000010": "2025-11-03 09:00:00",
        "E000011": "2025-11-03T09:00:00+08:00",
        "E000012": "2025-11-03T01:00:00Z",
        "E000013": "2025-11-03",
        "E000014": "2025-11-03T09:00:00.250",
    }
    with ws.transaction() as con:
        for incident_id, text in others.items():
            con.execute("UPDATE incidents SET reported_at = ? WHERE id = ?", (text, incident_id))
    cases = [{}, {"since": "2025-11-03T09:00:00"}, {"until": "2025-11-03T09:00:00"},
             {"since": "2025-11-03", "until": "2025-11-04", "status": "closed"}]  # fmt: skip
    for filters in cases:
        expected = _expected_ids(ws, **filters)
        assert incident_count(ws, **filters) == len(expected), filters
        assert incidents(ws, **filters, newest_first=True)["id"].tolist() == expected, filters
        page = incidents(ws, **filters, newest_first=True, limit=20, offset=3)
        assert page["id"].tolist() == expected[3:23], filters
    nine = incidents(ws, since="2025-11-03T09:00:00", until="2025-11-03T09:00:01")
    assert set(nine["id"]) >= {"E000010", "E000011", "E000012", "E000014"}
    assert "E000013" not in set(nine["id"])
    picked = incidents(ws, ids=["E000013", "E000011", "NO-SUCH-ID"], newest_first=True)
    assert picked["id"].tolist() == [i for i in _expected_ids(ws) if i in ("E000011", "E000013")]
    assert incident_count(ws, ids=["E000013", "E000011"], since="2025-11-03T09:00:00") == 1


def test_times_leave_with_the_street_offset():
    assert iso_with_offset("2026-03-01T08:00:00") == "2026-03-01T08:00:00+08:00"
    assert iso_with_offset("2026-03-01T08:00:00.123") == "2026-03-01T08:00:00+08:00"
    assert iso_with_offset(pd.Timestamp("2026-03-01T00:00:00Z")) == "2026-03-01T08:00:00+08:00"
    assert iso_with_offset(None) is None and iso_with_offset(pd.NaT) is None
    assert iso_with_offset("1988-06-01T12:00:00") == "1988-06-01T12:00:00+09:00"  # summer time
    column = pd.Series(["2026-03-01T08:00:00", None, "2026-03-01T00:00:00Z", "not a time", ""])
    assert times_with_offset(column).tolist() == [
        "2026-03-01T08:00:00+08:00", None, "2026-03-01T08:00:00+08:00", "not a time", None,
    ]  # fmt: skip
    parsed = pd.Series(pd.to_datetime(["2026-03-01T08:00:00.9", None]))
    assert times_with_offset(parsed).tolist() == ["2026-03-01T08:00:00+08:00", None]
    assert [iso_with_offset(v) for v in column[:3]] == times_with_offset(column[:3]).tolist()


def test_history_times_are_local_and_leave_with_the_offset(ws, grids):
    incident_id = _add(ws, grids, reported_at="2025-05-01T08:00:00")
    event = transition(ws, incident_id, "accepted", at="2025-05-01T01:30:00Z")
    assert event["at"] == "2025-05-01T09:30:00+08:00"
    table = history(ws, incident_id)
    assert table["at"].iloc[-1] == pd.Timestamp("2025-05-01T09:30:00")
    assert [iso_with_offset(t) for t in table["at"]][-1] == event["at"]
    assert all(OFFSET_TIME.match(iso_with_offset(t)) for t in table["at"])


# ------------------------------------------------------------------ statistics


def _close(ws, incident_id, closed_at, reported_at):
    transition(ws, incident_id, "accepted", at=reported_at)
    transition(ws, incident_id, "in_progress", at=reported_at)
    transition(ws, incident_id, "resolved", at=closed_at)
    transition(ws, incident_id, "closed", at=closed_at)


def test_the_default_service_levels_are_the_documented_ones():
    assert DEFAULT_SLA_HOURS == SLA_HOURS


def test_stats_of_a_month_built_by_hand(ws, grids):
    """One grid, one month with no other incidents: every number is known in advance."""
    g = 7
    code, households = grids["code"].iloc[g], int(grids["households"].iloc[g])
    cases = [  # category, priority, reported, expected, closed: hours taken, within the SLA?
        ("sanitation", "urgent", "2024-03-01T08:00", None, "2024-03-01T20:00"),  # 12, yes (24)
        ("noise", "normal", "2024-03-02T00:00", None, "2024-03-10T00:00"),  # 192, no (168)
        # expected_at decides when given: late although within the default of the priority...
        ("noise", "low", "2024-03-03T00:00", "2024-03-04T00:00", "2024-03-05T00:00"),  # 48, no
        ("street_vending", "normal", "2024-03-05T00:00", "2024-03-05T01:00",
         "2024-03-05T10:00"),  # 10, no
        # ... and in time although past the default
        ("sanitation", "high", "2024-03-04T00:00", "2024-03-20T00:00", "2024-03-15T00:00"),  # 264
        ("illegal_construction", "high", "2024-03-06T00:00", None, "2024-03-10T04:00"),  # 100, no
    ]  # fmt: skip
    for category, priority, reported, expected, closed in cases:
        incident_id = _add(ws, grids, grid=g, category=category, priority=priority,
                           reported_at=reported, expected_at=expected)  # fmt: skip
        _close(ws, incident_id, closed, reported)
    _incident_in(ws, grids, "in_progress", grid=g, reported_at="2024-03-07T00:00")
    rejected = _add(ws, grids, grid=g, category="safety_hazard", reported_at="2024-03-11T00:00")
    transition(ws, rejected, "rejected", at="2024-03-11T12:00")
    _add(ws, grids, grid=g, reported_at="2024-04-01T00:00")  # the next month

    table = stats(ws, since="2024-03-01", until="2024-04-01")
    assert table["period"].unique().tolist() == ["2024-03"]
    assert len(table) == len(grids) and table["total"].sum() == 8
    row = table[table["code"] == code].iloc[0]
    assert row["households"] == households and row["community"] == grids["community"].iloc[g]
    assert row["period_start"] == pd.Timestamp("2024-03-01")
    assert (row["total"], row["open"]) == (8, 1)
    assert [row[c] for c in INCIDENT_CATEGORIES] == [3, 1, 0, 1, 0, 1, 2]
    assert [row[s] for s in INCIDENT_STATUSES] == [0, 0, 1, 0, 6, 1, 0]
    assert row["per_1000_households"] == pytest.approx(8 / households * 1000)
    # closed in 10, 12, 48, 100, 192 and 264 hours; the rejected one does not count
    assert row["median_hours_to_close"] == pytest.approx((48 + 100) / 2)
    assert row["p90_hours_to_close"] == pytest.approx(192 + 0.5 * (264 - 192))
    assert row["sla_share"] == pytest.approx(2 / 6)
    others = table[table["code"] != code]
    assert (others["total"] == 0).all() and others["median_hours_to_close"].isna().all()
    assert (others["per_1000_households"] == 0).all()

    whole = stats(ws, period=None, since="2024-03-01", until="2024-05-01")
    assert "period" not in whole and len(whole) == len(grids)
    assert whole.loc[whole["code"] == code, "total"].item() == 9
    weekly = stats(ws, period="week", since="2024-03-01", until="2024-04-01")
    mine = weekly[weekly["code"] == code]
    # 1 to 3 March 2024 is ISO week 9 (Friday to Sunday), 4 to 10 March week 10
    assert dict(zip(mine["period"], mine["total"], strict=True)) == {
        "2024-W09": 3, "2024-W10": 4, "2024-W11": 1,
    }  # fmt: skip
    assert mine["period_start"].dt.strftime("%m-%d").tolist() == ["02-26", "03-04", "03-11"]
    community = stats(ws, by="community", period=None, since="2024-03-01", until="2024-04-01")
    name = grids["community"].iloc[g]
    assert community.loc[community["community"] == name, "total"].item() == 8
    assert community.loc[community["community"] == name, "households"].item() == int(
        grids.loc[grids["community"] == name, "households"].sum()
    )
    assert len(community) == grids["community"].nunique()


def test_stats_match_a_hand_computation_on_real_grids(ws, grids):
    raw = _all_raw(ws)
    raw["month"] = raw["reported_at"].dt.strftime("%Y-%m")
    table = stats(ws)
    assert table["total"].sum() == len(raw)  # every incident counted once
    assert (table[list(INCIDENT_CATEGORIES)].sum(axis=1) == table["total"]).all()
    assert (table[list(INCIDENT_STATUSES)].sum(axis=1) == table["total"]).all()
    busiest = raw["grid_code"].value_counts().index[0]
    rng = np.random.default_rng(5)
    codes = {busiest, grids["code"].iloc[0], *rng.choice(grids["code"], 3, replace=False)}
    households = dict(zip(grids["code"], grids["households"], strict=True))
    checked = 0
    for code in sorted(codes):
        for month in ("2025-11", "2026-02", "2026-07"):
            mine = raw[(raw["grid_code"] == code) & (raw["month"] == month)]
            row = table[(table["code"] == code) & (table["period"] == month)].iloc[0]
            assert row["total"] == len(mine)
            assert row["open"] == mine["status"].isin(["reported", "accepted", "in_progress"]).sum()
            for category in INCIDENT_CATEGORIES:
                assert row[category] == (mine["category"] == category).sum(), category
            for status in INCIDENT_STATUSES:
                assert row[status] == (mine["status"] == status).sum(), status
            assert row["per_1000_households"] == pytest.approx(len(mine) * 1000 / households[code])
            done = mine[mine["status"] == "closed"]
            hours = [
                (c - r).total_seconds() / 3600
                for r, c in zip(done["reported_at"], done["closed_at"], strict=True)
            ]
            within = []
            for r, c, e, p in zip(done["reported_at"], done["closed_at"], done["expected_at"],
                                  done["priority"], strict=True):  # fmt: skip
                deadline = e if not pd.isna(e) else r + pd.Timedelta(hours=SLA_HOURS[p])
                within.append(c <= deadline)
            if hours:
                checked += 1
                assert row["median_hours_to_close"] == pytest.approx(float(np.median(hours)))
                assert row["p90_hours_to_close"] == pytest.approx(np.percentile(hours, 90))
                assert row["sla_share"] == pytest.approx(sum(within) / len(within))
            else:
                assert np.isnan(row["median_hours_to_close"]) and np.isnan(row["sla_share"])
    assert checked >= 10
    assert 0 < table["sla_share"].mean() < 1  # the sample misses some deadlines


def test_stats_refuse_bad_arguments_and_an_unpublished_workspace(ws, unpublished):
    with pytest.raises(InputError, match="period='year'"):
        stats(ws, period="year")
    with pytest.raises(InputError, match="by='member'"):
        stats(ws, by="member")
    with pytest.raises(StoreError, match="no plan is published"):
        stats(unpublished)


# ------------------------------------------------------------------ members


def _open_in(ws, code) -> int:
    return _raw(
        ws, "SELECT count(*) FROM incidents WHERE grid_code = ? AND status IN (?, ?, ?)",
        (code, *OPEN_STATUSES),
    )[0][0]  # fmt: skip


def test_members_are_assigned_to_published_grids_with_their_workload(ws, grids):
    first, second = grids["code"].iloc[10], grids["code"].iloc[11]
    members = _raw(ws, "SELECT id, name FROM members ORDER BY fid")
    audit = _raw(ws, "SELECT count(*) FROM gridmap_audit")[0][0]
    assert assign_member(ws, "M0001", first, actor="boss") is None
    assert assign_member(ws, "M0001", second) == first  # moved
    assert assign_member(ws, "M0002", second) is None  # two members may share a grid
    assert _raw(ws, "SELECT code FROM gridmap_member_grids WHERE member_id = 'M0001'") == [
        (second,)
    ]
    log = ws.audit_log(limit=3)
    assert (log["action"] == "assign").all() and log["entity_id"].tolist() == [
        "M0002", "M0001", "M0001",
    ]  # fmt: skip
    assert log["details"].iloc[1]["previous"] == first and log["actor"].iloc[2] == "boss"
    assert _raw(ws, "SELECT count(*) FROM gridmap_audit")[0][0] == audit + 3

    table = member_workload(ws)
    assert table["member_id"].tolist() == [m[0] for m in members]  # roster order, all members
    assert table["name"].tolist() == [m[1] for m in members]
    row = table[table["member_id"] == "M0001"].iloc[0]
    expected_households = int(grids.loc[grids["code"] == second, "households"].item())
    assert row["code"] == second and bool(row["current"])
    assert row["households"] == expected_households
    assert row["open_incidents"] == _open_in(ws, second)
    unassigned = table[~table["member_id"].isin(["M0001", "M0002"])]
    assert unassigned["code"].isna().all() and unassigned["open_incidents"].isna().all()

    # a new incident in the grid adds to the workload; rejecting it takes it away
    before = int(row["open_incidents"])
    incident_id = _add(ws, grids, grid=11)
    assert member_workload(ws, "M0001")["open_incidents"].item() == before + 1
    transition(ws, incident_id, "rejected")
    one = member_workload(ws, "M0001")
    assert len(one) == 1 and one["open_incidents"].item() == before
    assert one["households"].item() == expected_households


def test_member_assignment_refusals_change_nothing(ws, grids, unpublished):
    code = grids["code"].iloc[12]
    state = _raw(ws, "SELECT * FROM gridmap_member_grids ORDER BY member_id")
    audit = _raw(ws, "SELECT count(*) FROM gridmap_audit")[0][0]
    with pytest.raises(InputError, match="no member 'M9999'"):
        assign_member(ws, "M9999", code)
    with pytest.raises(InputError, match="grid '999' is not in the published plan"):
        assign_member(ws, "M0003", "999")
    with pytest.raises(StoreError, match="no plan is published"):
        assign_member(unpublished, "M0003", code)
    with pytest.raises(InputError, match="no member 'M9999'"):
        member_workload(ws, "M9999")
    assert _raw(ws, "SELECT * FROM gridmap_member_grids ORDER BY member_id") == state
    assert _raw(ws, "SELECT count(*) FROM gridmap_audit")[0][0] == audit
    assert _raw(unpublished, "SELECT count(*) FROM gridmap_member_grids")[0][0] == 0


# ------------------------------------------------------------------ concurrency


def _race(ws, incident_id, targets) -> tuple[list[str], list[BaseException]]:
    """Every thread tries its move at once, while another writer holds the lock for a moment.

    The held lock makes a racy implementation (status read before the transaction) fail for
    sure: every thread reads ``reported`` and then queues for the lock.  A correct one reads
    after it gets the lock, however long the pause is; the pause is not measured.
    """
    barrier = threading.Barrier(len(targets) + 1)
    wins: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(target):
        try:
            barrier.wait()
            transition(ws, incident_id, target, actor=f"thread-{target}")
            with lock:
                wins.append(target)
        except BaseException as error:
            with lock:
                errors.append(error)
        finally:
            ws.close()

    other = sqlite3.connect(ws.path, isolation_level=None, timeout=60)
    try:
        other.execute("BEGIN IMMEDIATE")
        threads = [threading.Thread(target=work, args=(t,)) for t in targets]
        for thread in threads:
            thread.start()
        barrier.wait()
        time.sleep(0.5)  # let the threads reach the lock
        other.execute("COMMIT")
        for thread in threads:
            thread.join()
    finally:
        other.close()
    return wins, errors


def test_eight_threads_make_the_same_move_and_exactly_one_wins(ws, grids):
    incident_id = _add(ws, grids)
    wins, errors = _race(ws, incident_id, ["accepted"] * 8)
    assert wins == ["accepted"] and len(errors) == 7
    assert all(isinstance(e, StoreError) and "is accepted" in str(e) for e in errors), errors
    events = _raw(
        ws, "SELECT to_status FROM gridmap_incident_events WHERE incident_id = ? "
        "AND from_status IS NOT NULL", (incident_id,),
    )  # fmt: skip
    assert events == [("accepted",)]
    audits = _raw(
        ws, "SELECT count(*) FROM gridmap_audit WHERE action = 'transition' AND entity_id = ?",
        (incident_id,),
    )  # fmt: skip
    assert audits == [(1,)]


def test_eight_threads_race_to_two_final_statuses_and_one_wins(ws, grids):
    incident_id = _add(ws, grids)
    # both are final: whichever comes first, every other move is refused
    wins, errors = _race(ws, incident_id, ["rejected", "duplicate"] * 4)
    assert len(wins) == 1 and len(errors) == 7
    assert all(isinstance(e, StoreError) for e in errors), errors
    assert _snapshot(ws, incident_id)["status"] == wins[0]
    assert history(ws, incident_id)["to_status"].tolist() == ["reported", wins[0]]


def test_members_follow_their_grid_to_a_new_plan_or_are_freed(unpublished, sample_plan):
    ws = unpublished
    assert not member_workload(ws)["current"].any()  # nothing published: nothing current
    first = ws.save_plan(sample_plan)
    ws.publish(first)
    code = ws.plan_grids(first)["code"].iloc[0]
    assign_member(ws, "M0001", code)
    assert member_workload(ws, "M0001")["current"].item()
    second = ws.save_plan(sample_plan, note="the same grids again")
    ws.publish(second)
    row = member_workload(ws, "M0001").iloc[0]
    assert row["code"] == code and row["plan_id"] == second and row["current"]
    assert row["households"] > 0
    # a plan in which the grid's code is gone frees the member, and the audit log says so
    renamed = [f"{c[:12]}{900 - i:03d}" for i, c in enumerate(sample_plan.grids["code"])]
    third = ws.save_plan(sample_plan.with_labels(sample_plan.labels, renamed))
    ws.publish(third)
    row = member_workload(ws, "M0001").iloc[0]
    assert pd.isna(row["code"]) and not row["current"]
    log = ws.audit_log()
    freed = log.loc[log["action"] == "carry_over", "details"].iloc[0]["freed"]
    assert ["M0001", code] in freed
    assign_member(ws, "M0001", renamed[0])
    assert member_workload(ws, "M0001")["current"].item()
