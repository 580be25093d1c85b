"""Log-in, roles, API tokens, CSRF protection and secure session cookies.

People log in with a name and password (:mod:`gridmap.accounts`, scrypt hashes in the
workspace); the session cookie is HttpOnly, SameSite=Lax and Secure whenever the request came
over HTTPS.  Intake clients (a hotline system, the grid members' app) send an API token instead:
``Authorization: Bearer gm_...``.  Every state-changing request of a logged-in browser must carry
the CSRF token (the forms' hidden field or the ``X-CSRFToken`` header the pages' scripts send);
token-authenticated API calls need none, as no browser sends them on its own.

Views declare what they need with :func:`require` (``viewer``, ``editor``, ``admin``; API
endpoints may also let ``intake`` tokens in).  Pages send people without the role to the log-in
page; the API answers 401 or 403 as JSON.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from gridmap import accounts
from gridmap.accounts import Account
from web import workspace as store
from web.errors import error_response, wants_json
from web.i18n import translate as _
from web.messages import code_word, refusal

bp = Blueprint("auth", __name__)

csrf = CSRFProtect()

#: Demo accounts made in the working copy of the sample street (never in a real workspace).
DEMO_ACCOUNTS = (("admin", "admin-demo", "admin"), ("editor", "editor-demo", "editor"),
                 ("viewer", "viewer-demo", "viewer"))  # fmt: skip

#: Failed log-ins allowed per user name and address within :data:`LOCKOUT_WINDOW` seconds.
MAX_FAILURES = 5
LOCKOUT_WINDOW = 300

#: Endpoints that answer with no workspace and no log-in.
OPEN_ENDPOINTS = (None, "pages.health", "pages.favicon", "static", "vendor.file")

#: Body types whose ``api_key`` field is read on Open311 paths.
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

#: Key of the failed log-in counter in ``app.extensions``.
FAILURES = "gridmap_login_failures"

F = TypeVar("F", bound=Callable[..., Any])


class AutoSecureSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure whenever the request itself came over HTTPS.

    ``SESSION_COOKIE_SECURE = "auto"`` (the default) marks the cookie Secure on HTTPS requests
    (behind a TLS proxy too, with ``PROXY_FIX`` on), so that a session made over HTTPS is never
    sent in clear; ``True`` or ``False`` force it.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure for HTTPS requests when the setting is ``"auto"``, else the setting."""
        setting = app.config.get("SESSION_COOKIE_SECURE", "auto")
        if setting == "auto":
            return bool(request) and request.is_secure
        return bool(setting)


class _Failures:
    """Recent failed log-ins per (name, address), to slow down password guessing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[tuple[str, str], list[float]] = {}

    def recent(self, key: tuple[str, str]) -> int:
        cutoff = time.monotonic() - LOCKOUT_WINDOW
        with self.lock:
            kept = [t for t in self.times.get(key, []) if t > cutoff]
            self.times[key] = kept
            return len(kept)

    def add(self, key: tuple[str, str]) -> None:
        with self.lock:
            self.times.setdefault(key, []).append(time.monotonic())

    def clear(self, key: tuple[str, str]) -> None:
        with self.lock:
            self.times.pop(key, None)


#: Session and CSRF settings of the app, before the environment's and the caller's.
DEFAULTS = {
    "SESSION_COOKIE_SECURE": "auto",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "gridmap_session",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
    "WTF_CSRF_TIME_LIMIT": None,  # a form's token is good for the session's life
}


def init_app(app: Flask) -> None:
    """Sessions, CSRF protection, the current account on ``g`` and the log-in pages."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, skipping token clients
    app.session_interface = AutoSecureSessionInterface()
    app.extensions[FAILURES] = _Failures()
    csrf.init_app(app)

    @app.before_request
    def identify() -> ResponseReturnValue | None:
        if store.state().ws is None and request.endpoint not in OPEN_ENDPOINTS:
            store.workspace()  # raises the 503 that names the missing file
        g.account = _account_of_request()
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        # CSRF guards what a session may do; a request with no account can do nothing but log
        # in (whose form is guarded), so it gets the clearer 401 or log-in page instead.
        anonymous = g.account is None and request.endpoint not in ("auth.login", "auth.logout")
        if unsafe and request.routing_exception is None and _bearer() is None and not anonymous:
            csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        return error_response(
            400,
            f"the request was refused: {error.description}",
            fix="reload the page and submit it again (forms carry a one-session CSRF token); "
            "API clients send an 'Authorization: Bearer' token instead.",
        )

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"account": g.get("account")}

    app.register_blueprint(bp)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if not request.path.startswith("/open311/"):
        return None
    # Open311 clients send their key in the query string, or as a form field when they POST
    form = request.form if request.method == "POST" and request.mimetype in _FORMS else {}
    return request.args.get("api_key") or form.get("api_key") or None


