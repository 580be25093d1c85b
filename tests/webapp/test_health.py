def test_health_reports_the_workspace(make_app, street_copy):
    app = make_app(street_copy)
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["workspace"] == "street.gpkg"


def test_health_degrades_when_the_workspace_is_missing(make_app, tmp_path):
    app = make_app(tmp_path / "nope.gpkg")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["workspace_found"] is False


def test_api_answers_503_json_when_the_workspace_is_missing(make_app, tmp_path):
    client = make_app(tmp_path / "nope.gpkg").test_client()
    for url in ("/api/grids", "/api/plans", "/api/lookup?lat=30&lon=104"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.is_json and "nope.gpkg" in response.get_json()["message"]
        assert response.get_json()["fix"]


def test_pages_answer_503_with_a_page_when_the_workspace_is_missing(make_app, tmp_path):
    client = make_app(tmp_path / "nope.gpkg").test_client()
    for url in ("/", "/login"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 503, url
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "nope.gpkg" in page and "gridmap sample" in page and "Traceback" not in page


def test_unknown_api_path_answers_json_and_unknown_page_a_page(make_app, tmp_path):
    client = make_app(tmp_path / "w.gpkg").test_client()
    response = client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.is_json and "message" in response.get_json()
    response = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "404" in response.get_data(as_text=True)
