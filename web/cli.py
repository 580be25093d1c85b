"""``gridmap serve``: serve the web app on this machine.

``gridmap.cli`` registers :data:`serve_command` lazily (the engine never imports the web app);
:func:`run` does the work and is what other entry points call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridmap.errors import GridmapError


def run(
    workspace: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    tiles: str | None = None,
    tiles_coords: str | None = None,
    debug: bool = False,
) -> None:
    """Build the app for ``workspace`` (the sample street's working copy when ``None``) and serve.

    Parameters
    ----------
    workspace
        The street workspace GeoPackage.
    host, port
        Where to listen (``127.0.0.1``: this machine only; ``0.0.0.0``: the whole network).
    tiles
        ``"osm"``, ``"none"``, ``"amap"`` or a tile URL template (the ``TILES`` setting);
        ``None`` keeps the setting from the environment (``GRIDMAP_TILES``) or the default.
    tiles_coords
        ``"wgs84"`` or ``"gcj02"``: how a tile server's tiles are drawn (``TILES_COORDS``).
    debug
        Flask's development server with its debugger and reloader (never on a shared
        network); otherwise the app is served by waitress, a production WSGI server.

    Raises
    ------
    click.ClickException
        When the workspace or the tiles setting is refused.
    """
    from web import create_app

    config: dict[str, Any] = {}
    if workspace is not None:
        if not Path(workspace).is_file():
            raise click.ClickException(f"{workspace} does not exist.")
        config["WORKSPACE"] = str(workspace)
    if tiles is not None:
        config["TILES"] = tiles
    if tiles_coords is not None:
        config["TILES_COORDS"] = tiles_coords
    try:
        app = create_app(config)
    except (GridmapError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    if not Path(app.config["WORKSPACE"]).is_file():
        raise click.ClickException(f"{app.config['WORKSPACE']} does not exist.")
    click.echo(f"Serving {app.config['WORKSPACE']} on http://{host}:{port}/ (Ctrl+C stops).")
    from web.auth import DEMO_ACCOUNTS
    from web.workspace import EXTENSION

    if app.extensions[EXTENSION].demo:
        logins = ", ".join(f"{name} / {password}" for name, password, _ in DEMO_ACCOUNTS)
        click.echo(f"Demo street: log in as {logins}.")
    else:
        click.echo(f"Log in with a user made by: gridmap users {app.config['WORKSPACE']} add NAME")
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    import waitress

    # waitress: a production WSGI server in pure Python (Flask's own server is for development)
    waitress.serve(app, host=host, port=port, threads=8, ident="gridmap")


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("workspace", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--tiles",
    default=None,
    help="Base map: osm (default), none (offline), amap (AMap/Gaode, GCJ-02) or a tile URL "
    "template such as http://tiles.lan/{z}/{x}/{y}.png.",
)
@click.option(
    "--tiles-coords",
    type=click.Choice(["wgs84", "gcj02"]),
    default=None,
    help="How the tile server's tiles are drawn: gcj02 for a mirror of AMap or Tencent tiles "
    "(overlays are shifted to line up).",
)
@click.option("--debug", is_flag=True, help="Flask's debugger and reloader (development only).")
def serve_command(
    workspace: Path | None,
    host: str,
    port: int,
    tiles: str | None,
    tiles_coords: str | None,
    debug: bool,
) -> None:
    """Serve the web app for WORKSPACE (default: a working copy of the sample street)."""
    run(workspace, host=host, port=port, tiles=tiles, tiles_coords=tiles_coords, debug=debug)
