"""Street -> units: the indivisible pieces the partitioner moves.

The street polygon is cut by road centrelines, water and community boundaries into blocks
(:func:`shapely.polygonize` on the noded union of those lines).  Each building goes to the block
holding most of its footprint, each household to its building's unit.  A block with more
households than ``max_unit_households`` is split between its buildings into clusters of
building cells (Voronoi cells of points sampled along building outlines, so cluster lines run
between buildings).  A single building above the maximum becomes a unit of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.crs import local_metric_crs
from gridmap.errors import InputError, Problem

#: Faces smaller than this (m²) are merged into a neighbour of the same community.
MIN_FACE_AREA = 50.0
#: Faces smaller than this (m²) are numerical slivers and dropped.
MIN_SLIVER_AREA = 1e-3
#: Road and water lines are lengthened by this (m) at both ends so that a line stopping just
#: short of another (or of the street edge) still cuts the block.
LINE_EXTENSION = 1.0
#: Spacing (m) of the points sampled along building outlines for the split cells.
SAMPLE_SPACING = 4.0

UNIT_KINDS = ("block", "cluster", "building", "empty")


@dataclass
class Units:
    """The units of a street.

    Attributes
    ----------
    gdf
        One row per unit (metric CRS, RangeIndex): ``unit_id``, ``community``, ``households``,
        ``persons``, ``buildings``, ``kind`` and a valid Polygon ``geometry``; the polygons tile
        the street.
    building_unit
        Building id -> unit index.
    household_unit
        Household id -> unit index.
    problems
        Warnings, e.g. a single building above the maximum.
    """

    gdf: gpd.GeoDataFrame
    building_unit: pd.Series
    household_unit: pd.Series
    problems: list[Problem] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# helpers


def _geoms(gdf: gpd.GeoDataFrame | None) -> np.ndarray:
    if gdf is None or len(gdf) == 0:
        return np.empty(0, dtype=object)
    g = np.asarray(gdf.geometry.array, dtype=object)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    return shapely.make_valid(g)


def _extend_ends(lines: np.ndarray, distance: float) -> np.ndarray:
    """Lengthen each open line by ``distance`` at both ends, so near-misses still cross."""
    out = []
    for line in shapely.get_parts(shapely.line_merge(lines)):
        if line.geom_type != "LineString" or line.is_closed:
            out.append(line)
            continue
        xy = shapely.get_coordinates(line)
        if len(xy) < 2:
            continue
        head = xy[0] - xy[1]
        tail = xy[-1] - xy[-2]
        nh, nt = np.hypot(*head), np.hypot(*tail)
        if nh > 0:
            xy = np.vstack([xy[0] + head / nh * distance, xy])
        if nt > 0:
            xy = np.vstack([xy, xy[-1] + tail / nt * distance])
        out.append(shapely.linestrings(xy))
    return np.asarray(out, dtype=object)


def _polygon_parts(geom: shapely.Geometry) -> list[shapely.Polygon]:
    parts = shapely.get_parts(geom)
    return [p for p in parts if p.geom_type == "Polygon" and p.area > 0]


def _largest_polygon(geom: shapely.Geometry) -> shapely.Polygon:
    parts = _polygon_parts(shapely.make_valid(geom))
    return max(parts, key=lambda p: p.area) if parts else shapely.Polygon()


def _shared_length(a: shapely.Geometry, b: np.ndarray) -> np.ndarray:
    return shapely.length(shapely.intersection(shapely.boundary(a), shapely.boundary(b)))


def _merge_small(
    faces: list[shapely.Geometry], community: list, keep: list[bool], small: float
) -> None:
    """Merge faces below ``small`` m² into the same-community neighbour with the longest edge."""
    order = sorted(range(len(faces)), key=lambda i: faces[i].area)
    tree = shapely.STRtree(shapely.buffer(np.asarray(faces, dtype=object), 1.0))
    for i in order:
        if not keep[i] or faces[i].area >= small:
            continue
        cands = [
            int(j)
            for j in tree.query(faces[i])
            if j != i and keep[j] and community[j] == community[i] and faces[j].intersects(faces[i])
        ]
        if not cands:
            continue
        lengths = _shared_length(faces[i], np.asarray([faces[j] for j in cands], dtype=object))
        best = int(np.argmax(lengths))
        if lengths[best] <= 0:
            continue
        j = cands[best]
        faces[j] = _largest_polygon(shapely.union(faces[j], faces[i]))
        keep[i] = False


def _largest_overlap(polys: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Index of the face holding most of each polygon (-1 when none)."""
    result = np.full(len(polys), -1, dtype=np.int64)
    if len(polys) == 0 or len(faces) == 0:
        return result
    tree = shapely.STRtree(faces)
    b, f = tree.query(polys, predicate="intersects")
    if len(b) == 0:
        return result
    area = shapely.area(shapely.intersection(polys[b], faces[f]))
    order = np.lexsort((-area, b))
    b, f = b[order], f[order]
    first = np.r_[True, b[1:] != b[:-1]]
    result[b[first]] = f[first]
    missing = np.flatnonzero(result < 0)
    if len(missing):
        result[missing] = tree.nearest(shapely.centroid(polys[missing]))
    return result


