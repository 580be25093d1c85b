"""Where incidents cluster: hexagon counts, grid adjacency, Getis-Ord Gi* hot spots.

The web app's incident page draws "heat" computed here on the server, so raw incident points
need not leave it:

- :func:`hex_bins` counts points in a regular hexagon lattice (the lattice is anchored at the
  origin of the local metric CRS, so week-by-week maps of one street line up exactly);
- :func:`grid_adjacency` finds which grids touch (queen contiguity, corners included);
- :func:`getis_ord_gi_star` scores each grid's neighbourhood against the whole street;
- :func:`grid_hotspots` puts the two together for a plan's grids and per-grid counts;
- :func:`monthly_counts` gives a zero-filled month-by-month series for a small chart.

Everything is vectorised with numpy, shapely and scipy: no Python loop runs per point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from scipy import sparse
from scipy.stats import norm

from gridmap.crs import WGS84, local_metric_crs
from gridmap.errors import InputError
from gridmap.incidents import _times

__all__ = [
    "HOTSPOT_CLASSES",
    "getis_ord_gi_star",
    "grid_adjacency",
    "grid_hotspots",
    "hex_bins",
    "hexagon_area_m2",
    "monthly_counts",
]

#: Hot spot classes from hottest to coldest (a map legend can follow this order).
HOTSPOT_CLASSES = (
    "hot 99%",
    "hot 95%",
    "hot 90%",
    "not significant",
    "cold 90%",
    "cold 95%",
    "cold 99%",
)

#: Two-sided critical z-scores of the 99%, 95% and 90% confidence levels (as in ArcGIS Pro's
#: Hot Spot Analysis ``Gi_Bin``).
_Z_LEVELS = ((2.576, "99%"), (1.960, "95%"), (1.645, "90%"))

_SQRT3 = math.sqrt(3.0)

#: Columns of :func:`hex_bins`' result, before ``geometry``.
_HEX_COLUMNS = ("q", "r", "count", "density_per_km2", "share")


# ------------------------------------------------------------------ hexagon bins


def hexagon_area_m2(size_m: float) -> float:
    """Area of one hexagon of :func:`hex_bins`: ``sqrt(3) / 2 * size_m ** 2``.

    ``size_m`` is the flat-to-flat width (the distance between opposite edges, which is also
    the distance between the centres of neighbouring hexagons); the circumradius (centre to
    corner, also the edge length) is ``size_m / sqrt(3)``.  A 100 m hexagon covers 8,660 m².
    """
    return _SQRT3 / 2.0 * float(size_m) ** 2


def _empty_hexes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "q": pd.Series(dtype="int64"),
            "r": pd.Series(dtype="int64"),
            "count": pd.Series(dtype="float64"),
            "density_per_km2": pd.Series(dtype="float64"),
            "share": pd.Series(dtype="float64"),
        },
        geometry=gpd.GeoSeries([], crs=WGS84),
    )


def _check_size(size_m: float) -> float:
    try:
        size = float(size_m)
    except (TypeError, ValueError):
        size = float("nan")
    if not (math.isfinite(size) and size > 0):
        raise InputError(
            f"size_m={size_m!r} is not a positive number of metres.",
            fix="give the hexagon width in metres, e.g. size_m=100 (street) or 250 (district).",
        )
    return size


def _point_geometries(points: Any) -> gpd.GeoSeries:
    if isinstance(points, gpd.GeoDataFrame):
        return points.geometry
    if isinstance(points, gpd.GeoSeries):
        return points
    raise InputError(
        f"expected a GeoDataFrame of points, got {type(points).__name__}.",
        fix="read the incidents with gridmap.io.read_layer or Workspace.read_layer first.",
    )


def _weights(weights: Any, points: Any, n: int) -> NDArray[np.float64] | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        if not isinstance(points, gpd.GeoDataFrame) or weights not in points.columns:
            raise InputError(
                f"there is no column {weights!r} to weight the points by.",
                fix="name a numeric column of the points, or pass one number per point.",
            )
        weights = points[weights]
    try:
        values = np.asarray(weights, dtype="float64").reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(
            "the weights are not numbers.", fix="pass one number per point (0 or more)."
        ) from exc
    if len(values) != n:
        raise InputError(
            f"there are {len(values)} weights for {n} points.",
            fix="pass exactly one weight per point, in the points' order.",
        )
    return values


def _region(extent: Any, metric: CRS) -> shapely.Geometry | None:
    """The extent as one polygon in the metric CRS (None when there is no extent)."""
    if extent is None:
        return None
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        if extent.crs is None:
            raise InputError(
                "the extent layer has no coordinate reference system (CRS).",
                fix="set the extent's CRS (e.g. extent.set_crs('EPSG:4326')) or pass lon/lat "
                "bounds (minx, miny, maxx, maxy).",
            )
        geoms = extent.geometry if isinstance(extent, gpd.GeoDataFrame) else extent
        region = shapely.union_all(geoms.to_crs(metric).make_valid().to_numpy())
        if region.is_empty or region.area <= 0:
            raise InputError(
                "the extent layer holds no polygon with an area.",
                fix="pass the street boundary (or another polygon layer), or lon/lat bounds.",
            )
        return region
    minx, miny, maxx, maxy = (float(v) for v in extent)
    if not (minx < maxx and miny < maxy):
        raise InputError(
            f"the extent bounds {(minx, miny, maxx, maxy)} are empty.",
            fix="give (minx, miny, maxx, maxy) in lon/lat degrees with min < max.",
        )
    box = shapely.segmentize(shapely.box(minx, miny, maxx, maxy), 0.0005)
    return gpd.GeoSeries([box], crs=WGS84).to_crs(metric).iloc[0]


def _metric_crs(extent: Any, geoms: gpd.GeoSeries) -> CRS:
    if extent is None:
        return local_metric_crs(geoms)
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        return local_metric_crs(extent)
    if isinstance(extent, str) or not isinstance(extent, Sequence | np.ndarray):
        raise InputError(
            f"extent={extent!r} is neither a polygon layer nor lon/lat bounds.",
            fix="pass the street boundary GeoDataFrame or (minx, miny, maxx, maxy) in degrees.",
        )
    if len(extent) != 4:
        raise InputError(
            f"extent has {len(extent)} numbers, not 4.",
            fix="give (minx, miny, maxx, maxy) in lon/lat degrees.",
        )
    return local_metric_crs(extent)


def _axial_round(
    x: NDArray[np.float64], y: NDArray[np.float64], radius: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Axial coordinates (q, r) of the pointy-top hexagon holding each point (cube rounding)."""
    qf = (_SQRT3 / 3.0 * x - y / 3.0) / radius
    rf = (2.0 / 3.0 * y) / radius
    sf = -qf - rf
    q, r, s = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype("int64"), r.astype("int64")


