"""The API for the street, plan runs and publishing, and incidents: intake, lifecycle, roles."""

import csv
import io
import re

import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from gridmap import accounts
from gridmap.schema import INCIDENT_CATEGORIES
from gridmap.store import Workspace
from tests.webapp.conftest import csrf_of


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def ws(street_copy):
    workspace = Workspace(street_copy)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def viewer(app, client_as):
    return client_as(app, "viewer")


@pytest.fixture(scope="module")
def editor(app, client_as):
    """A logged-in editor whose unsafe requests carry the page's CSRF token."""
    client = client_as(app, "editor")
    client.csrf = csrf_of(client.get("/login").get_data(as_text=True))
    return client


#: ISO 8601 to the second with the street's UTC offset (Asia/Shanghai: +08:00).
OFFSET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")


def post(client, path, json=None, **kwargs):
    """POST as a browser page script does: JSON with the X-CSRFToken header."""
    headers = {"X-CSRFToken": client.csrf} if hasattr(client, "csrf") else {}
    headers.update(kwargs.pop("headers", {}))
    return client.post(path, json=json, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def intake(ws):
    return {"Authorization": f"Bearer {accounts.create_token(ws, 'hotline', 'intake')}"}


@pytest.fixture(scope="module")
def grids(viewer):
    return viewer.get("/api/grids").get_json()["features"]


@pytest.fixture(scope="module")
def inside(grids):
    """A point inside the first grid (lon, lat) and the grid's code."""
    point = shapely.point_on_surface(shape(grids[0]["geometry"]))
    return point.x, point.y, grids[0]["properties"]["code"]


@pytest.fixture(scope="module")
def reported(editor, inside):
    """An incident reported by the editor through the API (its JSON)."""
    lon, lat, _ = inside
    response = post(
        editor,
        "/api/incidents",
        {"category": "sanitation", "lat": lat, "long": lon, "description": "垃圾未清运"},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# ------------------------------------------------------------------ street and plans


def test_street_names_its_communities_with_households_and_grids(viewer, grids):
    body = viewer.get("/api/street").get_json()
    assert body["name"] == "锦华街道" and body["code"] == "510104090"
    assert body["district"] == "510104"
    assert len(body["communities"]) == 7
    assert sum(c["grids"] for c in body["communities"]) == len(grids) == body["grids"]
    households = sum(f["properties"]["households"] for f in grids)
    assert sum(c["households"] for c in body["communities"]) == households == body["households"]
    assert all(c["name"].endswith("社区") and c["grids"] > 0 for c in body["communities"])
    minx, miny, maxx, maxy = body["bounds"]
    assert 103 < minx < maxx < 105 and 30 < miny < maxy < 31


def test_one_plan_with_metrics_and_grids(viewer, grids):
    plan_id = viewer.get("/api/plans").get_json()["plans"][0]["plan_id"]
    body = viewer.get(f"/api/plans/{plan_id}").get_json()
    assert body["status"] == "published" and body["grid_count"] == len(grids)
    assert 0 < body["metrics"]["in_range_share"] <= 1
    assert body["parameters"]["target"] == 400
    assert {g["code"] for g in body["grids"]} == {f["properties"]["code"] for f in grids}
    assert body["created_at"].endswith("+08:00")


def test_unknown_plan_is_404(viewer):
    response = viewer.get("/api/plans/9999")
    assert response.status_code == 404 and "GET /api/plans" in response.get_json()["fix"]


# ------------------------------------------------------------------ listing incidents


def test_incidents_are_paged_newest_first_with_the_total(viewer):
    first = viewer.get("/api/incidents?limit=5").get_json()
    assert first["total"] > 10_000 and first["count"] == 5 and first["offset"] == 0
    times = [i["reported_at"] for i in first["incidents"]]
    assert times == sorted(times, reverse=True)
    second = viewer.get("/api/incidents?limit=5&offset=5").get_json()
    assert second["total"] == first["total"]
    assert not {i["id"] for i in first["incidents"]} & {i["id"] for i in second["incidents"]}
    assert second["incidents"][0]["reported_at"] <= times[-1]


def test_an_offset_beyond_any_table_answers_an_empty_page(viewer):
    body = viewer.get("/api/incidents?limit=5&offset=9223372036854775808").get_json()
    assert body["incidents"] == [] and body["total"] > 10_000


def test_incident_filters_combine(viewer):
    body = viewer.get(
        "/api/incidents?status=closed&category=noise,sanitation&since=2025-12-01"
        "&until=2026-01-01&limit=1000"
    ).get_json()
    assert 0 < body["total"] <= 1000
    for item in body["incidents"]:
        assert item["status"] == "closed" and item["category"] in ("noise", "sanitation")
        assert "2025-12-01" <= item["reported_at"][:10] < "2026-01-01"
    everything = viewer.get("/api/incidents?status=closed").get_json()["total"]
    assert body["total"] < everything


def test_incidents_by_grid_and_level(viewer, grids):
    code = grids[0]["properties"]["code"]
    body = viewer.get(f"/api/incidents?grid={code}&level=grid&limit=1000").get_json()
    assert body["total"] > 0
    assert all(i["grid_code"] == code and i["handling_level"] == "grid" for i in body["incidents"])


def test_incidents_as_rfc7946_geojson(viewer):
    response = viewer.get("/api/incidents?format=geojson&limit=50&category=noise")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and "crs" not in body
    assert len(body["features"]) == 50 and body["total"] >= 50
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 103 < lon < 105 and 30 < lat < 31
        assert feature["properties"]["category"] == "noise"
        assert feature["id"] == feature["properties"]["id"]


def _newest_first(ws, **filters) -> list[str]:
    """Ids of the incidents the filters keep, newest first: the whole table filtered in pandas."""
    table = pd.read_sql_query(
        "SELECT id, status, category, grid_code, handling_level, reported_at FROM incidents",
        ws.connect(),
    )
    table["reported_at"] = pd.to_datetime(table["reported_at"], format="ISO8601")
    keep = pd.Series(True, index=table.index)
    for name, column in (("status", "status"), ("category", "category"), ("grid", "grid_code"),
                         ("level", "handling_level")):  # fmt: skip
        if name in filters:
            keep &= table[column].isin(filters[name].split(","))
    for name, test in (("since", pd.Series.ge), ("until", pd.Series.lt)):
        if name in filters:
            stamp = pd.Timestamp(filters[name])
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert("Asia/Shanghai").tz_localize(None)
            keep &= test(table["reported_at"], stamp)
    return table[keep].sort_values(["reported_at", "id"], ascending=False)["id"].tolist()


PAGES = {
    "newest 100": ({}, 100, 0),
    "second page": ({}, 50, 50),
    "closed noise and sanitation in December": (
        {
            "status": "closed",
            "category": "noise,sanitation",
            "since": "2025-12-01",
            "until": "2026-01-01",
        },
        100,
        30,
    ),  # fmt: skip
    "since with an offset": ({"since": "2026-03-01T08:30:00+08:00", "level": "grid"}, 20, 0),
    "until in UTC": ({"until": "2025-11-02T00:00:00Z"}, 1000, 0),
    "an unknown grid": ({"grid": "NO-SUCH-GRID"}, 100, 0),
    "offset past the end": ({"status": "reported"}, 100, 5000),
    "the last few": ({"category": "noise"}, 1000, 1400),
}


@pytest.mark.parametrize(("filters", "limit", "offset"), PAGES.values(), ids=PAGES.keys())
def test_pages_are_those_of_the_whole_table_filtered(viewer, ws, filters, limit, offset):
    expected = _newest_first(ws, **filters)
    query = {**filters, "limit": limit, "offset": offset}
    body = viewer.get("/api/incidents", query_string=query).get_json()
    assert body["total"] == len(expected)
    assert [i["id"] for i in body["incidents"]] == expected[offset : offset + limit]
    assert (body["limit"], body["offset"], body["count"]) == (limit, offset, len(body["incidents"]))
    features = viewer.get("/api/incidents", query_string={**query, "format": "geojson"})
    collection = features.get_json()
    assert [f["id"] for f in collection["features"]] == expected[offset : offset + limit]
    assert collection["total"] == len(expected)


def test_listed_times_carry_the_street_offset(viewer, ws):
    body = viewer.get("/api/incidents?limit=20&status=closed").get_json()
    stored = dict(ws.connect().execute("SELECT id, reported_at FROM incidents").fetchall())
    for item in body["incidents"]:
        assert OFFSET_TIME.match(item["reported_at"]) and OFFSET_TIME.match(item["closed_at"])
        assert item["reported_at"] == stored[item["id"]][:19] + "+08:00"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("category=litter", ["litter", "sanitation", "noise"]),
        ("status=lost", ["lost", "reported"]),
        ("level=city", ["city", "community"]),
        ("since=yesterday-ish", ["since", "ISO 8601"]),
        ("limit=5000", ["limit", "1000"]),
        ("offset=-1", ["offset"]),
        ("format=xml", ["xml", "geojson"]),
    ],
)
def test_bad_incident_filters_are_400_naming_the_fix(viewer, query, words):
    response = viewer.get(f"/api/incidents?{query}")
    assert response.status_code == 400, query
    body = response.get_json()
    text = body["message"] + " " + body.get("fix", "")
    for word in words:
        assert word in text, (query, text)


