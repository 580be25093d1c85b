"""Pages of the web app. For now: the home page and the health check."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from gridmap import __version__

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Home page: what is being served."""
    workspace = Path(current_app.config["WORKSPACE"])
    return render_template("index.html", workspace=workspace, version=__version__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Health check for monitoring: the version and whether the workspace file is there."""
    workspace = Path(current_app.config["WORKSPACE"])
    ok = workspace.is_file()
    body = {"status": "ok" if ok else "degraded", "version": __version__,
            "workspace": workspace.name, "workspace_found": ok}  # fmt: skip
    return jsonify(body), 200 if ok else 503
