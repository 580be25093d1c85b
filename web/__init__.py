"""The gridmap web app: a thin Flask shell over the engine and the workspace.

``create_app(test_config)`` builds the app; ``flask --app web run`` or ``gridmap serve`` serve
it.  Settings (``app.config``, also read from ``GRIDMAP_*`` environment variables):

``WORKSPACE``
    The street workspace GeoPackage to serve.  Unset (the default), or set to the committed
    sample street, the app serves a working copy of the sample made on first start in its
    instance folder (``instance/sample_street.gpkg``): the committed file is never written.
``TILES``
    The base map: ``"osm"`` (OpenStreetMap, the default), ``"none"`` (no base map: works with
    no internet), ``"amap"`` (AMap/Gaode streets, drawn in GCJ-02) or the URL template of a
    local tile server (``http://tiles.lan/{z}/{x}/{y}.png``).
``TILES_COORDS``
    ``"wgs84"`` (default) or ``"gcj02"``: how a tile server's tiles are drawn.  With GCJ-02
    tiles every overlay is shifted in the browser so that grids line up with the streets.
``TILES_ATTRIBUTION``
    The attribution shown for a tile server given by URL.
``MAX_CONTENT_LENGTH``
    The upload limit in bytes (default 50 MB); bigger uploads are refused with 413.
``SECRET_KEY``
    Signs the session cookies.  Unset, a random key is made once and kept in the instance
    folder (``instance/secret_key``, readable by its owner only), so sessions survive restarts.
``SESSION_COOKIE_SECURE``
    ``"auto"`` (default: Secure on HTTPS requests), ``True`` or ``False``.
``PROXY_FIX``
    Trust one reverse proxy's ``X-Forwarded-*`` headers (set it behind nginx with TLS).

People log in (see :mod:`web.auth`); the working copy of the sample street gets demo accounts
(``admin``, ``editor``, ``viewer``, each with the password ``<name>-demo``), shown on the log-in
page.  Other workspaces get their users from ``gridmap users WORKSPACE add NAME --role ROLE``.

A workspace with no published plan gets one on first start (the default plan of
:func:`gridmap.plan.make_plan`, published at once; this takes a few seconds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from gridmap import __version__
from gridmap.errors import GridmapError
from web import auth, workspace
from web.errors import ApiError, error_response
from web.maps import resolve_tiles
from web.messages import error_text

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
        **auth.DEFAULTS,
    )
    app.config.from_prefixed_env("GRIDMAP")
    app.config.from_mapping(config)
    app.json.sort_keys = False
    resolve_tiles(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    from web import (
        api,
        api_incidents,
        assets,
        exports,
        i18n,
        imports,
        incident_page,
        incidents,
        open311,
        openapi,
        pages,
        workbench,
    )

    state = workspace.init_app(app, DEFAULT_WORKSPACE)
    if state.demo and state.ws is not None:
        auth.seed_demo_accounts(state.ws)
        workspace.assign_demo_members(state.ws)
    i18n.init_app(app)
    auth.init_app(app)

    @app.context_processor
    def frame() -> dict[str, Any]:
        """What every page's frame shows: version, workspace, the pages that exist."""
        return {
            "version": __version__,
            "workspace": workspace.state().path,
            "nav_endpoints": set(app.view_functions),
        }

    workspace.warm_up(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(workbench.bp)
    app.register_blueprint(api_incidents.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(incident_page.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(assets.bp)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[Any, int]:
        """Answer a refused request: what was wrong and how to fix it (JSON or a page)."""
        return error_response(error.code or 400, error.description or "", error.fix)

    @app.errorhandler(GridmapError)
    def gridmap_error(error: GridmapError) -> tuple[Any, int]:
        """Answer an error of the engine or the store with its message and fix (400)."""
        return error_response(400, *error_text(error))

    @app.errorhandler(413)
    def too_large(error: HTTPException) -> tuple[Any, int]:
        """Refuse an upload over the limit, saying the limit and what to do."""
        limit = app.config["MAX_CONTENT_LENGTH"] / 1e6
        return error_response(
            413,
            f"the upload is larger than this server accepts ({limit:.0f} MB).",
            "split the file, or ask the administrator to raise MAX_CONTENT_LENGTH.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        """Answer every HTTP error with a message, never an HTML traceback."""
        return error_response(error.code or 500, error.description or "")

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[Any, int]:
        """Log an unexpected error and answer with a short message."""
        app.logger.exception("unexpected error")
        return error_response(500, "unexpected error; see the server log.")

    return app


def _instance_secret(folder: Path) -> str:
    """The app's session key kept in ``folder/secret_key``, made on first use (mode 0600)."""
    import os
    import secrets

    path = folder / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    partial = folder / f".secret_key.{os.getpid()}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    try:
        os.link(partial, path)  # first writer wins; a second process reads the same key
    except FileExistsError:
        pass
    finally:
        partial.unlink()
    return path.read_text(encoding="ascii").strip()


__all__ = ["__version__", "create_app"]
