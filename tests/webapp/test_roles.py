"""Every endpoint of the app declares who may use it, and anonymous people, viewers and intake
tokens are kept out of what is not theirs (CSRF tokens sent, so only the roles decide)."""

import re

import pytest

from gridmap import accounts
from gridmap.store import Workspace

#: Endpoints anyone may reach: assets, the health check, logging in and out.
PUBLIC = {"static", "vendor.file", "pages.health", "pages.favicon", "auth.login", "auth.logout"}

#: Values for URL variables (they need not exist: a 404 still proves the role check passed).
ARGUMENTS = {
    "code": "510104090001001",
    "plan_id": "1",
    "incident_id": "E000001",
    "request_id": "E000001",
    "draft_id": "nodraft",
    "what": "grids",
    "fmt": "csv",
}


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def intake_token(street_copy):
    ws = Workspace(street_copy)
    token = accounts.create_token(ws, "role-test", "intake")
    ws.close()
    return token


def _calls(app):
    """(endpoint, method, url, view) for every rule of the app but the public ones."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{name}>", ARGUMENTS[name], url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url, app.view_functions[rule.endpoint]))
    return found


def _token(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_every_endpoint_declares_its_role(app):
    missing = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in PUBLIC and getattr(view, "required_role", None) is None
    ]
    assert not missing, f"endpoints without @require: {missing}"


def test_anonymous_requests_are_sent_to_log_in(app):
    client = app.test_client()
    headers = {"X-CSRFToken": _token(client)}
    for endpoint, method, url, _ in _calls(app):
        response = client.open(url, method=method, headers=headers, json={})
        assert response.status_code in (302, 401), (endpoint, method, url, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), endpoint


def test_viewers_are_kept_out_of_editor_endpoints(app, client_as):
    client = client_as(app, "viewer")
    headers = {"X-CSRFToken": _token(client)}
    for endpoint, method, url, view in _calls(app):
        if view.required_role == "viewer" and method != "GET":
            pytest.fail(f"{endpoint} changes something ({method}) with only the viewer role")
        if view.required_role == "viewer":
            continue  # reads: covered by each page's and endpoint's own tests
        response = client.open(url, method=method, headers=headers, json={})
        assert response.status_code == 403, (endpoint, method, url, response.status_code)


def test_intake_tokens_reach_only_intake_endpoints(app, intake_token):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {intake_token}"}
    allowed = set()
    for endpoint, method, url, view in _calls(app):
        response = client.open(url, method=method, headers=headers, json={})
        if "intake" in view.token_roles:
            assert response.status_code not in (401, 403), (endpoint, method, url)
            allowed.add(endpoint)
        else:
            assert response.status_code == 403, (endpoint, method, url, response.status_code)
    assert {"api.lookup", "api_incidents.report", "open311.create_request"} <= allowed
