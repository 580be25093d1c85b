"""The OpenAPI document describes every API and Open311 endpoint, and nothing else."""

import re

import pytest

from gridmap import accounts
from gridmap.store import Workspace
from web.openapi import OPERATIONS, app_operations


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def viewer(app, client_as):
    return client_as(app, "viewer")


@pytest.fixture(scope="module")
def spec(viewer):
    response = viewer.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(spec):
    return {
        (method, path)
        for path, methods in spec["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_rule_is_documented_and_nothing_else(app, spec):
    rules = set(app_operations(app))
    documented = operations(spec)
    assert rules - documented == set(), "endpoints missing from web/openapi.py OPERATIONS"
    assert documented - rules == set(), "documented endpoints the app does not have"
    assert set(OPERATIONS) == rules, "OPERATIONS names endpoints the app does not have"


def test_operations_have_summaries_parameters_and_responses(app, spec):
    for path, methods in spec["paths"].items():
        names = {p["name"] for op in methods.values() for p in op.get("parameters", [])}
        for part in path.split("/"):
            if part.startswith("{"):
                assert part.strip("{}").split("}")[0] in names, path
        for method, operation in methods.items():
            assert operation["summary"] and operation["operationId"], (method, path)
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)
            if method == "post" and not path.endswith(("/publish", "/archive")):
                assert "requestBody" in operation, (method, path)
    incident_list = spec["paths"]["/api/incidents"]["get"]
    params = {p["name"] for p in incident_list["parameters"]}
    assert {"status", "category", "grid", "level", "since", "until", "limit", "offset"} <= params
    assert "Open311Errors" in str(spec["paths"]["/open311/v2/requests.json"]["post"]["responses"])


def test_security_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["cookieSession"]["in"] == "cookie"
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["open311ApiKey"]["name"] == "api_key"
    assert spec["openapi"] == "3.1.0"


def test_the_document_is_valid_openapi(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


def test_intake_tokens_may_read_the_document(app, street_copy):
    ws = Workspace(street_copy)
    token = accounts.create_token(ws, "doc-reader", "intake")
    ws.close()
    response = app.test_client().get(
        "/api/openapi.json", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.get_json()["paths"]


def test_the_docs_page_lists_every_operation(viewer, spec):
    response = viewer.get("/api/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/api/openapi.json"' in page
    for methods in spec["paths"].values():
        for operation in methods.values():
            assert f'id="op-{operation["operationId"]}"' in page
    assert "cdn" not in page.lower() and "swagger" not in page.lower()


def test_the_docs_page_needs_a_log_in(app):
    assert app.test_client().get("/api/docs").status_code == 401


def test_descriptions_are_commonmark_not_restructuredtext(spec, viewer):
    texts = [
        op.get("summary", "") + " " + op.get("description", "")
        for methods in spec["paths"].values()
        for op in methods.values()
    ]
    assert texts and not [t for t in texts if "``" in t or re.search(r":[a-z]+:`", t)]
    page = viewer.get("/api/docs").get_data(as_text=True)
    assert ":data:`" not in page and "``" not in page
