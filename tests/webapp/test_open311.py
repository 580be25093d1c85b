"""Open311 GeoReport v2 subset: services, requests (list, one, create), errors as the spec says."""

import re

import pytest
import shapely
from shapely.geometry import shape

from gridmap import accounts
from gridmap.schema import INCIDENT_CATEGORIES
from gridmap.store import Workspace

#: The fields of a service request, as GeoReport v2 names them.
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"}  # fmt: skip


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def keys(street_copy):
    ws = Workspace(street_copy)
    made = {role: accounts.create_token(ws, f"o311-{role}", role) for role in ("intake", "viewer")}
    ws.close()
    return made


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def point(client, keys):
    """A point inside a grid of the published plan (lon, lat, code)."""
    auth = {"Authorization": f"Bearer {keys['viewer']}"}
    feature = client.get("/api/grids", headers=auth).get_json()["features"][3]
    inside = shapely.point_on_surface(shape(feature["geometry"]))
    return inside.x, inside.y, feature["properties"]["code"]


@pytest.fixture(scope="module")
def created(client, keys, point):
    """A request made with an intake api_key in the form, as Open311 clients send it."""
    lon, lat, _ = point
    response = client.post(
        "/open311/v2/requests.json",
        data={"service_code": "street_vending", "lat": str(lat), "long": str(lon),
              "address_string": "水碾街12号", "description": "占道卖菜", "api_key": keys["intake"]},
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_errors(response, code, *words):
    """An Open311 error answer: a JSON list of {code, description}."""
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, list) and body[0]["code"] == code
    for word in words:
        assert word in body[0]["description"], body


def test_services_one_per_category(client, keys):
    response = client.get(f"/open311/v2/services.json?api_key={keys['intake']}")
    assert response.status_code == 200
    services = response.get_json()
    assert [s["service_code"] for s in services] == list(INCIDENT_CATEGORIES)
    for service in services:
        assert service["metadata"] is False and service["type"] == "realtime"
        assert service["service_name"] and service["description"] and service["group"]
        assert service["keywords"]


def test_create_returns_the_id_and_a_notice(created, point):
    assert len(created) == 1
    item = created[0]
    assert set(item) == {"service_request_id", "service_notice", "account_id"}
    assert point[2] in item["service_notice"]


def test_round_trip_reads_the_request_back(client, keys, created, point):
    lon, lat, code = point
    rid = created[0]["service_request_id"]
    listed = client.get(f"/open311/v2/requests.json?api_key={keys['viewer']}").get_json()
    assert listed[0]["service_request_id"] == rid  # newest first
    item = listed[0]
    assert set(item) == REQUEST_FIELDS
    assert item["status"] == "open" and item["service_code"] == "street_vending"
    assert item["description"] == "占道卖菜" and item["address"] == "水碾街12号"
    assert item["lat"] == pytest.approx(lat, abs=1e-6)
    assert item["long"] == pytest.approx(lon, abs=1e-6)
    assert item["agency_responsible"] == f"grid {code}"
    assert item["requested_datetime"].endswith("+08:00")
    one = client.get(f"/open311/v2/requests/{rid}.json?api_key={keys['intake']}").get_json()
    assert one == [item]


def test_an_intake_key_reads_only_the_requests_it_reported(client, keys, created, street_copy):
    ws = Workspace(street_copy)
    other = ws.connect().execute("SELECT id FROM incidents ORDER BY fid LIMIT 1").fetchone()[0]
    ws.close()
    response = client.get(f"/open311/v2/requests/{other}.json?api_key={keys['intake']}")
    assert response.status_code == 404
    assert "reported with this key" in response.get_data(as_text=True)
    seen = client.get(f"/open311/v2/requests/{other}.json?api_key={keys['viewer']}")
    assert seen.status_code == 200  # the incident exists: only the intake key may not see it
    rid = created[0]["service_request_id"]
    assert (
        client.get(f"/open311/v2/requests/{rid}.json?api_key={keys['intake']}").status_code == 200
    )


