"""The redraw workbench: roles, runs, hand edits with the engine's checks, compare, publish."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from gridmap.compare import compare_plans
from web import workbench
from web import workspace as store

API = "/workbench/api"
CDN = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def csrf_from(html: str) -> str:
    """The CSRF token of a page's meta tag (what the page's script sends)."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "no CSRF meta tag on the page"
    return found.group(1)


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def editor(app, client_as):
    return client_as(app, "editor")


@pytest.fixture(scope="module")
def page(editor):
    response = editor.get("/workbench")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def headers(page):
    return {"X-CSRFToken": csrf_from(page), "Accept": "application/json"}


@pytest.fixture(scope="module")
def post(editor, headers):
    def send(path, body=None, client=None, **kwargs):
        kwargs.setdefault("headers", headers)
        return (client or editor).post(API + path, json=body or {}, **kwargs)

    return send


@pytest.fixture(scope="module")
def ws(app):
    with app.app_context():
        return store.workspace()


@pytest.fixture(scope="module")
def layers(ws):
    return ws.layers()


@pytest.fixture(scope="module")
def redrawn(post):
    """One redraw of the published plan (the module's main draft)."""
    response = post("/run", {"mode": "redraw", "target": 400, "minimum": 300, "maximum": 500})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture(scope="module")
def units(editor, redrawn):
    response = editor.get(f"{API}/{redrawn['draft']}/units")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    return response.get_json()["features"]


def draft_of(app, body):
    return app.extensions[workbench.EXTENSION].get("editor", body["draft"])


def state_of(editor, draft_id):
    response = editor.get(f"{API}/{draft_id}")
    assert response.status_code == 200
    return response.get_json()


def movable(units, codes_by_unit):
    """(unit, neighbouring grid of its community) pairs, units on grid edges first."""
    community = {f["properties"]["unit"]: f["properties"]["community"] for f in units}
    pairs = []
    for feature in units:
        p = feature["properties"]
        for other in p["touches"]:
            code = codes_by_unit[other]
            if code != codes_by_unit[p["unit"]] and community[other] == p["community"]:
                pairs.append((p["unit"], code))
    return sorted(set(pairs))


def assert_changes_match_compare(app, ws, layers, body):
    draft = draft_of(app, body)
    comparison = compare_plans(ws.plan_file(draft.base_plan_id), draft.editor.plan(), layers)
    assert body["changes"]["households_moved"] == comparison.metric("households_moved")
    assert body["changes"]["buildings_moved"] == comparison.metric("buildings_moved")
    assert body["changes"]["incidents_changing_grid"] == comparison.metric(
        "incidents_changing_grid"
    )
    expected = [
        (r["before"], r["after"], int(r["buildings"]), int(r["households"]), int(r["incidents"]))
        for r in comparison.flows.to_dict("records")
    ]
    got = [
        (f["from"], f["to"], f["buildings"], f["households"], f["incidents"])
        for f in body["changes"]["flows"]
    ]
    assert got == expected


# ------------------------------------------------------------------------------ page and roles


def test_page_has_the_parts_browser_tests_use(page, app):
    for ident in ("workbench-params", "proposed-map", "published-map", "balance-bars",
                  "plan-metrics", "changes", "edit-message", "undo", "redo", "save-draft",
                  "publish", "busy", "workbench-config"):  # fmt: skip
        assert f'id="{ident}"' in page, ident
    with app.app_context():
        communities = store.community_names()
    assert len(communities) > 1
    for code in communities:
        assert f'data-community="{code}"' in page
    assert 'value="redraw"' in page and 'value="afresh"' in page
    assert "/vendor/leaflet/leaflet.js" in page and "workbench.js" in page
    assert not CDN.search(page)
    assert len(page) < 200_000


def test_anonymous_is_sent_to_log_in_and_viewer_refused(app, client_as):
    anonymous = app.test_client()
    response = anonymous.get("/workbench")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = anonymous.get(f"{API}/drafts")
    assert response.status_code == 401 and response.get_json()["message"]
    viewer = client_as(app, "viewer")
    assert viewer.get("/workbench").status_code == 403
    response = viewer.get(f"{API}/drafts")
    assert response.status_code == 403
    assert "editor" in response.get_json()["message"]
    token = csrf_from(viewer.get("/").get_data(as_text=True))
    response = viewer.post(f"{API}/run", json={"mode": "redraw"}, headers={"X-CSRFToken": token})
    assert response.status_code == 403


def test_viewer_does_not_see_the_workbench_in_the_nav(app, client_as, page):
    viewer = client_as(app, "viewer")
    assert 'href="/workbench"' not in viewer.get("/").get_data(as_text=True)
    assert 'href="/workbench"' in page


