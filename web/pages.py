"""Pages of the web app: the overview map of the published grids, a grid's page, health."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from gridmap import __version__
from gridmap.store import OPEN_STATUSES, Workspace
from web import maps
from web import workspace as store
from web.auth import require
from web.i18n import translate
from web.messages import refusal

bp = Blueprint("pages", __name__)

#: Labels drawn inside the map (layer names, tooltips), translated per request.
MAP_LABELS = {
    "grids": "Grids",
    "communities": "Communities",
    "street": "Street",
    "code": "Grid",
    "community": "Community",
    "member": "Member",
    "households": "Households",
    "persons": "Persons",
    "open_incidents": "Open incidents",
}

#: What the overview can colour grids by: column of :func:`web.workspace.grid_measures` ->
#: (label, diverging palette?, decimals shown).
MEASURES = {
    "households": ("Households", False, 0),
    "persons": ("Persons", False, 0),
    "deviation_pct": ("Deviation from target (%)", True, 1),
    "open_incidents": ("Open incidents", False, 0),
    "per_1000_households": ("Incidents per 1,000 households", False, 0),
    "median_hours_to_close": ("Median hours to close", False, 1),
}

#: Recent incidents listed on a grid's page.
RECENT_INCIDENTS = 15


def _measure() -> str:
    """The measure asked for with ``?measure=`` (households when missing or unknown)."""
    asked = request.args.get("measure", "households")
    return asked if asked in MEASURES else "households"


def _range_pct(parameters: dict) -> tuple[float, float]:
    """The plan's allowed range as deviations (%) from its target; ±25 % without one."""
    target, low, high = (parameters.get(k) for k in ("target", "minimum", "maximum"))
    if not target or low is None or high is None:
        return -25.0, 25.0
    return (float(low) / float(target) - 1.0) * 100.0, (float(high) / float(target) - 1.0) * 100.0


@bp.get("/")
@require("viewer")
def index() -> ResponseReturnValue:
    """Overview: the street, its communities and the published grids coloured by a measure."""
    record = store.published()
    measure = _measure()
    label, diverging, decimals = MEASURES[measure]
    table = store.grid_measures(record.plan_id, incident_figures=measure in store.INCIDENT_MEASURES)
    shapes = store.display_grids(record.plan_id)[["code", "geometry"]].merge(
        table.drop(columns=["geometry"], errors="ignore"), on="code", how="left"
    )
    values = table[measure].to_numpy(dtype=float)
    if diverging:
        bounds = maps.diverging_classes(values, *_range_pct(record.parameters))
    else:
        bounds = maps.classes(values.tolist())
    outline = store.outline()
    labels = {key: translate(text) for key, text in MAP_LABELS.items()}
    labels["measure"] = translate(label)
    m = maps.overview_map(
        shapes,
        outline["street"],
        outline["communities"],
        tiles=current_app.config["TILES"],
        attribution=current_app.config["TILES_ATTRIBUTION"],
        labels=labels,
        bounds=bounds,
        measure=measure,
        decimals=decimals,
        palette=maps.DIVERGING if diverging else maps.PALETTE,
        link=url_for("pages.grid", code="CODE"),
    )
    root = m.get_root()
    root.render()
    return render_template(
        "overview.html",
        plan=record,
        grids=table.to_dict("records"),
        totals=table[["households", "persons", "open_incidents", "incidents"]].sum().to_dict(),
        measure=measure,
        measures={key: translate(text) for key, (text, _, _) in MEASURES.items()},
        measure_label=translate(label),
        decimals=decimals,
        legend=maps.legend(bounds, maps.DIVERGING if diverging else maps.PALETTE),
        map_header=root.header.render(),
        map_html=root.html.render(),
        map_script=root.script.render(),
    )


@bp.get("/grids/<code>")
@require("viewer")
def grid(code: str) -> ResponseReturnValue:
    """One grid: its figures, member, a chart of incidents by month and the recent incidents."""
    from gridmap import incidents as incident_data
    from gridmap.hotspots import monthly_counts

    record = store.published()
    table = store.grid_measures(record.plan_id)
    match = table[table["code"].astype(str) == code]
    if match.empty:
        raise refusal(
            404,
            "there is no grid {code} in the published plan.",
            fix="pick a grid on the overview map.",
            code=code,
        )
    row = match.iloc[0].to_dict()
    ws = store.workspace()
    found = incident_data.incidents(ws, grid=code)
    end = store.state().cached(("last_month", store.data_version()), lambda: _last_report(ws))
    months = monthly_counts(found, months=12, end=end)
    recent = found.sort_values("reported_at", ascending=False).head(RECENT_INCIDENTS)
    closed = found[found["status"] == "closed"]
    hours = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600.0
    return render_template(
        "grid.html",
        plan=record,
        grid=row,
        chart=maps.bar_chart(months["month"].tolist(), months["count"].tolist()),
        recent=recent.to_dict("records"),
        total=len(found),
        open_count=int(found["status"].isin(OPEN_STATUSES).sum()),
        median_hours=float(hours.median()) if len(hours) else None,
    )


def _last_report(ws: Workspace) -> pd.Timestamp | None:
    """When the last incident of the workspace was reported (charts of every grid end there)."""
    (last,) = ws.connect().execute("SELECT max(reported_at) FROM incidents").fetchone()
    return None if last is None else pd.Timestamp(last)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """The icon browsers ask for at the site's root (the SVG of the pages' ``<link>``)."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Health check for monitoring: the version and whether the workspace file is there."""
    workspace = Path(current_app.config["WORKSPACE"])
    ok = workspace.is_file()
    body = {"status": "ok" if ok else "degraded", "version": __version__,
            "workspace": workspace.name, "workspace_found": ok}  # fmt: skip
    return jsonify(body), 200 if ok else 503
