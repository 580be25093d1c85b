"""The incidents page and its API: heat in hexagons, grid counts, Gi* hot spots, week slider."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from gridmap import incidents as engine
from gridmap.hotspots import HOTSPOT_CLASSES
from gridmap.schema import INCIDENT_CATEGORIES
from gridmap.store import Workspace

CDN = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)

API = ("heat", "grids", "hotspots", "weeks")


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy, TILES="none")


@pytest.fixture(scope="module")
def client(app, client_as):
    return client_as(app)


@pytest.fixture(scope="module")
def ws(street_copy):
    workspace = Workspace(street_copy)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def page(client):
    response = client.get("/incidents")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def grid_codes(ws):
    return sorted(ws.plan_grids(ws.published().plan_id)["code"].astype(str))


def get_json(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json
    return response.get_json()


def heat_total(body):
    return sum(f["properties"]["count"] for f in body["features"])


# ------------------------------------------------------------------ page


def test_page_needs_a_log_in(app):
    response = app.test_client().get("/incidents")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("endpoint", ["shapes", *API])
def test_api_needs_a_log_in(app, endpoint):
    response = app.test_client().get(f"/api/incidents/{endpoint}")
    assert response.status_code == 401
    assert response.get_json()["fix"]


def test_page_has_filters_slider_and_map(page):
    for needed in ('id="incident-filters"', 'id="week-slider"', 'type="range"',
                   'id="incident-count"', 'id="incident-map"', 'id="incident-legend"',
                   'id="view-heat"', 'id="view-grids"', 'id="view-hotspots"',
                   'data-layer=', 'data-features=', 'id="week-play"'):  # fmt: skip
        assert needed in page, needed
    for field in ("category", "status", "level", "from", "to"):
        assert f'name="{field}"' in page
    for category in INCIDENT_CATEGORIES:
        assert f'value="{category}"' in page
    for level in ("grid", "community", "street"):
        assert f'value="{level}"' in page


def test_page_loads_nothing_from_outside_and_stays_small(client, page):
    assert not CDN.findall(page)
    assert not re.search(r"https?://", page)  # TILES=none: no base map either
    for url in re.findall(r'(?:src|href)="(/[^"]+)"', page):
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
    assert "/vendor/leaflet/leaflet.js" in page
    assert "/static/incidents.js" in page
    assert len(page.encode()) < 1_500_000
    assert '"tiles": "none"' in page


def test_page_shows_the_local_tile_server(make_app, street_copy, client_as):
    url = "http://tiles.example.lan/{z}/{x}/{y}.png"
    app = make_app(street_copy, TILES=url, TILES_ATTRIBUTION="Tiles: city GIS office")
    page = client_as(app).get("/incidents").get_data(as_text=True)
    assert url in page
    assert "Tiles: city GIS office" in page
    assert "openstreetmap" not in page


def test_page_keeps_the_filters_of_its_url(client):
    url = "/incidents?category=noise&status=closed&from=2026-01-01&to=2026-02-28&view=grids"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'<option value="noise"\s+selected', page)
    assert re.search(r'<option value="closed"\s+selected', page)
    assert 'value="2026-01-01"' in page and 'value="2026-02-28"' in page
    assert re.search(r'id="view-grids"\s+checked', page)


def test_page_refuses_bad_filters_with_a_page(client):
    response = client.get("/incidents?status=lost", headers={"Accept": "text/html"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "lost" in text and "reported" in text
    assert "Traceback" not in text


def test_page_in_chinese(client):
    page = client.get("/incidents?lang=zh").get_data(as_text=True)
    for text in (
        "热力图",
        "按网格",
        "热点分析（Gi*）",
        "全部周",
        "应用",
        "类别",
        "处理层级",
        "环境卫生",
    ):
        assert text in page, text
    client.get("/incidents?lang=en")


def test_hotspot_labels_in_chinese(client):
    body = get_json(client, "/api/incidents/hotspots?lang=zh")
    labels = {c["hotspot"]: c["label"] for c in body["classes"]}
    assert labels["hot 99%"] == "热点（99% 置信）"
    client.get("/incidents?lang=en")


# ------------------------------------------------------------------ shapes


def test_shapes_give_every_grid_and_the_outline(client, grid_codes):
    body = get_json(client, "/api/incidents/shapes")
    codes = sorted(str(f["properties"]["code"]) for f in body["grids"]["features"])
    assert codes == grid_codes
    assert body["street"]["features"]
    assert body["communities"]["features"]
    properties = set(body["grids"]["features"][0]["properties"])
    assert properties <= {"code", "community_name", "households"}


# ------------------------------------------------------------------ heat


def test_heat_conserves_the_counts(client, ws):
    body = get_json(client, "/api/incidents/heat")
    expected = len(engine.incidents(ws))
    assert body["total"] == expected
    assert heat_total(body) + body["outside"] + body["skipped"] == expected
    assert body["binned"] == heat_total(body)
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    assert len(feature["geometry"]["coordinates"][0]) == 7
    assert all(f["properties"]["fill"].startswith("#") for f in body["features"])
    assert max(f["properties"]["share"] for f in body["features"]) == 1
    assert len(body["legend"]) == 5


def test_heat_sends_no_incident_points(client):
    body = get_json(client, "/api/incidents/heat")
    kinds = {f["geometry"]["type"] for f in body["features"]}
    assert kinds == {"Polygon"}
    assert "id" not in body["features"][0]["properties"]


def test_heat_filters_match_the_engine(client, ws):
    url = (
        "/api/incidents/heat?category=noise,sanitation&status=closed&from=2026-01-01&to=2026-03-31"
    )
    body = get_json(client, url)
    expected = engine.incidents(
        ws, category=["noise", "sanitation"], status="closed", since="2026-01-01",
        until="2026-04-01",
    )  # fmt: skip
    assert 0 < body["total"] == len(expected)
    assert heat_total(body) + body["outside"] == len(expected)
    everything = get_json(client, "/api/incidents/heat")
    assert body["total"] < everything["total"]
    assert body["filters"] == {
        "category": "noise,sanitation", "status": "closed", "from": "2026-01-01",
        "to": "2026-03-31",
    }  # fmt: skip


def test_repeated_parameters_work_like_commas(client):
    one = get_json(client, "/api/incidents/heat?category=noise&category=sanitation")
    other = get_json(client, "/api/incidents/heat?category=noise,sanitation")
    assert one["total"] == other["total"]


def test_level_filter(client, ws):
    body = get_json(client, "/api/incidents/heat?level=grid")
    assert body["total"] == len(engine.incidents(ws, level="grid"))
    street = get_json(client, "/api/incidents/heat?level=street")
    assert street["total"] == len(engine.incidents(ws, level="street"))


def test_week_restricts_to_that_week(client, ws):
    week = "2026-W10"
    monday = date.fromisocalendar(2026, 10, 1)
    body = get_json(client, f"/api/incidents/heat?week={week}")
    expected = engine.incidents(ws, since=monday, until=monday + timedelta(days=7))
    assert 0 < body["total"] == len(expected)
    assert heat_total(body) + body["outside"] == len(expected)
    # with a date range, the week is cut to it
    cut = get_json(client, f"/api/incidents/heat?week={week}&from={monday + timedelta(days=3)}")
    later = engine.incidents(ws, since=monday + timedelta(days=3), until=monday + timedelta(7))
    assert cut["total"] == len(later) < body["total"]


def test_hexagons_stay_put_from_week_to_week(client):
    whole = get_json(client, "/api/incidents/heat")
    week = get_json(client, "/api/incidents/heat?week=2026-W10")
    shapes = {f["id"]: f["geometry"]["coordinates"] for f in whole["features"]}
    for feature in week["features"]:
        assert shapes[feature["id"]] == feature["geometry"]["coordinates"]


def test_hexagon_size(client):
    small = get_json(client, "/api/incidents/heat?size=50")
    large = get_json(client, "/api/incidents/heat?size=400")
    assert len(small["features"]) > len(large["features"])
    assert heat_total(small) == heat_total(large)
    assert small["size_m"] == 50


# ------------------------------------------------------------------ grids


def test_grid_counts_add_up(client, ws, grid_codes):
    body = get_json(client, "/api/incidents/grids?category=noise")
    expected = engine.incidents(ws, category="noise")
    assert sorted(row["code"] for row in body["grids"]) == grid_codes
    assert body["total"] == len(expected)
    assert sum(row["count"] for row in body["grids"]) + body["unassigned"] == len(expected)
    assert body["in_grids"] == sum(row["count"] for row in body["grids"])
    by_grid = expected["grid_code"].value_counts()
    for row in body["grids"]:
        assert row["count"] == by_grid.get(row["code"], 0)
    assert all(row["fill"].startswith("#") for row in body["grids"])
    assert body["legend"]


def test_grid_counts_per_1000_households(client):
    body = get_json(client, "/api/incidents/grids?measure=per_1000")
    assert body["measure"] == "per_1000"
    for row in body["grids"]:
        if row["households"]:
            assert row["per_1000"] == pytest.approx(row["count"] / row["households"] * 1000, 0.01)
    fills_count = [r["fill"] for r in get_json(client, "/api/incidents/grids")["grids"]]
    assert fills_count != [r["fill"] for r in body["grids"]]


def test_grid_view_shows_no_household_rows(client):
    body = get_json(client, "/api/incidents/grids")
    assert set(body["grids"][0]) == {"code", "community_name", "households", "count",
                                     "per_1000", "fill"}  # fmt: skip


# ------------------------------------------------------------------ hot spots


def test_hotspots_one_row_per_grid(client, grid_codes):
    body = get_json(client, "/api/incidents/hotspots")
    assert sorted(row["code"] for row in body["grids"]) == grid_codes
    assert {row["hotspot"] for row in body["grids"]} <= set(HOTSPOT_CLASSES)
    assert [c["hotspot"] for c in body["classes"]] == list(HOTSPOT_CLASSES)
    assert sum(c["grids"] for c in body["classes"]) == len(grid_codes)
    assert sum(row["count"] for row in body["grids"]) + body["unassigned"] == body["total"]
    hot = [row for row in body["grids"] if row["hotspot"] != "not significant"]
    assert hot, "the sample street has clusters"
    for row in hot:
        assert row["p_value"] < 0.1
        assert (row["gi_star"] > 0) == row["hotspot"].startswith("hot")
    for row in body["grids"]:
        assert row["fill"].startswith("#") and row["label"]


def test_hotspots_follow_the_filters(client):
    everything = get_json(client, "/api/incidents/hotspots")
    noise = get_json(client, "/api/incidents/hotspots?category=noise")
    assert noise["total"] < everything["total"]
    assert [r["count"] for r in noise["grids"]] != [r["count"] for r in everything["grids"]]


def test_hotspots_per_households_and_permutations(client):
    body = get_json(client, "/api/incidents/hotspots?measure=per_1000&permutations=99")
    assert body["tested"] == "rate"
    assert body["permutations"] == 99
    assert all(row["p_sim"] is None or 0 < row["p_sim"] <= 1 for row in body["grids"])
    assert any(row["p_sim"] is not None for row in body["grids"])


# ------------------------------------------------------------------ weeks


def test_weeks_cover_the_range_and_add_up(client, ws):
    body = get_json(client, "/api/incidents/weeks?from=2026-01-01&to=2026-03-31&status=closed")
    weeks = body["weeks"]
    assert weeks[0]["week"] == "2026-W01" and weeks[0]["start"] == "2025-12-29"
    assert weeks[-1]["week"] == "2026-W14"
    assert len(weeks) == 14
    expected = engine.incidents(ws, status="closed", since="2026-01-01", until="2026-04-01")
    assert sum(w["count"] for w in weeks) == body["total"] == len(expected)
    heat = get_json(client, "/api/incidents/heat?status=closed&week=2026-W05")
    assert heat["total"] == next(w["count"] for w in weeks if w["week"] == "2026-W05")


def test_weeks_without_dates_span_the_data(client, ws):
    body = get_json(client, "/api/incidents/weeks")
    every = engine.incidents(ws)
    assert sum(w["count"] for w in body["weeks"]) == len(every)
    first = every["reported_at"].min().date()
    assert body["weeks"][0]["start"] == str(first - timedelta(days=first.weekday()))


# ------------------------------------------------------------------ freshness


def test_a_new_incident_shows(client, ws):
    before = get_json(client, "/api/incidents/heat?category=street_vending")["total"]
    grids = ws.plan_grids(ws.published().plan_id)
    point = grids.geometry.iloc[0].representative_point()
    import geopandas as gpd

    new = gpd.GeoDataFrame(
        {"id": ["web-test-1"], "category": ["street_vending"], "status": ["reported"],
         "priority": ["normal"], "reported_at": ["2026-06-01T10:00:00"], "source": ["web"]},
        geometry=[point], crs=grids.crs,
    )  # fmt: skip
    ws.add_incidents(new.to_crs(4326))
    after = get_json(client, "/api/incidents/heat?category=street_vending")["total"]
    assert after == before + 1
    engine.transition(ws, "web-test-1", "rejected", actor="test")
    rejected = get_json(client, "/api/incidents/grids?category=street_vending&status=rejected")
    assert rejected["total"] == len(engine.incidents(ws, category="street_vending",
                                                     status="rejected"))  # fmt: skip


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("endpoint", API)
@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("category=weather", ["weather", "sanitation", "noise"]),
        ("status=lost", ["lost", "reported", "closed"]),
        ("level=city", ["city", "grid", "community", "street"]),
        ("from=2026-02-30", ["from", "YYYY-MM-DD"]),
        ("to=yesterday", ["to", "YYYY-MM-DD"]),
        ("from=2026-03-01&to=2026-01-01", ["after"]),
    ],
)
def test_bad_filters_get_400_json_with_a_fix(client, endpoint, query, words):
    body = get_json(client, f"/api/incidents/{endpoint}?{query}", status=400)
    assert body["fix"]
    text = body["message"] + " " + body["fix"]
    for word in words:
        assert word in text, (word, text)


@pytest.mark.parametrize(
    "query",
    ["week=2026-10", "week=2026-W54", "week=2026-W10&from=2026-06-01", "size=75", "size=big"],
)
def test_bad_week_or_size(client, query):
    body = get_json(client, f"/api/incidents/heat?{query}", status=400)
    assert body["message"] and body["fix"]


@pytest.mark.parametrize(
    "query", ["measure=ratio", "permutations=-1", "permutations=100000", "permutations=x"]
)
def test_bad_measure_or_permutations(client, query):
    body = get_json(client, f"/api/incidents/hotspots?{query}", status=400)
    assert body["fix"]


def test_weeks_refuse_a_huge_range(client):
    body = get_json(client, "/api/incidents/weeks?from=1900-01-01&to=2100-01-01", status=400)
    assert "weeks" in body["message"]


@pytest.mark.parametrize("top", [1, 3, 7, 25, 26, 100, 1234])
def test_heat_legend_rows_are_whole_counts_drawn_in_their_colour(top):
    from web import maps
    from web.incidents import _heat_class, _heat_legend

    rows = _heat_legend(top)
    covered = []
    for row in rows:
        low = 1 if row["from"] is None else row["from"]
        assert isinstance(row["to"], int) and (row["from"] is None or isinstance(row["from"], int))
        for count in range(low, row["to"] + 1):
            assert maps.PALETTE[_heat_class(count / top)] == row["fill"], (top, count)
            covered.append(count)
    assert covered == list(range(1, top + 1))  # every count once, in order
    assert rows[0]["from"] is None and rows[-1]["to"] == top