def test_the_intake_account_is_in_the_audit_log(street_copy, created):
    ws = Workspace(street_copy)
    log = ws.audit_log(limit=50)
    ws.close()
    rows = log[(log["action"] == "add") & (log["entity_id"] == created[0]["service_request_id"])]
    assert rows["actor"].tolist() == ["token:o311-intake"]


def test_requests_filters(client, keys, created):
    auth = {"Authorization": f"Bearer {keys['viewer']}"}
    closed = client.get("/open311/v2/requests.json?status=closed", headers=auth).get_json()
    assert 0 < len(closed) <= 1000 and all(r["status"] == "closed" for r in closed)
    noise = client.get(
        "/open311/v2/requests.json?service_code=noise,sanitation&start_date=2025-12-01T00:00:00"
        "%2B08:00&end_date=2025-12-08T00:00:00%2B08:00",
        headers=auth,
    ).get_json()
    assert noise and {r["service_code"] for r in noise} <= {"noise", "sanitation"}
    assert all("2025-12-01" <= r["requested_datetime"][:10] < "2025-12-08" for r in noise)
    rid = created[0]["service_request_id"]
    by_id = client.get(
        f"/open311/v2/requests.json?service_request_id={rid},E000001,NOPE&status=closed",
        headers=auth,
    ).get_json()
    assert [r["service_request_id"] for r in by_id] == [rid, "E000001"]  # status ignored


def test_status_notes_follow_the_lifecycle(app, client, keys, created, street_copy):
    from gridmap import incidents

    rid = created[0]["service_request_id"]
    ws = Workspace(street_copy)
    incidents.transition(ws, rid, "accepted", note="已派网格员")
    ws.close()
    item = client.get(f"/open311/v2/requests/{rid}.json?api_key={keys['viewer']}").get_json()[0]
    assert item["status"] == "open" and item["status_notes"] == "accepted: 已派网格员"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=pending", ["pending", "open or closed"]),
        ("service_code=litter", ["litter", "noise"]),
        ("start_date=soon", ["since", "ISO 8601"]),
    ],
)
def test_bad_filters_are_open311_errors(client, keys, query, words):
    response = client.get(f"/open311/v2/requests.json?{query}&api_key={keys['viewer']}")
    assert_errors(response, 400, *words)


