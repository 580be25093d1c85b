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


def test_pages_answer_503_json_when_the_workspace_is_missing(make_app, tmp_path):
    client = make_app(tmp_path / "nope.gpkg").test_client()
    for url in ("/", "/api/grids", "/api/plans", "/api/lookup?lat=30&lon=104"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.is_json and "nope.gpkg" in response.get_json()["message"]
        assert response.get_json()["fix"]


def test_unknown_page_answers_json_not_html(make_app, tmp_path):
    app = make_app(tmp_path / "w.gpkg")
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert response.is_json and "message" in response.get_json()
