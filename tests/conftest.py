"""Shared fixtures: paths to the real public data beside the project and to the sample street."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SAMPLE_WORKSPACE = PROJECT_ROOT / "sample_data" / "sample_street.gpkg"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public data (``../shared/data``); required in CI."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_DATA} is missing: CI must run with shared/ beside the project")
        pytest.skip(f"real data folder {SHARED_DATA} is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_workspace() -> Path:
    """The committed sample street workspace (a GeoPackage)."""
    assert SAMPLE_WORKSPACE.is_file(), f"{SAMPLE_WORKSPACE} is missing: run `gridmap sample`"
    return SAMPLE_WORKSPACE


@pytest.fixture(scope="session")
def sample_layers(sample_workspace):
    """The sample street's layers, read once per run (do not modify them)."""
    from gridmap import io

    return io.read_workspace(sample_workspace)


@pytest.fixture(scope="session")
def sample_plan(sample_layers):
    """The default plan of the sample street, made once per run (do not modify it)."""
    from gridmap.plan import make_plan

    return make_plan(sample_layers)


#: The test users of ``published_gpkg``: one per role, named after it, password "<name>-password".
ROLES = ("viewer", "editor", "admin")


@pytest.fixture(scope="session")
def published_gpkg(tmp_path_factory, sample_workspace, sample_plan):
    """A copy of the sample street with the default plan published and one user per role."""
    from gridmap import accounts
    from gridmap.store import Workspace

    path = tmp_path_factory.mktemp("published") / "street.gpkg"
    shutil.copyfile(sample_workspace, path)
    ws = Workspace(path)
    ws.publish(ws.save_plan(sample_plan, note="test plan"))
    for name in ROLES:
        accounts.add_user(ws, name, f"{name}-password", name)
    ws.close()  # the last connection checkpoints the write-ahead log into the file
    return path
