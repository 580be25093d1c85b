"""Metrics of a plan: balance, compactness, contiguity, boundary fit and coverage.

The functions here work on any units GeoDataFrame with a label per unit (the grid each unit
belongs to); they know nothing of how the labels were found.  All of them measure in metres, so
the data must be in a metric CRS (see :func:`gridmap.crs.local_metric_crs`).

* :func:`grid_metrics` dissolves the units into one row per grid and measures each grid:
  weight, households/persons/buildings, area, deviation from the target or from the mean of its
  community, Polsby-Popper (``4 pi A / P^2``: 1 for a disc, ``pi / 4`` for a square), convex-hull
  ratio (``A / hull area``), number of polygon parts (1 = contiguous) and boundary fit (the share
  of the grid boundary inside the street that runs within :data:`BOUNDARY_FIT_DISTANCE_M` of a
  road, water body or community line).
* :func:`plan_summary` condenses that table into the numbers a street office checks: contiguity,
  balance, compactness, gaps and overlaps.
* :func:`buildings_split` lists the buildings cut between grids (a good plan has none).
* :func:`barrier_crossings` tells, from the unit graph, which grids hold households on both
  sides of the river or of an arterial road.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError

__all__ = [
    "BOUNDARY_FIT_DISTANCE_M",
    "EDGE_TOLERANCE_M",
    "PART_MIN_SHARE",
    "barrier_crossings",
    "buildings_split",
    "grid_metrics",
    "plan_summary",
]

#: A grid boundary "follows" a road, river or community line when it runs within this distance.
BOUNDARY_FIT_DISTANCE_M = 5.0
#: Grid boundary within this distance of the street's outer edge is the street edge, not a line
#: drawn by the plan, and is left out of the boundary fit.
EDGE_TOLERANCE_M = 0.1
#: A polygon part smaller than this share of its grid's area (a numerical sliver) is not counted
#: as a separate part.
PART_MIN_SHARE = 1e-6

#: Columns summed per grid when the units carry them.
COUNT_COLUMNS = ("households", "persons", "buildings")

_POLYGON = 3
_MULTIPOLYGON = 6


def _require_metric(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """Raise :class:`InputError` unless ``gdf`` is in a projected (metric) CRS."""
    crs = gdf.crs
    if crs is None:
        raise InputError(
            f"the {what} have no coordinate reference system, so areas and lengths are unknown.",
            fix="set the CRS (gdf.set_crs(...)) and project to metres, e.g. "
            "gdf.to_crs(gridmap.crs.local_metric_crs(gdf)).",
        )
    if crs.is_geographic:
        raise InputError(
            f"the {what} are in a geographic CRS ({crs.to_string()}), in degrees, "
            "but metrics are measured in metres.",
            fix="project them first: gdf.to_crs(gridmap.crs.local_metric_crs(gdf)).",
        )


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygons of ``geom`` (a union may come back as a collection holding lines)."""
    if geom is None or shapely.get_type_id(geom) in (_POLYGON, _MULTIPOLYGON):
        return geom
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (_POLYGON, _MULTIPOLYGON))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()


#: Holes and polygon parts of a dissolved grid smaller than this (m²) are numerical slivers
#: (units digitised with hairline gaps): holes are filled and parts dropped.
SLIVER_M2 = 1.0


def _without_slivers(geom: BaseGeometry) -> BaseGeometry:
    """``geom`` without holes or parts under :data:`SLIVER_M2` (its largest part is kept)."""
    if geom is None or shapely.is_empty(geom):
        return geom
    parts = shapely.get_parts(geom)
    kept = []
    for poly in parts:
        if shapely.get_type_id(poly) != _POLYGON:
            continue
        holes = [r for r in poly.interiors if shapely.area(shapely.Polygon(r)) >= SLIVER_M2]
        if len(holes) != len(poly.interiors):
            poly = shapely.Polygon(poly.exterior, holes)
        kept.append(poly)
    if not kept:
        return geom
    big = [p for p in kept if shapely.area(p) >= SLIVER_M2] or [max(kept, key=shapely.area)]
    if len(big) == 1:
        return big[0] if len(parts) > 1 or big[0] is not parts[0] else geom
    return shapely.MultiPolygon(big)


