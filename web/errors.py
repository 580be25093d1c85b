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


def wants_json() -> bool:
    """Whether the current request is an API call (answered with JSON rather than a page).

    API paths (``/api/``, ``/open311/``), JSON bodies and clients that prefer JSON get JSON;
    browsers asking for a page get a page.
    """
    from flask import request

    if request.path.startswith(("/api/", "/open311/", "/vendor/", "/health")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(code: int, message: str, fix: str = "") -> tuple[object, int]:
    """The answer to a refused or failed request: JSON for API calls, a short page otherwise."""
    from flask import jsonify, render_template
    from werkzeug.http import HTTP_STATUS_CODES

    name = HTTP_STATUS_CODES.get(code, "Error")
    if wants_json():
        body = {"error": name, "message": message}
        if fix:
            body["fix"] = fix
        return jsonify(body), code
    return render_template("error.html", code=code, name=name, message=message, fix=fix), code


def geojson_response(features: list[dict], **members: object) -> object:
    """A GeoJSON FeatureCollection response (``application/geo+json``) with extra members.

    RFC 7946 allows foreign members beside ``type`` and ``features``: the API uses them for
    the plan id, paging and the like.
    """
    from flask import jsonify

    response = jsonify({"type": "FeatureCollection", "features": features, **members})
    response.mimetype = "application/geo+json"
    return response
