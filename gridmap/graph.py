"""Unit adjacency: which units share a boundary, how long, and what runs along it.

Two units are adjacent when their boundaries share more than :data:`MIN_SHARED_LENGTH` metres
(corner contacts do not count).  Units of different groups (communities) are never adjacent, so
a partition of the graph nests grids inside communities.  Each edge records the barrier along
it (the highest road class or water whose centreline covers most of the shared edge), and
every group is made connected by joining islands with :data:`BARRIER_GAP` edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.crs import to_metric

BARRIER_NONE, BARRIER_LOCAL, BARRIER_SECONDARY, BARRIER_ARTERIAL, BARRIER_WATER, BARRIER_GAP = (
    0,
    1,
    2,
    3,
    4,
    5,
)
BARRIER_NAMES = {
    BARRIER_NONE: "none",
    BARRIER_LOCAL: "local",
    BARRIER_SECONDARY: "secondary",
    BARRIER_ARTERIAL: "arterial",
    BARRIER_WATER: "water",
    BARRIER_GAP: "gap",
}
#: Shared boundary (m) above which two units are adjacent.
MIN_SHARED_LENGTH = 0.5
#: Half-width (m) of the corridor around a road or water line that counts as running along it.
BARRIER_BUFFER = 3.0
#: Spacing (m) of the points sampled along shared edges to measure what runs along them.
SAMPLE_STEP = 2.0
#: Share of a shared edge a corridor must cover to give the edge its barrier class.
BARRIER_SHARE = 0.5


@dataclass
class UnitGraph:
    """Adjacency of units.

    Attributes
    ----------
    n
        Number of units (nodes).
    edges
        ``(m, 2)`` int64 unit index pairs, ``i < j``, sorted and unique; never between units of
        different groups.
    length
        ``(m,)`` shared boundary length in metres (0 for GAP edges).
    barrier
        ``(m,)`` int8 ``BARRIER_*`` class of what runs along each edge.
    groups
        ``(n,)`` int64 group index per unit.
    group_names
        Group index -> group name (community code or nest value).
    """

    n: int
    edges: np.ndarray
    length: np.ndarray
    barrier: np.ndarray
    groups: np.ndarray
    group_names: list[str]

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Compressed sparse rows of the symmetric graph, as METIS takes them.

        Returns
        -------
        xadj : numpy.ndarray
            ``(n + 1,)`` offsets: the neighbours of ``i`` are ``adjncy[xadj[i]:xadj[i + 1]]``.
        adjncy : numpy.ndarray
            ``(2m,)`` neighbour indices.
        edge_index : numpy.ndarray
            ``(2m,)`` index into :attr:`edges` of each ``adjncy`` entry.
        """
        m = len(self.edges)
        src = np.concatenate([self.edges[:, 0], self.edges[:, 1]]).astype(np.int64)
        dst = np.concatenate([self.edges[:, 1], self.edges[:, 0]]).astype(np.int64)
        eid = np.concatenate([np.arange(m), np.arange(m)]).astype(np.int64)
        order = np.lexsort((dst, src))
        src, dst, eid = src[order], dst[order], eid[order]
        xadj = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=self.n), out=xadj[1:])
        return xadj, dst, eid

    def neighbours(self, i: int) -> np.ndarray:
        """Indices of the units adjacent to unit ``i`` (sorted).

        Parameters
        ----------
        i
            A unit index.

        Returns
        -------
        numpy.ndarray
            int64 neighbour indices.
        """
        left = self.edges[self.edges[:, 0] == i, 1]
        right = self.edges[self.edges[:, 1] == i, 0]
        return np.sort(np.concatenate([left, right])).astype(np.int64)