def test_missing_csrf_is_refused(editor, redrawn):
    response = editor.post(f"{API}/run", json={"mode": "redraw"})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["message"]
    revision = state_of(editor, redrawn["draft"])["revision"]
    response = editor.post(
        f"{API}/{redrawn['draft']}/lock", json={"code": redrawn["grids"][0]["code"]}
    )
    assert response.status_code == 400
    assert state_of(editor, redrawn["draft"])["revision"] == revision


# ------------------------------------------------------------------------------ runs


def test_redraw_keeps_the_published_plan_and_measures_it(redrawn, ws, app, layers):
    assert redrawn["mode"] == "redraw"
    published = ws.published()
    assert redrawn["base"]["plan_id"] == published.plan_id
    assert redrawn["history_length"] == 0 and not redrawn["can_undo"]
    names = [row["metric"] for row in redrawn["metrics"]]
    assert names == ["grids", "in_range_share", "max_abs_deviation", "mean_polsby_popper",
                     "contiguous_share", "buildings_split", "households_moved"]  # fmt: skip
    metric = {row["metric"]: row for row in redrawn["metrics"]}
    assert metric["grids"]["published"] == len(ws.plan_grids(published.plan_id))
    assert metric["grids"]["proposed"] == len(redrawn["grids"])
    assert metric["in_range_share"]["proposed"] >= metric["in_range_share"]["published"] - 1e-9
    draft = draft_of(app, redrawn)
    summary = draft.editor.plan().summary
    assert metric["mean_polsby_popper"]["proposed"] == pytest.approx(summary["mean_polsby_popper"])
    assert metric["contiguous_share"]["proposed"] == pytest.approx(summary["contiguous_share"])
    assert metric["buildings_split"]["proposed"] == 0
    # a redraw of a plan already in range moves (almost) nobody
    assert metric["households_moved"]["proposed"] <= 0.05 * sum(
        g["households"] for g in redrawn["grids"]
    )
    assert_changes_match_compare(app, ws, layers, redrawn)
    # balance: every grid with its households, deviation and whether it is in range
    for grid in redrawn["grids"]:
        assert grid["in_range"] == (300 <= grid["weight"] <= 500)
        assert grid["deviation"] == pytest.approx(grid["weight"] / 400 - 1)


def test_afresh_per_community_gives_each_community_its_grids(post, ws, app, editor):
    record = ws.published()
    grids = ws.plan_grids(record.plan_id)
    counts = grids.groupby(grids["community"].astype(str)).size().to_dict()
    first = sorted(counts)[0]
    counts[first] += 1
    response = post("/run", {"mode": "afresh", "per_community": counts})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["mode"] == "afresh" and body["request"]["per_community"] == counts
    got = {}
    for grid in body["grids"]:
        got[grid["community"]] = got.get(grid["community"], 0) + 1
    assert got == counts
    # partitioned afresh, the codes mean nothing to the published plan: many households move
    assert body["changes"]["households_moved"] > 0
    response = editor.get(f"{API}/{body['draft']}/grids")
    assert len(response.get_json()["features"]) == sum(counts.values())


def test_drafts_lists_the_users_drafts(editor, redrawn):
    body = editor.get(f"{API}/drafts").get_json()
    ids = [d["draft"] for d in body["drafts"]]
    assert redrawn["draft"] in ids and len(ids) <= workbench.MAX_DRAFTS


def test_drafts_are_bounded_per_user():
    drafts = workbench.Drafts()
    made = [SimpleNamespace(owner="a", draft_id=f"d{i}") for i in range(workbench.MAX_DRAFTS + 2)]
    dropped = []
    for draft in made:
        dropped += drafts.add(draft)
    drafts.add(SimpleNamespace(owner="b", draft_id="x"))
    assert dropped == ["d0", "d1"]
    assert [d.draft_id for d in drafts.of("a")] == [d.draft_id for d in made[2:]]
    assert drafts.get("b", "x").owner == "b"
    with pytest.raises(workbench.ApiError):
        drafts.get("a", "d0")
    with pytest.raises(workbench.ApiError):
        drafts.get("b", "d4")  # another user's draft is not found


def test_another_users_draft_is_not_found(app, client_as, redrawn):
    admin = client_as(app, "admin")
    response = admin.get(f"{API}/{redrawn['draft']}")
    assert response.status_code == 404 and response.get_json()["fix"]


# ------------------------------------------------------------------------------ geometry


