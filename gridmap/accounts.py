"""Users and API tokens of a workspace: who may look, who may edit, who may take in incidents.

Accounts live in the street's GeoPackage beside the plans (tables ``gridmap_users`` and
``gridmap_tokens``), so the audit log's "who" and the people allowed to act are kept together.
Passwords are stored as salted scrypt hashes (:func:`hashlib.scrypt`), API tokens as SHA-256
hashes: neither can be read back from the file.

Roles, least to most:

``viewer``
    reads maps, grids, aggregates and incidents; never household-level data.
``intake``
    (API tokens only) reports incidents and reads the service list, nothing else.
``editor``
    also redraws and edits plans, publishes them, moves incidents through their lifecycle and
    exports household-level data on request.
``admin``
    also manages users and tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass

import pandas as pd

from gridmap.errors import InputError
from gridmap.store import Workspace, now

#: Roles of people, least to most.
USER_ROLES = ("viewer", "editor", "admin")

#: Roles an API token may carry (``intake``: report incidents only).
TOKEN_ROLES = ("intake", "viewer", "editor", "admin")

#: Rank of each role: a role may do what every lower rank may (``intake`` is below ``viewer``
#: for the API's read endpoints it does not need).
ROLE_RANK = {"intake": 0, "viewer": 1, "editor": 2, "admin": 3}

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 8

#: scrypt cost parameters (N, r, p): about 50 ms and 16 MiB per check on this class of machine.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")

_TABLES = """
CREATE TABLE IF NOT EXISTS gridmap_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gridmap_tokens (
    token_hash TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('intake', 'viewer', 'editor', 'admin')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
)
"""


@dataclass(frozen=True)
class Account:
    """Who is acting: a user logged in or an API token, with its role."""

    name: str
    role: str
    kind: str = "user"  #: ``"user"`` or ``"token"``

    def may(self, role: str) -> bool:
        """Whether this account may do what ``role`` may."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def _tables(con: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _TABLES.split(";")):
        con.execute(statement)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password``: ``scrypt$N$r$p$salt$hash`` (hex)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        again = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(bytes.fromhex(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again.hex(), digest)


def _check_role(role: str, allowed: tuple[str, ...]) -> str:
    if role not in allowed:
        raise InputError(f"role {role!r} is not known.", fix=f"use one of {', '.join(allowed)}.")
    return role


def _check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InputError(
            f"user name {name!r} is not allowed.",
            fix="use 2-64 letters, digits or . _ @ - (no spaces).",
        )
    return name


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"the password is shorter than {MIN_PASSWORD_LENGTH} characters.",
            fix=f"choose a password of at least {MIN_PASSWORD_LENGTH} characters.",
        )
    return password


def add_user(
    ws: Workspace, name: str, password: str, role: str = "viewer", *, replace: bool = False
) -> Account:
    """Create (or with ``replace``, reset) a user of the workspace.

    Raises
    ------
    InputError
        For a bad name, a short password, an unknown role, or a user that exists already
        (without ``replace``).
    """
    _check_name(name)
    _check_password(password)
    _check_role(role, USER_ROLES)
    with ws.transaction() as con:
        _tables(con)
        exists = con.execute("SELECT 1 FROM gridmap_users WHERE name = ?", (name,)).fetchone()
        if exists and not replace:
            raise InputError(
                f"user {name!r} exists already.",
                fix="choose another name, or reset the password with --replace.",
            )
        con.execute(
            "INSERT OR REPLACE INTO gridmap_users (name, role, password_hash, created_at, "
            "disabled) VALUES (?, ?, ?, ?, 0)",
            (name, role, hash_password(password), now()),
        )
        ws.audit(con, "reset" if exists else "create", "user", name, {"role": role})
    return Account(name, role)