def _account_of_request() -> Account | None:
    """The account behind this request: its API token, else its session's user (re-checked)."""
    state = store.state()
    if state.ws is None:
        return None
    token = _bearer()
    if token is not None:
        account = accounts.token_account(state.ws, token)
        if account is None:
            raise refusal(
                401,
                "the API token is not valid (unknown or revoked).",
                fix="ask an admin for a token ({command}).",
                command="gridmap users WORKSPACE token LABEL",
            )
        return account
    name = session.get("user")
    if not name:
        return None
    role = accounts.active_role(state.ws, name)
    if role is None:  # disabled or removed since logging in
        session.clear()
        return None
    return Account(name, role)


def current_account() -> Account | None:
    """The account making the current request, or ``None``."""
    return g.get("account")


def require(role: str, *, tokens: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorate a view so that only accounts with ``role`` (or more) reach it.

    Parameters
    ----------
    role
        ``viewer``, ``editor`` or ``admin``.
    tokens
        Lower token roles also let in (``("intake",)`` for incident intake).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                if wants_json():
                    open311 = request.path.startswith("/open311/")
                    raise refusal(
                        401,
                        "this endpoint needs a log-in or an API token.",
                        fix="send your key as the api_key parameter."
                        if open311
                        else "log in through {login}, or send {header}.",
                        login="/login",
                        header="'Authorization: Bearer <token>'",
                    )
                flash(_("Please log in to see this page."))
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            allowed = account.may(role) or (account.kind == "token" and account.role in tokens)
            if not allowed:
                if wants_json():
                    raise refusal(
                        403,
                        "{name} ({role}) may not do this: it needs {needed}.",
                        fix="use an account or token with the {needed} role.",
                        name=account.name,
                        role=code_word(account.role),
                        needed=code_word(role),
                    )
                return (
                    render_template("forbidden.html", needed=role),
                    403,
                )
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]  # read by the role tests
        guarded.token_roles = tokens  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def _safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else the overview (no open redirects)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("pages.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The log-in form; on success, a fresh session and back to the page asked for."""
    ws = store.workspace()
    error = None
    status = 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        key = (name.lower(), request.remote_addr or "")
        failures = current_app.extensions[FAILURES]
        if failures.recent(key) >= MAX_FAILURES:
            error = _("Too many failed log-ins: wait five minutes and try again.")
            status = 429
        else:
            account = accounts.authenticate(ws, name, password)
            if account is None:
                failures.add(key)
                error = _("Wrong user name or password.")
                status = 401
            else:
                failures.clear(key)
                session.clear()  # no session fixation: a new session at log-in
                session.permanent = True
                session["user"] = account.name
                return redirect(_safe_next(request.args.get("next")))
    has_users = not accounts.users(ws).query("disabled == 0").empty
    return (
        render_template(
            "login.html",
            error=error,
            has_users=has_users,
            demo=DEMO_ACCOUNTS if store.state().demo else (),
            workspace_path=store.state().path,
        ),
        status,
    )


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session (POST, with the CSRF token: a link elsewhere cannot log you out)."""
    session.clear()
    return redirect(url_for("auth.login"))


def seed_demo_accounts(ws: Any) -> None:
    """Create the demo accounts in a working copy of the sample street that has no users."""
    if not accounts.users(ws).empty:
        return
    for name, password, role in DEMO_ACCOUNTS:
        accounts.add_user(ws, name, password, role)
