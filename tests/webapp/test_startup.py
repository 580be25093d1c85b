import hashlib
import logging
import shutil

import pytest

from gridmap.store import Workspace


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def first_start(tmp_path_factory, sample_workspace):
    """Start the app on the committed sample: it must work on a copy in the instance folder."""
    from web import create_app

    before = _digest(sample_workspace), sample_workspace.stat().st_mtime_ns
    instance = tmp_path_factory.mktemp("instance")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    app_logger = logging.getLogger("web")
    app_logger.addHandler(handler)
    try:
        app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
    finally:
        app_logger.removeHandler(handler)
    after = _digest(sample_workspace), sample_workspace.stat().st_mtime_ns
    return app, instance, before, after, [r.getMessage() for r in records]


def test_the_default_workspace_is_a_copy_in_the_instance_folder(first_start):
    app, instance, *_ = first_start
    assert app.config["WORKSPACE"] == str(instance / "sample_street.gpkg")
    assert (instance / "sample_street.gpkg").is_file()


def test_the_committed_sample_is_never_written(first_start, sample_workspace):
    _, instance, before, after, _ = first_start
    assert before == after
    assert not sample_workspace.with_name(sample_workspace.name + "-wal").exists()


def test_a_plan_is_made_and_published_at_first_start(first_start, login):
    app, instance, *_, messages = first_start
    ws = Workspace(instance / "sample_street.gpkg")
    record = ws.published()
    assert record is not None and record.note == "made at first start"
    assert len(ws.plan_grids(record.plan_id)) > 50
    assert any("made at first start" in m for m in messages)
    client = app.test_client()
    assert login(client, "viewer", "viewer-demo").status_code == 302  # the demo accounts
    response = client.get("/api/plans")
    assert [p["status"] for p in response.get_json()["plans"]] == ["published"]


def test_a_second_start_reuses_the_copy_and_its_plan(first_start, login):
    from web import create_app

    app, instance, *_ = first_start
    again = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
    assert again.config["WORKSPACE"] == app.config["WORKSPACE"]
    client = again.test_client()
    login(client, "viewer", "viewer-demo")
    plans = client.get("/api/plans").get_json()["plans"]
    assert len(plans) == 1


def test_the_sample_named_explicitly_is_also_copied(tmp_path, sample_workspace, published_gpkg):
    from web import create_app

    shutil.copyfile(published_gpkg, tmp_path / "sample_street.gpkg")  # skip making a plan
    app = create_app({"WORKSPACE": str(sample_workspace), "INSTANCE_PATH": str(tmp_path)})
    assert app.config["WORKSPACE"] == str(tmp_path / "sample_street.gpkg")


def test_a_file_that_is_not_a_workspace_is_refused_at_start(tmp_path):
    from gridmap.errors import InputError
    from web import create_app

    bad = tmp_path / "bad.gpkg"
    bad.write_text("not a geopackage")
    with pytest.raises(InputError):
        create_app({"WORKSPACE": str(bad), "INSTANCE_PATH": str(tmp_path)})


def test_the_demo_copy_gives_every_grid_a_member_of_its_community(first_start):
    from gridmap.incidents import member_workload

    _, instance, *_ = first_start
    ws = Workspace(instance / "sample_street.gpkg")
    table = member_workload(ws)
    current = table[table["current"].fillna(False).astype(bool)]
    assert len(current) >= 90  # 97 members for the 97 grids of the default plan
    assert current["code"].is_unique
    communities = dict(ws.connect().execute("SELECT id, community_code FROM members").fetchall())
    for member, code in zip(current["member_id"], current["code"], strict=True):
        assert code.startswith(str(communities[member]))
