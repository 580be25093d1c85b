"""Errors the web app answers with: JSON with a message and a fix, never an HTML traceback."""

from __future__ import annotations

from werkzeug.exceptions import HTTPException


class ApiError(HTTPException):
    """A request the app refuses, answered as ``{"error", "message", "fix"}`` JSON.

    Parameters
    ----------
    code
        The HTTP status (400, 404, 503...).
    message
        What is wrong, in one sentence.
    fix
        What the client should do about it.
    """

    def __init__(self, code: int, message: str, fix: str = "") -> None:
        super().__init__(description=message)
        self.code = code
        self.fix = fix

    @property
    def name(self) -> str:
        """The status's standard name (``Bad Request``, ``Not Found``...)."""
        from werkzeug.http import HTTP_STATUS_CODES

        return HTTP_STATUS_CODES.get(self.code or 500, "Error")