def _building_cells(face: shapely.Geometry, footprints: np.ndarray) -> np.ndarray:
    """Cells tiling ``face``, one per footprint, from Voronoi cells of outline samples.

    The Voronoi diagram is computed about the face's corner: at projected coordinates of
    several hundred kilometres GEOS rounds close Voronoi vertices into self-intersecting cells
    (and their clipping or union then throws a TopologyException).  Cells that still come out
    invalid are repaired and joined by a full union instead of the faster coverage union.
    """
    n = len(footprints)
    if n == 1:
        return np.asarray([face], dtype=object)
    origin = np.asarray(face.bounds[:2], dtype=np.float64)
    local_face = shapely.transform(face, lambda xy: xy - origin)
    outlines = shapely.segmentize(shapely.boundary(footprints), SAMPLE_SPACING)
    coords, owner = shapely.get_coordinates(outlines, return_index=True)
    coords = np.round(coords, 3)
    coords, first = np.unique(coords, axis=0, return_index=True)
    owner = owner[first]
    local = coords - origin
    points = shapely.multipoints(local)
    regions = shapely.voronoi_polygons(points, extend_to=local_face, ordered=True)
    cells = np.asarray(shapely.get_parts(regions), dtype=object)
    if len(cells) != len(coords):  # GEOS merged points: fall back to a spatial match
        tree = shapely.STRtree(cells)
        idx = tree.query(shapely.points(local), predicate="within")
        owner_cells = np.full(len(cells), -1)
        owner_cells[idx[1]] = owner[idx[0]]
        owner = owner_cells
    clean = bool(shapely.is_valid(cells).all())
    if not clean:
        cells = shapely.make_valid(cells)
    shapely.prepare(local_face)
    inside = shapely.contains_properly(local_face, cells)
    cells = np.where(inside, cells, shapely.intersection(cells, local_face))
    result = np.empty(n, dtype=object)
    for k in range(n):
        mine = cells[owner == k]
        if clean:
            try:
                joined = shapely.coverage_union_all(mine)
            except shapely.errors.GEOSException:
                joined = shapely.union_all(mine)
        else:
            joined = shapely.union_all(mine)
        result[k] = shapely.make_valid(shapely.transform(joined, lambda xy: xy + origin))
    return result


def _cell_adjacency(cells: np.ndarray) -> list[set[int]]:
    adj: list[set[int]] = [set() for _ in range(len(cells))]
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    mask = a < b
    a, b = a[mask], b[mask]
    length = shapely.length(
        shapely.intersection(shapely.boundary(cells[a]), shapely.boundary(cells[b]))
    )
    for i, j in zip(a[length > 0.01], b[length > 0.01], strict=True):
        adj[i].add(int(j))
        adj[j].add(int(i))
    return adj


