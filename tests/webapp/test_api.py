import pytest
import shapely
from shapely.geometry import shape


@pytest.fixture(scope="module")
def client(make_app, street_copy, client_as):
    return client_as(make_app(street_copy))


@pytest.fixture(scope="module")
def collection(client):
    response = client.get("/api/grids")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    return response.get_json()


def test_plans_lists_the_published_plan(client):
    response = client.get("/api/plans")
    assert response.status_code == 200
    plans = response.get_json()["plans"]
    assert [p["status"] for p in plans] == ["published"]
    assert plans[0]["grids"] > 50 and plans[0]["version"] == 1


def test_grids_are_rfc7946_geojson(collection):
    assert collection["type"] == "FeatureCollection"
    assert "crs" not in collection
    features = collection["features"]
    assert len(features) > 50
    codes = [f["properties"]["code"] for f in features]
    assert len(set(codes)) == len(codes) and all(len(c) == 15 for c in codes)
    for feature in features:
        geom = shape(feature["geometry"])
        assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
        minx, miny, maxx, maxy = geom.bounds
        assert 103 < minx < maxx < 105 and 30 < miny < maxy < 31  # lon/lat, Chengdu
        polygons = getattr(geom, "geoms", [geom])
        assert all(p.exterior.is_ccw for p in polygons)  # RFC 7946 ring orientation
        props = feature["properties"]
        assert props["households"] >= 0 and props["persons"] >= props["households"]
        assert props["open_incidents"] >= 0 and props["community_name"]


def test_open_incidents_add_up(client, collection):
    total = sum(f["properties"]["open_incidents"] for f in collection["features"])
    assert total > 0


def test_one_grid(client, collection):
    first = collection["features"][0]["properties"]
    response = client.get(f"/api/grids/{first['code']}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["code"] == first["code"] and body["households"] == first["households"]
    assert "geometry" not in body


def test_unknown_grid_is_404_json(client):
    response = client.get("/api/grids/999999999999999")
    assert response.status_code == 404
    body = response.get_json()
    assert "999999999999999" in body["message"] and "/api/grids" in body["fix"]


def test_lookup_finds_the_grid_holding_a_point(client, collection):
    for feature in collection["features"][:5]:
        point = shapely.point_on_surface(shape(feature["geometry"]))
        response = client.get(f"/api/lookup?lat={point.y}&lon={point.x}")
        assert response.status_code == 200
        body = response.get_json()
        assert body["code"] == feature["properties"]["code"]
        assert body["flag"] == "inside" and body["distance_m"] == 0


def test_lookup_outside_the_street_is_unassigned(client):
    response = client.get("/api/lookup?lat=30.0&lon=104.0")
    assert response.status_code == 200
    body = response.get_json()
    assert body["code"] is None and body["flag"] == "unassigned"
    assert body["distance_m"] > 10_000


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("", "lat is missing"),
        ("lat=30.6", "lon is missing"),
        ("lat=&lon=104", "lat is missing"),
        ("lat=abc&lon=104", "not a number"),
        ("lat=30.6&lon=east", "not a number"),
        ("lat=nan&lon=104", "outside"),
        ("lat=30.6&lon=inf", "outside"),
        ("lat=95&lon=104", "lat=95 is outside -90..90"),
        ("lat=30.6&lon=-181", "outside -180..180"),
    ],
)
def test_lookup_refuses_bad_coordinates(client, query, words):
    response = client.get(f"/api/lookup?{query}")
    assert response.status_code == 400
    assert response.is_json
    body = response.get_json()
    assert words in body["message"]
    assert "decimal degrees" in body["fix"]
    assert body["error"] == "Bad Request"


def test_api_errors_are_never_html(client):
    response = client.post("/api/grids")
    assert response.status_code == 405
    assert response.is_json