def test_one_incident_with_its_history(viewer, reported):
    body = viewer.get(f"/api/incidents/{reported['id']}").get_json()
    assert body["status"] == "reported" and body["category"] == "sanitation"
    assert [e["to_status"] for e in body["history"]] == ["reported"]
    assert body["history"][0]["actor"] == "editor"
    assert OFFSET_TIME.match(body["history"][0]["at"]), body["history"][0]["at"]
    assert body["history"][0]["at"] == body["reported_at"]  # intake: one stamp for both
    assert body["allowed_next"] == ["accepted", "rejected", "duplicate"]


def test_unknown_incident_is_404(viewer):
    response = viewer.get("/api/incidents/NOPE-1")
    assert response.status_code == 404 and "NOPE-1" in response.get_json()["message"]


# ------------------------------------------------------------------ intake


def test_intake_assigns_the_grid_holding_the_point(editor, reported, inside, ws):
    _, _, code = inside
    assert reported["grid_code"] == code and reported["grid_flag"] == "inside"
    assert reported["source"] == "web" and reported["priority"] == "normal"
    assert reported["reported_at"].endswith("+08:00")
    log = ws.audit_log(limit=50)
    mine = log[(log["action"] == "add") & (log["entity_id"] == reported["id"])]
    assert mine["actor"].tolist() == ["editor"]  # the logged-in account, not "web"


