"""The gridmap web app: a thin Flask shell over the engine and the workspace.

``create_app(test_config)`` builds the app; ``flask --app web run`` serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from gridmap import __version__

DEFAULT_WORKSPACE = Path(__file__).resolve().parents[1] / "sample_data" / "sample_street.gpkg"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the Flask app.

    Parameters
    ----------
    test_config
        Settings that override the defaults (``WORKSPACE``: the workspace GeoPackage to
        serve; ``MAX_CONTENT_LENGTH``: the upload limit in bytes).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        WORKSPACE=str(DEFAULT_WORKSPACE),
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
    )
    app.config.from_prefixed_env("GRIDMAP")
    if test_config:
        app.config.from_mapping(test_config)

    from web import pages

    app.register_blueprint(pages.bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        """Answer every HTTP error as JSON with a message, never an HTML traceback."""
        return jsonify(error=error.name, message=error.description), error.code or 500

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[Any, int]:
        """Log an unexpected error and answer with a short JSON message."""
        app.logger.exception("unexpected error")
        return jsonify(error="Internal Server Error", message="unexpected error; see the log"), 500

    return app


__all__ = ["__version__", "create_app"]