def _grow_clusters(
    weights: np.ndarray, adj: list[set[int]], order: np.ndarray, cap: float
) -> np.ndarray:
    """Greedy region growing along a sweep: contiguous clusters of weight <= ``cap``."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    label = np.full(len(weights), -1, dtype=np.int64)
    k = 0
    for seed in order:
        if label[seed] >= 0:
            continue
        label[seed] = k
        total = weights[seed]
        frontier = set(adj[seed])
        while frontier and total < cap:
            cand = [j for j in frontier if label[j] < 0 and total + weights[j] <= cap]
            if not cand:
                break
            j = min(cand, key=lambda c: rank[c])
            label[j] = k
            total += weights[j]
            frontier.discard(j)
            frontier |= adj[j]
        k += 1
    # merge light clusters into a neighbouring cluster when the sum still fits
    changed = True
    while changed:
        changed = False
        sums = np.bincount(label, weights=weights)
        for c in np.argsort(sums):
            members = np.flatnonzero(label == c)
            if len(members) == 0:
                continue
            neigh = {int(label[j]) for i in members for j in adj[i]} - {int(c)}
            fits = [d for d in neigh if sums[d] + sums[c] <= cap]
            if fits:
                d = min(fits, key=lambda x: sums[x])
                label[members] = d
                changed = True
                break
    _, label = np.unique(label, return_inverse=True)
    return label


def _split_face(
    face: shapely.Geometry,
    footprints: np.ndarray,
    households: np.ndarray,
    compounds: np.ndarray,
    cap: int,
) -> list[tuple[shapely.Geometry, np.ndarray, str]]:
    """Split ``face`` into clusters of whole buildings; returns (polygon, building idx, kind)."""
    cells = _building_cells(face, footprints)
    # nodes: a compound that fits stays one node; a building above the cap is its own node
    node = np.arange(len(footprints))
    comp = pd.Series(compounds).where(lambda s: s.notna() & (s != ""))
    for _cid, idx in comp.dropna().groupby(comp.dropna()).groups.items():
        idx = np.asarray(idx)
        if households[idx].sum() <= cap and len(idx) > 1:
            node[idx] = idx[0]
    _, node = np.unique(node, return_inverse=True)
    node_geom = np.asarray(
        [shapely.union_all(cells[node == k]) for k in range(node.max() + 1)], dtype=object
    )
    empty = shapely.is_empty(node_geom)
    if empty.any() and not empty.all():
        # a building lying outside the face (given to it as the nearest) has no cell in it:
        # it joins the nearest building that has one
        full = np.flatnonzero(~empty)
        tree = shapely.STRtree(node_geom[full])
        for k in np.flatnonzero(empty):
            node[node == k] = full[tree.nearest(shapely.union_all(footprints[node == k]))]
        _, node = np.unique(node, return_inverse=True)
        node_geom = np.asarray(
            [shapely.union_all(cells[node == k]) for k in range(node.max() + 1)], dtype=object
        )
    m = node.max() + 1
    weights = np.bincount(node, weights=households, minlength=m)
    adj = _cell_adjacency(node_geom)
    # sweep along the face's longer side
    cx, cy = shapely.get_x(shapely.centroid(node_geom)), shapely.get_y(shapely.centroid(node_geom))
    x0, y0, x1, y1 = face.bounds
    order = np.lexsort((cy, cx)) if x1 - x0 >= y1 - y0 else np.lexsort((cx, -cy))
    big = weights > cap
    adj_small = [set() if big[i] else {j for j in a if not big[j]} for i, a in enumerate(adj)]
    label = _grow_clusters(weights, adj_small, order, cap)
    out = []
    for c in range(label.max() + 1):
        nodes = np.flatnonzero(label == c)
        members = np.flatnonzero(np.isin(node, nodes))
        geom = shapely.make_valid(shapely.union_all(node_geom[nodes]))
        kind = "building" if len(nodes) == 1 and big[nodes[0]] else "cluster"
        out.append((geom, members, kind))
    return out


def _fix_multiparts(geoms: list[shapely.Geometry], community: list) -> None:
    """Give detached parts of a unit to the same-community neighbour sharing most boundary."""
    tree = shapely.STRtree(shapely.buffer(np.asarray(geoms, dtype=object), 1.0))
    for i in range(len(geoms)):
        parts = _polygon_parts(geoms[i])
        if len(parts) <= 1:
            if parts:
                geoms[i] = parts[0]
            continue
        parts.sort(key=lambda p: -p.area)
        geoms[i] = parts[0]
        for part in parts[1:]:
            cands = [
                int(j)
                for j in tree.query(part)
                if j != i and community[j] == community[i] and geoms[j].intersects(part)
            ]
            if not cands:
                geoms[i] = shapely.union(geoms[i], part)
                continue
            lengths = _shared_length(part, np.asarray([geoms[j] for j in cands], dtype=object))
            j = cands[int(np.argmax(lengths))]
            geoms[j] = shapely.make_valid(shapely.union(geoms[j], part))


def _node_coverage(geoms: np.ndarray, street: shapely.Geometry) -> np.ndarray:
    """Rebuild the units from their noded boundaries, so neighbours share exact vertices.

    Units made by clipping and union carry vertices their neighbours lack; rebuilt from one
    polygonize of all boundaries, shared edges coincide exactly and the units tile the street.
    """
    noded = shapely.union_all(shapely.boundary(geoms))
    faces = np.asarray(shapely.get_parts(shapely.polygonize([noded])), dtype=object)
    faces = faces[shapely.area(faces) > 0]
    faces = faces[shapely.intersects(street, shapely.point_on_surface(faces))]
    tree = shapely.STRtree(geoms)
    f_idx, u_idx = tree.query(shapely.point_on_surface(faces), predicate="within")
    hits = np.bincount(f_idx, minlength=len(faces))
    owner = np.full(len(faces), -1, dtype=np.int64)
    single = hits[f_idx] == 1
    owner[f_idx[single]] = u_idx[single]
    unclear = np.flatnonzero(hits != 1)
    if len(unclear):
        owner[unclear] = _largest_overlap(faces[unclear], geoms)
    out = geoms.copy()
    for k in range(len(geoms)):
        mine = faces[owner == k]
        if len(mine):
            out[k] = _largest_polygon(shapely.union_all(mine)) if len(mine) > 1 else mine[0]
    return out


# --------------------------------------------------------------------------------------------
# public


def build_units(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    *,
    max_unit_households: int = 150,
    split_roads: tuple[str, ...] = ("arterial", "secondary", "local"),
) -> Units:
    """Cut a street into units: blocks between roads, water and community lines, split further.

    Parameters
    ----------
    layers
        Workspace layers as :func:`gridmap.io.read_workspace` returns them: ``street``,
        ``communities``, ``roads`` and ``buildings`` are needed; ``water``, ``compounds`` and
        ``households`` are used when present.
    max_unit_households
        A block with more households is split between its buildings into clusters of at most
        this many households (a single building above it becomes its own unit, with a warning).
    split_roads
        Road classes whose centrelines cut blocks.

    Returns
    -------
    Units
        The unit polygons (in a local metric CRS) with their households, persons and
        buildings, and building -> unit and household -> unit maps.

    Raises
    ------
    InputError
        When the street, communities, roads or buildings layer is missing or empty.
    """
    for name in ("street", "communities", "buildings"):
        if name not in layers or len(layers[name]) == 0:
            raise InputError(
                f"the workspace has no {name!r} layer (or it is empty).",
                layer=name,
                fix=f"add the {name} layer to the workspace.",
            )
    crs = local_metric_crs(layers["street"])

    def metric(name: str) -> gpd.GeoDataFrame | None:
        gdf = layers.get(name)
        if gdf is None or not isinstance(gdf, gpd.GeoDataFrame) or len(gdf) == 0:
            return None
        return gdf.to_crs(crs)

    street_gdf = metric("street")
    comm_gdf = metric("communities")
    roads_gdf = metric("roads")
    water_gdf = metric("water")
    bld_gdf = metric("buildings")
    hh_gdf = metric("households")
    problems: list[Problem] = []

    street = shapely.union_all(_geoms(street_gdf))
    comm_geoms = np.asarray(comm_gdf.geometry.array, dtype=object)
    comm_geoms = shapely.make_valid(comm_geoms)
    comm_codes = comm_gdf["code"].astype(str).to_numpy()

    # ---- faces
    lines = [shapely.boundary(street), *shapely.boundary(comm_geoms)]
    if roads_gdf is not None:
        sel = roads_gdf["class"].isin(split_roads).to_numpy()
        lines.extend(_extend_ends(_geoms(roads_gdf[sel]), LINE_EXTENSION))
    water_polys = np.empty(0, dtype=object)
    if water_gdf is not None:
        wg = _geoms(water_gdf)
        is_poly = np.isin(shapely.get_type_id(wg), (3, 6))
        water_polys = wg[is_poly]
        lines.extend(_extend_ends(wg[~is_poly], LINE_EXTENSION))
        lines.extend(shapely.boundary(water_polys))
    line_arr = np.asarray(lines, dtype=object)
    line_arr = shapely.intersection(line_arr, shapely.buffer(street, 1.0))
    noded = shapely.union_all(line_arr)
    faces = np.asarray(shapely.get_parts(shapely.polygonize([noded])), dtype=object)
    reps = shapely.point_on_surface(faces)
    faces = faces[shapely.contains(street, reps) & (shapely.area(faces) > MIN_SLIVER_AREA)]
    reps = shapely.point_on_surface(faces)

    ctree = shapely.STRtree(comm_geoms)
    r_idx, c_idx = ctree.query(reps, predicate="within")
    face_comm = np.full(len(faces), -1)
    face_comm[r_idx] = c_idx
    lost = face_comm < 0
    if lost.any():
        face_comm[lost] = ctree.nearest(reps[lost])
        lost_area = float(shapely.area(faces[lost]).sum())
        if lost_area > 1.0:
            problems.append(
                Problem(
                    "warning",
                    f"{lost_area:,.0f} m² of the street lie in no community; they were given to "
                    "the nearest community.",
                    "draw the missing community (or correct the boundaries) so the communities "
                    "cover the whole street.",
                    layer="communities",
                    code="street_outside_communities",
                )
            )
    in_water = np.zeros(len(faces), dtype=bool)
    if len(water_polys):
        w_idx, _ = shapely.STRtree(water_polys).query(reps, predicate="within")
        in_water[w_idx] = True

    face_list = list(faces)
    community = [(int(c), bool(w)) for c, w in zip(face_comm, in_water, strict=True)]
    keep = [True] * len(face_list)
    _merge_small(face_list, community, keep, MIN_FACE_AREA)
    kept = np.flatnonzero(keep)
    faces = np.asarray([face_list[i] for i in kept], dtype=object)
    face_comm = face_comm[kept]
    in_water = in_water[kept]

    # ---- buildings -> faces
    bld_geoms = shapely.make_valid(np.asarray(bld_gdf.geometry.array, dtype=object))
    bld_ids = bld_gdf["id"].astype(str).to_numpy()
    bld_hh = (
        pd.to_numeric(bld_gdf["households"], errors="coerce").fillna(0).astype(int).to_numpy()
        if "households" in bld_gdf
        else np.zeros(len(bld_gdf), dtype=int)
    )
    if hh_gdf is not None and "building_id" in hh_gdf:
        # the household points are what units count: weigh buildings by their points
        counted = hh_gdf["building_id"].dropna().astype(str).value_counts()
        bld_hh = pd.Series(bld_ids).map(counted).fillna(0).astype(int).to_numpy()
    bld_comp = (
        bld_gdf["compound_id"].astype(object).where(bld_gdf["compound_id"].notna()).to_numpy()
        if "compound_id" in bld_gdf
        else np.full(len(bld_gdf), None, dtype=object)
    )
    bld_face = _largest_overlap(bld_geoms, faces)
    # households without a (known) building weigh on the nearest building of their face
    bld_weight = bld_hh.astype(np.float64)
    if hh_gdf is not None and len(hh_gdf):
        linked = np.zeros(len(hh_gdf), dtype=bool)
        if "building_id" in hh_gdf:
            linked = hh_gdf["building_id"].astype(str).isin(set(bld_ids)).to_numpy()
            linked = linked & hh_gdf["building_id"].notna().to_numpy()
        loose = np.asarray(hh_gdf.geometry.array, dtype=object)[~linked]
        if len(loose):
            p_idx, f_idx = shapely.STRtree(faces).query(loose, predicate="intersects")
            near = shapely.STRtree(bld_geoms).nearest(loose[p_idx])
            same = bld_face[near] == f_idx
            bld_weight += np.bincount(near[same], minlength=len(bld_geoms))
    face_hh = np.bincount(bld_face, weights=bld_weight, minlength=len(faces))

    # ---- units
    unit_geoms: list[shapely.Geometry] = []
    unit_comm: list[int] = []
    unit_kind: list[str] = []
    bld_unit = np.full(len(bld_geoms), -1, dtype=np.int64)
    for f in range(len(faces)):
        members = np.flatnonzero(bld_face == f)
        if face_hh[f] <= max_unit_households or len(members) == 0:
            bld_unit[members] = len(unit_geoms)
            unit_geoms.append(faces[f])
            unit_comm.append(int(face_comm[f]))
            unit_kind.append("empty" if in_water[f] else "block")
            continue
        pieces = _split_face(
            faces[f],
            bld_geoms[members],
            bld_weight[members],
            bld_comp[members],
            max_unit_households,
        )
        for geom, idx, kind in pieces:
            bld_unit[members[idx]] = len(unit_geoms)
            unit_geoms.append(geom)
            unit_comm.append(int(face_comm[f]))
            unit_kind.append(kind)
            if kind == "building":
                b = members[idx[np.argmax(bld_weight[members[idx]])]]
                problems.append(
                    Problem(
                        "info",
                        f"building {bld_ids[b]} has {int(bld_weight[b])} households, more than "
                        f"the {max_unit_households} a unit may hold; it is a unit of its own "
                        "(a building is never split).",
                        fix="nothing to do: the partition joins it to a grid like any unit.",
                        layer="buildings",
                        rows=[int(b)],
                        code="building_above_maximum",
                    )
                )
    _fix_multiparts(unit_geoms, unit_comm)
    geoms = _node_coverage(np.asarray(unit_geoms, dtype=object), street)

    # ---- households -> units
    n = len(geoms)
    hh_unit = pd.Series(dtype=np.int64)
    persons = np.zeros(n, dtype=np.int64)
    households = np.zeros(n, dtype=np.int64)
    if hh_gdf is not None and len(hh_gdf):
        hh_ids = hh_gdf["id"].astype(str).to_numpy()
        by_bld = pd.Series(bld_unit, index=bld_ids)
        unit = np.full(len(hh_gdf), -1, dtype=np.int64)
        if "building_id" in hh_gdf:
            mapped = hh_gdf["building_id"].astype(str).map(by_bld)
            ok = hh_gdf["building_id"].notna().to_numpy() & mapped.notna().to_numpy()
            unit[ok] = mapped.to_numpy()[ok].astype(np.int64)
        rest = np.flatnonzero(unit < 0)
        if len(rest):
            pts = np.asarray(hh_gdf.geometry.array, dtype=object)[rest]
            tree = shapely.STRtree(geoms)
            p_idx, u_idx = tree.query(pts, predicate="intersects")
            unit[rest[p_idx]] = u_idx
            still = rest[unit[rest] < 0]
            if len(still):
                unit[still] = tree.nearest(np.asarray(hh_gdf.geometry.array, dtype=object)[still])
        hh_unit = pd.Series(unit, index=pd.Index(hh_ids, name="household_id"), name="unit")
        households = np.bincount(unit, minlength=n)
        pers = pd.to_numeric(hh_gdf["persons"], errors="coerce").fillna(0).to_numpy()
        persons = np.bincount(unit, weights=pers, minlength=n).round().astype(np.int64)
    else:
        households = np.bincount(bld_unit, weights=bld_hh, minlength=n).astype(np.int64)

    gdf = gpd.GeoDataFrame(
        {
            "unit_id": [f"U{i + 1:05d}" for i in range(n)],
            "community": comm_codes[np.asarray(unit_comm, dtype=np.int64)],
            "households": households.astype(np.int64),
            "persons": persons.astype(np.int64),
            "buildings": np.bincount(bld_unit, minlength=n).astype(np.int64),
            "kind": unit_kind,
        },
        geometry=gpd.GeoSeries(geoms, crs=crs).values,
        crs=crs,
    )
    building_unit = pd.Series(bld_unit, index=pd.Index(bld_ids, name="building_id"), name="unit")
    return Units(gdf=gdf, building_unit=building_unit, household_unit=hh_unit, problems=problems)
