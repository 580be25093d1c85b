"""Fixtures of the web app tests: workspaces copied from the sample street, never the original."""

from __future__ import annotations

import json
import re
import shutil

import pytest


def password_of(name: str) -> str:
    """The test password of user ``name`` (see the ``published_gpkg`` fixture)."""
    return f"{name}-password"


def csrf_of(html: str) -> str:
    """The CSRF token of the first form (or the page's meta tag) in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client, name: str, password: str | None = None):
    """Log ``client`` in as ``name`` through the form; returns the response to the POST."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"name": name, "password": password or password_of(name), "csrf_token": token},
    )


@pytest.fixture(scope="module")
def street_copy(tmp_path_factory, published_gpkg):
    """A module's own copy of the published workspace (0.1 s)."""
    path = tmp_path_factory.mktemp("street") / "street.gpkg"
    shutil.copyfile(published_gpkg, path)
    return path


@pytest.fixture(scope="session")
def make_app(tmp_path_factory):
    """``make_app(workspace, **settings)``: an app on ``workspace`` with a fresh instance folder."""
    from web import create_app

    def make(workspace, **settings):
        instance = tmp_path_factory.mktemp("instance")
        config = {"TESTING": True, "WORKSPACE": str(workspace), "INSTANCE_PATH": str(instance)}
        return create_app({**config, **settings})

    return make


def _geojson_layers(html: str) -> list[dict]:
    found = re.findall(r"geo_json_[0-9a-f]+_add\((\{.*?\})\);\n", html)
    return [json.loads(text) for text in found]


@pytest.fixture(scope="session")
def geojson_layers():
    """``geojson_layers(html)``: the FeatureCollections folium inlined in a page, in order."""
    return _geojson_layers


@pytest.fixture(scope="session")
def client_as():
    """``client_as(app, "editor")``: a test client logged in with that role's test user."""

    def make(app, name="viewer"):
        client = app.test_client()
        response = log_in(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return make


@pytest.fixture(scope="session")
def login():
    """``login(client, name, password=None)``: log in through the form (see :func:`log_in`)."""
    return log_in


@pytest.fixture(scope="session")
def csrf():
    """``csrf(html)``: the CSRF token of a page (see :func:`csrf_of`)."""
    return csrf_of