def _dissolve(geoms: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Union the geometries of each label code ``0..k-1``: one (multi)polygon each, no slivers.

    Holes and parts under :data:`SLIVER_M2` are left out.
    """
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    out = np.empty(k, dtype=object)
    for g in range(k):
        members = geoms[order[bounds[g] : bounds[g + 1]]]
        merged = members[0] if len(members) == 1 else _polygonal(shapely.union_all(members))
        out[g] = _without_slivers(merged)
    return out


def _count_parts(grids: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Number of polygon parts per grid, not counting slivers below :data:`PART_MIN_SHARE`."""
    parts, owner = shapely.get_parts(grids, return_index=True)
    keep = shapely.area(parts) >= PART_MIN_SHARE * areas[owner]
    keep &= shapely.area(parts) > 0
    return np.bincount(owner[keep], minlength=len(grids)).astype(np.int64)


def _line_geometries(lines: gpd.GeoDataFrame | gpd.GeoSeries, crs: Any) -> np.ndarray:
    """The geometries of ``lines`` in ``crs``, polygons turned into their outlines."""
    if lines.crs is not None and crs is not None and lines.crs != crs:
        lines = lines.to_crs(crs)
    geoms = np.asarray(lines.geometry.to_numpy() if hasattr(lines, "geometry") else lines)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    polygonal = np.isin(shapely.get_type_id(geoms), (_POLYGON, _MULTIPOLYGON))
    geoms = geoms.copy()
    geoms[polygonal] = shapely.boundary(geoms[polygonal])
    linear = np.isin(shapely.get_type_id(geoms), (1, 2, 5))  # (Multi)LineString, LinearRing
    return geoms[linear]


def line_zone(lines: gpd.GeoDataFrame | gpd.GeoSeries, crs: Any) -> BaseGeometry | None:
    """The zone within the boundary-fit distance of roads, water and community lines.

    Build it once and pass it as ``lines`` to :func:`grid_metrics` to measure many plans of the
    same street without buffering the lines each time.
    """
    geoms = _line_geometries(lines, crs)
    if not len(geoms):
        return None
    # Buffering one big noded network is slow; buffering its merged pieces and uniting the
    # buffers gives the same zone several times faster.
    network = shapely.line_merge(shapely.union_all(geoms))
    pieces = shapely.buffer(shapely.get_parts(network), BOUNDARY_FIT_DISTANCE_M, quad_segs=4)
    zone = shapely.union_all(pieces)
    shapely.prepare(zone)
    return zone


def _boundary_fit(grids: np.ndarray, near: BaseGeometry | None) -> np.ndarray:
    """Share of each grid's inner boundary that runs inside ``near`` (NaN: none inside)."""
    street = shapely.union_all(grids)
    edge = shapely.buffer(shapely.boundary(street), EDGE_TOLERANCE_M)
    inner = shapely.difference(shapely.boundary(grids), edge)
    inner_length = shapely.length(inner)
    if near is not None:
        fitted = shapely.length(shapely.intersection(inner, near))
    else:
        fitted = np.zeros(len(grids))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(inner_length > 0, fitted / inner_length, np.nan)
    return np.clip(share, 0.0, 1.0)


def grid_metrics(
    units: gpd.GeoDataFrame,
    labels: np.ndarray,
    *,
    weight: str = "households",
    target: float | None = None,
    lines: gpd.GeoDataFrame | BaseGeometry | None = None,
    group_column: str | None = "community",
) -> gpd.GeoDataFrame:
    """Dissolve units into grids and measure every grid.

    Parameters
    ----------
    units
        Unit polygons in a metric CRS, with a numeric ``weight`` column.
    labels
        The grid of every unit, in unit order (any sortable values, usually ints ``0..K-1``).
    weight
        The column balanced between grids (``households``, ``persons``, ``Population``...).
    target
        The intended weight per grid.  ``deviation`` is relative to it; when ``None`` it is
        relative to the mean weight of the grids of the same group.
    lines
        Roads, water and community boundaries (lines or polygons, whose outlines are used), or
        their zone from :func:`line_zone`, for ``boundary_fit``.  ``None`` leaves
        ``boundary_fit`` NaN.
    group_column
        The units' column of the group (community) grids nest in, or ``None`` for one group.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per label, sorted by label, in the units' CRS, with columns ``label``,
        ``group`` (the most common group of its units; ``""`` without groups), ``units``
        (number of units), ``weight`` and, when the units have them, ``households``,
        ``persons`` and ``buildings``; ``area_m2``, ``deviation`` (``weight / reference - 1``),
        ``deviation_from_group_mean``, ``polsby_popper``, ``hull_ratio``, ``parts``,
        ``boundary_fit`` (NaN without lines, or for a grid with no boundary inside the street)
        and the dissolved ``geometry``.

    Raises
    ------
    InputError
        When the units are not in a metric CRS, the labels do not match the units, or a named
        column is missing.
    """
    _require_metric(units, "units")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(units):
        raise InputError(
            f"got {labels.size} labels for {len(units)} units.",
            fix="pass exactly one label (grid) per unit, in the units' row order.",
        )
    if weight not in units.columns:
        raise InputError(
            f"the units have no column {weight!r} to weigh grids by.",
            fix=f"choose one of: {', '.join(map(str, units.columns))}.",
        )
    if group_column is not None and group_column not in units.columns:
        raise InputError(
            f"the units have no group column {group_column!r}.",
            fix="name the column of communities, or pass group_column=None for no nesting.",
        )
    if target is not None and not target > 0:
        raise InputError(f"target must be positive, not {target!r}.", fix="give a target > 0.")

    keys, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    k = len(keys)
    weights = pd.to_numeric(units[weight], errors="coerce").fillna(0).to_numpy(dtype=float)
    table: dict[str, Any] = {"label": keys}

    if group_column is None:
        groups = np.full(k, "", dtype=object)
    else:
        unit_groups = units[group_column].astype("string").fillna("").to_numpy(dtype=object)
        names, group_codes = np.unique(unit_groups.astype(str), return_inverse=True)
        counts = np.bincount(codes * len(names) + group_codes.ravel(), minlength=k * len(names))
        # the most common group of the grid's units (ties: the first name in sorted order)
        winner = counts.reshape(k, len(names)).argmax(axis=1) if k else np.empty(0, dtype=int)
        groups = names.astype(object)[winner]
    table["group"] = groups
    table["units"] = np.bincount(codes, minlength=k)
    table["weight"] = np.bincount(codes, weights=weights, minlength=k)
    for column in COUNT_COLUMNS:
        if column in units.columns:
            values = pd.to_numeric(units[column], errors="coerce").fillna(0).to_numpy()
            sums = np.bincount(codes, weights=values.astype(float), minlength=k)
            if np.issubdtype(values.dtype, np.integer):
                sums = np.rint(sums).astype(np.int64)
            table[column] = sums

    geoms = _dissolve(units.geometry.to_numpy(), codes, k)
    area = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    hull = shapely.area(shapely.convex_hull(geoms))
    group_mean = pd.Series(table["weight"]).groupby(groups).transform("mean").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        from_group = np.where(group_mean > 0, table["weight"] / group_mean - 1.0, np.nan)
        table["area_m2"] = area
        table["deviation"] = table["weight"] / target - 1.0 if target else from_group
        table["deviation_from_group_mean"] = from_group
        table["polsby_popper"] = np.where(perimeter > 0, 4 * math.pi * area / perimeter**2, 0.0)
        table["hull_ratio"] = np.where(hull > 0, np.minimum(area / hull, 1.0), 0.0)
    table["parts"] = _count_parts(geoms, area)
    if lines is None:
        table["boundary_fit"] = np.full(k, np.nan)
    else:
        zone = lines if isinstance(lines, BaseGeometry) else line_zone(lines, units.crs)
        table["boundary_fit"] = _boundary_fit(geoms, zone)
    return gpd.GeoDataFrame(table, geometry=geoms, crs=units.crs)


def _nan_stat(values: pd.Series | None, how: str) -> float:
    """``mean``/``min``/``max`` of the finite values, NaN when there are none."""
    if values is None:
        return math.nan
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    if not len(array):
        return math.nan
    return float(getattr(np, how)(array))


def _overlap_area(geoms: np.ndarray) -> float:
    """Total area shared by two grids, summed over all pairs of grids."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pair = left < right
    if not pair.any():
        return 0.0
    shared = shapely.intersection(geoms[left[pair]], geoms[right[pair]])
    return float(shapely.area(shared).sum())


def plan_summary(
    grids: gpd.GeoDataFrame,
    *,
    street: BaseGeometry | None = None,
    min_weight: float | None = None,
    max_weight: float | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """Condense the table of :func:`grid_metrics` into plan-level metrics.

    Parameters
    ----------
    grids
        The output of :func:`grid_metrics` (one row per grid, metric CRS).
    street
        The street polygon, in the grids' CRS.  Without it, gaps are the holes enclosed by the
        grids.
    min_weight, max_weight
        The allowed weight range per grid; ``in_range_share`` is NaN when neither is given.
    buildings
        Building footprints (any CRS): ``buildings_split`` counts those divided between grids
        (see :func:`buildings_split`); NaN without them.

    Returns
    -------
    dict
        ``grids`` (count), ``contiguous_share`` (share of grids in one part), ``in_range_share``,
        ``max_abs_deviation``, ``max_abs_deviation_from_group_mean``, ``mean_polsby_popper``,
        ``min_polsby_popper``, ``mean_hull_ratio``, ``mean_boundary_fit`` (NaN-aware means),
        ``buildings_split`` (must be 0), ``grids_crossing_water`` and
        ``grids_crossing_arterial`` (grids with land on both sides of the river or of an
        arterial road, from the ``crosses_water`` / ``crosses_arterial`` columns when the table
        has them, see :func:`barrier_crossings`; NaN otherwise), ``gap_m2`` (street area no
        grid covers, or holes inside the grids without a street), ``overlap_m2`` (area shared
        by two grids, summed over pairs) and ``outside_m2`` (grid area outside the street; NaN
        without a street).

    Raises
    ------
    InputError
        When the grids are not in a metric CRS.
    """
    _require_metric(grids, "grids")
    n = len(grids)
    weight = grids["weight"].to_numpy(dtype=float) if "weight" in grids else None
    if weight is None or (min_weight is None and max_weight is None) or n == 0:
        in_range = math.nan
    else:
        low = -np.inf if min_weight is None else min_weight
        high = np.inf if max_weight is None else max_weight
        in_range = float(((weight >= low) & (weight <= high)).mean())
    parts = grids.get("parts")

    geoms = grids.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    cover = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
    if street is not None:
        gap = float(shapely.area(shapely.difference(street, cover)))
        outside = float(shapely.area(shapely.difference(cover, street)))
    else:
        holes = [shapely.Polygon(ring) for ring in _interior_rings(cover)]
        gap = float(shapely.area(shapely.union_all(holes))) if holes else 0.0
        outside = math.nan

    deviation = grids.get("deviation")
    from_group = grids.get("deviation_from_group_mean")
    split = math.nan
    if buildings is not None:
        split = len(buildings_split(buildings, grids)) if n else 0
    crossing = {
        f"grids_crossing_{name}": (
            int(grids[f"crosses_{name}"].astype(bool).sum())
            if f"crosses_{name}" in grids
            else math.nan
        )
        for name in ("water", "arterial")
    }
    return {
        "grids": n,
        "contiguous_share": float((parts == 1).mean()) if parts is not None and n else math.nan,
        "in_range_share": in_range,
        "max_abs_deviation": _nan_stat(None if deviation is None else deviation.abs(), "max"),
        "max_abs_deviation_from_group_mean": _nan_stat(
            None if from_group is None else from_group.abs(), "max"
        ),
        "mean_polsby_popper": _nan_stat(grids.get("polsby_popper"), "mean"),
        "min_polsby_popper": _nan_stat(grids.get("polsby_popper"), "min"),
        "mean_hull_ratio": _nan_stat(grids.get("hull_ratio"), "mean"),
        "mean_boundary_fit": _nan_stat(grids.get("boundary_fit"), "mean"),
        "buildings_split": split,
        **crossing,
        "gap_m2": gap,
        "overlap_m2": _overlap_area(geoms) if len(geoms) > 1 else 0.0,
        "outside_m2": outside,
    }


def _interior_rings(geom: BaseGeometry) -> list[BaseGeometry]:
    """The holes of every polygon of ``geom``."""
    rings = []
    for poly in shapely.get_parts(geom):
        if shapely.get_type_id(poly) == _POLYGON:
            rings.extend(poly.interiors)
    return rings


def buildings_split(
    buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, tolerance: float = 0.01
) -> np.ndarray:
    """Positions of the buildings whose footprint is divided between grids.

    A building counts as split when the part of its footprint lying in grids other than the
    one holding most of it exceeds ``tolerance`` of its area.  Parts outside every grid do not
    count (that is a coverage gap, see :func:`plan_summary`).

    Parameters
    ----------
    buildings
        Building footprints (polygons); reprojected to the grids' CRS when they differ.
    grids
        Grid polygons in a metric CRS (e.g. the output of :func:`grid_metrics`).
    tolerance
        Share of a footprint that may lie in other grids (drawing slivers) before it counts.

    Returns
    -------
    numpy.ndarray
        Zero-based row positions (int64, ascending) of the split buildings; empty for a good
        plan.

    Raises
    ------
    InputError
        When the grids are not in a metric CRS.
    """
    _require_metric(grids, "grids")
    if buildings.crs is not None and buildings.crs != grids.crs:
        buildings = buildings.to_crs(grids.crs)
    footprints = buildings.geometry.to_numpy()
    cells = grids.geometry.to_numpy()
    if not len(footprints) or not len(cells):
        return np.empty(0, dtype=np.int64)
    tree = shapely.STRtree(cells)
    b, g = tree.query(footprints, predicate="intersects")
    if not len(b):
        return np.empty(0, dtype=np.int64)
    shared = shapely.area(shapely.intersection(footprints[b], cells[g]))
    total = np.bincount(b, weights=shared, minlength=len(footprints))
    largest = np.zeros(len(footprints))
    np.maximum.at(largest, b, shared)
    area = shapely.area(footprints)
    split = (total - largest) > tolerance * area
    return np.flatnonzero(split).astype(np.int64)


def barrier_crossings(
    graph: Any, labels: np.ndarray, land: np.ndarray, barriers: Any
) -> np.ndarray:
    """Which grids hold land on two sides of a barrier (the river, an arterial road).

    A grid crosses a barrier class when its land units, linked by the grid's own unit-graph
    edges *other than* those running along that class, fall into more pieces than when all
    its edges count: some of its land is reached from the rest only across the barrier.
    Units that are not land (the water itself) do not count, so a grid taking in a piece of
    the river does not cross it; a park or a block on the far bank does.

    Parameters
    ----------
    graph
        The unit graph (:class:`gridmap.graph.UnitGraph`: ``n``, ``edges``, ``barrier``).
    labels
        ``(n,)`` grid index 0..K-1 of every unit.
    land
        ``(n,)`` bool: the units that count (all but the water units of a street).
    barriers
        One ``BARRIER_*`` class or several (:mod:`gridmap.graph`).

    Returns
    -------
    numpy.ndarray
        ``(K,)`` bool, True for the grids that cross.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.asarray(labels, dtype=np.int64)
    land = np.asarray(land, dtype=bool)
    n = int(graph.n)
    k = int(labels.max()) + 1 if labels.size else 0
    edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
    inside = labels[edges[:, 0]] == labels[edges[:, 1]]
    across = np.isin(np.asarray(graph.barrier), np.atleast_1d(barriers))

    def pieces(keep: np.ndarray) -> np.ndarray:
        e = edges[keep]
        mat = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        _, comp = connected_components(mat, directed=False)
        grid_of_piece = np.zeros(comp.max() + 1 if n else 0, dtype=np.int64)
        grid_of_piece[comp] = labels
        counted = np.unique(comp[land])
        return np.bincount(grid_of_piece[counted], minlength=k)

    if k == 0:
        return np.zeros(0, dtype=bool)
    return pieces(inside & ~across) > pieces(inside)