def remove_user(ws: Workspace, name: str) -> None:
    """Disable a user (kept for the audit log's sake, but no longer able to log in)."""
    with ws.transaction() as con:
        _tables(con)
        changed = con.execute(
            "UPDATE gridmap_users SET disabled = 1 WHERE name = ? AND disabled = 0", (name,)
        ).rowcount
        if not changed:
            raise InputError(f"there is no active user {name!r}.", fix="list them: gridmap users")
        ws.audit(con, "disable", "user", name, {})


def users(ws: Workspace) -> pd.DataFrame:
    """The users of the workspace: name, role, created_at, disabled (no hashes)."""
    with ws.transaction() as con:
        _tables(con)
    return pd.read_sql_query(
        "SELECT name, role, created_at, disabled FROM gridmap_users ORDER BY name", ws.connect()
    )


def authenticate(ws: Workspace, name: str, password: str) -> Account | None:
    """The account of ``name`` when ``password`` is right and the user is active, else ``None``.

    A check against an unknown name costs as much as one against a known name, so that
    timing does not tell which names exist.
    """
    con = ws.connect()
    try:
        row = con.execute(
            "SELECT role, password_hash FROM gridmap_users WHERE name = ? AND disabled = 0",
            (name,),
        ).fetchone()
    except sqlite3.OperationalError:  # no users table yet
        row = None
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return Account(name, row[0]) if verify_password(password, row[1]) else None


def create_token(ws: Workspace, label: str, role: str = "intake", *, by: str = "admin") -> str:
    """Create an API token and return it (shown once: only its hash is stored)."""
    _check_role(role, TOKEN_ROLES)
    if not label.strip():
        raise InputError("a token needs a label.", fix="say which client uses it, e.g. 'hotline'.")
    token = "gm_" + secrets.token_urlsafe(32)
    with ws.transaction() as con:
        _tables(con)
        con.execute(
            "INSERT INTO gridmap_tokens (token_hash, label, role, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?)",
            (_token_hash(token), label.strip(), role, now(), by),
        )
        ws.audit(con, "create", "token", label.strip(), {"role": role}, by)
    return token


def revoke_token(ws: Workspace, label: str, *, by: str = "admin") -> int:
    """Revoke every live token with ``label``; returns how many were revoked."""
    with ws.transaction() as con:
        _tables(con)
        count = con.execute(
            "UPDATE gridmap_tokens SET revoked_at = ? WHERE label = ? AND revoked_at IS NULL",
            (now(), label),
        ).rowcount
        if count:
            ws.audit(con, "revoke", "token", label, {"count": count}, by)
    return count


def tokens(ws: Workspace) -> pd.DataFrame:
    """The API tokens: label, role, created_at, created_by, revoked_at (no secrets)."""
    with ws.transaction() as con:
        _tables(con)
    return pd.read_sql_query(
        "SELECT label, role, created_at, created_by, revoked_at FROM gridmap_tokens "
        "ORDER BY created_at",
        ws.connect(),
    )


def active_role(ws: Workspace, name: str) -> str | None:
    """The role of active user ``name``; ``None`` when disabled, unknown or no users table.

    Checked on every request of a session, so that a disabled user loses access at once.  Any
    other database error propagates rather than quietly treating the user as logged out.
    """
    try:
        row = (
            ws.connect()
            .execute("SELECT role FROM gridmap_users WHERE name = ? AND disabled = 0", (name,))
            .fetchone()
        )
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None
        raise
    return None if row is None else row[0]


def token_account(ws: Workspace, token: str) -> Account | None:
    """The account of a live API token, or ``None``."""
    try:
        row = (
            ws.connect()
            .execute(
                "SELECT label, role FROM gridmap_tokens "
                "WHERE token_hash = ? AND revoked_at IS NULL",
                (_token_hash(token),),
            )
            .fetchone()
        )
    except sqlite3.OperationalError:
        return None
    return None if row is None else Account(f"token:{row[0]}", row[1], kind="token")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_DUMMY_HASH = hash_password("not a password", salt=b"\0" * 16)
