"""Engine refusals and problems in the web's words, in English or Simplified Chinese.

The engine words its errors and problems (:mod:`gridmap.errors`) for the command line: "pass
--skip-bad", "merge_grids('A', 'B')".  The frequent ones also carry a machine-readable
``code`` and the ``params`` their message is made of; :data:`MESSAGES` words those for a web
user (what to tick, which button) and :func:`web.i18n.translate` puts them in the page's
language (the Chinese lives in :data:`web.i18n.CATALOGUE`).  A code not listed here keeps the
engine's English text, so nothing is ever lost.

Row numbers are given as users count them: row 1 is the first data row of the file.

The web's own refusals (the workbench's and the API's input checks) are written in English in
the code and worded with :func:`refusal`, which looks them up in the catalogue too: a request
in Chinese (``Accept-Language: zh``, the language switch) gets them in Chinese, any other in
English.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gridmap.errors import GridmapError, Problem
from web.errors import ApiError
from web.i18n import current_language
from web.i18n import translate as _

#: How many rows, units or values a message lists before it says "and N more".
SHOWN = 10

#: Code (or ``code.variant``) -> (message, fix), English; ``{name}`` fields come from params.
MESSAGES: dict[str, tuple[str, str]] = {
    # imports: the file as a whole
    "bad_rows": (
        "{bad} of {rows} rows cannot be imported.",
        "Nothing was imported: correct these rows, or tick “Skip bad rows” to import the others.",
    ),
    "missing_column": (
        "The required column “{column}” is missing.",
        "Add a “{column}” column, or rename the column that holds it (the file has: {columns}).",
    ),
    "personal_data": (
        "The column “{column}” holds personal data, which the {layer} layer must not keep.",
        "Delete the column “{column}” from the file and upload it again.",
    ),
    "no_coordinate_columns": (
        "The file has no coordinate columns (it has: {columns}).",
        "Name the longitude and latitude columns “lon” and “lat”, or upload a GeoJSON or "
        "GeoPackage file.",
    ),
    "coordinates_out_of_range": (
        "The columns {columns} hold values outside longitude/latitude ranges (e.g. {example}).",
        "If longitude and latitude are swapped, swap the two columns; if these are projected "
        "coordinates, convert them to longitude/latitude (e.g. in QGIS) and upload again.",
    ),
    "unreadable_file": (
        "The file cannot be read as {format}: its content is garbled, truncated or in another "
        "format.",
        "Check that the file opens in QGIS, and export it again as GeoJSON, GeoPackage or CSV.",
    ),
    "unreadable_csv": (
        "The file cannot be read as CSV.",
        "Check that every line has as many fields as the header (put text holding commas in "
        "quotes), or save it again from the spreadsheet as CSV.",
    ),
    # imports: rows
    "empty_values": (
        "The column “{column}” is empty.",
        "Fill in “{column}” in these rows, or delete them.",
    ),
    "not_numbers": (
        "The column “{column}” must hold numbers; found {examples}.",
        "Correct “{column}” in these rows.",
    ),
    "not_whole_numbers": (
        "The column “{column}” must hold whole numbers.",
        "Round “{column}” in these rows.",
    ),
    "below_minimum": (
        "The column “{column}” must be at least {minimum:g}.",
        "Correct “{column}” in these rows.",
    ),
    "not_datetimes": (
        "The column “{column}” must hold dates and times; could not read {examples}.",
        "Write dates and times like 2026-03-01 14:30.",
    ),
    "duplicate_ids": (
        "The id {examples} appears more than once in “{column}”.",
        "Give every row its own id, or delete the repeated rows.",
    ),
    "not_allowed": (
        "The column “{column}” holds values that are not allowed: {examples}.",
        "Use one of: {allowed}.",
    ),
    "no_geometry": (
        "No location (no geometry).",
        "Draw or geocode these features, or delete them.",
    ),
    "no_geometry.blank": (
        "No coordinates (blank {columns}).",
        "Fill in the longitude and latitude, or delete these rows.",
    ),
    "no_geometry.not_numbers": (
        "The coordinates in {columns} are not numbers.",
        "Write longitude and latitude as decimal degrees, e.g. 104.1096 and 30.6537.",
    ),
    "no_geometry.out_of_range": (
        "The coordinates in {columns} are outside longitude/latitude ranges.",
        "Check the coordinates: longitude -180 to 180, latitude -90 to 90, in decimal degrees "
        "(are the two columns swapped?).",
    ),
    "several_parts": (
        "The feature has several parts; each must be one {kind}.",
        "Split it into one feature per {kind}, each with its own id.",
    ),
    "outside_grids": (
        "Outside the street: {distance} from the nearest grid, farther than the {tolerance:g} m "
        "allowed.",
        "Check the coordinates (and the coordinate system chosen above), or report these "
        "incidents to the street that holds the place.",
    ),
    "outside_street": (
        "{count} imported features lie outside or across the street boundary: no grid counts them.",
        "Check their coordinates (and the coordinate system chosen above) or the street boundary.",
    ),
    "unknown_buildings": (
        "building_id names buildings that are not in the workspace: these households count in "
        "grids by their location only.",
        "Import the buildings too, or correct building_id.",
    ),
    "columns_defaulted": (
        "The file has no column {columns}; every row got {filled}.",
        "Add the columns to the file to set them row by row.",
    ),
    # edits of the workbench
    "nothing_to_move": (
        "{units} already belong to grid {grid}: nothing to move.",
        "Select units of the grids around grid {grid} to move them into it.",
    ),
    "crosses_community": (
        "{units} lie in community {community} but grid {grid} is in community "
        "{grid_community}: a grid never crosses a community line.",
        "Move them to a grid of community {community}.",
    ),
    "not_touching": (
        "Grid {grid} does not touch {units}: with them it would be in several pieces.",
        "Move only units that share a boundary with grid {grid} (or with other units moved "
        "along with them).",
    ),
    "grid_locked": (
        "Grid {grids} is locked.",
        "Unlock it first (“Unlock grid” in the edit panel), or leave locked grids alone.",
    ),
    "grid_locked.many": (
        "Grids {grids} are locked.",
        "Unlock them first (“Unlock grid” in the edit panel), or leave locked grids alone.",
    ),
    "leaves_grid_empty": (
        "Moving {units} to grid {target} would leave grid {grid} without units.",
        "Merge grid {grid} into grid {target} instead, or leave one unit in grid {grid}.",
    ),
    "leaves_grid_without_weight": (
        "Moving {units} to grid {target} would leave grid {grid} without {weight}.",
        "Leave a unit with {weight} in grid {grid}, or merge grid {grid} into grid {target}.",
    ),
    "cuts_grid": (
        "Moving {units} to grid {target} would cut grid {grid} in {pieces} pieces: {cut} would "
        "be cut off from the rest of it.",
        "Move these units along too, or choose units on the edge of grid {grid}.",
    ),
    "split_single_unit": (
        "Grid {grid} has a single unit: it cannot be split, since units are never cut.",
        "Move a neighbouring unit into grid {grid} first, or split another grid.",
    ),
    "split_cuts_grid": (
        "Splitting grid {grid} this way leaves a half in {pieces} pieces: {cut} would be cut off.",
        "Split it so that both halves are in one piece each.",
    ),
    "split_without_weight": (
        "Splitting grid {grid} this way leaves a half without {weight}.",
        "Split it so that both halves have {weight}.",
    ),
    "split_unbalanced": (
        "Grid {grid} cannot be split in two balanced halves.",
        "Move units between grid {grid} and its neighbours by hand, or split another grid.",
    ),
    "split_out_of_range": (
        "Grid {grid} holds {total:g} {weight}: two grids of {minimum:g}-{maximum:g} need at "
        "least {need:g} (the most even split gives {smaller:g} and {larger:g}).",
        "Merge it with a neighbour and split the merged grid, or widen the range.",
    ),
    "split_out_of_range.open": (
        "Grid {grid} holds {total:g} {weight}: two grids of at least {minimum:g} need at least "
        "{need:g} (the most even split gives {smaller:g} and {larger:g}).",
        "Merge it with a neighbour and split the merged grid, or lower the minimum.",
    ),
    "no_grid_number_left": (
        "Community {community} has used all {limit} grid numbers: a split needs a new one.",
        "Merge grids instead, or partition afresh and edit again.",
    ),
    "merge_itself": (
        "Grid {grid} cannot be merged with itself.",
        "Merge it with one of its neighbours: {neighbours}.",
    ),
    "merge_across_communities": (
        "Grid {keep} is in community {keep_community} and grid {other} in community "
        "{other_community}: a grid never crosses a community line.",
        "Merge grid {other} with a neighbour of its own community: {neighbours}.",
    ),
    "merge_not_neighbours": (
        "Grids {keep} and {other} do not touch: merged, they would be in two pieces.",
        "Merge grid {keep} with one of its neighbours: {neighbours}.",
    ),
    "already_locked": ("Grid {grid} is already locked.", "Nothing to do."),
    "not_locked": ("Grid {grid} is not locked.", "Nothing to do."),
    "nothing_to_undo": (
        "There is nothing to undo.",
        "Undo takes back the edits of this draft; none is left.",
    ),
    "nothing_to_redo": (
        "There is nothing to redo.",
        "Redo makes again an edit you undid; a new edit after an undo clears them.",
    ),
    "unknown_grid": (
        "Grid {grid} does not exist.",
        "Choose a grid of this draft on the map.",
    ),
    "unknown_grid.gone": (
        "Grid {grid} no longer exists (merged away, or its split undone).",
        "Choose a grid of this draft on the map.",
    ),
    # plan runs of the workbench
    "range_infeasible": (
        "Community {community} has {weight:g} {weight_name}: no whole number of grids gives "
        "{minimum:g}–{maximum:g} per grid ({fewer} grids give {fewer_gives}, {more} grids give "
        "{more_gives}).",
        "Widen the allowed range (minimum and maximum), or give the number of grids per community.",
    ),
    "community_too_small": (
        "Community {community} has {weight:g} {weight_name}: too few for one grid of "
        "{minimum:g}–{maximum:g}.",
        "Lower the minimum to {weight:g} or less.",
    ),
    "grids_out_of_range": (
        "Grids outside {minimum:g}-{maximum:g} {weight_name} ({count}): {out_grids}.",
        "Widen the range to {widened_minimum:g}-{widened_maximum:g}, or give some communities "
        "another number of grids (“Grids per community”): a side of a community cut off by the "
        "river or an arterial road, with few large units, may not fill every grid it gets.",
    ),
    "redraw_out_of_range": (
        "Grids still outside {minimum:g}-{maximum:g} {weight_name} ({count}): {out_grids}.",
        "Widen the range, or partition the street afresh (“Partition afresh”).",
    ),
    "community_range_infeasible": (
        "Community {community} has {total:g} households: no whole number of grids puts every "
        "grid within {minimum:g}-{maximum:g}.",
        "Widen the range for this community.",
    ),
    "community_range_infeasible.side": (
        "One side of community {community} (a forbidden barrier runs through it) has {total:g} "
        "households: no whole number of grids puts every grid within {minimum:g}-{maximum:g}.",
        "Widen the range.",
    ),
    "too_few_grids": (
        "{grids} grids cannot cover {communities} communities with households.",
        "Ask for at least {communities} grids (one per community).",
    ),
    "too_many_grids": (
        "Community {community} would need {grids} grids but has only {units} units with "
        "{weight}: some grids would be empty.",
        "Ask for fewer grids: a larger target or minimum, or a smaller number of grids.",
    ),
    # an incident's lifecycle and escalation (its page's buttons)
    "unknown_incident": (
        "There is no incident {incident}.",
        "Check the id, or find the incident on the Incidents page.",
    ),
    "unknown_status": (
        "“{to}” is not an incident status.",
        "Mark the incident with one of the page's buttons (statuses: {statuses}).",
    ),
    "unknown_status.empty": (
        "No new status was chosen.",
        "Mark the incident with one of the page's buttons.",
    ),
    "transition_refused": (
        "Incident {incident} is {status}: it cannot become {to}.",
        "Mark it as one of: {next}.",
    ),
    "transition_refused.final": (
        "Incident {incident} is {status}, which is final: it cannot become {to}.",
        "Report a new incident if the matter came back.",
    ),
    "before_report": (
        "The time {at} is before incident {incident} was reported ({reported}).",
        "Give a time after the report.",
    ),
    "incident_changed": (
        "Incident {incident} changed while it was being marked as {to}.",
        "Reload the page and try again.",
    ),
    "escalate_final": (
        "Incident {incident} is {status}: a finished incident is not escalated.",
        "Report a new incident if the matter needs more handling.",
    ),
    "unknown_level": (
        "Incident {incident} has an unknown handling level “{level}”.",
        "Ask an administrator to set its handling level to one of: {levels}.",
    ),
    "highest_level": (
        "Incident {incident} is already handled by the {level}, the highest level.",
        "Handle it at the {level} level.",
    ),
}

#: Params naming units (their labels: index and unit id).
UNITS = ("units", "cut")

#: Params whose values are words of the catalogue (layer names, weights, geometry kinds).
WORDS = ("layer", "weight", "weight_name", "kind")

#: Params whose values are quoted (values found in a file, column names).
QUOTED = ("examples", "columns")

#: Params naming incident statuses or handling levels, shown as the pages name them.
STATES = ("status", "to", "next", "statuses", "level", "levels")


def listing(
    items: Iterable[Any],
    *,
    quoted: bool = False,
    limit: int = SHOWN,
    more: str = "{items} and {n} more",
) -> str:
    """Items joined in the page's language, the first ``limit`` named and the rest counted.

    ``more`` is the (English) text for a list cut short, with ``{items}`` and ``{n}``.
    """
    items = [f"“{item}”" if quoted else str(item) for item in items]
    separator = "、" if current_language() == "zh" else ", "
    text = separator.join(items[:limit])
    if len(items) > limit:
        text = _(more, items=text, n=len(items) - limit)
    return text


def rows_text(rows: Sequence[int], limit: int = SHOWN) -> str:
    """Zero-based rows as users count them: ``Row 3``, ``Rows 1, 4 and 40 more``."""
    if len(rows) == 1:
        return _("Row {rows}", rows=rows[0] + 1)
    shown = listing([r + 1 for r in rows], limit=limit, more="{items} and {n} more rows")
    return _("Rows {rows}", rows=shown)


def code_word(value: str) -> str:
    """A status, handling level or role code as pages name it in a sentence.

    ``in_progress`` reads ``in progress`` in English and ``处理中`` in Chinese; a value that is
    in no catalogue keeps its text.
    """
    if current_language() == "zh":
        return _(value)
    return value.replace("_", " ")


def _units(labels: Sequence[str]) -> str:
    if len(labels) == 1:
        return _("unit {units}", units=labels[0])
    text = listing(labels, limit=6, more="{items} and {n} more units")
    return _("units {units}", units=text)


def _distance(params: dict[str, Any]) -> str:
    distances = params.get("distances") or [0.0]
    metres = f"{max(distances):,.0f}"
    return _("{m} m", m=metres) if len(distances) == 1 else _("up to {m} m", m=metres)


def _filled(params: dict[str, Any]) -> str:
    defaults = params.get("defaults") or {}
    return listing(
        [f"{k} = {_('(empty)') if v is None else v}" for k, v in defaults.items()], limit=20
    )


def _out_grids(params: dict[str, Any]) -> str:
    found = params.get("grids")
    grids = [g for g in found if isinstance(g, dict)] if isinstance(found, list) else []
    return listing([f"{g['code']} ({g['weight']:g})" for g in grids], limit=6)


#: Params made from others, by name, before a message is filled in.
DERIVED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "distance": _distance,
    "filled": _filled,
    "out_grids": _out_grids,
}


def _values(params: Mapping[str, Any]) -> dict[str, Any]:
    """The params as the messages show them: lists joined, words translated, units named."""
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name in UNITS and isinstance(value, list):
            values[name] = _units(value)
        elif name in STATES and isinstance(value, str):
            values[name] = code_word(value)
        elif name in STATES and isinstance(value, list):
            values[name] = listing([code_word(str(v)) for v in value])
        elif name in WORDS and isinstance(value, str):  # English keeps the engine's word
            values[name] = _(value) if current_language() == "zh" else value
        elif isinstance(value, list | tuple):
            values[name] = listing(value, quoted=name in QUOTED)
        elif isinstance(value, dict):
            values[name] = listing(value)
        else:
            values[name] = value
    for name, make in DERIVED.items():
        values.setdefault(name, make(dict(params)))
    if "defaults" in params:
        values["columns"] = listing(params["defaults"], quoted=True)
    return values


def _key(code: str, params: Mapping[str, Any]) -> str:
    """The entry of :data:`MESSAGES` for a code: its variant when it has one."""
    variants = [str(params.get("reason", ""))]
    if params.get("gone"):
        variants.append("gone")
    if params.get("side"):
        variants.append("side")
    if isinstance(params.get("grids"), list) and len(params["grids"]) > 1:
        variants.append("many")
    for variant in variants:
        if variant and f"{code}.{variant}" in MESSAGES:
            return f"{code}.{variant}"
    return code


def word(
    code: str, params: Mapping[str, Any], message: str, fix: str = "", **extra: Any
) -> tuple[str, str]:
    """The web's ``(message, fix)`` for an engine code, in the page's language.

    Parameters
    ----------
    code, params
        The engine's code and params (:class:`gridmap.errors.Problem`,
        :class:`gridmap.errors.GridmapError`).
    message, fix
        The engine's own text, returned as it is when the code has no entry (or its params do
        not fill the entry).
    **extra
        More params (the web's own values).
    """
    entry = MESSAGES.get(_key(code, params)) if code else None
    if entry is None:
        return message, fix
    try:
        values = _values({**params, **extra})
        return _(entry[0], **values), _(entry[1], **values)
    except (KeyError, IndexError, TypeError, ValueError):
        return message, fix


def error_text(error: GridmapError) -> tuple[str, str]:
    """An engine error's ``(message, fix)`` for a web page or a page's script."""
    return word(error.code, error.params, error.message, error.fix)


def problem_text(problem: Problem) -> tuple[str, str]:
    """A problem's ``(message, fix)`` for a web page (its rows not named)."""
    return word(problem.code, problem.params, problem.message, problem.fix)


def refusal(status: int, message: str, fix: str = "", **values: Any) -> ApiError:
    """A refused request (:class:`web.errors.ApiError`) in the request's language.

    ``message`` and ``fix`` are English texts of :data:`web.i18n.CATALOGUE` with ``{name}``
    fields filled from ``values`` (a text with no values is not formatted, so braces in it
    stay; a text with values gets literal braces, such as JSON examples, as a value).
    """
    return ApiError(status, _(message, **values), fix=_(fix, **values) if fix else "")


def where(place: object, text: str) -> str:
    """``text`` said of ``place`` (a file, rows): ``"a.csv: ..."``, in Chinese ``"a.csv：..."``."""
    return _("{where}: {what}", where=place, what=text)


def problem_line(problem: Problem, limit: int = SHOWN) -> str:
    """One line for a page: the rows, the problem and what to do about it."""
    message, fix = problem_text(problem)
    text = where(rows_text(problem.rows, limit), message) if problem.rows else message
    return f"{text} — {fix}" if fix else text


def row_reasons(problems: Iterable[Problem]) -> dict[int, str]:
    """Why each row is bad (one-based row -> reasons), from the problems naming the rows."""
    reasons: dict[int, list[str]] = {}
    for problem in problems:
        for i, row in enumerate(problem.rows):
            params = dict(problem.params)
            if isinstance(params.get("distances"), list):  # this row's own distance
                params["distances"] = params["distances"][i : i + 1]
            message, _fix = word(problem.code, params, problem.message, problem.fix)
            reasons.setdefault(row + 1, []).append(message.rstrip(".。"))
    separator = "；" if current_language() == "zh" else "; "
    return {row: separator.join(texts) for row, texts in sorted(reasons.items())}