def test_intake_with_the_same_id_adds_nothing_twice(editor, inside, viewer):
    lon, lat, _ = inside
    fields = {"id": "HOTLINE-42", "category": "noise", "lat": lat, "lon": lon}
    assert post(editor, "/api/incidents", fields).status_code == 201
    again = post(editor, "/api/incidents", fields)
    assert again.status_code == 200 and again.get_json()["added"] is False
    assert viewer.get("/api/incidents?grid=&limit=1").status_code == 200
    assert viewer.get("/api/incidents/HOTLINE-42").get_json()["category"] == "noise"


def test_a_point_outside_the_street_is_422_with_its_distance(editor):
    response = post(editor, "/api/incidents", {"category": "noise", "lat": 30.0, "long": 104.0})
    assert response.status_code == 422
    body = response.get_json()
    assert "outside the street" in body["message"] and " m from the nearest grid" in body["message"]
    distance = float(body["message"].split(" is ")[1].split(" m ")[0].replace(",", ""))
    assert distance > 50_000


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"category": "noise", "lat": 95, "long": 104.1}, ["lat", "-90..90"]),
        ({"category": "noise", "lat": "north", "long": 104.1}, ["lat", "not a number"]),
        ({"category": "noise", "long": 104.1}, ["lat is missing"]),
        ({"category": "noise", "lat": 30.6, "long": float("nan")}, ["long"]),
        ({"category": "litter", "lat": 30.6, "long": 104.1}, ["litter", *INCIDENT_CATEGORIES]),
        ({"lat": 30.6, "long": 104.1}, ["category is missing", "sanitation"]),
        ({"category": "noise", "lat": 30.6, "long": 104.1, "priority": "asap"}, ["urgent"]),
        ({"category": "noise", "lat": 30.6, "long": 104.1, "id": "a b/c"}, ["id"]),
    ],
)
def test_bad_intake_is_400_naming_the_fix(editor, fields, words):
    if fields.get("long") != fields.get("long"):  # NaN is not JSON: send it as form text
        response = post(editor, "/api/incidents", None, data={**fields, "long": "nan"})
    else:
        response = post(editor, "/api/incidents", fields)
    assert response.status_code == 400, fields
    body = response.get_json()
    text = body["message"] + " " + body.get("fix", "")
    for word in words:
        assert word in text, (fields, text)


def test_a_body_that_is_not_an_object_is_400(editor):
    response = post(editor, "/api/incidents", [1, 2])
    assert response.status_code == 400 and "JSON object" in response.get_json()["message"]