def test_units_and_grids_are_geojson_of_the_draft(editor, redrawn, units, app):
    draft = draft_of(app, redrawn)
    assert len(units) == len(draft.plan.units)
    codes = {g["code"] for g in redrawn["grids"]}
    assert {f["properties"]["code"] for f in units} == codes
    total = sum(f["properties"]["households"] for f in units)
    assert total == sum(g["households"] for g in redrawn["grids"])
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in units)
    grids = editor.get(f"{API}/{redrawn['draft']}/grids").get_json()["features"]
    assert sorted(f["properties"]["code"] for f in grids) == sorted(codes)
    lon, lat = (
        grids[0]["geometry"]["coordinates"][0][0][:2]
        if grids[0]["geometry"]["type"] == "Polygon"
        else grids[0]["geometry"]["coordinates"][0][0][0][:2]
    )
    assert 103 < lon < 105 and 30 < lat < 31


def test_published_grids_carry_their_deviation(editor, ws):
    response = editor.get(f"{API}/published")
    assert response.status_code == 200
    body = response.get_json()
    record = ws.published()
    assert body["plan_id"] == record.plan_id
    assert len(body["features"]) == len(ws.plan_grids(record.plan_id))
    target = record.parameters["target"]
    for feature in body["features"]:
        p = feature["properties"]
        assert p["deviation"] == pytest.approx(p["households"] / target - 1)


# ------------------------------------------------------------------------------ edits


@pytest.fixture(scope="module")
def moved(post, editor, redrawn, units):
    """The first accepted move of a unit into a neighbouring grid (refusals skipped)."""
    codes = {f["properties"]["unit"]: f["properties"]["code"] for f in units}
    households = {f["properties"]["unit"]: f["properties"]["households"] for f in units}
    for unit, code in movable(units, codes):
        if not households[unit]:
            continue
        response = post(f"/{redrawn['draft']}/move", {"units": [unit], "to": code})
        body = response.get_json()
        if response.status_code == 200:
            return SimpleNamespace(unit=unit, to=code, source=codes[unit], body=body,
                                   households=households[unit])  # fmt: skip
        assert response.status_code == 400 and body["refused"] and body["message"]
    pytest.fail("no unit could be moved")


def test_move_a_unit_updates_grids_metrics_and_changes(moved, redrawn, app, ws, layers):
    body = moved.body
    assert body["units"] == {str(moved.unit): moved.to}
    assert set(body["touched"]) == {moved.source, moved.to}
    assert body["history_length"] == 1 and body["can_undo"] and not body["can_redo"]
    assert body["revision"] == redrawn["revision"] + 1
    before = {g["code"]: g["households"] for g in redrawn["grids"]}
    after = {g["code"]: g["households"] for g in body["grids"]}
    assert after[moved.to] == before[moved.to] + moved.households
    assert after[moved.source] == before[moved.source] - moved.households
    assert {f["properties"]["code"] for f in body["features"]} == {moved.source, moved.to}
    metric = {row["metric"]: row["proposed"] for row in body["metrics"]}
    assert metric["households_moved"] == body["changes"]["households_moved"]
    flows = {(f["from"], f["to"]): f for f in body["changes"]["flows"]}
    assert flows[(moved.source, moved.to)]["households"] >= moved.households
    assert_changes_match_compare(app, ws, layers, body)


def test_a_refused_move_gives_the_engines_reason(post, redrawn, units, moved, editor):
    codes = {f["properties"]["unit"]: f["properties"]["code"] for f in units}
    codes[moved.unit] = moved.to
    unit = moved.unit
    props = next(f["properties"] for f in units if f["properties"]["unit"] == unit)
    touching = {codes[v] for v in props["touches"]} | {moved.to}
    apart = [g for g in redrawn["grids"] if g["code"] not in touching]
    same = [g for g in apart if g["community"] == props["community"]]
    far = (same or apart)[0]["code"]
    state = state_of(editor, redrawn["draft"])
    response = post(f"/{redrawn['draft']}/move", {"units": [unit], "to": far})
    assert response.status_code == 400
    body = response.get_json()
    assert body["refused"] is True
    assert far in body["message"] and body["fix"]
    assert re.search(r"does not touch|community|without|pieces", body["message"])
    assert state_of(editor, redrawn["draft"])["revision"] == state["revision"]  # nothing changed


def test_moving_every_unit_out_of_a_grid_is_refused(post, redrawn, units, moved, editor):
    state = state_of(editor, redrawn["draft"])
    sizes = {}
    for f in units:
        sizes.setdefault(f["properties"]["code"], []).append(f["properties"]["unit"])
    code = moved.to
    members = [u for u in sizes[code] if u != moved.unit] + [moved.unit]
    other = next(g for g in state["grids"] if g["code"] != code)["code"]
    response = post(f"/{redrawn['draft']}/move", {"units": members, "to": other})
    assert response.status_code == 400 and response.get_json()["refused"]


