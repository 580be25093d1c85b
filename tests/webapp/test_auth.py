"""Log-in, roles, API tokens, CSRF and cookies of the web app; the interface's two languages."""

import re

import pytest

from gridmap import accounts
from gridmap.store import Workspace


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def ws(street_copy):
    workspace = Workspace(street_copy)
    yield workspace
    workspace.close()


def test_pages_send_anonymous_people_to_the_log_in_page(app):
    response = app.test_client().get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/")


def test_api_answers_401_json_without_a_log_in(app):
    response = app.test_client().get("/api/grids")
    assert response.status_code == 401
    assert response.is_json and "log-in" in response.get_json()["message"]


def test_api_refusals_of_access_follow_the_language_asked_for(app, ws, client_as):
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    response = app.test_client().get("/api/grids", headers=zh)
    assert response.status_code == 401 and "此接口需要登录" in response.get_json()["message"]
    response = app.test_client().get("/api/grids", headers={"Authorization": "Bearer gm_x", **zh})
    assert response.status_code == 401 and "令牌无效" in response.get_json()["message"]
    intake = accounts.create_token(ws, "language-test", "intake")
    response = app.test_client().get(
        "/api/grids", headers={"Authorization": f"Bearer {intake}", **zh}
    )
    body = response.get_json()
    assert response.status_code == 403 and "无权执行此操作" in body["message"]
    assert "查看者" in body["message"] and "intake" not in body["fix"]
    english = app.test_client().get("/api/grids", headers={"Authorization": f"Bearer {intake}"})
    assert "it needs viewer" in english.get_json()["message"]
    viewer = client_as(app, "viewer")
    page = viewer.get("/grids/510104090999999", headers=zh)
    assert page.status_code == 404 and "已发布方案中没有网格 510104090999999" in page.get_data(
        as_text=True
    )


def test_log_in_and_back_to_the_page_asked_for(app, login):
    client = app.test_client()
    page = client.get("/login?next=/api/plans").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login?next=/api/plans",
        data={"name": "editor", "password": "editor-password", "csrf_token": token},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/api/plans"
    assert client.get("/api/plans").status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert 'id="current-user">editor' in page


def test_the_session_cookie_is_httponly_and_lax(app, login):
    client = app.test_client()
    response = login(client, "viewer")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on this machine


def test_the_session_cookie_is_secure_over_https(app, login):
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},  # checked over HTTPS
        data={"name": "viewer", "password": "viewer-password", "csrf_token": token},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_without_saying_which_part(app, login):
    client = app.test_client()
    for name in ("viewer", "nobody"):
        response = login(client, name, "wrong-password")
        assert response.status_code == 401
        assert "Wrong user name or password." in response.get_data(as_text=True)
    assert client.get("/api/plans").status_code == 401


def test_repeated_failures_lock_the_name_for_a_while(make_app, street_copy, login):
    client = make_app(street_copy).test_client()
    codes = [login(client, "admin", f"guess-{i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    assert login(client, "admin").status_code == 429  # even the right password, for now


def test_a_form_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post(
        "/login", data={"name": "viewer", "password": "viewer-password"},
        headers={"Accept": "text/html"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_log_out_needs_a_post_with_the_token(app, client_as):
    client = client_as(app, "viewer")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token: still logged in
    assert client.get("/api/plans").status_code == 200
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/plans").status_code == 401


def test_no_open_redirect_after_log_in(app, login):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login?next=https://evil.example/",
        data={"name": "viewer", "password": "viewer-password", "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_a_disabled_user_loses_access_at_once(app, ws, login):
    accounts.add_user(ws, "temp-user", "temp-password", "viewer")
    client = app.test_client()
    assert login(client, "temp-user", "temp-password").status_code == 302
    assert client.get("/api/plans").status_code == 200
    accounts.remove_user(ws, "temp-user")
    assert client.get("/api/plans").status_code == 401


def test_api_tokens(app, ws):
    client = app.test_client()
    intake = accounts.create_token(ws, "hotline", "intake")
    viewer = accounts.create_token(ws, "dashboard", "viewer")
    look = "/api/lookup?lat=30.64&lon=104.11"
    assert client.get(look, headers={"Authorization": f"Bearer {intake}"}).status_code == 200
    response = client.get("/api/grids", headers={"Authorization": f"Bearer {intake}"})
    assert response.status_code == 403 and "intake" in response.get_json()["message"]
    assert (
        client.get("/api/grids", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
    )
    response = client.get(look, headers={"Authorization": "Bearer gm_not-a-token"})
    assert response.status_code == 401
    accounts.revoke_token(ws, "hotline")
    assert client.get(look, headers={"Authorization": f"Bearer {intake}"}).status_code == 401


def test_passwords_are_stored_as_salted_hashes(ws):
    rows = ws.connect().execute("SELECT name, password_hash FROM gridmap_users").fetchall()
    hashes = dict(rows)
    assert all(h.startswith("scrypt$") for h in hashes.values())
    assert "viewer-password" not in "".join(hashes.values())
    assert accounts.authenticate(ws, "viewer", "viewer-password").role == "viewer"
    assert accounts.authenticate(ws, "viewer", "Viewer-password") is None


@pytest.mark.parametrize(
    ("name", "password", "role", "words"),
    [
        ("a b", "long-enough", "viewer", "not allowed"),
        ("newbie", "short", "viewer", "shorter than 8"),
        ("newbie", "long-enough", "boss", "not known"),
        ("viewer", "long-enough", "viewer", "exists already"),
    ],
)
def test_bad_accounts_are_refused(ws, name, password, role, words):
    from gridmap.errors import InputError

    with pytest.raises(InputError, match=words):
        accounts.add_user(ws, name, password, role)


def test_chinese_interface_by_switch_and_by_browser(app, client_as):
    client = client_as(app, "viewer")
    page = client.get("/?lang=zh").get_data(as_text=True)
    assert 'lang="zh-Hans"' in page and "概览" in page and "户数" in page
    assert "概览" in client.get("/").get_data(as_text=True)  # the choice is kept
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "Overview" in page and "概览" not in page
    fresh = client_as(app, "viewer")
    page = fresh.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "概览" in page.get_data(as_text=True)


def test_the_sample_working_copy_offers_demo_accounts(tmp_path, published_gpkg):
    import shutil

    from web import create_app

    shutil.copyfile(published_gpkg, tmp_path / "sample_street.gpkg")
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "editor-demo" in page
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_users_cli(tmp_path, published_gpkg):
    import shutil

    from click.testing import CliRunner

    from gridmap.cli import cli

    path = tmp_path / "w.gpkg"
    shutil.copyfile(published_gpkg, path)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["users", str(path), "add", "zhang", "--role", "editor", "--password-stdin"],
        input="a-good-password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["users", str(path)])
    assert "zhang" in result.output and "editor" in result.output
    result = runner.invoke(cli, ["users", str(path), "token", "hotline"])
    assert result.exit_code == 0 and "gm_" in result.output
    result = runner.invoke(
        cli, ["users", str(path), "add", "li", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0 and "shorter than 8" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["users", str(path), "revoke", "nope"])
    assert result.exit_code != 0 and "no live token" in result.output


def test_an_anonymous_post_is_told_to_log_in_not_about_csrf(app):
    response = app.test_client().post("/api/incidents", json={"category": "noise"})
    assert response.status_code == 401 and "log-in" in response.get_json()["message"]
    # the log-in form itself stays guarded
    login = app.test_client().post("/login", data={"name": "viewer", "password": "x" * 9})
    assert login.status_code == 400