def test_viewers_cannot_report_incidents(viewer, inside):
    lon, lat, _ = inside
    token = csrf_of(viewer.get("/login").get_data(as_text=True))
    response = viewer.post(
        "/api/incidents",
        json={"category": "noise", "lat": lat, "long": lon},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403 and "editor" in response.get_json()["message"]


def test_intake_tokens_report_but_cannot_list(app, intake, inside, ws):
    lon, lat, code = inside
    client = app.test_client()
    response = client.post(
        "/api/incidents",
        json={"category": "safety_hazard", "lat": lat, "long": lon, "source": "hotline"},
        headers=intake,
    )
    assert response.status_code == 201 and response.get_json()["grid_code"] == code
    assert response.get_json()["source"] == "hotline"  # the client's own source is kept
    assert response.headers["Location"].endswith(f"/api/incidents/{response.get_json()['id']}")
    log = ws.audit_log(limit=20)
    assert "token:hotline" in log.loc[log["action"] == "add", "actor"].tolist()
    assert client.get("/api/incidents", headers=intake).status_code == 403
    one = f"/api/incidents/{response.get_json()['id']}"
    assert client.get(one, headers=intake).status_code == 403
    transition = {"status": "accepted"}
    assert client.post(f"{one}/transition", json=transition, headers=intake).status_code == 403


def test_web_service_intake_defaults_to_the_web_source(app, intake, inside, viewer):
    """Incidents taken in through the JSON API or Open311 without a source come from the web."""
    lon, lat, _ = inside
    client = app.test_client()
    by_token = client.post(
        "/api/incidents", json={"category": "noise", "lat": lat, "long": lon}, headers=intake
    )
    assert by_token.status_code == 201 and by_token.get_json()["source"] == "web"
    token = intake["Authorization"].removeprefix("Bearer ")
    by_open311 = client.post(
        "/open311/v2/requests.json",
        data={"service_code": "noise", "lat": lat, "long": lon, "api_key": token},
    )
    assert by_open311.status_code == 201, by_open311.get_json()
    rid = by_open311.get_json()[0]["service_request_id"]
    assert viewer.get(f"/api/incidents/{rid}").get_json()["source"] == "web"
    refused = client.post(
        "/api/incidents",
        json={"category": "noise", "lat": lat, "long": lon, "source": "fax"},
        headers=intake,
    )
    assert refused.status_code == 400 and "member_app" in refused.get_json()["fix"]


def test_the_incident_export_writes_times_with_the_offset(viewer, ws):
    response = viewer.get("/exports/incidents.csv?category=noise&since=2026-02-01")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == len(_newest_first(ws, category="noise", since="2026-02-01")) > 0
    for row in rows:
        assert OFFSET_TIME.match(row["reported_at"]), row["reported_at"]
        assert row["closed_at"] == "" or OFFSET_TIME.match(row["closed_at"])


def test_a_browser_post_without_the_csrf_token_is_refused(app, client_as, inside):
    client = client_as(app, "editor")
    lon, lat, _ = inside
    response = client.post("/api/incidents", json={"category": "noise", "lat": lat, "long": lon})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["message"]


def test_an_oversize_upload_is_413_json(make_app, street_copy, intake):
    small = make_app(street_copy, MAX_CONTENT_LENGTH=2048)
    response = small.test_client().post(
        "/api/incidents",
        json={"category": "noise", "lat": 30.6, "long": 104.1, "description": "x" * 5000},
        headers=intake,
    )
    assert response.status_code == 413 and response.is_json
    assert response.get_json()["error"] == "Request Entity Too Large"


# ------------------------------------------------------------------ lifecycle


def test_transitions_follow_the_lifecycle(editor, reported, viewer, ws):
    path = f"/api/incidents/{reported['id']}/transition"
    response = post(editor, path, {"status": "accepted", "note": "派给网格员"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["event"]["from_status"] == "reported" and body["event"]["actor"] == "editor"
    assert body["incident"]["status"] == "accepted" and body["incident"]["accepted_at"]
    assert OFFSET_TIME.match(body["event"]["at"]), body["event"]["at"]
    assert body["event"]["at"] == body["incident"]["accepted_at"]
    refused = post(editor, path, {"status": "closed"})
    assert refused.status_code == 409
    message = refused.get_json()["message"]
    assert "accepted" in message and "in_progress, rejected, duplicate" in message
    history = viewer.get(f"/api/incidents/{reported['id']}").get_json()["history"]
    assert [e["to_status"] for e in history] == ["reported", "accepted"]
    assert history[-1]["note"] == "派给网格员"
    assert history[-1]["at"] == body["event"]["at"]  # the same time, written the same way


def test_unknown_or_missing_status_is_400(editor, reported):
    path = f"/api/incidents/{reported['id']}/transition"
    response = post(editor, path, {"status": "done"})
    assert response.status_code == 400 and "resolved" in response.get_json()["fix"]
    assert post(editor, path, {}).status_code == 400


def test_transition_of_an_unknown_incident_is_404(editor):
    response = post(editor, "/api/incidents/NOPE-2/transition", {"status": "accepted"})
    assert response.status_code == 404


def test_viewers_cannot_transition(viewer, reported):
    token = csrf_of(viewer.get("/login").get_data(as_text=True))
    response = viewer.post(
        f"/api/incidents/{reported['id']}/transition",
        json={"status": "rejected"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403


def test_escalation_goes_up_to_the_street_then_stops(editor, inside, viewer):
    lon, lat, _ = inside
    created = post(editor, "/api/incidents", {"category": "noise", "lat": lat, "long": lon})
    path = f"/api/incidents/{created.get_json()['id']}/escalate"
    first = post(editor, path, {"note": "需要社区协调"})
    assert first.status_code == 200 and first.get_json()["handling_level"] == "community"
    assert post(editor, path).get_json()["incident"]["handling_level"] == "street"
    third = post(editor, path)
    assert third.status_code == 409 and "highest level" in third.get_json()["message"]
    detail = viewer.get(f"/api/incidents/{created.get_json()['id']}").get_json()
    assert [(e["from"], e["to"]) for e in detail["escalations"]] == [
        ("grid", "community"),
        ("community", "street"),
    ]
    assert detail["escalations"][0]["note"] == "需要社区协调"


# ------------------------------------------------------------------ languages

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.8"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_point_outside_the_street_is_refused_in_the_requests_language(editor):
    fields = {"category": "noise", "lat": 30.0, "long": 104.0}
    chinese = post(editor, "/api/incidents", fields, headers=ZH)
    assert chinese.status_code == 422
    body = chinese.get_json()
    assert body["message"].startswith("点 lat=30.0, long=104.0 距最近的网格 ")
    assert "不在本街道范围内" in body["message"] and body["fix"].startswith("请检查坐标")
    english = post(editor, "/api/incidents", fields, headers=EN).get_json()
    assert "outside the street" in english["message"] and "check the coordinates" in english["fix"]
    assert not CJK.search(english["message"] + english["fix"])
    # the same distance in both
    assert re.search(r"距最近的网格 ([\d,]+) 米", body["message"]).group(1) in english["message"]


@pytest.mark.parametrize(
    ("method", "path", "fields", "status", "chinese", "english"),
    [
        ("post", "/api/incidents", {"category": "noise", "lat": 95, "long": 104.1}, 400,
         "lat=95 超出 -90..90 度的范围。", "lat=95 is outside -90..90 degrees."),
        ("post", "/api/incidents", {"category": "litter", "lat": 30.6, "long": 104.1}, 400,
         "未知的 category：'litter'。", "unknown category 'litter'."),
        ("post", "/api/incidents", {"lat": 30.6, "long": 104.1}, 400,
         "缺少 category。", "category is missing."),
        ("get", "/api/incidents/NOPE-3", None, 404,
         "事件 'NOPE-3' 不存在。", "there is no incident 'NOPE-3'."),
        ("get", "/api/incidents?limit=5000", None, 400,
         "limit=5000 超出范围。", "limit=5000 is out of range."),
        ("get", "/api/incidents?format=xml", None, 400,
         "未知的 format：'xml'。", "unknown format 'xml'."),
        ("get", "/api/grids/999", None, 404,
         "已发布方案中没有网格 '999'。", "there is no grid '999' in the published plan."),
        ("get", "/api/lookup?lat=abc&lon=104.1", None, 400,
         "lat='abc' 不是数字。", "lat='abc' is not a number."),
        ("get", "/api/plans/9999", None, 404, "方案 9999 不存在。", "there is no plan 9999."),
        ("post", "/api/plans", {"target": 400, "min": 500, "max": 600}, 400,
         "范围 min=500..max=600 不包含 target=400。",
         "the range min=500..max=600 does not hold target=400."),
    ],
)  # fmt: skip
def test_api_refusals_are_chinese_for_requests_in_chinese(
    editor, method, path, fields, status, chinese, english
):
    def ask(lang):
        if method == "get":
            return editor.get(path, headers=lang)
        return post(editor, path, fields, headers=lang)

    zh, en, default = ask(ZH), ask(EN), ask({})
    assert zh.status_code == en.status_code == default.status_code == status
    assert zh.get_json()["message"] == chinese and CJK.search(zh.get_json()["fix"])
    assert en.get_json() == default.get_json()  # English unless Chinese is asked for
    assert en.get_json()["message"] == english
    assert not CJK.search(en.get_json()["message"] + en.get_json()["fix"])


def test_lifecycle_refusals_keep_the_statuses_clients_send(editor, inside):
    """409 and an unknown status name the statuses as the API takes them, in any language."""
    lon, lat, _ = inside
    created = post(editor, "/api/incidents", {"category": "noise", "lat": lat, "long": lon})
    path = f"/api/incidents/{created.get_json()['id']}/transition"
    refused = post(editor, path, {"status": "closed"}, headers=ZH)
    assert refused.status_code == 409
    assert "allowed next statuses: accepted, rejected, duplicate" in refused.get_json()["message"]
    unknown = post(editor, path, {"status": "in progress"}, headers=ZH)
    assert unknown.status_code == 400 and "in_progress" in unknown.get_json()["fix"]


# ------------------------------------------------------------------ partition runs


@pytest.fixture(scope="module")
def draft(editor):
    """A draft made by a partition run through the API (one run, about 3 s)."""
    response = post(editor, "/api/plans", {"grids": 90, "note": "90 grids"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_partition_run_keeps_a_draft(draft, viewer):
    assert draft["status"] == "draft" and draft["author"] == "editor"
    assert draft["grid_count"] == 90 and draft["note"] == "90 grids"
    assert draft["parameters"]["grids"] == 90
    listed = {p["plan_id"]: p["status"] for p in viewer.get("/api/plans").get_json()["plans"]}
    assert listed[draft["plan_id"]] == "draft"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"target": 400, "min": 500, "max": 600}, ["min", "target"]),
        ({"target": -3}, ["target", "positive"]),
        ({"grids": 2.5}, ["grids", "whole"]),
        ({"weight": "buildings"}, ["households", "persons"]),
        ({"per_community": {"510104090001": "many"}}, ["per_community"]),
    ],
)
def test_bad_partition_requests_are_400(editor, fields, words):
    response = post(editor, "/api/plans", fields)
    assert response.status_code == 400
    body = response.get_json()
    text = body["message"] + " " + body.get("fix", "")
    assert all(word in text for word in words), text


def test_an_infeasible_partition_is_400_with_the_engines_message(editor):
    response = post(editor, "/api/plans", {"per_community": {"999999999999": 3}})
    assert response.status_code == 400
    assert "999999999999" in response.get_json()["message"]


def test_viewers_cannot_run_partitions_or_publish(viewer, draft):
    token = csrf_of(viewer.get("/login").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    assert viewer.post("/api/plans", json={}, headers=headers).status_code == 403
    path = f"/api/plans/{draft['plan_id']}/publish"
    assert viewer.post(path, headers=headers).status_code == 403


def test_archive_then_publish(editor, draft, ws, sample_plan, viewer):
    archived = post(editor, f"/api/plans/{draft['plan_id']}/archive")
    assert archived.status_code == 200 and archived.get_json()["status"] == "archived"
    again = post(editor, f"/api/plans/{draft['plan_id']}/publish")
    assert again.status_code == 409 and "archived" in again.get_json()["message"]
    other = ws.save_plan(sample_plan, note="second draft")
    published = post(editor, f"/api/plans/{other}/publish")
    assert published.status_code == 200, published.get_json()
    body = published.get_json()
    assert body["status"] == "published" and body["incidents_reassigned"] >= 0
    statuses = {p["plan_id"]: p["status"] for p in viewer.get("/api/plans").get_json()["plans"]}
    assert statuses[other] == "published" and list(statuses.values()).count("published") == 1
    assert viewer.get("/api/street").get_json()["plan_id"] == other
    log = ws.audit_log(limit=10)
    assert log.loc[log["action"] == "publish", "actor"].iloc[0] == "editor"
    twice = post(editor, f"/api/plans/{other}/publish")
    assert twice.status_code == 409
    assert post(editor, f"/api/plans/{other}/archive").status_code == 409
    assert post(editor, "/api/plans/9999/publish").status_code == 404
