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
from folium.utilities import JsCode
from markupsafe import escape

from web.assets import localize

#: OpenStreetMap's tile server (``TILES = "osm"``).
OSM_TILES = "OpenStreetMap"

#: Fill colours of the classes of a count, light to dark (ColorBrewer YlOrRd, 5 classes).
PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")

#: Fill colours of a deviation, below to above zero (ColorBrewer RdBu reversed, 5 classes).
DIVERGING = ("#0571b0", "#92c5de", "#f7f7f7", "#f4a582", "#ca0020")


#: Named tile providers besides OpenStreetMap: name -> (URL template, attribution, coordinates).
#: AMap (Gaode) draws its streets in GCJ-02: overlays are shifted to match (static/gcj02.js).
NAMED_TILES = {
    "amap": (
        "https://webrd02.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
        "&x={x}&y={y}&z={z}",
        "© 高德地图 AutoNavi",
        "gcj02",
    ),
}

#: Coordinate systems base tiles may be drawn in.
TILE_COORDS = ("wgs84", "gcj02")


def resolve_tiles(config: dict[str, Any]) -> None:
    """Check the tile settings and turn a named provider into its URL, attribution and CRS.

    ``TILES`` is ``"osm"``, ``"none"``, a name of :data:`NAMED_TILES` or a URL template;
    ``TILES_COORDS`` (``"wgs84"`` or ``"gcj02"``) says how a URL's tiles are drawn, so that a
    local mirror of a Chinese provider lines up too.

    Raises
    ------
    ValueError
        For tiles or coordinates not understood.
    """
    tiles = config.get("TILES", "osm")
    if tiles in NAMED_TILES:
        url, attribution, coords = NAMED_TILES[tiles]
        config["TILES"], config["TILES_ATTRIBUTION"], config["TILES_COORDS"] = (
            url, attribution, coords,
        )  # fmt: skip
    check_tiles(config["TILES"])
    coords = config.setdefault("TILES_COORDS", "wgs84")
    if coords not in TILE_COORDS:
        raise ValueError(
            f"TILES_COORDS={coords!r} is not understood: use 'wgs84' or 'gcj02' (tiles of "
            "AMap/Gaode or Tencent, or a mirror of them)."
        )


