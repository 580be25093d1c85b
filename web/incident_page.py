"""One incident's page: what, where, its grid and history; editors move it through its lifecycle.

Grid members open it from their phone (from the grid page's list or a link they were sent):
the details, a small map of the point in its grid, the status history, and for editors one
button per status the lifecycle allows next, plus escalation to the next handling level.  A
step the engine refuses comes back as a message on the page, never as an error page, worded
for the page in its language (:mod:`web.messages`): statuses and levels read as the page names
them ("in progress", "处理中").
"""

from __future__ import annotations

import json

import shapely
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gridmap import incidents as engine
from gridmap.errors import GridmapError
from gridmap.store import HANDLING_LEVELS
from web import workspace as store
from web.api_incidents import incident_details
from web.auth import current_account, require
from web.i18n import translate as _
from web.messages import code_word, error_text

bp = Blueprint("incident", __name__)

#: Longest note kept with a status change.
MAX_NOTE = 500


def _grid_outline(code: str | None) -> dict | None:
    """The display outline of grid ``code`` of the published plan as GeoJSON, or ``None``."""
    if not code:
        return None
    grids = store.display_grids(store.published().plan_id)
    match = grids[grids["code"].astype(str) == str(code)]
    if match.empty:
        return None
    return shapely.geometry.mapping(match.geometry.iloc[0])


@bp.get("/incidents/<incident_id>")
@require("viewer")
def page(incident_id: str) -> ResponseReturnValue:
    """The incident's details, map, history and (for editors) the next steps."""
    record = incident_details(incident_id)
    level = record.get("handling_level") or "grid"
    can_escalate = (
        record["allowed_next"] and HANDLING_LEVELS.index(level) < len(HANDLING_LEVELS) - 1
    )
    config = {
        "tiles": current_app.config["TILES"],
        "attribution": current_app.config["TILES_ATTRIBUTION"],
        "point": None if record["lon"] is None else [record["lon"], record["lat"]],
        "grid": _grid_outline(record.get("grid_code")),
    }
    return render_template(
        "incident.html",
        incident=record,
        config_json=json.dumps(config),
        may_edit=current_account().may("editor"),
        can_escalate=bool(can_escalate),
        level=level,
    )


def _note() -> str:
    return (request.form.get("note") or "").strip()[:MAX_NOTE]


def _refused(error: GridmapError) -> None:
    """Flash an engine refusal in the page's words and language: what, and what to do."""
    message, fix = error_text(error)
    flash(_("Refused: {reason}", reason=f"{message} — {fix}" if fix else message))


@bp.post("/incidents/<incident_id>/transition")
@require("editor")
def transition(incident_id: str) -> ResponseReturnValue:
    """Move the incident to the status the button names; a refusal is shown on the page."""
    incident_details(incident_id)  # 404 for an unknown incident
    status = request.form.get("status", "")
    try:
        engine.transition(
            store.workspace(), incident_id, status, actor=current_account().name, note=_note()
        )
        flash(_("Incident {id} is now {status}.", id=incident_id, status=code_word(status)))
    except GridmapError as error:
        _refused(error)
    return redirect(url_for("incident.page", incident_id=incident_id))


@bp.post("/incidents/<incident_id>/escalate")
@require("editor")
def escalate(incident_id: str) -> ResponseReturnValue:
    """Hand the incident up to the next level (grid -> community -> street)."""
    incident_details(incident_id)
    try:
        level = engine.escalate(
            store.workspace(), incident_id, actor=current_account().name, note=_note()
        )
        flash(
            _(
                "Incident {id} is handled by the {level} now.",
                id=incident_id,
                level=code_word(level),
            )
        )
    except GridmapError as error:
        _refused(error)
    return redirect(url_for("incident.page", incident_id=incident_id))
