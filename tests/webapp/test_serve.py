import flask
import pytest
import waitress
from click.testing import CliRunner

from web.cli import serve_command


@pytest.fixture
def served(monkeypatch):
    """Calls of the servers instead of serving: waitress by default, Flask's with --debug."""
    calls = []

    def fake_waitress(app, host=None, port=None, **options):
        calls.append({"app": app, "host": host, "port": port, "debug": False, "server": "waitress"})

    def fake_run(app, host=None, port=None, debug=None, **options):
        calls.append({"app": app, "host": host, "port": port, "debug": debug, "server": "flask"})

    monkeypatch.setattr(waitress, "serve", fake_waitress)
    monkeypatch.setattr(flask.Flask, "run", fake_run)
    return calls


def test_serve_builds_the_app_and_listens(served, street_copy):
    args = [str(street_copy), "--port", "5055", "--tiles", "none"]
    result = CliRunner().invoke(serve_command, args)
    assert result.exit_code == 0, result.output
    [call] = served
    assert call["host"] == "127.0.0.1" and call["port"] == 5055 and not call["debug"]
    assert call["server"] == "waitress"  # a production server, not Flask's development one
    assert call["app"].config["TILES"] == "none"
    assert call["app"].config["WORKSPACE"] == str(street_copy)
    assert "http://127.0.0.1:5055/" in result.output


def test_serve_refuses_bad_tiles(served, street_copy):
    result = CliRunner().invoke(serve_command, [str(street_copy), "--tiles", "google"])
    assert result.exit_code != 0
    assert "TILES" in result.output and not served


def test_serve_refuses_a_missing_workspace(served, tmp_path):
    result = CliRunner().invoke(serve_command, [str(tmp_path / "none.gpkg")])
    assert result.exit_code != 0
    assert "does not exist" in result.output and not served


def test_serve_help_names_the_options():
    result = CliRunner().invoke(serve_command, ["-h"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--tiles"):
        assert option in result.output


def test_gridmap_command_offers_serve_through_its_plugin_entry_point():
    from click.testing import CliRunner

    from gridmap.cli import cli

    listing = CliRunner().invoke(cli, ["--help"])
    assert listing.exit_code == 0 and "serve" in listing.output
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--tiles" in result.output and "WORKSPACE" in result.output


def test_serve_debug_uses_flasks_development_server(served, street_copy):
    result = CliRunner().invoke(serve_command, [str(street_copy), "--debug"])
    assert result.exit_code == 0, result.output
    [call] = served
    assert call["server"] == "flask" and call["debug"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flask_command_serves_the_app(street_copy, tmp_path):
    """`flask --app web run` finds the app factory and serves the workspace it is given."""
    import json
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    port = _free_port()
    flask_exe = Path(sys.executable).with_name("flask")
    env = dict(os.environ, GRIDMAP_WORKSPACE=str(street_copy), GRIDMAP_TILES="none")
    command = [str(flask_exe), "--app", "web", "run", "--port", str(port), "--no-reload"]
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline, answer = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}"
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    answer = response.read().decode()
                with urllib.request.urlopen(f"{url}/login", timeout=5) as response:
                    login_page = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert answer is not None, server.communicate(timeout=10)[0] if server.poll() else "no"
        assert json.loads(answer)["status"] == "ok"
        assert 'name="password"' in login_page
    finally:
        server.terminate()
        server.wait(timeout=30)