def test_undo_and_redo_walk_the_history(post, editor, redrawn, moved):
    draft_id = redrawn["draft"]
    response = post(f"/{draft_id}/undo")
    assert response.status_code == 200
    body = response.get_json()
    assert body["operation"].startswith("undo:")
    assert body["units"] == {str(moved.unit): moved.source}
    assert body["history_length"] == 0 and body["can_redo"]
    assert body["changes"]["households_moved"] == redrawn["changes"]["households_moved"]
    response = post(f"/{draft_id}/undo")
    assert response.status_code == 400 and "nothing to undo" in response.get_json()["message"]
    response = post(f"/{draft_id}/redo")
    assert response.status_code == 200
    body = response.get_json()
    assert body["units"] == {str(moved.unit): moved.to} and body["history_length"] == 1
    assert body["changes"]["households_moved"] == moved.body["changes"]["households_moved"]
    response = post(f"/{draft_id}/redo")
    assert response.status_code == 400 and "nothing to redo" in response.get_json()["message"]


def test_merge_and_split_then_undo(post, editor, redrawn, moved):
    draft_id = redrawn["draft"]
    state = state_of(editor, draft_id)
    before = {g["code"]: g for g in state["grids"]}
    # a grid of 300-500 is too small for two: the split is refused with what would do
    response = post(f"/{draft_id}/split", {"code": moved.to})
    assert response.status_code == 400
    body = response.get_json()
    assert body["refused"] and "need at least 600" in body["message"]
    assert "Merge it with a neighbour" in body["fix"] and "split_grid" not in body["fix"]
    # merged with its neighbour, it splits in two grids back in range
    keep, other = moved.to, moved.source
    response = post(f"/{draft_id}/merge", {"keep": keep, "other": other})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["retired"] == [other]
    response = post(f"/{draft_id}/merge", {"keep": keep, "other": keep})
    assert response.status_code == 400 and "itself" in response.get_json()["message"]
    response = post(f"/{draft_id}/split", {"code": keep})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    (added,) = body["added"]
    assert len(body["grids"]) == len(state["grids"])
    assert {f["properties"]["code"] for f in body["features"]} == {keep, added}
    grids = {g["code"]: g for g in body["grids"]}
    merged = before[keep]["households"] + before[other]["households"]
    assert grids[keep]["households"] + grids[added]["households"] == merged
    assert 300 <= grids[keep]["households"] <= 500 and 300 <= grids[added]["households"] <= 500
    for _ in range(2):
        assert post(f"/{draft_id}/undo").status_code == 200
    assert state_of(editor, draft_id)["history_length"] == state["history_length"]


def test_a_refused_split_in_chinese(post, headers, redrawn, moved):
    chinese = {**headers, "Accept-Language": "zh-CN,zh;q=0.9"}
    response = post(f"/{redrawn['draft']}/split", {"code": moved.to}, headers=chinese)
    assert response.status_code == 400
    body = response.get_json()
    assert "至少需要 600" in body["message"] and "合并" in body["fix"]


def test_a_locked_grid_refuses_edits(post, editor, redrawn, moved):
    draft_id = redrawn["draft"]
    response = post(f"/{draft_id}/lock", {"code": moved.to})
    assert response.status_code == 200 and moved.to in response.get_json()["locked"]
    response = post(f"/{draft_id}/move", {"units": [moved.unit], "to": moved.source})
    assert response.status_code == 400 and "locked" in response.get_json()["message"]
    assert post(f"/{draft_id}/unlock", {"code": moved.to}).status_code == 200


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"mode": "sideways"}, "mode"),
        ({"weight": "cars"}, "weight"),
        ({"target": "abc"}, "target"),
        ({"target": -5}, "target"),
        ({"target": 400, "minimum": 450, "maximum": 500}, "range"),
        ({"mode": "afresh", "grids": 2.5}, "whole number"),
        ({"mode": "afresh", "grids": 3}, "7"),  # the engine: fewer grids than communities
        ({"mode": "afresh", "grids": 90, "per_community": {"510104090001": 3}}, "both"),
        ({"mode": "afresh", "per_community": {"999": 3}}, "unknown communities"),
        ({"mode": "afresh", "per_community": [1, 2]}, "per_community"),
        ({"mode": "redraw", "grids": 90}, "number of grids"),
        ({"mode": "afresh", "locked": ["510104090001001"]}, "redraw"),
        ({"mode": "redraw", "locked": "510104090001001"}, "locked"),
    ],
)
def test_bad_run_requests_are_400_with_a_fix(post, body, words):
    response = post("/run", body)
    assert response.status_code == 400
    answer = response.get_json()
    assert words in answer["message"] and answer["fix"]


