"""The import page: editors upload incidents, households or buildings and get a validation report.

Uploads go through :func:`gridmap.transfer.import_file`: a file with bad rows imports nothing
unless "skip bad rows" is ticked, and then the report lists exactly which rows were skipped and
why; importing the same file twice adds nothing.  An incident farther than the grid index's
tolerance from every grid of the published plan is a bad row, as it is for the intake API:
stored, it would be ``unassigned`` and nobody would handle it.  Uploads are limited to
``MAX_CONTENT_LENGTH`` (a bigger one is refused with 413 before it is stored) and kept only
while they are imported.  Messages are the engine's, worded for the web and translated by
:mod:`web.messages`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from gridmap.errors import GridmapError
from gridmap.transfer import IMPORT_KINDS, MAPPINGS, BadRowsError, import_file
from web import workspace as store
from web.auth import current_account, require
from web.errors import error_response
from web.i18n import translate as _
from web.messages import error_text, problem_line, row_reasons, where

bp = Blueprint("imports", __name__)

#: File types the import accepts (by extension).
ACCEPTED = (".csv", ".geojson", ".json", ".gpkg", ".zip")

#: Coordinate systems an uploaded file's lon/lat may be in.
COORDS = ("wgs84", "gcj02", "bd09")

#: Rows of a report listed on the page (the rest are counted).
MAX_LISTED = 200


def _form_choices() -> dict[str, object]:
    return {
        "kinds": IMPORT_KINDS,
        "mappings": ("", *MAPPINGS),
        "coords": COORDS,
        "accepted": ", ".join(ACCEPTED),
        "limit_mb": current_app.config["MAX_CONTENT_LENGTH"] / 1e6,
    }


@bp.get("/imports")
@require("editor")
def page() -> ResponseReturnValue:
    """The upload form."""
    form = {"kind": "incidents", "coords": "wgs84", "mapping": "", "skip_bad": False}
    return render_template("imports.html", report=None, refused=None, form=form, **_form_choices())


@bp.post("/imports")
@require("editor")
def upload() -> ResponseReturnValue:
    """Import the uploaded file and show what happened (200), or why nothing was (400)."""
    form = {
        "kind": request.form.get("kind", "incidents"),
        "mapping": request.form.get("mapping", ""),
        "coords": request.form.get("coords", "wgs84"),
        "skip_bad": request.form.get("skip_bad") == "on",
    }
    choices = _form_choices()
    upload = request.files.get("file")
    name = secure_filename(upload.filename or "") if upload is not None else ""
    problem = None
    if upload is None or not upload.filename:
        problem = _("Choose a file to import.")
    elif Path(name).suffix.lower() not in ACCEPTED:
        problem = _("{name}: files of this type cannot be imported; use {accepted}.",
                    name=upload.filename, accepted=choices["accepted"])  # fmt: skip
    elif form["kind"] not in IMPORT_KINDS:
        problem = _("Unknown layer {kind}.", kind=form["kind"])
    elif form["coords"] not in COORDS or (form["mapping"] and form["mapping"] not in MAPPINGS):
        problem = _("Unknown coordinates or column mapping.")
    if problem is not None:
        return _render(form, choices, refused={"message": problem}), 400
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=_upload_dir()))
    path = folder / name
    try:
        upload.save(path)
        if path.stat().st_size == 0:
            refused = {"message": _("{name} is empty.", name=upload.filename)}
            return _render(form, choices, refused=refused), 400
        options = {"coords": form["coords"]} if form["coords"] != "wgs84" else {}
        report = import_file(
            store.workspace(),
            path,
            form["kind"],
            skip_bad=form["skip_bad"],
            actor=current_account().name,
            mapping=form["mapping"] or None,
            refuse_unassigned=True,
            **options,
        )
    except BadRowsError as error:
        refused = {
            "message": _refusal(error, path, upload.filename)[0],
            "problems": [_plain(problem_line(p), path, upload.filename)
                         for p in error.problems[:MAX_LISTED]],
            "bad_rows": True,
        }  # fmt: skip
        return _render(form, choices, refused=refused), 400
    except GridmapError as error:
        message, fix = _refusal(error, path, upload.filename)
        more = getattr(error, "problems", [])[1:MAX_LISTED]  # a file with several problems
        refused = {
            "message": message,
            "fix": fix,
            "problems": [_plain(problem_line(p), path, upload.filename) for p in more],
            "nothing": True,
        }
        return _render(form, choices, refused=refused), 400
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _render(
        form,
        choices,
        report=report,
        filename=upload.filename,
        skipped=row_reasons(report.skipped_problems),
        notes=[_plain(problem_line(p), path, upload.filename) for p in report.problems],
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload over the limit: the form again, with the limit and what to do (413)."""
    form = {"kind": "incidents", "coords": "wgs84", "mapping": "", "skip_bad": False}
    choices = _form_choices()
    limit = choices["limit_mb"]
    message = _(
        "The file is larger than this server accepts ({mb} MB).",
        mb=f"{limit:.0f}" if limit >= 1 else f"{limit:.2g}",
    )
    fix = _("Split the file into smaller ones, or ask the administrator to raise the upload "
            "limit (MAX_CONTENT_LENGTH).")  # fmt: skip
    account = current_account()
    if account is None or not account.may("editor"):  # the form is for editors only
        return error_response(413, message, fix)
    return _render(form, choices, refused={"message": message, "fix": fix}), 413


def _render(form: dict, choices: dict, **values: object) -> str:
    values.setdefault("report", None)
    values.setdefault("refused", None)
    values["listed"] = MAX_LISTED
    return render_template("imports.html", form=form, **choices, **values)


def _plain(text: object, path: Path, filename: str | None) -> str:
    """The text with the temporary path replaced by the name the user uploaded."""
    return str(text).replace(str(path), filename or path.name)


def _refusal(error: GridmapError, path: Path, filename: str | None) -> tuple[str, str]:
    """The web's message and fix of a refused upload, the message naming the file."""
    message, fix = error_text(error)
    if (message, fix) == (error.message, error.fix):  # the engine's own text names the file
        return _plain(error, path, filename), ""
    return where(filename, _plain(message, path, filename)), _plain(fix, path, filename)


def _upload_dir() -> str:
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)