def _hexagons(q: NDArray[np.int64], r: NDArray[np.int64], radius: float) -> NDArray[np.object_]:
    """Pointy-top hexagon polygons of axial cells (q, r), in the metric CRS."""
    cx = radius * _SQRT3 * (q + r / 2.0)
    cy = radius * 1.5 * r
    angles = np.radians(30.0 + 60.0 * np.arange(7))  # 7 corners: the ring closes
    xs = cx[:, None] + radius * np.cos(angles)[None, :]
    ys = cy[:, None] + radius * np.sin(angles)[None, :]
    return shapely.polygons(np.stack([xs, ys], axis=-1))


def hex_bins(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    size_m: float = 100.0,
    extent: gpd.GeoDataFrame | gpd.GeoSeries | Sequence[float] | None = None,
    weights: str | ArrayLike | None = None,
    clip: bool = False,
) -> gpd.GeoDataFrame:
    """Count points in a regular hexagon lattice: server-side "heat" for a map.

    The lattice is built in a local metric CRS (:func:`gridmap.crs.local_metric_crs` of the
    extent, or of the points when there is no extent) and anchored at that CRS's origin, so
    every map of the same street, week after week, uses the very same hexagons (the same
    ``q``, ``r`` and polygon), whatever points fall in them.

    Parameters
    ----------
    points
        Point features (incidents, households...) with a CRS, usually EPSG:4326.  Features with
        no geometry, an empty geometry or NaN coordinates are skipped and counted in
        ``result.attrs["skipped"]``.
    size_m
        Width of a hexagon in metres, measured flat to flat (between opposite edges); it is
        also the distance between neighbouring hexagon centres.  The circumradius (centre to
        corner) is ``size_m / sqrt(3)`` and the area :func:`hexagon_area_m2`
        (``sqrt(3) / 2 * size_m ** 2``: 8,660 m² for 100 m).
    extent
        Optional area of interest: a polygon layer (the street boundary, in any CRS) or
        ``(minx, miny, maxx, maxy)`` in lon/lat degrees.  It chooses the metric CRS (so the
        same extent always gives the same lattice) and points outside it are left out (counted
        in ``result.attrs["outside"]``).
    weights
        Optional weight per point (a column name or one number per point, 0 or more); ``count``
        is then the sum of the weights in each hexagon.
    clip
        When True (and an extent is given), hexagons are cut to the extent and
        ``density_per_km2`` uses the area left inside; otherwise hexagons stay whole.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per hexagon holding at least one point, in EPSG:4326, with columns ``q`` and
        ``r`` (axial coordinates of the hexagon, a stable id), ``count``,
        ``density_per_km2`` (count per km² of the hexagon) and ``share`` (count divided by the
        largest count, 0 to 1, for colouring).  ``attrs`` holds ``skipped``, ``outside``,
        ``size_m``, ``hexagon_area_m2`` and ``metric_crs`` (an authority string such as
        ``"EPSG:32648"``).  No points give an empty frame with the same columns.

    Raises
    ------
    InputError
        If ``points`` is not a GeoDataFrame or GeoSeries, has no CRS or holds other geometries
        than points; if ``size_m``, ``extent`` or ``weights`` cannot be used.

    Examples
    --------
    >>> heat = hex_bins(incidents, size_m=150, extent=layers["street"])  # doctest: +SKIP
    >>> heat.to_json()  # GeoJSON for Leaflet, coloured by "share"  # doctest: +SKIP
    """
    size = _check_size(size_m)
    radius = size / _SQRT3
    geoms = _point_geometries(points)
    n = len(geoms)
    w = _weights(weights, points, n)
    if n and geoms.crs is None:
        raise InputError(
            "the points have no coordinate reference system (CRS).",
            fix="set it, e.g. points.set_crs('EPSG:4326'), for longitude/latitude data.",
        )
    raw = geoms.to_numpy()
    valid = ~(shapely.is_missing(raw) | shapely.is_empty(raw))
    kinds = shapely.get_type_id(raw[valid])
    if np.any(kinds != 0):
        raise InputError(
            "hex_bins counts points, but the layer holds "
            f"{int(np.sum(kinds != 0))} other geometries (lines, polygons or multipoints).",
            fix="pass point features (for multipoints: points.explode(); for polygons: their "
            "representative_point()).",
        )
    if w is not None:
        bad_w = valid & ~(np.isfinite(w) & (w >= 0))
        if bad_w.any():
            raise InputError(
                f"{int(bad_w.sum())} weights are negative or not numbers.",
                fix="give every point a weight of 0 or more (fill missing weights with 0).",
            )

    attrs: dict[str, Any] = {
        "skipped": 0,
        "outside": 0,
        "size_m": size,
        "hexagon_area_m2": hexagon_area_m2(size),
        "metric_crs": None,
    }
    with np.errstate(invalid="ignore"):
        valid[valid] = np.isfinite(shapely.get_x(raw[valid])) & np.isfinite(
            shapely.get_y(raw[valid])
        )
    if valid.any():
        metric = _metric_crs(extent, geoms[valid])
        xy = shapely.get_coordinates(geoms[valid].to_crs(metric).to_numpy())
        x, y = xy[:, 0], xy[:, 1]
    else:
        metric = None if extent is None else _metric_crs(extent, geoms)
        x = y = np.empty(0)
    attrs["skipped"] = int(n - valid.sum())
    attrs["metric_crs"] = None if metric is None else metric.to_string()

    region = _region(extent, metric) if metric is not None else None
    if region is not None and len(x):
        shapely.prepare(region)
        inside = shapely.intersects_xy(region, x, y)
        attrs["outside"] = int((~inside).sum())
        idx = np.flatnonzero(valid)[inside]
        valid[:] = False
        valid[idx] = True
        x, y = x[inside], y[inside]

    if len(x) == 0:
        frame = _empty_hexes()
        frame.attrs.update(attrs)
        return frame

    q, r = _axial_round(x, y, radius)
    cells, inverse = np.unique(np.stack([q, r], axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(
        inverse, weights=None if w is None else w[valid], minlength=len(cells)
    ).astype("float64")
    polygons = _hexagons(cells[:, 0], cells[:, 1], radius)
    areas = np.full(len(cells), hexagon_area_m2(size))
    if clip and region is not None:
        polygons = shapely.intersection(polygons, region)
        areas = shapely.area(polygons)
    top = counts.max()
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(areas > 0, counts / (areas / 1e6), np.nan)
    frame = gpd.GeoDataFrame(
        {
            "q": cells[:, 0].astype("int64"),
            "r": cells[:, 1].astype("int64"),
            "count": counts,
            "density_per_km2": density,
            "share": counts / top if top > 0 else np.zeros(len(cells)),
        },
        geometry=gpd.GeoSeries(polygons, crs=metric),
    ).to_crs(WGS84)
    frame.attrs.update(attrs)
    return frame


# ------------------------------------------------------------------ adjacency


def _metric_polygons(grids: gpd.GeoDataFrame | gpd.GeoSeries) -> NDArray[np.object_]:
    geoms = grids.geometry if isinstance(grids, gpd.GeoDataFrame) else grids
    if not isinstance(geoms, gpd.GeoSeries):
        raise InputError(
            f"expected a GeoDataFrame of grid polygons, got {type(grids).__name__}.",
            fix="pass plan.grids (or the grids layer read from the workspace).",
        )
    if len(geoms) and geoms.crs is None:
        raise InputError(
            "the grids have no coordinate reference system (CRS).",
            fix="set it, e.g. grids.set_crs('EPSG:4326'), before computing neighbours.",
        )
    raw = geoms.to_numpy()
    missing = np.flatnonzero(shapely.is_missing(raw) | shapely.is_empty(raw))
    if len(missing):
        raise InputError(
            "some grids have no geometry.",
            rows=missing.tolist(),
            fix="repair or drop those grids (each grid needs its polygon).",
        )
    if len(geoms) == 0:
        return raw
    crs = geoms.crs
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if not (crs.is_projected and unit in ("metre", "meter")):
        geoms = geoms.to_crs(local_metric_crs(geoms))
    return geoms.to_numpy()


def grid_adjacency(
    grids: gpd.GeoDataFrame | gpd.GeoSeries, *, tolerance_m: float = 0.5
) -> sparse.csr_array:
    """Which grids touch each other (queen contiguity: a shared edge or a shared corner).

    Parameters
    ----------
    grids
        Grid polygons in any CRS (geographic ones are measured in a local metric CRS).
    tolerance_m
        Polygons closer than this many metres count as touching, so slivers and tiny gaps
        left by digitising or reprojection do not break contiguity.

    Returns
    -------
    scipy.sparse.csr_array
        A symmetric ``n`` x ``n`` 0/1 matrix (int8) in the grids' row order, with an empty
        diagonal.  The neighbours of grid ``i`` are
        ``m.indices[m.indptr[i]:m.indptr[i + 1]]`` (sorted), and ``m.sum(axis=1)`` counts them.

    Raises
    ------
    InputError
        If the grids have no CRS, a grid has no geometry or the tolerance is negative.
    """
    try:
        tol = float(tolerance_m)
    except (TypeError, ValueError):
        tol = float("nan")
    if not (math.isfinite(tol) and tol >= 0):
        raise InputError(
            f"tolerance_m={tolerance_m!r} is not a distance of 0 metres or more.",
            fix="leave the default (0.5 m) or give a small distance in metres.",
        )
    geoms = _metric_polygons(grids)
    n = len(geoms)
    if n == 0:
        return sparse.csr_array((0, 0), dtype="int8")
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=tol)
    off = left != right
    left, right = left[off], right[off]
    rows = np.concatenate([left, right])
    cols = np.concatenate([right, left])
    matrix = sparse.coo_array(
        (np.ones(len(rows), dtype="int8"), (rows, cols)), shape=(n, n)
    ).tocsr()
    matrix.data[:] = 1  # pairs found twice (once from each side) sum to 2
    matrix.sort_indices()
    return matrix


# ------------------------------------------------------------------ Getis-Ord Gi*


def _neighbour_matrix(neighbours: Any, n: int) -> sparse.csr_array:
    """Binary weights with the focal unit included (w_ii = 1), as a CSR array."""
    if sparse.issparse(neighbours):
        if neighbours.shape != (n, n):
            raise InputError(
                f"the neighbour matrix is {neighbours.shape[0]} x {neighbours.shape[1]} for "
                f"{n} values.",
                fix="compute the neighbours of the same grids, in the same order, as the values.",
            )
        w = sparse.csr_array(neighbours, dtype="float64")
    else:
        try:
            lists = [np.asarray(ids, dtype="int64").reshape(-1) for ids in neighbours]
        except (TypeError, ValueError) as exc:
            raise InputError(
                "the neighbours are neither a sparse matrix nor lists of row numbers.",
                fix="pass grid_adjacency(grids) or one array of neighbour row numbers per value.",
            ) from exc
        if len(lists) != n:
            raise InputError(
                f"there are neighbour lists for {len(lists)} units but {n} values.",
                fix="give one list of neighbours per value, in the same order.",
            )
        sizes = np.array([len(ids) for ids in lists], dtype="int64")
        cols = np.concatenate(lists) if lists else np.empty(0, dtype="int64")
        if len(cols) and (cols.min() < 0 or cols.max() >= n):
            raise InputError(
                f"a neighbour row number is outside 0..{n - 1}.",
                fix="neighbour lists must hold row positions (0-based) of the same values.",
            )
        rows = np.repeat(np.arange(n), sizes)
        w = sparse.csr_array((np.ones(len(cols)), (rows, cols)), shape=(n, n))
    w = w.tolil()
    w.setdiag(0)
    w = sparse.csr_array(w)
    w.eliminate_zeros()
    w.data[:] = 1.0
    return sparse.csr_array(w + sparse.eye_array(n, format="csr"))


def _classify(z: NDArray[np.float64]) -> NDArray[np.object_]:
    labels = np.full(len(z), "not significant", dtype=object)
    with np.errstate(invalid="ignore"):
        for critical, level in reversed(_Z_LEVELS):  # 90% first, 99% last: strongest wins
            labels[z > critical] = f"hot {level}"
            labels[z < -critical] = f"cold {level}"
    return labels


def _permutation_p(
    x: NDArray[np.float64],
    w: sparse.csr_array,
    observed: NDArray[np.float64],
    permutations: int,
    seed: int | None,
) -> NDArray[np.float64]:
    """Conditional-permutation pseudo p-values (as in esda): x_i stays, neighbours are drawn."""
    n = len(x)
    k = np.diff(w.indptr) - 1  # neighbours without the focal unit
    kmax = int(k.max()) if n else 0
    if kmax == 0:
        return np.full(n, np.nan)
    rng = np.random.default_rng(seed)
    draws = np.argsort(rng.random((permutations, n - 1)), axis=1)[:, :kmax]
    used = np.arange(kmax)[None, :] < k[:, None]  # (n, kmax)
    p = np.empty(n)
    chunk = max(1, 4_000_000 // max(1, permutations * kmax))
    for start in range(0, n, chunk):
        ids = np.arange(start, min(n, start + chunk))
        picks = draws[None, :, :] + (draws[None, :, :] >= ids[:, None, None])  # skip i itself
        sums = (x[picks] * used[ids][:, None, :]).sum(axis=2) + x[ids][:, None]
        at_least = (sums >= observed[ids][:, None]).sum(axis=1)
        at_most = (sums <= observed[ids][:, None]).sum(axis=1)
        p[ids] = (np.minimum(at_least, at_most) + 1.0) / (permutations + 1.0)
    p[k == 0] = np.nan
    return p


def getis_ord_gi_star(
    values: ArrayLike | pd.Series,
    neighbours: sparse.sparray | sparse.spmatrix | Sequence[ArrayLike],
    *,
    permutations: int = 0,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Getis-Ord Gi* hot spot statistic of each unit, with binary weights.

    Gi* compares the sum of the values in a unit's neighbourhood (the unit itself and its
    neighbours, all weighted 1) with what the whole area would give on average::

        Gi* = (sum_j w_ij x_j - X̄ sum_j w_ij)
              / (S sqrt((n sum_j w_ij² - (sum_j w_ij)²) / (n - 1)))

    with ``X̄`` the mean of the ``n`` values and ``S = sqrt(mean(x²) - X̄²)``.  Gi* is a
    z-score: a large positive value is a cluster of high values (a hot spot), a large
    negative one a cluster of low values (a cold spot).

    Parameters
    ----------
    values
        One number per unit (incident counts or rates per grid); no NaN.
    neighbours
        A sparse ``n`` x ``n`` matrix whose non-zero entries mark neighbours (such as
        :func:`grid_adjacency`'s result) or one array of neighbour row numbers per unit.  The
        diagonal is ignored: the focal unit is always included with weight 1.
    permutations
        When above 0, also compute ``p_sim``, a conditional-permutation pseudo p-value: the
        unit's value stays, its neighbours' values are drawn at random from the other units
        ``permutations`` times (999 is usual); ``p_sim = (m + 1) / (permutations + 1)`` with
        ``m`` the draws at least as extreme as observed, on the observed side (as esda does;
        draws tied with the observed sum count as extreme on both sides).
    seed
        Seed of the random draws, so that results repeat.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``values`` (a Series keeps its index), with columns ``value``,
        ``neighbours`` (number, without the unit itself), ``gi_star`` (z-score), ``p_value``
        (two-sided, normal approximation), ``p_sim`` (only with permutations) and ``hotspot``
        (one of :data:`HOTSPOT_CLASSES`, from the z-score: beyond ±2.576 is 99%, ±1.960 95%,
        ±1.645 90%).  ``attrs["note"]`` explains results that could not be computed.

    Raises
    ------
    InputError
        If the values are not finite numbers or the neighbours do not match them.

    Notes
    -----
    With fewer than 3 units, or when every value is the same, there is no pattern to test:
    ``gi_star`` and ``p_value`` are NaN, every unit is "not significant" and ``attrs["note"]``
    says why.  A unit whose neighbourhood is the whole area has a NaN score as well.
    The p-values are not corrected for multiple testing.
    """
    index = values.index if isinstance(values, pd.Series) else None
    try:
        x = np.asarray(values, dtype="float64").reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(
            "the values are not numbers.", fix="pass one number per unit (e.g. counts)."
        ) from exc
    n = len(x)
    bad = np.flatnonzero(~np.isfinite(x))
    if len(bad):
        raise InputError(
            "some values are missing or not finite.",
            rows=bad.tolist(),
            fix="fill missing values (with 0 for counts) or leave those units out.",
        )
    try:
        perms = int(permutations)
    except (TypeError, ValueError):
        perms = -1
    if perms < 0 or perms != permutations:
        raise InputError(
            f"permutations={permutations!r} is not a whole number of 0 or more.",
            fix="use 0 (normal approximation only) or e.g. 999.",
        )
    w = _neighbour_matrix(neighbours, n)
    weight_sum = np.asarray(w.sum(axis=1)).reshape(-1)  # binary: sum w_ij = sum w_ij²
    lag = w @ x
    frame = pd.DataFrame(
        {"value": x, "neighbours": (weight_sum - 1).astype("int64")},
        index=index if index is not None else pd.RangeIndex(n),
    )
    note = ""
    mean = x.mean() if n else float("nan")
    spread = math.sqrt(max(float(np.mean(x**2) - mean**2), 0.0)) if n else float("nan")
    if n < 3:
        note = f"Gi* needs at least 3 units, there are {n}: nothing is tested."
    elif spread <= 1e-12 * max(1.0, abs(mean)):
        note = "every value is the same, so there is no hot or cold spot to find."
    if note:
        z = np.full(n, np.nan)
    else:
        variance = (n * weight_sum - weight_sum**2) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (lag - mean * weight_sum) / (spread * np.sqrt(variance))
        z[variance <= 0] = np.nan
        if np.any(variance <= 0):
            note = "units whose neighbourhood is the whole area cannot be scored (NaN)."
    frame["gi_star"] = z
    frame["p_value"] = 2.0 * norm.sf(np.abs(z))
    if perms > 0:
        frame["p_sim"] = (
            np.full(n, np.nan) if np.isnan(z).all() else _permutation_p(x, w, lag, perms, seed)
        )
    frame["hotspot"] = _classify(z)
    frame.attrs["note"] = note
    return frame


# ------------------------------------------------------------------ grids


def _grid_counts(
    codes: pd.Series, counts: Mapping[Any, float] | pd.Series
) -> tuple[NDArray[np.float64], dict[str, float]]:
    if isinstance(counts, pd.Series):
        series = counts
    elif isinstance(counts, Mapping):
        series = pd.Series(dict(counts), dtype="object")
    else:
        raise InputError(
            f"expected counts per grid code (a dict or Series), got {type(counts).__name__}.",
            fix="pass e.g. incidents.groupby('grid_code').size() or {code: count}.",
        )
    series = series[pd.notna(series.index)]
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna() | (numbers < 0)
    if bad.any():
        shown = ", ".join(str(k) for k in series.index[bad][:5])
        raise InputError(
            f"the counts of grids {shown} are not numbers of 0 or more.",
            fix="give every grid a count of 0 or more (fill missing ones with 0).",
        )
    numbers = numbers.fillna(0.0).astype("float64")
    numbers.index = numbers.index.astype(str)
    numbers = numbers.groupby(level=0).sum()
    known = numbers.index.isin(codes)
    unmatched = {str(k): float(v) for k, v in numbers[~known].items()}
    matched = numbers[known].reindex(codes, fill_value=0.0)
    return matched.to_numpy(dtype="float64"), unmatched


def grid_hotspots(
    grids: gpd.GeoDataFrame,
    counts: Mapping[Any, float] | pd.Series,
    *,
    per_households: bool = False,
    permutations: int = 0,
    seed: int | None = 0,
    tolerance_m: float = 0.5,
) -> gpd.GeoDataFrame:
    """Hot and cold spots of a plan's grids from a count per grid.

    Parameters
    ----------
    grids
        The plan's grid polygons with a unique ``code`` column (``plan.grids`` or the
        workspace's grids layer), in any CRS; with ``per_households``, a ``households`` column.
    counts
        Count per grid code (e.g. incidents of one kind in one month): a mapping or a Series
        indexed by code.  Grids missing from it count 0; codes that are not grids (or missing
        codes, such as unassigned incidents) are left out and listed in
        ``result.attrs["unmatched"]``.
    per_households
        Test the rate per 1,000 households instead of the raw count, so that big grids do not
        look hot only for being big.  Grids without households get a NaN rate, are left out of
        the test and are "not significant".
    permutations, seed
        Passed to :func:`getis_ord_gi_star` (``p_sim`` column when ``permutations`` > 0).
    tolerance_m
        Passed to :func:`grid_adjacency`.

    Returns
    -------
    geopandas.GeoDataFrame
        The grids' ``code`` and geometry (CRS unchanged, in the grids' order) with ``count``,
        ``rate`` (per 1,000 households, with ``per_households`` only), ``neighbours``,
        ``gi_star``, ``p_value``, ``p_sim`` (with permutations) and ``hotspot``.  ``attrs``
        holds ``note``, ``unmatched`` and ``tested`` (which column was tested).

    Raises
    ------
    InputError
        If ``code`` is missing or repeated, ``households`` is missing with
        ``per_households``, or the counts are not numbers of 0 or more.
    """
    if not isinstance(grids, gpd.GeoDataFrame) or "code" not in grids.columns:
        raise InputError(
            "the grids need a 'code' column to match the counts to.",
            fix="pass plan.grids or the workspace's grids layer (they carry 'code').",
        )
    codes = grids["code"].astype(str)
    repeated = codes[codes.duplicated(keep=False)]
    if len(repeated):
        raise InputError(
            f"grid codes repeat: {', '.join(sorted(set(repeated))[:5])}.",
            rows=np.flatnonzero(codes.duplicated(keep=False).to_numpy()).tolist(),
            fix="give each grid its own code (e.g. recode the plan) before mapping hot spots.",
        )
    if per_households and "households" not in grids.columns:
        raise InputError(
            "per_households needs a 'households' column in the grids.",
            fix="pass plan.grids (which has it), or use per_households=False for raw counts.",
        )
    count, unmatched = _grid_counts(codes, counts)
    result = gpd.GeoDataFrame(
        {"code": codes.to_numpy(), "count": count},
        geometry=grids.geometry.to_numpy(),
        crs=grids.crs,
    )
    tested = "count"
    usable = np.ones(len(result), dtype=bool)
    if per_households:
        households = pd.to_numeric(grids["households"], errors="coerce").to_numpy(float)
        usable = np.isfinite(households) & (households > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            result["rate"] = np.where(usable, count / households * 1000.0, np.nan)
        tested = "rate"
    adjacency = grid_adjacency(result, tolerance_m=tolerance_m)
    keep = np.flatnonzero(usable)
    sub = adjacency[keep][:, keep]
    scores = getis_ord_gi_star(
        result[tested].to_numpy()[keep], sub, permutations=permutations, seed=seed
    )
    neighbour_counts = np.asarray(adjacency.sum(axis=1)).reshape(-1).astype("int64")
    result["neighbours"] = neighbour_counts
    columns = ["gi_star", "p_value"] + (["p_sim"] if "p_sim" in scores else [])
    for column in columns:
        result[column] = np.nan
        result.loc[result.index[keep], column] = scores[column].to_numpy()
    result["hotspot"] = "not significant"
    result.loc[result.index[keep], "hotspot"] = scores["hotspot"].to_numpy()
    notes = [scores.attrs.get("note", "")]
    if not usable.all():
        notes.append(f"{int((~usable).sum())} grids without households were not tested.")
    if unmatched:
        notes.append(
            f"{len(unmatched)} codes in the counts are not grids of this plan "
            f"({sum(unmatched.values()):g} in all) and were left out."
        )
    order = ["code", "count"] + (["rate"] if per_households else [])
    order += ["neighbours", *columns, "hotspot", "geometry"]
    result = result[order]
    result.attrs.update(
        {"note": " ".join(n for n in notes if n), "unmatched": unmatched, "tested": tested}
    )
    return result


# ------------------------------------------------------------------ time series


def monthly_counts(
    incidents: pd.DataFrame,
    *,
    months: int = 12,
    end: Any = None,
    column: str = "reported_at",
) -> pd.DataFrame:
    """Incidents per calendar month over the last ``months`` months, zero-filled.

    Parameters
    ----------
    incidents
        Incidents (of one grid, say) with a ``reported_at`` column of datetimes or ISO 8601
        text; aware times are converted to local time.  Rows without a time are skipped and
        counted in ``result.attrs["skipped"]``.
    months
        How many months the series covers (1 or more), ending with the month of ``end``.
    end
        A date in the last month shown; by default the month of the latest incident (or the
        current month when there is none).  Give the same ``end`` to every grid's chart so that
        their axes match.
    column
        The time column to count by (e.g. ``"closed_at"``).

    Returns
    -------
    pandas.DataFrame
        ``months`` rows, oldest first: ``month`` (label such as ``"2025-11"``, as in
        :func:`gridmap.incidents.stats`), ``start`` (first day of the month) and ``count``.
        Incidents outside the window are not counted (``attrs["outside"]``).

    Raises
    ------
    InputError
        If the column is missing, ``months`` is not a whole number of 1 or more or ``end`` is
        not a date.
    """
    if not isinstance(incidents, pd.DataFrame) or column not in incidents.columns:
        raise InputError(
            f"the incidents have no {column!r} column.",
            fix="pass incidents read from the workspace (gridmap.incidents.incidents) or a "
            f"table with a {column!r} column of dates.",
        )
    try:
        count = int(months)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or count != months:
        raise InputError(
            f"months={months!r} is not a whole number of 1 or more.",
            fix="ask for e.g. months=12.",
        )
    times = incidents[column]
    if not pd.api.types.is_datetime64_any_dtype(times) or getattr(times.dt, "tz", None):
        times = _times(times.astype(object).where(times.notna(), None))
    times = times.astype("datetime64[ns]")
    if end is None:
        last = times.max()
        stamp = pd.Timestamp.now() if pd.isna(last) else last
    else:
        try:
            stamp = pd.Timestamp(end)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"end={end!r} is not a date.", fix="give a date such as 2025-11-30."
            ) from exc
        if pd.isna(stamp):
            raise InputError("end is empty.", fix="give a date, or leave it out.")
        if stamp.tzinfo is not None:
            stamp = _times(pd.Series([stamp.isoformat()])).iloc[0]
    last_period = stamp.to_period("M")
    periods = pd.period_range(end=last_period, periods=count, freq="M")
    reported = times.dropna().dt.to_period("M")
    tally = reported.value_counts()
    counted = tally.reindex(periods, fill_value=0).to_numpy(dtype="int64")
    frame = pd.DataFrame(
        {
            "month": periods.astype(str),
            "start": periods.start_time,
            "count": counted,
        }
    )
    frame.attrs["skipped"] = int(times.isna().sum())
    frame.attrs["outside"] = int(len(reported) - counted.sum())
    return frame
