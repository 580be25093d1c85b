import re

import pytest

from gridmap.store import Workspace

CDN = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def client(app, client_as):
    return client_as(app)


@pytest.fixture(scope="module")
def page(client):
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def grid_codes(street_copy):
    ws = Workspace(street_copy)
    codes = list(ws.plan_grids(ws.published().plan_id)["code"])
    ws.close()
    return codes


def test_overview_draws_a_leaflet_map(page):
    assert 'class="folium-map"' in page
    assert "L.map(" in page
    assert "L.geoJson(" in page or "L.geoJSON(" in page


def test_overview_inlines_one_feature_per_grid(page, geojson_layers, grid_codes):
    layers = geojson_layers(page)
    grids = [layer for layer in layers if "households" in layer["features"][0]["properties"]]
    assert len(grids) == 1
    features = grids[0]["features"]
    assert sorted(f["properties"]["code"] for f in features) == sorted(grid_codes)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)
    assert all(f["properties"]["fill"].startswith("#") for f in features)
    # the street outline and the community lines come along
    assert len(layers) == 3


def test_overview_geometry_is_light(page, geojson_layers):
    for layer in geojson_layers(page):
        for feature in layer["features"]:
            text = str(feature["geometry"]["coordinates"])
            decimals = [len(d) for d in re.findall(r"\.(\d+)", text)]
            assert max(decimals) <= 6
    assert len(page) < 1_500_000


def test_overview_table_lists_every_grid(page, grid_codes):
    rows = re.findall(r'<tr data-code="(\d+)">', page)
    assert sorted(rows) == sorted(grid_codes)
    assert "data-sortable" in page
    assert "table-sort.js" in page


def test_overview_has_a_legend_and_tooltips(page):
    assert 'id="legend"' in page
    assert page.count('class="gm-swatch"') == 6  # five classes and "no data"
    assert "GeoJsonTooltip" in page or "bindTooltip" in page
    for label in ("Households", "Persons", "Community", "Open incidents"):
        assert label in page


def test_overview_loads_no_script_or_style_from_outside(page):
    assert not CDN.findall(page)
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("/"), url
    for needed in ("/vendor/leaflet/leaflet.js", "/vendor/leaflet/leaflet.css"):
        assert needed in page


def test_every_asset_of_the_page_is_served(client, page):
    urls = re.findall(r'(?:src|href)="(/[^"]+)"', page)
    assert len(urls) >= 4
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()


def test_osm_tiles_by_default(page):
    assert "tile.openstreetmap.org" in page


def test_no_tiles_leaves_no_outside_url(make_app, street_copy, client_as):
    page = client_as(make_app(street_copy, TILES="none")).get("/").get_data(as_text=True)
    assert "L.tileLayer(" not in page
    assert "openstreetmap" not in page
    assert not re.search(r"https?://", page)


def test_local_tile_server(make_app, street_copy, client_as):
    url = "http://tiles.example.lan/{z}/{x}/{y}.png"
    app = make_app(street_copy, TILES=url, TILES_ATTRIBUTION="Tiles: city GIS office")
    page = client_as(app).get("/").get_data(as_text=True)
    assert url in page
    assert "Tiles: city GIS office" in page
    assert "openstreetmap" not in page


@pytest.mark.parametrize("tiles", ["google", "http://tiles.lan/tile.png", ""])
def test_bad_tiles_are_refused_at_start(make_app, street_copy, tiles):
    with pytest.raises(ValueError, match="TILES"):
        make_app(street_copy, TILES=tiles)


@pytest.mark.parametrize(
    "measure",
    ["households", "persons", "deviation_pct", "open_incidents", "per_1000_households",
     "median_hours_to_close"],
)  # fmt: skip
def test_every_measure_colours_the_grids(client, geojson_layers, measure):
    from web.maps import DIVERGING, PALETTE

    page = client.get(f"/?measure={measure}").get_data(as_text=True)
    assert f'data-measure="{measure}"' in page
    assert f'value="{measure}" selected' in page
    features = geojson_layers(page)[0]["features"]
    fills = {f["properties"]["fill"] for f in features}
    palette = DIVERGING if measure == "deviation_pct" else PALETTE
    assert fills <= {*palette, "#cccccc"} and len(fills & set(palette)) >= 3
    values = [f["properties"].get("value", f["properties"].get(measure)) for f in features]
    assert sum(v is not None for v in values) >= len(values) * 0.9


