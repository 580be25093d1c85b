"""Which grid holds each point: a raster-accelerated, exact spatial index over grid polygons.

:class:`GridIndex` projects the grids to a local metric CRS and lays a fine raster over them.
Every raster cell that a grid boundary passes near is marked *mixed*; the other cells form
regions that no boundary crosses, each lying wholly inside one grid (or outside all), found by
labelling the connected regions and testing one point of each.  A point then takes its grid
from its cell in one array look-up; only points in mixed cells are tested exactly against the
polygons (``shapely.STRtree``), so results are exact and most points cost a few array
operations.  Points are processed in chunks, so memory stays bounded for any number of points.

Rules, for every point:

* ``inside``: in a grid; a point exactly on a boundary shared by several grids goes to the one
  whose code sorts first (deterministic, whatever the input order);
* ``snapped``: in no grid but within ``tolerance`` metres (default 30) of one: the nearest grid
  (ties: the code that sorts first), with the distance;
* ``unassigned``: farther than the tolerance from every grid, with the distance to the nearest;
* ``invalid``: coordinates missing or not finite (no grid, distance NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy import ndimage

from gridmap.crs import haversine_m, local_metric_crs
from gridmap.errors import InputError

#: Flag names, indexed by the ``flags`` codes of an :class:`Assignment`.
FLAGS = ("inside", "snapped", "unassigned", "invalid")
INSIDE, SNAPPED, UNASSIGNED, INVALID = range(4)

#: Default distance (m) within which a point outside every grid is snapped to the nearest.
DEFAULT_TOLERANCE = 30.0

#: Points handled per chunk.
CHUNK = 1_000_000

#: Beyond this distance (m) from the grids, distances are great-circle (see GridIndex).
FAR_M = 50_000.0

_MIXED = -2
_OUTSIDE = -1


@dataclass
class Assignment:
    """The grid of each point.

    Attributes
    ----------
    labels
        ``(n,)`` int32 index into ``codes`` of the index's grids, ``-1`` for none.
    flags
        ``(n,)`` int8 index into :data:`FLAGS`.
    distance_m
        ``(n,)`` float32: 0 inside a grid, else the distance to the nearest grid (NaN for
        invalid points).
    grid_codes
        The index's grid codes (``labels`` index them).
    """

    labels: np.ndarray
    flags: np.ndarray
    distance_m: np.ndarray
    grid_codes: np.ndarray

    @property
    def codes(self) -> np.ndarray:
        """Grid code per point (object array, ``None`` where there is none)."""
        out = np.full(self.labels.size, None, dtype=object)
        has = self.labels >= 0
        out[has] = self.grid_codes[self.labels[has]]
        return out

    def flag_names(self) -> np.ndarray:
        """Flag name per point."""
        return np.asarray(FLAGS, dtype=object)[self.flags]

    def counts(self) -> dict[str, int]:
        """Number of points per flag, every flag listed."""
        tally = np.bincount(self.flags, minlength=len(FLAGS))
        return {name: int(tally[i]) for i, name in enumerate(FLAGS)}

    def to_frame(self) -> pd.DataFrame:
        """``grid_code``, ``grid_flag`` and ``grid_distance_m`` columns, one row per point."""
        return pd.DataFrame(
            {
                "grid_code": self.codes,
                "grid_flag": self.flag_names(),
                "grid_distance_m": np.round(self.distance_m.astype(np.float64), 2),
            }
        )


def _grid_frame(grids: Any, id_column: str) -> gpd.GeoDataFrame:
    """The polygons and codes of a Plan, a PlanFile or a GeoDataFrame of grids."""
    frame = getattr(grids, "grids", grids)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            f"cannot index grids from a {type(grids).__name__}",
            fix="give a plan or a GeoDataFrame of grid polygons",
        )
    if id_column not in frame.columns:
        raise InputError(
            f"the grids have no column {id_column!r} naming them; columns: "
            f"{', '.join(map(str, frame.columns.drop(frame.geometry.name)))}",
            fix="name the id column (--id)",
        )
    if frame.crs is None:
        raise InputError("the grids have no CRS", fix="give the grids' CRS when reading them")
    if not len(frame):
        raise InputError("there are no grids to index", fix="give a plan with grids")
    codes = frame[id_column].astype(str)
    if codes.duplicated().any():
        raise InputError(
            f"grid ids repeat in {id_column!r}: "
            f"{', '.join(sorted(set(codes[codes.duplicated()])))[:200]}",
            fix="give every grid its own id",
        )
    return gpd.GeoDataFrame({"code": codes.to_numpy()}, geometry=frame.geometry.values)


class GridIndex:
    """Assign points (and polygons) to grids, fast and exactly.

    Points are located in longitude/latitude (EPSG:4326), the CRS grids and points are
    usually stored in, so points given in it need no transformation; distances are measured
    in a local metric CRS.

    Parameters
    ----------
    grids
        A :class:`gridmap.plan.Plan`, a :class:`gridmap.plan.PlanFile` or a GeoDataFrame of grid
        polygons, in any CRS.
    tolerance
        Metres within which a point outside every grid is snapped to the nearest grid.
    id_column
        The column naming the grids (default ``code``).
    cells
        About how many raster cells to lay over the grids (more: fewer exact tests, more
        memory: the raster and its companions take about 12 bytes per cell, and building
        them about 60).

    Raises
    ------
    InputError
        When the grids have no CRS, no id column, repeated ids, or no polygon.

    Notes
    -----
    The distance of an ``unassigned`` point is exact to within :attr:`distance_error` metres
    (a few metres: it is read from a distance raster); snapped points and the snapping
    decision itself use exact distances.

    Examples
    --------
    >>> index = GridIndex(plan)  # doctest: +SKIP
    >>> result = index.assign(lon, lat)  # doctest: +SKIP
    >>> result.codes, result.counts()  # doctest: +SKIP
    """

    def __init__(
        self,
        grids: Any,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        id_column: str = "code",
        cells: float = 4e6,
    ) -> None:
        frame = _grid_frame(grids, id_column)
        if not math.isfinite(tolerance) or tolerance < 0:
            raise InputError(f"tolerance {tolerance} must be a distance >= 0 (metres)")
        self.tolerance = float(tolerance)
        series = gpd.GeoSeries(frame.geometry.values, crs=getattr(grids, "grids", grids).crs)
        self.crs = local_metric_crs(series)
        geoms = _polygonal(shapely.make_valid(series.to_crs(self.crs).to_numpy()))
        polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
        if not polygonal.any():
            raise InputError("the grids hold no polygons", fix="give grid polygons")
        order = np.argsort(frame["code"].to_numpy(), kind="stable")
        order = order[polygonal[order]]
        self.grid_codes = frame["code"].to_numpy(dtype=object)[order]
        self.geoms = geoms[order]  # metric, for distances and overlaps
        lonlat = series.to_crs(4326).to_numpy()[order]
        self.lonlat = _polygonal(shapely.make_valid(lonlat))
        shapely.prepare(self.lonlat)
        self.tree = shapely.STRtree(self.lonlat)
        self._segments()
        self._transformers: dict[str, Transformer] = {}
        self._to_local = Transformer.from_crs(4326, self.crs, always_xy=True)
        self._build_raster(cells)

    # ------------------------------------------------------------------ set-up

    def _segments(self) -> None:
        """The grids' boundary segments (metric) and the grid each belongs to."""
        parts, owner = shapely.get_parts(shapely.boundary(self.geoms), return_index=True)
        coords, line = shapely.get_coordinates(parts, return_index=True)
        same = line[1:] == line[:-1]
        ends = np.stack([coords[:-1][same], coords[1:][same]], axis=1)
        self.segment_owner = owner[line[:-1][same]].astype(np.int32)
        self.segment_tree = shapely.STRtree(shapely.linestrings(ends))

    def _build_raster(self, cells: float) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(self.lonlat)
        lat = math.radians((y0 + y1) / 2)
        metres_x = 111_320.0 * math.cos(lat)  # metres per degree, for the cell aspect
        metres_y = 110_574.0
        # every point within the tolerance of a grid falls on the raster
        pad_m = self.tolerance + 50.0
        x0, x1 = x0 - pad_m / metres_x, x1 + pad_m / metres_x
        y0, y1 = y0 - pad_m / metres_y, y1 + pad_m / metres_y
        width_m, height_m = (x1 - x0) * metres_x, (y1 - y0) * metres_y
        cell_m = max(0.25, math.sqrt(width_m * height_m / max(cells, 1.0)))
        self.cell = (cell_m / metres_x, cell_m / metres_y)  # degrees (x, y)
        nx = max(1, math.ceil((x1 - x0) / self.cell[0]))
        ny = max(1, math.ceil((y1 - y0) / self.cell[1]))
        self.origin = (x0, y0)
        self.shape = (ny, nx)
        mixed = np.zeros((ny, nx), dtype=bool)
        # points along every boundary less than a cell apart: a boundary crossing a cell has
        # one of them in that cell or in one of its 8 neighbours
        step = 0.9 * min(self.cell)
        lines = shapely.segmentize(shapely.boundary(self.lonlat), step)
        xy, owner = shapely.get_coordinates(lines, return_index=True)
        ix = np.clip(((xy[:, 0] - x0) / self.cell[0]).astype(np.int64), 0, nx - 1)
        iy = np.clip(((xy[:, 1] - y0) / self.cell[1]).astype(np.int64), 0, ny - 1)
        mixed[iy, ix] = True
        mixed = ndimage.binary_dilation(mixed, structure=np.ones((3, 3), dtype=bool))
        regions, count = ndimage.label(~mixed)  # 4-connected regions no boundary crosses
        raster = np.full((ny, nx), _MIXED, dtype=np.int32)
        if count:
            probe = np.empty((count, 2))
            for r, box in enumerate(ndimage.find_objects(regions)):
                rows, cols = np.nonzero(regions[box] == r + 1)
                probe[r] = (box[1].start + cols[0] + 0.5, box[0].start + rows[0] + 0.5)
            region_label = self._exact(
                x0 + probe[:, 0] * self.cell[0], y0 + probe[:, 1] * self.cell[1]
            )
            raster = np.concatenate([[_MIXED], region_label]).astype(np.int32)[regions]
        self.raster = raster
        self._mixed_candidates(iy, ix, owner)
        # distance (m) from each cell outside every grid to the nearest cell that is not
        self.far = ndimage.distance_transform_edt(raster == _OUTSIDE, sampling=(cell_m, cell_m))
        self.far = self.far.astype(np.float32)
        #: Largest error (m) of the distance given for an ``unassigned`` point.
        self.distance_error = 3.0 * cell_m

    def _mixed_candidates(self, iy: np.ndarray, ix: np.ndarray, owner: np.ndarray) -> None:
        """For every mixed cell, the grids a point in it may lie in (CSR lists by cell number).

        A point of a mixed cell lies in a grid whose boundary crosses the cell (then a boundary
        point of that grid lies in the cell or a neighbour: ``iy``, ``ix``, ``owner``) or in a
        grid holding the whole cell (then it holds the cell's centre).
        """
        ny, nx = self.shape
        rows, cols = np.nonzero(self.raster == _MIXED)
        self.mixed_id = np.full(self.raster.shape, -1, dtype=np.int32)
        self.mixed_id[rows, cols] = np.arange(rows.size, dtype=np.int32)
        pairs = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                r, c = iy + dy, ix + dx
                ok = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
                cell = self.mixed_id[r[ok], c[ok]]
                keep = cell >= 0
                pairs.append(cell[keep].astype(np.int64) * len(self.lonlat) + owner[ok][keep])
        cx = self.origin[0] + (cols + 0.5) * self.cell[0]
        cy = self.origin[1] + (rows + 0.5) * self.cell[1]
        cell, grid = self._covering_pairs(cx, cy)
        pairs.append(cell.astype(np.int64) * len(self.lonlat) + grid)
        keys = np.unique(np.concatenate(pairs))
        cell, grid = np.divmod(keys, len(self.lonlat))
        self.candidate_ptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell, minlength=rows.size), out=self.candidate_ptr[1:])
        self.candidates = grid.astype(np.int32)

    def _covering_pairs(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, grid) pair where the grid covers the lon/lat point (edges included)."""
        boxes = shapely.bounds(self.lonlat)
        found_point, found_grid = [], []
        for g, (minx, miny, maxx, maxy) in enumerate(boxes):
            near = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
            if near.size:
                hit = near[shapely.intersects_xy(self.lonlat[g], x[near], y[near])]
                found_point.append(hit)
                found_grid.append(np.full(hit.size, g, dtype=np.int64))
        if not found_point:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(found_point), np.concatenate(found_grid)

    def _exact_in_cells(self, x: np.ndarray, y: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Like :meth:`_exact`, testing only the grids listed for each point's mixed cell."""
        out = np.full(x.size, _OUTSIDE, dtype=np.int32)
        if not x.size:
            return out
        start, stop = self.candidate_ptr[cell], self.candidate_ptr[cell + 1]
        count = stop - start
        point = np.repeat(np.arange(x.size), count)
        offset = np.arange(point.size) - np.repeat(np.cumsum(count) - count, count)
        grid = self.candidates[np.repeat(start, count) + offset]
        hit = np.zeros(point.size, dtype=bool)
        order = np.argsort(grid, kind="stable")
        bounds = np.searchsorted(grid[order], np.arange(len(self.lonlat) + 1))
        for g in np.flatnonzero(np.diff(bounds)):
            pairs = order[bounds[g] : bounds[g + 1]]
            hit[pairs] = shapely.intersects_xy(self.lonlat[g], x[point[pairs]], y[point[pairs]])
        best = np.full(x.size, np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(best, point[hit], grid[hit])
        found = best < np.iinfo(np.int32).max
        out[found] = best[found]
        return out

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Label of the grid covering each lon/lat point (lowest on shared edges), or -1."""
        out = np.full(x.size, _OUTSIDE, dtype=np.int32)
        if not x.size:
            return out
        pt, poly = self.tree.query(shapely.points(x, y), predicate="intersects")
        if pt.size:
            best = np.full(x.size, np.iinfo(np.int32).max, dtype=np.int64)
            np.minimum.at(best, pt, poly)
            hit = best < np.iinfo(np.int32).max
            out[hit] = best[hit]
        return out

    # ------------------------------------------------------------------ points

    def _to_lonlat(self, x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
        source = CRS.from_user_input(crs)
        if source.equals(CRS.from_epsg(4326), ignore_axis_order=True):
            return x, y
        key = source.to_wkt()
        transformer = self._transformers.get(key)
        if transformer is None:
            transformer = Transformer.from_crs(source, 4326, always_xy=True)
            self._transformers[key] = transformer
        lon, lat = transformer.transform(x, y)
        return np.asarray(lon), np.asarray(lat)

    def _assign_lonlat(self, x: np.ndarray, y: np.ndarray, out: Assignment, at: slice) -> None:
        n = x.size
        labels = np.full(n, _OUTSIDE, dtype=np.int32)
        flags = np.full(n, INSIDE, dtype=np.int8)
        dist = np.zeros(n, dtype=np.float32)
        bad = ~(np.isfinite(x) & np.isfinite(y))
        x0, y0 = self.origin
        ny, nx = self.shape
        col = np.floor((x - x0) / self.cell[0])
        row = np.floor((y - y0) / self.cell[1])
        within = ~bad & (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
        idx = np.flatnonzero(within)
        r, c = row[idx].astype(np.int64), col[idx].astype(np.int64)
        labels[idx] = self.raster[r, c]
        in_mixed = labels[idx] == _MIXED
        mixed = idx[in_mixed]
        cell = self.mixed_id[r[in_mixed], c[in_mixed]]
        labels[mixed] = self._exact_in_cells(x[mixed], y[mixed], cell)
        outside = np.flatnonzero((labels == _OUTSIDE) & ~bad)
        if outside.size:
            self._outside(x, y, outside, within, row, col, labels, flags, dist)
        labels[bad] = _OUTSIDE
        flags[bad] = INVALID
        dist[bad] = np.nan
        out.labels[at] = labels
        out.flags[at] = flags
        out.distance_m[at] = dist

    def _outside(self, x, y, outside, within, row, col, labels, flags, dist) -> None:
        """Snap or leave unassigned the points in no grid; exact where it can matter."""
        guess = np.full(outside.size, np.inf, dtype=np.float32)
        inner = within[outside]
        rows, cols = row[outside[inner]].astype(np.int64), col[outside[inner]].astype(np.int64)
        guess[inner] = self.far[rows, cols]
        near = guess <= self.tolerance + self.distance_error
        exact = outside[near]
        if exact.size:
            mx, my = self._to_local.transform(x[exact], y[exact])
            label, gap = self._nearest(np.asarray(mx), np.asarray(my))
            snap = gap <= self.tolerance
            labels[exact[snap]] = label[snap]
            flags[exact] = np.where(snap, SNAPPED, UNASSIGNED)
            dist[exact] = gap
        far = outside[~near]
        flags[far] = UNASSIGNED
        if far.size:  # inside the raster: read the distance raster; beyond it: measure
            beyond = ~inner[~near]
            dist[far[~beyond]] = guess[~near][~beyond]
            if beyond.any():
                dist[far[beyond]] = self._distance_beyond(x[far[beyond]], y[far[beyond]])

    def _distance_beyond(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Distance (m) of lon/lat points beyond the raster to the nearest grid.

        Within :data:`FAR_M` of the grids it is measured in the local metric CRS; farther (a
        point in another city, a geocoding error) the local projection is meaningless and the
        great-circle distance to the grids' lon/lat extent is given instead.
        """
        x0, y0 = self.origin
        ny, nx = self.shape
        x1, y1 = x0 + nx * self.cell[0], y0 + ny * self.cell[1]
        rough = haversine_m(lon, lat, np.clip(lon, x0, x1), np.clip(lat, y0, y1))
        out = np.asarray(rough, dtype=np.float32)
        close = np.flatnonzero(rough < FAR_M)
        if close.size:
            mx, my = self._to_local.transform(lon[close], lat[close])
            out[close] = self._nearest(np.asarray(mx), np.asarray(my))[1]
        return out

    def _nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest grid label (lowest on ties) and distance (m) for metric points in no grid."""
        points = shapely.points(x, y)
        (pt, seg), gaps = self.segment_tree.query_nearest(
            points, return_distance=True, all_matches=True
        )
        owner = self.segment_owner[seg]
        gap = np.full(x.size, np.inf)
        np.minimum.at(gap, pt, gaps)
        label = np.full(x.size, np.iinfo(np.int32).max, dtype=np.int64)
        closest = gaps <= gap[pt]
        np.minimum.at(label, pt[closest], owner[closest])
        return label.astype(np.int32), gap.astype(np.float32)

    def assign(
        self,
        x: np.ndarray | list[float],
        y: np.ndarray | list[float],
        crs: Any = "EPSG:4326",
        *,
        chunk: int = CHUNK,
        progress: Callable[[int, int], None] | None = None,
    ) -> Assignment:
        """The grid of every point given by coordinate arrays.

        Parameters
        ----------
        x, y
            Coordinates (longitude and latitude by default); NaN marks a missing point.
        crs
            Their CRS.
        chunk
            Points handled at a time (memory stays bounded).
        progress
            Called as ``progress(done, total)`` after each chunk.

        Returns
        -------
        Assignment
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if x.shape != y.shape:
            raise InputError(f"{x.size} x values but {y.size} y values: give one pair per point")
        n = x.size
        out = Assignment(
            labels=np.full(n, _OUTSIDE, dtype=np.int32),
            flags=np.full(n, INVALID, dtype=np.int8),
            distance_m=np.full(n, np.nan, dtype=np.float32),
            grid_codes=self.grid_codes,
        )
        chunk = max(1, int(chunk))
        for start in range(0, n, chunk):
            at = slice(start, min(n, start + chunk))
            lon, lat = self._to_lonlat(x[at], y[at], crs)
            self._assign_lonlat(lon, lat, out, at)
            if progress is not None:
                progress(at.stop, n)
        return out

    def assign_points(
        self,
        points: gpd.GeoSeries | gpd.GeoDataFrame,
        *,
        chunk: int = CHUNK,
        progress: Callable[[int, int], None] | None = None,
    ) -> Assignment:
        """The grid of every point of a GeoSeries or GeoDataFrame, in any CRS.

        Missing or empty geometries are ``invalid``; other geometry types are refused.
        """
        series = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if series.crs is None:
            raise InputError("the points have no CRS", fix="give their CRS when reading them")
        geoms = series.to_numpy()
        kind = shapely.get_type_id(geoms)
        other = np.flatnonzero(~np.isin(kind, (0, -1)) & ~shapely.is_empty(geoms))
        if other.size:
            raise InputError(
                f"{other.size} geometries are not points", rows=other.tolist()[:50],
                fix="give points (use assign_polygons for buildings)",
            )  # fmt: skip
        x = np.full(len(geoms), np.nan)
        y = np.full(len(geoms), np.nan)
        ok = (kind == 0) & ~shapely.is_empty(geoms)
        x[ok] = shapely.get_x(geoms[ok])
        y[ok] = shapely.get_y(geoms[ok])
        return self.assign(x, y, series.crs, chunk=chunk, progress=progress)

    def lookup(self, x: float, y: float, crs: Any = "EPSG:4326") -> tuple[str | None, str, float]:
        """One point, for live intake: ``(code or None, flag, distance in metres)``."""
        out = self.assign([x], [y], crs)
        label = int(out.labels[0])
        return (
            None if label < 0 else str(self.grid_codes[label]),
            FLAGS[int(out.flags[0])],
            float(out.distance_m[0]),
        )

    def assign_polygons(
        self, polygons: gpd.GeoSeries | gpd.GeoDataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """The grid holding the largest part of each polygon (a building footprint).

        Returns
        -------
        codes, share
            Code per polygon (``None`` when it touches no grid) and the share of its area in
            that grid; ties go to the code that sorts first.
        """
        series = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
        if series.crs is None:
            raise InputError("the polygons have no CRS", fix="give their CRS when reading them")
        return largest_overlap(series.to_crs(self.crs).to_numpy(), self.geoms, self.grid_codes)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygon parts of repaired geometries (``make_valid`` may add lines or points)."""
    out = geoms.copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):  # GeometryCollection
        parts = shapely.get_parts(geoms[i])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        out[i] = shapely.union_all(parts) if len(parts) else shapely.Polygon()
    return out


def largest_overlap(
    shapes: np.ndarray, cells: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each shape, the code of the cell holding the largest part of it, and that share.

    Parameters
    ----------
    shapes, cells
        Geometries in the same metric CRS; ``codes`` names the cells.  A point counts as
        wholly inside the cells it touches.

    Returns
    -------
    codes, share
        Object array of codes (``None`` for a shape touching no cell; ties go to the cell
        listed first), and the share of the shape's area in that cell.
    """
    out = np.full(len(shapes), None, dtype=object)
    share = np.zeros(len(shapes))
    if not len(shapes) or not len(cells):
        return out, share
    left, right = shapely.STRtree(cells).query(shapes, predicate="intersects")
    if not left.size:
        return out, share
    areas = shapely.area(shapes)
    pieces = shapely.area(shapely.intersection(shapes[left], cells[right]))
    pieces = np.where(areas[left] <= 0, 1.0, pieces)
    order = np.lexsort((right, -pieces, left))  # per shape: largest piece, then first cell
    left, right, pieces = left[order], right[order], pieces[order]
    first = np.concatenate([[True], left[1:] != left[:-1]])
    out[left[first]] = codes[right[first]]
    whole = np.where(areas[left[first]] > 0, areas[left[first]], 1.0)
    share[left[first]] = np.minimum(pieces[first] / whole, 1.0)
    return out, share
