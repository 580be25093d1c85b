"""JavaScript, CSS and fonts served by the app itself, so that pages work with no internet.

The files come from XStatic packages (``XStatic-Leaflet``, ``XStatic-jQuery``,
``XStatic-Bootstrap``, ``XStatic-Font-Awesome``) and are served under
``/vendor/<package>/<path>``; :func:`localize` points a :class:`folium.Map` at them instead of
folium's CDN defaults.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import folium
from branca.element import Element
from flask import Blueprint, abort, send_from_directory, url_for
from flask.typing import ResponseReturnValue

bp = Blueprint("vendor", __name__, url_prefix="/vendor")

#: Package name in URLs -> the XStatic module holding its files.
PACKAGES = {
    "leaflet": "xstatic.pkg.leaflet",
    "jquery": "xstatic.pkg.jquery",
    "bootstrap": "xstatic.pkg.bootstrap",
    "font-awesome": "xstatic.pkg.font_awesome",
}

#: folium's resource names -> (package, file) of the local copy; ``None`` drops the resource.
LOCAL_FILES: dict[str, tuple[str, str] | None] = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "jquery": ("jquery", "jquery.min.js"),
    "bootstrap": ("bootstrap", "js/bootstrap.bundle.min.js"),
    "bootstrap_css": ("bootstrap", "css/bootstrap.min.css"),
    # Leaflet.awesome-markers and Bootstrap 3 glyphicons: the maps use no marker icons.
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
    "glyphicons_css": None,
    "awesome_markers_font_css": None,
}

#: Seconds browsers may cache vendor files.
MAX_AGE = 24 * 3600


def package_dir(package: str) -> Path:
    """The folder holding an XStatic package's files (``BASE_DIR``)."""
    module = importlib.import_module(PACKAGES[package])
    return Path(module.BASE_DIR)


@bp.get("/<package>/<path:filename>")
def file(package: str, filename: str) -> ResponseReturnValue:
    """One file of a vendor package; 404 for another package or a path outside it."""
    if package not in PACKAGES:
        abort(404, f"no vendor package {package!r}; known: {', '.join(PACKAGES)}.")
    return send_from_directory(package_dir(package), filename, max_age=MAX_AGE)


def vendor_url(package: str, filename: str) -> str:
    """The app's URL of a vendor file (in a request or app context)."""
    return url_for("vendor.file", package=package, filename=filename)


def _local(resources: list[tuple[str, str]], owner: str) -> list[tuple[str, str]]:
    out = []
    for name, url in resources:
        if name not in LOCAL_FILES:
            raise ValueError(
                f"{owner} needs {name} from {url}, which the app does not serve: add its "
                "XStatic package to web.assets.PACKAGES and LOCAL_FILES (pages must work offline)."
            )
        local = LOCAL_FILES[name]
        if local is not None:
            out.append((name, vendor_url(*local)))
    return out


def localize(m: folium.Map) -> folium.Map:
    """Make ``m`` and every element on it load Leaflet and its companions from the app.

    Call it once the map is complete, before rendering it.  Resources with no local copy
    that the maps need not (awesome markers, glyphicons) are dropped.

    Raises
    ------
    ValueError
        When an element needs a resource the app does not serve (a folium plugin whose files
        are not vendored yet): better at once than a blank map on an intranet.
    """
    stack: list[Element] = [m.get_root()]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            resources = getattr(element, attr, None)
            if resources:  # an instance list: folium's class lists stay untouched
                setattr(element, attr, _local(list(resources), type(element).__name__))
        stack.extend(element._children.values())
    return m
