"""The workspace store: plan versions, atomic publishing, concurrent writers, crash safety."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.store import StoreError, Workspace


@pytest.fixture(scope="module")
def base(sample_workspace, sample_plan, tmp_path_factory):
    """A workspace with two drafts saved (the default plan and an 80-grid one), none published."""
    from gridmap.plan import make_plan

    path = tmp_path_factory.mktemp("store") / "street.gpkg"
    shutil.copy(sample_workspace, path)
    ws = Workspace(path, actor="setup")
    first = ws.save_plan(sample_plan, note="default")
    second = ws.save_plan(make_plan(ws.layers(), grids=80), note="80 grids")
    ws.close()
    return path, first, second


@pytest.fixture
def workspace(base, tmp_path):
    path, first, second = base
    copy = tmp_path / "street.gpkg"
    shutil.copy(path, copy)
    return Workspace(copy, actor="tester"), first, second


def _published(path) -> list[int]:
    con = sqlite3.connect(path)
    try:
        return [
            r[0] for r in con.execute("SELECT plan_id FROM gridmap_plans WHERE status='published'")
        ]
    finally:
        con.close()


def test_versions_statuses_and_exactly_one_published(workspace):
    ws, first, second = workspace
    table = ws.plans()
    assert table["version"].tolist() == [1, 2] and set(table["status"]) == {"draft"}
    assert table["grids"].tolist() == [97, 80]  # the default plan: 97 grids
    assert ws.published() is None
    ws.publish(first)
    assert ws.published().plan_id == first
    ws.publish(second)
    assert ws.plan(first).status == "archived" and ws.plan(first).archived_at
    assert ws.published().plan_id == second and _published(ws.path) == [second]
    with pytest.raises(StoreError, match="archived, not a draft"):
        ws.publish(first)
    with pytest.raises(StoreError, match="only drafts"):
        ws.archive(second)
    with pytest.raises(InputError, match="no plan 99"):
        ws.plan(99)
    # the database itself refuses a second published plan
    con = ws.connect()
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE gridmap_plans SET status='published' WHERE plan_id=?", (first,))
    actions = ws.audit_log()[["action", "entity", "entity_id"]].values.tolist()
    assert ["publish", "plan", str(second)] in actions and [
        "archive",
        "plan",
        str(first),
    ] in actions
    assert set(ws.audit_log()["actor"]) >= {"tester", "setup"}


def test_a_plan_comes_back_as_it_was_saved(workspace, sample_plan):
    ws, first, _ = workspace
    grids = ws.plan_grids(first)
    assert sorted(grids["code"]) == sorted(sample_plan.grids["code"])
    assert grids["households"].sum() == sample_plan.grids["households"].sum()
    assert grids.crs.to_epsg() == 4326 and grids.geometry.is_valid.all()
    plan_file = ws.plan_file(first)
    assert plan_file.assignments.sort_index().equals(
        sample_plan.building_codes().astype(str).sort_index().rename("code")
    )
    assert ws.plan(first).summary["grids"] == 97


def test_publishing_assigns_grids_and_moves_open_incidents(workspace):
    ws, first, second = workspace
    ws.publish(first)
    con = ws.connect()
    assert con.execute("SELECT count(*) FROM incidents WHERE grid_code IS NULL").fetchone()[0] == 0
    before = dict(con.execute("SELECT id, grid_code FROM incidents"))
    moved = ws.publish(second)
    after = dict(con.execute("SELECT id, grid_code FROM incidents"))
    status = dict(con.execute("SELECT id, status FROM incidents"))
    changed = [i for i in before if before[i] != after[i]]
    assert moved == len(changed) > 0
    assert all(status[i] in ("reported", "accepted", "in_progress") for i in changed)
    log = ws.audit_log()
    assert log.loc[log["action"] == "reassign", "details"].iloc[0]["count"] == moved


def test_intake_assigns_the_grid_and_never_duplicates(workspace):
    ws, first, _ = workspace
    new = gpd.GeoDataFrame(
        {"id": ["T1", "T2"], "category": ["noise", "sanitation"], "priority": ["high", "low"],
         "source": ["web", "hotline"]},
        geometry=[shapely.Point(104.11, 30.64), shapely.Point(103.0, 30.0)],
        crs=4326,
    )  # fmt: skip
    with pytest.raises(StoreError, match="no plan is published"):
        ws.add_incidents(new)
    ws.publish(first)
    count = ws.incident_count()
    result = ws.add_incidents(new)
    assert result["added"].tolist() == [True, True]
    assert result["grid_flag"].tolist() == ["inside", "unassigned"]
    assert result["grid_code"].iloc[0] == ws.grid_index().lookup(104.11, 30.64)[0]
    again = ws.add_incidents(new)
    assert not again["added"].any() and ws.incident_count() == count + 2


def _writer(path: str, prefix: str, count: int, seed: int) -> None:
    """Add ``count`` incidents one transaction at a time (run in threads and processes)."""
    ws = Workspace(path, actor=prefix)
    rng = np.random.default_rng(seed)
    for i in range(count):
        point = shapely.Point(104.10 + 0.02 * rng.random(), 30.63 + 0.02 * rng.random())
        frame = gpd.GeoDataFrame(
            {"id": [f"{prefix}-{i:04d}"], "category": ["noise"], "priority": ["normal"],
             "source": ["member_app"]},
            geometry=[point], crs=4326,
        )  # fmt: skip
        ws.add_incidents(frame)
    ws.close()


def _check_writers(ws: Workspace, prefixes: list[str], count: int, start: int) -> None:
    con = ws.connect()
    total = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
    assert total == start + len(prefixes) * count
    for prefix in prefixes:
        ids = [
            r[0] for r in con.execute("SELECT id FROM incidents WHERE id LIKE ?", (prefix + "-%",))
        ]
        assert sorted(ids) == [f"{prefix}-{i:04d}" for i in range(count)]
    events = con.execute(
        "SELECT count(*) FROM gridmap_incident_events WHERE note = 'intake'"
    ).fetchone()[0]
    assert events == len(prefixes) * count
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    nulls = con.execute(
        "SELECT count(*) FROM incidents WHERE id LIKE 'w%' AND grid_flag IS NULL"
    ).fetchone()[0]
    assert nulls == 0


@pytest.mark.slow
def test_eight_threads_write_while_a_plan_is_published(workspace):
    ws, first, second = workspace
    ws.publish(first)
    start = ws.incident_count()
    prefixes = [f"wt{t}" for t in range(8)]
    threads = [
        threading.Thread(target=_writer, args=(str(ws.path), p, 500, t))
        for t, p in enumerate(prefixes)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    ws.publish(second)  # while they write
    for thread in threads:
        thread.join()
    _check_writers(ws, prefixes, 500, start)
    assert _published(ws.path) == [second]


@pytest.mark.slow
def test_eight_processes_write_while_a_plan_is_published(workspace):
    ws, first, second = workspace
    ws.publish(first)
    ws.close()
    start = Workspace(ws.path).incident_count()
    prefixes = [f"wp{t}" for t in range(8)]
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(str(ws.path), p, 500, t))
        for t, p in enumerate(prefixes)
    ]
    for process in processes:
        process.start()
    time.sleep(2.0)
    publisher = Workspace(ws.path, actor="publisher")
    publisher.publish(second)
    for process in processes:
        process.join(timeout=600)
        assert process.exitcode == 0
    _check_writers(Workspace(ws.path), prefixes, 500, start)
    assert _published(ws.path) == [second]


KILLED_PUBLISH = textwrap.dedent(
    """
    import sys
    from gridmap.store import Workspace
    ws = Workspace(sys.argv[1], actor="doomed")
    print("publishing", flush=True)
    ws.publish(int(sys.argv[2]))
    print("done", flush=True)
    """
)


def test_a_process_killed_while_publishing_leaves_the_previous_plan(workspace):
    ws, first, second = workspace
    ws.publish(first)
    codes_before = dict(ws.connect().execute("SELECT id, grid_code FROM incidents"))
    audit_before = len(ws.audit_log())
    ws.close()
    env = dict(os.environ, GRIDMAP_PUBLISH_PAUSE="30")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PUBLISH, str(ws.path), str(second)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert child.stdout.readline().strip() == "publishing"
    # wait until the child holds the write lock, i.e. is inside the publish transaction
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        probe = sqlite3.connect(ws.path, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            time.sleep(0.05)
        except sqlite3.OperationalError:
            break  # locked: the child is writing
        finally:
            probe.close()
    else:
        child.kill()
        pytest.fail("the publishing process never took the write lock")
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    again = Workspace(ws.path, actor="after")
    con = again.connect()
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _published(ws.path) == [first]
    assert again.plan(second).status == "draft"
    assert dict(con.execute("SELECT id, grid_code FROM incidents")) == codes_before
    assert len(again.audit_log()) == audit_before
    # and the store still works: the draft can be published now
    again.publish(second)
    assert _published(ws.path) == [second]


def test_opening_bad_files_says_what_is_wrong(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Workspace(tmp_path / "nope.gpkg")
    text = tmp_path / "notes.gpkg"
    text.write_text("not a database", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be opened as a GeoPackage"):
        Workspace(text)
    empty = tmp_path / "empty.gpkg"
    sqlite3.connect(empty).close()
    with pytest.raises(InputError, match="not a GeoPackage"):
        Workspace(empty)


def test_intake_refuses_unknown_values_and_final_incidents_without_closing_time(workspace):
    ws, first, _ = workspace
    ws.publish(first)
    count = ws.incident_count()
    good = {"id": ["V1"], "category": ["noise"], "priority": ["high"], "source": ["web"]}
    point = [shapely.Point(104.11, 30.64)]
    for column, value, message in (
        ("category", "graffiti", "unknown category 'graffiti'"),
        ("priority", "asap", "unknown priority 'asap'"),
        ("status", "closed", "need 'closed_at'"),
    ):
        bad = gpd.GeoDataFrame({**good, column: [value]}, geometry=point, crs=4326)
        with pytest.raises(InputError, match=message) as caught:
            ws.add_incidents(bad)
        assert caught.value.rows == [0] and caught.value.fix
    assert ws.incident_count() == count
    done = gpd.GeoDataFrame(
        {**good, "status": ["closed"], "closed_at": ["2026-11-01T10:00:00"]},
        geometry=point, crs=4326,
    )  # fmt: skip
    assert ws.add_incidents(done)["added"].item()


def test_layers_read_through_the_store_match_gdal(workspace, sample_layers):
    ws, _, _ = workspace
    communities = ws.read_layer("communities")
    assert communities.crs.to_epsg() == 4326
    assert sorted(communities["code"]) == sorted(sample_layers["communities"]["code"])
    ours = communities.sort_values("code").geometry.reset_index(drop=True)
    theirs = sample_layers["communities"].sort_values("code").geometry.reset_index(drop=True)
    assert ours.geom_equals_exact(theirs, tolerance=1e-9).all()
    assert ws.read_layer("no_such_layer") is None