def test_deviation_is_signed_around_the_target(client, geojson_layers, grid_codes):
    page = client.get("/?measure=deviation_pct").get_data(as_text=True)
    features = geojson_layers(page)[0]["features"]
    for feature in features:
        households, value = feature["properties"]["households"], feature["properties"]["value"]
        assert value == pytest.approx((households / 400 - 1) * 100, abs=0.06)


def test_deviation_bands_follow_the_plans_range_as_the_workbench_does(client, geojson_layers):
    from web.maps import DIVERGING

    page = client.get("/?measure=deviation_pct").get_data(as_text=True)
    features = geojson_layers(page)[0]["features"]
    for feature in features:  # range 300-500 around 400: -25, -10, 10, 25 % (the workbench's)
        value = feature["properties"]["value"]
        band = sum(value > bound for bound in (-25.0, -10.0, 10.0, 25.0))
        assert feature["properties"]["fill"] == DIVERGING[band], value


def test_deviation_classes_reach_every_value():
    from web.maps import diverging_classes

    assert diverging_classes([-20.0, 3.0, 12.5]) == [-25.0, -10.0, 10.0, 25.0, 25.0]
    assert diverging_classes([-40.0, 61.04], -12.5, 12.5) == [-12.5, -5.0, 5.0, 12.5, 61.1]
    assert diverging_classes([]) == [-25.0, -10.0, 10.0, 25.0, 25.0]


def test_an_unknown_measure_falls_back_to_households(client):
    page = client.get("/?measure=nonsense").get_data(as_text=True)
    assert 'data-measure="households"' in page


def test_a_click_on_a_grid_opens_its_page(page):
    assert "window.location.href = '/grids/CODE'.replace('CODE', feature.properties.code)" in page


def test_tooltips_name_the_member(make_app, street_copy, client_as, grid_codes):
    from gridmap.incidents import assign_member

    ws = Workspace(street_copy)
    member = ws.connect().execute("SELECT id, name FROM members LIMIT 1").fetchone()
    assign_member(ws, member[0], grid_codes[0])
    ws.close()
    page = client_as(make_app(street_copy)).get("/").get_data(as_text=True)
    assert member[1] in page and "Member" in page


def test_grid_page(client, grid_codes):
    from gridmap import incidents

    code = grid_codes[0]
    response = client.get(f"/grids/{code}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'data-code="{code}"' in page
    ws = Workspace(client.application.config["WORKSPACE"])
    found = incidents.incidents(ws, grid=code)
    ws.close()
    assert f'id="grid-incidents">{len(found)}<' in page
    chart = re.search(r'<div id="month-chart">(.*?)</div>', page, re.S).group(1)
    bars = re.findall(r"<title>(\d{4}-\d{2}): (\d+)</title>", chart)
    assert len(bars) == 12
    assert sum(int(n) for _, n in bars) <= len(found)
    rows = re.findall(r'<tr data-id="([^"]+)">', page)
    assert 0 < len(rows) <= 15
    newest = found.sort_values("reported_at", ascending=False)["id"].head(len(rows)).tolist()
    assert rows == [str(i) for i in newest]


def test_grid_page_of_an_unknown_grid_is_404(client):
    response = client.get("/grids/999", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "999" in response.get_data(as_text=True)


def test_grid_page_in_chinese(client, grid_codes):
    page = client.get(f"/grids/{grid_codes[0]}?lang=zh").get_data(as_text=True)
    assert "每月事件数" in page and "最近事件" in page
    client.get("/?lang=en")


def test_amap_tiles_are_gcj02_and_shift_the_overlays(make_app, street_copy, client_as):
    app = make_app(street_copy, TILES="amap")
    assert app.config["TILES_COORDS"] == "gcj02" and "autonavi" in app.config["TILES"]
    page = client_as(app).get("/").get_data(as_text=True)
    assert "autonavi.com" in page and "/static/gcj02.js" in page
    assert page.index("/static/gcj02.js") < page.index("/vendor/leaflet/leaflet.js")


def test_wgs84_tiles_load_no_shift(page):
    assert "gcj02.js" not in page


def test_a_local_mirror_of_gcj02_tiles(make_app, street_copy, client_as):
    url = "http://tiles.lan/amap/{z}/{x}/{y}.png"
    page = client_as(make_app(street_copy, TILES=url, TILES_COORDS="gcj02")).get("/")
    assert "/static/gcj02.js" in page.get_data(as_text=True)
    with pytest.raises(ValueError, match="TILES_COORDS"):
        make_app(street_copy, TILES=url, TILES_COORDS="bd09")
