"""The gridmap web app: a thin Flask shell over the engine and the workspace.

``create_app(test_config)`` builds the app; ``flask --app web run`` or ``gridmap serve`` serve
it.  Settings (``app.config``, also read from ``GRIDMAP_*`` environment variables):

``WORKSPACE``
    The street workspace GeoPackage to serve.  Unset (the default), or set to the committed
    sample street, the app serves a working copy of the sample made on first start in its
    instance folder (``instance/sample_street.gpkg``): the committed file is never written.
``TILES``
    The base map: ``"osm"`` (OpenStreetMap, the default), ``"none"`` (no base map: works with
    no internet) or the URL template of a local tile server (``http://tiles.lan/{z}/{x}/{y}.png``).
``TILES_ATTRIBUTION``
    The attribution shown for a tile server given by URL.
``MAX_CONTENT_LENGTH``
    The upload limit in bytes.

A workspace with no published plan gets one on first start (the default plan of
:func:`gridmap.plan.make_plan`, published at once; this takes a few seconds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from gridmap import __version__
from gridmap.errors import GridmapError
from web import workspace
from web.errors import ApiError
from web.maps import check_tiles

DEFAULT_WORKSPACE = Path(__file__).resolve().parents[1] / "sample_data" / "sample_street.gpkg"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the Flask app.

    Parameters
    ----------
    test_config
        Settings that override the defaults and the environment (see the module docstring);
        ``INSTANCE_PATH`` also moves the instance folder (where the working copy of the sample
        is kept).

    Returns
    -------
    flask.Flask
        The app, with its workspace opened (when the file exists) and a plan published.

    Raises
    ------
    ValueError
        When ``TILES`` is neither ``"osm"``, ``"none"`` nor a ``{z}/{x}/{y}`` URL template.
    gridmap.errors.InputError
        When ``WORKSPACE`` exists but is not a workspace GeoPackage.
    """
    config = dict(test_config or {})
    instance_path = config.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_path=None if instance_path is None else str(instance_path))
    app.config.from_mapping(
        WORKSPACE=None,
        TILES="osm",
        TILES_ATTRIBUTION="Base map: local tile server",
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
    )
    app.config.from_prefixed_env("GRIDMAP")
    app.config.from_mapping(config)
    app.json.sort_keys = False
    check_tiles(app.config["TILES"])

    from web import api, assets, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(assets.bp)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[Any, int]:
        """Answer a refused request as JSON: the error, what was wrong and how to fix it."""
        return jsonify(error=error.name, message=error.description, fix=error.fix), error.code

    @app.errorhandler(GridmapError)
    def gridmap_error(error: GridmapError) -> tuple[Any, int]:
        """Answer an error of the engine or the store as JSON with its fix (400)."""
        return jsonify(error="Bad Request", message=error.message, fix=error.fix), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        """Answer every HTTP error as JSON with a message, never an HTML traceback."""
        return jsonify(error=error.name, message=error.description), error.code or 500

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[Any, int]:
        """Log an unexpected error and answer with a short JSON message."""
        app.logger.exception("unexpected error")
        return jsonify(error="Internal Server Error", message="unexpected error; see the log"), 500

    workspace.init_app(app, DEFAULT_WORKSPACE)
    return app


__all__ = ["__version__", "create_app"]