def check_tiles(tiles: str) -> str:
    """``tiles`` when it is ``"osm"``, ``"none"`` or a tile URL template; ValueError otherwise."""
    if tiles in ("osm", "none"):
        return tiles
    url = isinstance(tiles, str) and tiles.startswith(("http://", "https://", "/"))
    if url and all(part in tiles for part in ("{z}", "{x}", "{y}")):
        return tiles
    raise ValueError(
        f"TILES={tiles!r} is not understood: use 'osm', 'none', 'amap' or a tile URL template "
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


def diverging_classes(
    values: Sequence[float], below_pct: float = -25.0, above_pct: float = 25.0
) -> list[float]:
    """Upper bounds (%) of the 5 classes of a deviation from the target.

    The bands are those of the redraw workbench, taken from the plan's allowed range
    (``below_pct`` and ``above_pct``: the minimum and maximum as deviations from the target,
    -25 and +25 for 300-500 around 400): below the range, the lower 60 % of it, around the
    target (within 40 % of the range's half-widths), the upper 60 %, above the range.  The last
    bound reaches the largest value, so every value falls in a class.
    """
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    below, above = min(float(below_pct), -1.0), max(float(above_pct), 1.0)
    top = max(float(data.max()) if data.size else above, above)
    edges = [below, 0.4 * below, 0.4 * above, above]
    return [float(round(e, 1)) for e in edges] + [float(math.ceil(top * 10) / 10)]


def colour(value: Any, bounds: Sequence[float], palette: Sequence[str] = PALETTE) -> str:
    """The palette colour of ``value`` for class upper bounds ``bounds``; grey when missing."""
    if value is None or not math.isfinite(float(value)):
        return MISSING
    for i, upper in enumerate(bounds):
        if float(value) <= upper:
            return palette[min(i, len(palette) - 1)]
    return palette[-1]


#: Fill of grids with no value (no incidents closed, say).
MISSING = "#cccccc"


def legend(
    bounds: Sequence[float], palette: Sequence[str] = PALETTE
) -> list[tuple[str, float | None, float]]:
    """The legend rows: ``(colour, lower bound or None, upper bound)``."""
    rows = []
    lower = None
    for i, upper in enumerate(bounds):
        rows.append((palette[i], lower, upper))
        lower = upper
    return rows


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, width: int = 360, height: int = 140
) -> str:
    """A small inline SVG bar chart (no script, no outside file): one bar per label.

    Each bar carries a ``<title>`` (the label and the value, shown on hover) and the chart has
    ``role="img"`` with a summary for screen readers.
    """
    top = max([float(v) for v in values] + [1.0])
    count = max(len(values), 1)
    left, bottom, gap = 28, 22, 2
    bar = (width - left) / count
    summary = ", ".join(f"{a}: {float(b):g}" for a, b in zip(labels, values, strict=True))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gm-chart" viewBox="0 0 {width} '
        f'{height}" role="img" aria-label="{escape(summary)}">',
        f'<text x="0" y="10" class="gm-chart-axis">{top:g}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'stroke="#999"/>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (height - bottom - 12) * float(value) / top
        x = left + i * bar
        y = height - bottom - h
        parts.append(
            f'<rect x="{x + gap / 2:.1f}" y="{y:.1f}" width="{bar - gap:.1f}" height="{h:.1f}" '
            f'fill="#1f4e79"><title>{escape(str(label))}: {float(value):g}</title></rect>'
        )
        if i % max(1, count // 6) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" text-anchor="middle" '
                f'class="gm-chart-axis">{escape(str(label))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def overview_map(
    grids: gpd.GeoDataFrame,
    street: gpd.GeoDataFrame | None,
    communities: gpd.GeoDataFrame | None,
    *,
    tiles: str,
    attribution: str,
    labels: dict[str, str],
    bounds: Sequence[float],
    measure: str = "households",
    decimals: int = 0,
    palette: Sequence[str] = PALETTE,
    link: str | None = None,
) -> folium.Map:
    """The overview: street outline, community lines and grids coloured by ``measure``.

    Parameters
    ----------
    grids
        Grids for display (lon/lat) with ``code``, ``community_name``, ``households``,
        ``persons``, ``open_incidents``, ``member`` (optional) and the ``measure`` column.
    street, communities
        The outlines (lon/lat), or ``None`` when the workspace lacks them.
    tiles, attribution
        The base map (see :func:`check_tiles`).
    labels
        Translated labels: ``grids``, ``communities``, ``street`` (layer names), ``measure``
        and the tooltip fields ``code``, ``community``, ``member``, ``households``,
        ``persons``, ``open_incidents``.
    bounds, palette
        Upper bounds of the classes of the measure (:func:`classes`) and their colours.
    measure, decimals
        The column grids are coloured by, and the decimals its values are shown with.
    link
        URL of a grid's page with ``CODE`` where the code goes: a click on a grid opens it.
    """
    extent = (street if street is not None and not street.empty else grids).total_bounds
    m = base_map(extent, tiles, attribution)
    fields = ["code", "community_name", "member", "households", "persons", "open_incidents"]
    keys = ["code", "community", "member", "households", "persons", "open_incidents"]
    fields = [f for f in fields if f in grids]
    keys = [k for k, f in zip(keys, fields, strict=False) if f in grids]
    data = grids[[*fields, "geometry"]].copy()
    values = grids[measure].to_numpy(dtype=float)
    data["value"] = [None if not math.isfinite(v) else round(v, decimals) for v in values]
    data["fill"] = [colour(v, bounds, palette) for v in values]
    tooltip_fields = [*fields, "value"] if measure not in fields else fields
    aliases = [labels[k] for k in keys] + ([labels["measure"]] if measure not in fields else [])
    on_click = None
    if link is not None:
        on_click = JsCode(
            "function (feature, layer) { layer.on('click', function () {"
            f" window.location.href = {link!r}.replace('CODE', feature.properties.code); }});"
            " }"
        )
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
        tooltip=folium.GeoJsonTooltip(fields=tooltip_fields, aliases=aliases),
        on_each_feature=on_click,
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