def _line_geoms(gdf: gpd.GeoDataFrame | None, crs) -> np.ndarray:
    if gdf is None or len(gdf) == 0:
        return np.empty(0, dtype=object)
    if crs is not None and gdf.crs is not None and gdf.crs != crs:
        gdf = gdf.to_crs(crs)
    g = np.asarray(gdf.geometry.array, dtype=object)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    poly = np.isin(shapely.get_type_id(g), (3, 6))
    g = g.copy()
    g[poly] = shapely.boundary(g[poly])
    # short straight pieces: small boxes keep the spatial index fast
    parts = shapely.segmentize(shapely.get_parts(g), 25.0)
    xy, idx = shapely.get_coordinates(parts, return_index=True)
    same = idx[1:] == idx[:-1]
    return shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))


def _samples(shared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every :data:`SAMPLE_STEP` m along each shared line: (points, edge, weight in m)."""
    parts, edge = shapely.get_parts(shared, return_index=True)
    linear = shapely.get_type_id(parts) == 1
    parts, edge = parts[linear], edge[linear]
    lengths = shapely.length(parts)
    count = np.maximum(1, np.ceil(lengths / SAMPLE_STEP)).astype(np.int64)
    owner = np.repeat(np.arange(len(parts)), count)
    start = np.repeat(np.cumsum(count) - count, count)
    step = lengths[owner] / count[owner]
    along = (np.arange(len(owner)) - start + 0.5) * step
    points = shapely.line_interpolate_point(parts[owner], along)
    return points, edge[owner], step


def _covered_share(
    points: np.ndarray, edge: np.ndarray, weight: np.ndarray, m: int, lines: np.ndarray
) -> np.ndarray:
    """Share of each shared line lying within :data:`BARRIER_BUFFER` m of ``lines``."""
    total = np.bincount(edge, weights=weight, minlength=m)
    if len(lines) == 0 or len(points) == 0:
        return np.zeros(m)
    tree = shapely.STRtree(lines)
    hit = np.unique(tree.query(points, predicate="dwithin", distance=BARRIER_BUFFER)[0])
    covered = np.bincount(edge[hit], weights=weight[hit], minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, covered / total, 0.0)


def build_graph(
    units: gpd.GeoDataFrame,
    *,
    group_column: str | None = "community",
    roads: gpd.GeoDataFrame | None = None,
    water: gpd.GeoDataFrame | None = None,
    snap_tolerance: float = 0.0,
) -> UnitGraph:
    """Build the adjacency graph of units.

    Parameters
    ----------
    units
        Unit polygons (e.g. ``Units.gdf`` or any polygons with counts), best in a metric CRS;
        polygons in lon/lat are projected to the local UTM zone to measure lengths.
    group_column
        Column whose values nest the units (no edge joins two groups); None for one group.
    roads
        Road centrelines with a ``class`` column (any CRS; reprojected to the units' CRS), used
        to label edges with :data:`BARRIER_ARTERIAL`, :data:`BARRIER_SECONDARY` or
        :data:`BARRIER_LOCAL`.
    water
        Water lines or polygons (outlines are used), labelling edges :data:`BARRIER_WATER`.
    snap_tolerance
        When above 0, boundaries running within this many metres of each other also count as
        shared (for polygons digitised with slivers or overlaps, such as census block groups
        whose edges do not share vertices).  0 (the default) counts exact shared edges only.

    Returns
    -------
    UnitGraph
        Edges with shared lengths and barrier classes; each group connected (islands joined to
        the nearest unit of their group by a :data:`BARRIER_GAP` edge of length 0).
    """
    n = len(units)
    if n and units.crs is not None and units.crs.is_geographic:
        units = to_metric(units)  # lengths in metres, not degrees
    geoms = shapely.make_valid(np.asarray(units.geometry.array, dtype=object))
    if group_column is None:
        groups = np.zeros(n, dtype=np.int64)
        group_names = ["all"]
    else:
        values = units[group_column].astype(str).to_numpy()
        names, groups = np.unique(values, return_inverse=True)
        groups = groups.astype(np.int64)
        group_names = [str(v) for v in names]

    tree = shapely.STRtree(geoms)
    if snap_tolerance > 0:
        a, b = tree.query(geoms, predicate="dwithin", distance=snap_tolerance)
    else:
        a, b = tree.query(geoms, predicate="intersects")
    keep = (a < b) & (groups[a] == groups[b])
    a, b = a[keep], b[keep]
    rims = shapely.boundary(geoms)
    shared = shapely.intersection(rims[a], rims[b])
    length = shapely.length(shared)
    # boundaries digitised apart (slivers, overlaps): the part of a's rim within the tolerance
    loose = np.flatnonzero(length <= MIN_SHARED_LENGTH) if snap_tolerance > 0 else []
    if len(loose):
        near = shapely.intersection(
            rims[a[loose]], shapely.buffer(rims[b[loose]], snap_tolerance, quad_segs=2)
        )
        near_length = shapely.length(near)
        better = near_length > MIN_SHARED_LENGTH + 2 * snap_tolerance
        shared[loose[better]] = near[better]
        length[loose[better]] = near_length[better]
    keep = length > MIN_SHARED_LENGTH
    a, b, shared, length = a[keep], b[keep], shared[keep], length[keep]
    barrier = np.full(len(a), BARRIER_NONE, dtype=np.int8)

    crs = units.crs
    undecided = np.ones(len(a), dtype=bool)
    classes: list[tuple[int, np.ndarray]] = []
    if water is not None:
        classes.append((BARRIER_WATER, _line_geoms(water, crs)))
    if roads is not None and len(roads):
        for cls, code in (
            ("arterial", BARRIER_ARTERIAL),
            ("secondary", BARRIER_SECONDARY),
            ("local", BARRIER_LOCAL),
        ):
            classes.append((code, _line_geoms(roads[roads["class"] == cls], crs)))
    if classes:
        points, edge, weight = _samples(shared)
    for code, lines in classes:
        hit = _covered_share(points, edge, weight, len(shared), lines) > BARRIER_SHARE
        hit &= undecided
        barrier[hit] = code
        undecided[hit] = False

    edges = np.column_stack([a, b]).astype(np.int64).reshape(-1, 2)
    length = length.astype(np.float64)
    edges, length, barrier = _connect_groups(geoms, groups, edges, length, barrier)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    return UnitGraph(
        n=n,
        edges=edges[order],
        length=length[order],
        barrier=barrier[order],
        groups=groups,
        group_names=group_names,
    )


def _connect_groups(
    geoms: np.ndarray,
    groups: np.ndarray,
    edges: np.ndarray,
    length: np.ndarray,
    barrier: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join the components of each group by GAP edges to the nearest unit outside them."""
    n = len(geoms)
    new_edges: list[tuple[int, int]] = []
    while True:
        all_edges = np.vstack([edges, np.asarray(new_edges, dtype=np.int64).reshape(-1, 2)])
        mat = coo_matrix(
            (np.ones(len(all_edges)), (all_edges[:, 0], all_edges[:, 1])), shape=(n, n)
        )
        _, comp = connected_components(mat, directed=False)
        added = False
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            comps, sizes = np.unique(comp[members], return_counts=True)
            if len(comps) <= 1:
                continue
            # join every component but the largest to the nearest unit outside it
            for small in comps[np.argsort(-sizes, kind="stable")[1:]]:
                inside = members[comp[members] == small]
                outside = members[comp[members] != small]
                tree = shapely.STRtree(geoms[outside])
                pairs, dist = tree.query_nearest(
                    geoms[inside], return_distance=True, all_matches=False
                )
                k = int(np.argmin(dist))
                i, j = int(inside[pairs[0, k]]), int(outside[pairs[1, k]])
                pair = (min(i, j), max(i, j))
                if pair not in new_edges:
                    new_edges.append(pair)
                    added = True
        if not added:
            break
    if new_edges:
        gap = np.asarray(new_edges, dtype=np.int64)
        edges = np.vstack([edges, gap])
        length = np.concatenate([length, np.zeros(len(gap))])
        barrier = np.concatenate([barrier, np.full(len(gap), BARRIER_GAP, dtype=np.int8)])
    return edges, length, barrier
