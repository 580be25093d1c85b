"""Maps rendered server-side with folium: the base tiles and the overview of the grids.

The maps load Leaflet from the app (:func:`web.assets.localize`), never from a CDN; only the
base tiles may come from outside, and ``TILES = "none"`` turns them off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np

from web.assets import localize

#: OpenStreetMap's tile server (``TILES = "osm"``).
OSM_TILES = "OpenStreetMap"

#: Fill colours of the household classes, light to dark (ColorBrewer YlOrRd, 5 classes).
PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")


def check_tiles(tiles: str) -> str:
    """``tiles`` when it is ``"osm"``, ``"none"`` or a tile URL template; ValueError otherwise."""
    if tiles in ("osm", "none"):
        return tiles
    url = isinstance(tiles, str) and tiles.startswith(("http://", "https://", "/"))
    if url and all(part in tiles for part in ("{z}", "{x}", "{y}")):
        return tiles
    raise ValueError(
        f"TILES={tiles!r} is not understood: use 'osm', 'none' or a tile URL template "
        "such as http://tiles.example.lan/{z}/{x}/{y}.png"
    )


def base_map(bounds: Sequence[float], tiles: str, attribution: str) -> folium.Map:
    """A map fitted to ``bounds`` (lon/lat) with the configured base tiles."""
    minx, miny, maxx, maxy = bounds
    centre = [(miny + maxy) / 2, (minx + maxx) / 2]
    named = {"osm": OSM_TILES, "none": None}
    m = folium.Map(
        location=centre,
        tiles=named.get(tiles),
        zoom_start=14,
        control_scale=True,
        prefer_canvas=False,
        width="100%",
        height="100%",
    )
    if tiles not in named:
        folium.TileLayer(tiles, attr=attribution, name="base map", max_zoom=20).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def classes(values: Sequence[float], count: int = len(PALETTE)) -> list[float]:
    """Upper bounds of ``count`` classes of ``values`` (quantiles, rounded to whole numbers)."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return [0.0] * count
    qs = np.quantile(data, np.linspace(0, 1, count + 1)[1:])
    bounds = sorted({float(round(q)) for q in qs})
    bounds[-1] = max(bounds[-1], float(math.ceil(data.max())))
    return bounds


def colour(value: Any, bounds: Sequence[float]) -> str:
    """The palette colour of ``value`` for class upper bounds ``bounds``; grey when missing."""
    if value is None or not math.isfinite(float(value)):
        return "#cccccc"
    for i, upper in enumerate(bounds):
        if float(value) <= upper:
            return PALETTE[min(i, len(PALETTE) - 1)]
    return PALETTE[-1]


def legend(bounds: Sequence[float]) -> list[tuple[str, float | None, float]]:
    """The legend rows: ``(colour, lower bound or None, upper bound)``."""
    rows = []
    lower = None
    for i, upper in enumerate(bounds):
        rows.append((PALETTE[i], lower, upper))
        lower = upper
    return rows


def overview_map(
    grids: gpd.GeoDataFrame,
    street: gpd.GeoDataFrame | None,
    communities: gpd.GeoDataFrame | None,
    *,
    tiles: str,
    attribution: str,
    labels: dict[str, str],
    bounds: Sequence[float],
) -> folium.Map:
    """The overview: street outline, community lines and grids coloured by households.

    Parameters
    ----------
    grids
        Grids for display (lon/lat) with ``code``, ``community_name``, ``households``,
        ``persons`` and ``open_incidents``.
    street, communities
        The outlines (lon/lat), or ``None`` when the workspace lacks them.
    tiles, attribution
        The base map (see :func:`check_tiles`).
    labels
        Translated labels: ``grids``, ``communities``, ``street`` (layer names) and the
        tooltip fields ``code``, ``community``, ``households``, ``persons``, ``open_incidents``.
    bounds
        Upper bounds of the household classes (:func:`classes`).
    """
    extent = (street if street is not None and not street.empty else grids).total_bounds
    m = base_map(extent, tiles, attribution)
    fields = ["code", "community_name", "households", "persons", "open_incidents"]
    keys = ["code", "community", "households", "persons", "open_incidents"]
    data = grids[[*fields, "geometry"]].copy()
    data["fill"] = [colour(v, bounds) for v in data["households"]]
    folium.GeoJson(
        data.to_json(drop_id=True),
        name=labels["grids"],
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.65,
            "color": "#333333",
            "weight": 1,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[labels[k] for k in keys]),
    ).add_to(m)
    if communities is not None and not communities.empty:
        folium.GeoJson(
            communities.to_json(drop_id=True),
            name=labels["communities"],
            style_function=lambda f: {"fill": False, "color": "#1f4e79", "weight": 3},
            interactive=False,
        ).add_to(m)
    if street is not None and not street.empty:
        folium.GeoJson(
            street.to_json(drop_id=True),
            name=labels["street"],
            style_function=lambda f: {"fill": False, "color": "#000000", "weight": 4},
            interactive=False,
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return localize(m)