def test_an_unknown_request_is_404(client, keys):
    response = client.get(f"/open311/v2/requests/NOPE.json?api_key={keys['viewer']}")
    assert_errors(response, 404, "NOPE")


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"service_code": "litter", "lat": "30.64", "long": "104.11"}, 400, ["litter", "noise"]),
        ({"service_code": "noise", "lat": "30.0", "long": "104.0"}, 422, ["outside the street"]),
        ({"service_code": "noise", "lat": "abc", "long": "104.1"}, 400, ["not a number"]),
        ({"service_code": "noise", "address_string": "水碾街1号"}, 400, ["lat and long"]),
        ({"service_code": "noise", "lat": "30.64"}, 400, ["long is missing"]),
    ],
)
def test_bad_requests_are_open311_errors(client, keys, fields, code, words):
    response = client.post("/open311/v2/requests.json", data={**fields, "api_key": keys["intake"]})
    assert_errors(response, code, *words)


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"service_code": "litter", "lat": "30.64", "long": "104.11"}, 400, ["unknown category"]),
        ({"service_code": "noise", "lat": "30.0", "long": "104.0"}, 422, ["outside the street"]),
        ({"service_code": "noise", "lat": "95", "long": "104.1"}, 400, ["-90..90 degrees"]),
    ],
)
def test_errors_stay_english_for_clients_asking_for_chinese(client, keys, fields, code, words):
    """Open311 clients are machines: the JSON API's Chinese is not theirs."""
    response = client.post(
        "/open311/v2/requests.json",
        data={**fields, "api_key": keys["intake"]},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert_errors(response, code, *words)
    assert not re.search(r"[\u4e00-\u9fff]", response.get_json()[0]["description"])
    unknown = client.get(
        f"/open311/v2/requests/NOPE.json?api_key={keys['viewer']}",
        headers={"Accept-Language": "zh-CN"},
    )
    assert_errors(unknown, 404, "there is no incident 'NOPE'")


LISTS = {
    "everything": "",
    "open": "status=open",
    "closed since a date": "status=closed&start_date=2026-06-01",
    "two services in a week": "service_code=noise,sanitation&start_date=2025-12-01T00:00:00"
    "%2B08:00&end_date=2025-12-08T00:00:00%2B08:00",
    "ids, repeated and unknown": "service_request_id=E000007,NOPE,E000001,E000007&status=open",
}


@pytest.mark.parametrize("query", LISTS.values(), ids=LISTS.keys())
def test_request_lists_are_those_of_the_whole_table(app, client, keys, created, query):
    """The newest 1000 matches read in SQLite are the list cut from every match (as before)."""
    from urllib.parse import parse_qs

    from gridmap import incidents
    from gridmap.schema import INCIDENT_STATUSES
    from gridmap.store import OPEN_STATUSES
    from web import workspace as store
    from web.open311 import _notes, service_request

    args = {k: v[0] for k, v in parse_qs(query).items()}
    response = client.get(f"/open311/v2/requests.json?{query}&api_key={keys['viewer']}")
    assert response.status_code == 200
    with app.app_context():
        ws = store.workspace()
        if "service_request_id" in args:  # by id, in the order asked for
            every = incidents.incidents(ws).set_index("id", drop=False)
            ids = args["service_request_id"].split(",")
            rows = [every.loc[i].to_dict() for i in ids if i in every.index]
        else:
            closed = [s for s in INCIDENT_STATUSES if s not in OPEN_STATUSES]
            chosen = {"open": list(OPEN_STATUSES), "closed": closed}.get(args.get("status"))
            services = args["service_code"].split(",") if "service_code" in args else None
            every = incidents.incidents(  # every match, oldest first, cut as the list was
                ws, status=chosen, category=services, since=args.get("start_date"),
                until=args.get("end_date"),
            )  # fmt: skip
            rows = every.iloc[::-1].iloc[:1000].to_dict("records")
        expected = [service_request(r, _notes([str(r["id"]) for r in rows])) for r in rows]
        expected = app.json.loads(app.json.dumps(expected))
    listed = response.get_json()
    assert [r["service_request_id"] for r in listed] == [r["service_request_id"] for r in expected]
    assert listed == expected
    assert 0 < len(listed) <= 1000


def test_keys_and_roles(client, keys):
    assert_errors(client.get("/open311/v2/requests.json"), 401, "API token")
    assert_errors(client.get("/open311/v2/services.json?api_key=gm_wrong"), 401, "not valid")
    listing = client.get(f"/open311/v2/requests.json?api_key={keys['intake']}")
    assert_errors(listing, 403, "viewer")
    form = {"service_code": "noise", "lat": "30.64", "long": "104.11", "api_key": keys["viewer"]}
    assert_errors(client.post("/open311/v2/requests.json", data=form), 403, "editor")
    no_key = {k: v for k, v in form.items() if k != "api_key"}
    # no key and no session: refused before anything else, naming what to send
    assert_errors(client.post("/open311/v2/requests.json", data=no_key), 401, "api_key")


def test_a_browser_post_without_csrf_is_refused(app, client_as):
    editor = client_as(app, "editor")
    form = {"service_code": "noise", "lat": "30.64", "long": "104.11"}
    assert_errors(editor.post("/open311/v2/requests.json", data=form), 400, "CSRF")


def test_an_oversize_request_is_413(make_app, street_copy, keys):
    small = make_app(street_copy, MAX_CONTENT_LENGTH=1024)
    form = {"service_code": "noise", "lat": "30.64", "long": "104.11", "api_key": keys["intake"],
            "description": "x" * 4000}  # fmt: skip
    response = small.test_client().post("/open311/v2/requests.json", data=form)
    assert_errors(response, 413, "1,024 bytes")
