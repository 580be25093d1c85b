from web import create_app


def test_health_reports_the_workspace(sample_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(sample_workspace)})
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["workspace"] == "sample_street.gpkg"


def test_health_degrades_when_the_workspace_is_missing(tmp_path):
    app = create_app({"TESTING": True, "WORKSPACE": str(tmp_path / "nope.gpkg")})
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["workspace_found"] is False


def test_unknown_page_answers_json_not_html(tmp_path):
    app = create_app({"TESTING": True, "WORKSPACE": str(tmp_path / "w.gpkg")})
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert response.is_json and "message" in response.get_json()


def test_home_page_names_the_workspace(sample_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(sample_workspace)})
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert b"sample_street.gpkg" in response.data
