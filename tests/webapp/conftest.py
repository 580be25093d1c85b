"""Fixtures of the web app tests: workspaces copied from the sample street, never the original."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from gridmap.store import Workspace


@pytest.fixture(scope="session")
def published_gpkg(tmp_path_factory, sample_workspace, sample_plan):
    """A copy of the sample street with the default plan published (made once per run)."""
    path = tmp_path_factory.mktemp("published") / "street.gpkg"
    shutil.copyfile(sample_workspace, path)
    ws = Workspace(path)
    ws.publish(ws.save_plan(sample_plan, note="test plan"))
    ws.close()  # the last connection checkpoints the write-ahead log into the file
    return path


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