def test_a_body_that_is_not_an_object_is_400(editor, headers):
    response = editor.post(f"{API}/run", data="[1, 2]", headers=headers,
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 400 and "JSON object" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("move", {"units": [999_999], "to": None}, "to"),
        ("move", {"units": [999_999], "to": "510104090001001"}, "no unit"),
        ("move", {"units": "12", "to": "510104090001001"}, "units"),
        ("move", {"units": [True], "to": "510104090001001"}, "units"),
        ("move", {"units": [0], "to": "999999999999999"}, "does not exist"),
        ("split", {"code": "nope"}, "does not exist"),
        ("merge", {"keep": "510104090001001"}, "other"),
        ("lock", {}, "code"),
    ],
)
def test_bad_edits_are_400(post, redrawn, path, body, words):
    response = post(f"/{redrawn['draft']}/{path}", body)
    assert response.status_code == 400
    assert words in response.get_json()["message"]


def test_unknown_draft_is_404_json(editor, post):
    for response in (
        editor.get(f"{API}/feedc0ffee00"),
        editor.get(f"{API}/feedc0ffee00/units"),
        post("/feedc0ffee00/move", {"units": [1], "to": "510104090001001"}),
        post("/feedc0ffee00/save"),
    ):
        assert response.status_code == 404
        assert response.get_json()["message"].startswith("there is no draft")


def test_changes_full_reruns_compare_plans(editor, redrawn, moved):
    response = editor.get(f"{API}/{redrawn['draft']}/changes?full=1")
    assert response.status_code == 200
    body = response.get_json()
    full = [
        (f["from"], f["to"], f["buildings"], f["households"], f["incidents"])
        for f in body["compare_plans"]["flows"]
    ]
    fast = [(f["from"], f["to"], f["buildings"], f["households"], f["incidents"])
            for f in body["flows"]]  # fmt: skip
    assert fast == full
    assert editor.get(f"{API}/{redrawn['draft']}/changes?full=yes").status_code == 400


# ------------------------------------------------------------------------------ save, publish


def test_save_as_draft_is_a_plan_version_by_the_editor(post, redrawn, ws, editor, moved):
    response = post(f"/{redrawn['draft']}/save", {"note": "moved one unit"})
    assert response.status_code == 201
    saved = response.get_json()
    plans = ws.plans().set_index("plan_id")
    row = plans.loc[saved["plan_id"]]
    assert row["status"] == "draft" and row["author"] == "editor"
    assert row["note"] == "moved one unit" and saved["version"] == row["version"]
    state = state_of(editor, redrawn["draft"])
    assert int(row["grids"]) == len(state["grids"])
    stored = ws.plan_file(saved["plan_id"]).assignments.to_dict()
    draft = draft_of(editor.application, redrawn)
    expected = {str(b): str(c) for b, c in draft.editor.plan().building_codes().items()}
    assert stored == expected
    response = post(f"/{redrawn['draft']}/save", {"note": 5})
    assert response.status_code == 400


def test_publish_replaces_the_published_plan(post, redrawn, ws, editor, moved):
    old = ws.published()
    grid_page = editor.get("/api/grids").get_json()
    assert grid_page["plan_id"] == old.plan_id
    response = post(f"/{redrawn['draft']}/publish", {"note": "published from the workbench"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    result = body["publish_result"]
    new = ws.published()
    assert new.plan_id == result["plan_id"] != old.plan_id
    assert result["version"] == new.version and new.author == "editor"
    assert ws.plan(old.plan_id).status == "archived"
    # the draft is now compared with what it published
    assert body["changes"]["households_moved"] == 0 and not body["stale"]
    served = editor.get("/api/grids").get_json()
    assert served["plan_id"] == new.plan_id
    assert sorted(f["properties"]["code"] for f in served["features"]) == sorted(
        g["code"] for g in body["grids"]
    )
    households = {f["properties"]["code"]: f["properties"]["households"]
                  for f in served["features"]}  # fmt: skip
    assert households[moved.to] == next(
        g["households"] for g in body["grids"] if g["code"] == moved.to
    )
    overview = editor.get("/").get_data(as_text=True)
    assert f"version {new.version}" in overview or str(new.version) in overview
    published = editor.get(f"{API}/published").get_json()
    assert published["plan_id"] == new.plan_id
