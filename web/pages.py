"""Pages of the web app: the overview map of the published grids and the health check."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from gridmap import __version__
from web import maps
from web import workspace as store
from web.auth import require
from web.i18n import translate

bp = Blueprint("pages", __name__)

#: Labels drawn inside the map (layer names, tooltips); the page's other words are in the
#: templates.  Both go through gettext when the Chinese interface comes.
MAP_LABELS = {
    "grids": "Grids",
    "communities": "Communities",
    "street": "Street",
    "code": "Grid",
    "community": "Community",
    "households": "Households",
    "persons": "Persons",
    "open_incidents": "Open incidents",
}


@bp.get("/")
@require("viewer")
def index() -> ResponseReturnValue:
    """Overview: the street, its communities and the published grids coloured by households."""
    record = store.published()
    table = store.grid_table(record.plan_id)
    shapes = store.display_grids(record.plan_id).copy()
    shapes["open_incidents"] = table["open_incidents"].to_numpy()
    outline = store.outline()
    bounds = maps.classes(table["households"].tolist())
    m = maps.overview_map(
        shapes,
        outline["street"],
        outline["communities"],
        tiles=current_app.config["TILES"],
        attribution=current_app.config["TILES_ATTRIBUTION"],
        labels={key: translate(text) for key, text in MAP_LABELS.items()},
        bounds=bounds,
    )
    root = m.get_root()
    root.render()
    return render_template(
        "overview.html",
        plan=record,
        grids=table.to_dict("records"),
        totals=table[["households", "persons", "open_incidents"]].sum().to_dict(),
        legend=maps.legend(bounds),
        map_header=root.header.render(),
        map_html=root.html.render(),
        map_script=root.script.render(),
    )


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Health check for monitoring: the version and whether the workspace file is there."""
    workspace = Path(current_app.config["WORKSPACE"])
    ok = workspace.is_file()
    body = {"status": "ok" if ok else "degraded", "version": __version__,
            "workspace": workspace.name, "workspace_found": ok}  # fmt: skip
    return jsonify(body), 200 if ok else 503
