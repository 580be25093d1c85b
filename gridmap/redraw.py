"""Start from today's grids: import a drawn plan, redraw it moving as few households as possible.

Street offices rarely start from nothing.  :func:`import_plan` maps the grid polygons they
drew (any CRS, with gaps, overlaps and sloppy edges) onto the street's units and measures the
plan they have today, listing what is wrong with the drawing.  :func:`redraw` starts from a
previous plan (a gridmap plan file, whose building assignments it uses, or drawn polygons) and
changes it only as much as needed for every grid to be in one piece, inside one community and
within the allowed range of households:

1. units keep their previous grid (by building assignments, else by largest overlap); units in
   no previous grid join the neighbouring grid they share most boundary with;
2. a grid spread over two communities keeps its part in the community holding most of it, and a
   grid in several pieces keeps its largest piece: the rest join neighbouring grids;
3. each community gets the number of grids its households need, the nearest to what it has:
   extra grids are carved out of the fullest grid, starting where the new households are and
   taking the units that move the fewest existing households; surplus grids are merged into a
   neighbour;
4. boundary moves bring every grid into range (:func:`gridmap.rebalance.settle`: moves,
   chains of two, exchanges, paths), choosing at each step the one that removes the most
   excess per household moved, and preferring to send units back to the grid they were in.

Barriers (the river, arterial roads) are handled as by the partitioner (``barriers``, see
:func:`gridmap.partition.resolve_barriers`): a forbidden class splits each community into its
sides (:func:`gridmap.partition.apply_barriers`), which then act as communities do above (a
grid across the river keeps its larger side; no unit moves across); a penalised class makes
every move that leaves more of it inside a grid cost households (see :data:`CROSSING_SCALE`).

Grids that survive keep their codes; new grids get the next free number in their community.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError, Problem
from gridmap.partition import apply_barriers, resolve_barriers
from gridmap.plan import (
    Plan,
    PlanFile,
    _crossing_problem,
    _land,
    _measure,
    _side_fits,
    overlap_codes,
    prepare_street,
)
from gridmap.rebalance import Board, settle
from gridmap.units import Units

#: Gap and overlap pieces thinner than this (metres) are sloppy edges, not real gaps.
SLIVER_WIDTH = 2.0

#: A building is "cut" by the drawing when its second-largest piece is at least this share.
CUT_SHARE = 0.05

#: Area (m²) of a drawn grid in another community, beyond slivers, that counts as crossing.
CROSSING_M2 = 100.0

#: In redraw, a penalised barrier left inside a grid along one mean grid perimeter (four times
#: the square root of the street's area per grid) costs its class's crossing weight
#: (:data:`gridmap.partition.DEFAULT_CROSSING_WEIGHT`) times this many target grids of
#: households moved: where the partitioner trades a grid's Polsby-Popper, redraw trades a
#: grid's worth of households.
CROSSING_SCALE = 1.0


# ------------------------------------------------------------------------------- import


@dataclass
class DrawingCheck:
    """What is wrong with a drawing of grids, before it is mapped onto units.

    Attributes
    ----------
    gaps
        Street area no drawn grid covers: one row per piece larger than 1 m² and wider than
        :data:`SLIVER_WIDTH` (``area_m2``, metric geometry).
    overlaps
        Area drawn in two grids: ``code_a``, ``code_b``, ``area_m2``, geometry (pieces wider
        than :data:`SLIVER_WIDTH`).
    slivers
        Number of gap and overlap pieces thinner than :data:`SLIVER_WIDTH` (sloppy edges).
    sliver_m2
        Their total area.
    outside_m2
        Drawn area outside the street.
    buildings_cut
        Buildings a drawn line runs through: ``building_id``, ``codes`` (the grids sharing it),
        ``second_share`` (share of the footprint in the second-largest grid).
    crossing
        Drawn grids that cross a community line: ``code``, ``communities``, ``outside_share``.
    """

    gaps: gpd.GeoDataFrame
    overlaps: gpd.GeoDataFrame
    slivers: int
    sliver_m2: float
    outside_m2: float
    buildings_cut: pd.DataFrame
    crossing: pd.DataFrame


@dataclass
class ImportedPlan:
    """Today's grids mapped onto the street's units, with the check of the drawing.

    Attributes
    ----------
    plan
        The plan the drawing amounts to: each unit in the grid holding most of it (units in
        gaps join the neighbouring grid they share most boundary with).  Its grids may be in
        several pieces or cross community lines: see ``problems``.
    check
        The :class:`DrawingCheck` of the polygons as drawn.
    problems
        One problem per finding, naming grids, buildings and the fix.
    """

    plan: Plan
    check: DrawingCheck
    problems: list[Problem] = field(default_factory=list)


def _as_plan_file(previous: PlanFile | gpd.GeoDataFrame) -> PlanFile:
    if isinstance(previous, PlanFile):
        return previous
    if isinstance(previous, gpd.GeoDataFrame):
        if "code" not in previous.columns:
            raise InputError("the grids have no 'code' column.", fix="name each grid in 'code'.")
        grids = previous.assign(code=previous["code"].astype(str))
        return PlanFile(grids, None, {}, str(previous.attrs.get("source", "grids")))
    raise InputError(f"cannot read grids from a {type(previous).__name__}.")


def _thin(geoms: np.ndarray) -> np.ndarray:
    """True for pieces thinner than :data:`SLIVER_WIDTH` (they vanish when shrunk by half)."""
    if not len(geoms):
        return np.zeros(0, dtype=bool)
    return shapely.is_empty(shapely.buffer(geoms, -SLIVER_WIDTH / 2))


def _pieces(geom: Any) -> np.ndarray:
    parts = shapely.get_parts(np.asarray([geom], dtype=object))
    parts = parts[np.isin(shapely.get_type_id(parts), (3,))]
    return parts[shapely.area(parts) > 1.0]


def check_drawing(
    grids: gpd.GeoDataFrame,
    street: Any,
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
) -> DrawingCheck:
    """Find gaps, overlaps, slivers, cut buildings and community crossings in drawn grids.

    Parameters
    ----------
    grids
        Drawn grid polygons with ``code``, in a metric CRS.
    street
        The street polygon in the same CRS.
    communities
        Community polygons with ``code``, in the same CRS.
    buildings
        Building footprints with ``id``, in the same CRS.
    """
    crs = grids.crs
    cells = shapely.make_valid(grids.geometry.to_numpy())
    codes = grids["code"].to_numpy(dtype=object)
    drawn = shapely.union_all(cells)
    gap_parts = _pieces(shapely.difference(street, drawn))
    thin_gaps = _thin(gap_parts)
    left, right = shapely.STRtree(cells).query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    rows = []
    thin_overlap_count, thin_overlap_area = 0, 0.0
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        parts = _pieces(shapely.intersection(cells[a], cells[b]))
        if not len(parts):
            continue
        thin = _thin(parts)
        thin_overlap_count += int(thin.sum())
        thin_overlap_area += float(shapely.area(parts[thin]).sum())
        if (~thin).any():
            wide = shapely.union_all(parts[~thin])
            rows.append((codes[a], codes[b], float(shapely.area(wide)), wide))
    overlaps = gpd.GeoDataFrame(
        rows, columns=["code_a", "code_b", "area_m2", "geometry"], geometry="geometry", crs=crs
    )
    gaps = gpd.GeoDataFrame(
        {"area_m2": shapely.area(gap_parts[~thin_gaps])}, geometry=gap_parts[~thin_gaps], crs=crs
    )
    outside = float(shapely.area(shapely.difference(drawn, street)))
    # buildings cut by drawn lines
    foot = buildings.geometry.to_numpy()
    b_idx, g_idx = shapely.STRtree(cells).query(foot, predicate="intersects")
    piece = shapely.area(shapely.intersection(foot[b_idx], cells[g_idx]))
    frame = pd.DataFrame({"b": b_idx, "g": g_idx, "piece": piece})
    frame = frame[frame["piece"] > 1.0].sort_values(["b", "piece"], ascending=[True, False])
    cut_rows = []
    for b, group in frame.groupby("b", sort=True):
        if len(group) < 2:
            continue
        second = float(group["piece"].iloc[1]) / max(float(shapely.area(foot[b])), 1e-9)
        if second >= CUT_SHARE:
            cut_rows.append(
                (str(buildings["id"].iloc[b]), ", ".join(codes[group["g"]].astype(str)), second)
            )
    cut = pd.DataFrame(cut_rows, columns=["building_id", "codes", "second_share"])
    # grids crossing community lines
    comm_geoms = communities.geometry.to_numpy()
    comm_codes = communities["code"].astype(str).to_numpy()
    crossing_rows = []
    g_i, c_i = shapely.STRtree(comm_geoms).query(cells, predicate="intersects")
    shares = pd.DataFrame(
        {
            "g": g_i,
            "c": c_i,
            "area": shapely.area(shapely.intersection(cells[g_i], comm_geoms[c_i])),
        }
    )
    for g, group in shares.groupby("g", sort=True):
        total = float(group["area"].sum())
        if total <= 0:
            continue
        group = group.sort_values("area", ascending=False)
        others = group["c"].iloc[1:].tolist()
        wide = [
            c for c in others
            if shapely.area(shapely.buffer(shapely.intersection(cells[g], comm_geoms[c]),
                                           -SLIVER_WIDTH / 2)) > 0
            and float(group.loc[group["c"] == c, "area"].iloc[0]) > CROSSING_M2
        ]  # fmt: skip
        if wide:
            outside_share = float(group.loc[group["c"].isin(wide), "area"].sum()) / total
            names = ", ".join(comm_codes[[int(group["c"].iloc[0]), *wide]])
            crossing_rows.append((codes[g], names, outside_share))
    crossing = pd.DataFrame(crossing_rows, columns=["code", "communities", "outside_share"])
    return DrawingCheck(
        gaps=gaps,
        overlaps=overlaps,
        slivers=int(thin_gaps.sum()) + thin_overlap_count,
        sliver_m2=float(shapely.area(gap_parts[thin_gaps]).sum()) + thin_overlap_area,
        outside_m2=outside,
        buildings_cut=cut,
        crossing=crossing,
    )


def _unit_neighbours(graph: Any) -> tuple[list[list[int]], list[list[float]]]:
    """Adjacency lists (same community only) with shared lengths."""
    nbrs: list[list[int]] = [[] for _ in range(graph.n)]
    lens: list[list[float]] = [[] for _ in range(graph.n)]
    groups = graph.groups
    for (a, b), length in zip(graph.edges.tolist(), graph.length.tolist(), strict=True):
        if groups[a] == groups[b]:
            nbrs[a].append(b)
            nbrs[b].append(a)
            lens[a].append(length)
            lens[b].append(length)
    return nbrs, lens


def _move_neighbours(
    graph: Any,
    sides: Any,
    edge_cost: np.ndarray,
    old_codes: np.ndarray,
    locked: Iterable[str],
) -> tuple[list[list[int]], list[list[float]], list[list[float]]]:
    """Adjacency lists along which redraw may move units: neighbours, lengths, crossing costs.

    The edges of ``sides`` (the unit graph with each community's barrier sides as groups, see
    :func:`gridmap.partition.apply_barriers`) inside a side, with their cost ``edge_cost``, and
    the community's edges inside a locked grid (which stays whole as it was, even across a
    forbidden barrier; they cost nothing: it never changes).
    """
    nbrs: list[list[int]] = [[] for _ in range(graph.n)]
    lens: list[list[float]] = [[] for _ in range(graph.n)]
    pens: list[list[float]] = [[] for _ in range(graph.n)]
    side = sides.groups

    def add(a: int, b: int, length: float, cost: float) -> None:
        nbrs[a].append(b)
        nbrs[b].append(a)
        lens[a].append(length)
        lens[b].append(length)
        pens[a].append(cost)
        pens[b].append(cost)

    for (a, b), length, cost in zip(
        sides.edges.tolist(), sides.length.tolist(), edge_cost.tolist(), strict=True
    ):
        if side[a] == side[b]:
            add(a, b, length, cost)
    keep = set(locked)
    if keep:
        groups = graph.groups
        known = {(a, b) for a, row in enumerate(nbrs) for b in row}
        for (a, b), length in zip(graph.edges.tolist(), graph.length.tolist(), strict=True):
            same = groups[a] == groups[b] and old_codes[a] == old_codes[b]
            if same and old_codes[a] in keep and (a, b) not in known:
                add(a, b, length, 0.0)
    return nbrs, lens, pens


def _previous_codes(
    units: Units, layers: Mapping[str, Any], previous: PlanFile
) -> tuple[np.ndarray, pd.Series]:
    """The previous grid of every unit and of every building.

    Buildings follow the plan file's assignments when it has them (buildings it does not list
    are new: no previous grid), else the grid holding most of their footprint.  A unit takes
    the previous grid holding most of its households, or the most of its area when it has no
    household in a listed building.
    """
    crs = units.gdf.crs
    buildings = layers["buildings"]
    ids = buildings["id"].astype(str)
    if previous.assignments is not None:
        by_building = ids.map(previous.assignments).to_numpy(dtype=object)
        by_building = np.where(pd.isna(by_building), None, by_building)
    else:
        by_building, _ = overlap_codes(buildings.to_crs(crs), previous.grids)
    building_codes = pd.Series(by_building, index=ids.to_numpy(), name="code")
    unit_of = units.building_unit.reindex(ids.to_numpy()).to_numpy()
    households = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    votes = pd.DataFrame({"unit": unit_of, "code": by_building, "households": households})
    votes = votes[votes["code"].notna() & pd.notna(votes["unit"]) & (votes["households"] > 0)]
    codes = np.full(len(units.gdf), None, dtype=object)
    if len(votes):
        best = (
            votes.groupby(["unit", "code"], sort=True)["households"]
            .sum()
            .reset_index()
            .sort_values(["unit", "households", "code"], ascending=[True, False, True])
            .drop_duplicates("unit")
        )
        codes[best["unit"].astype(int).to_numpy()] = best["code"].to_numpy(dtype=object)
    by_area, _ = overlap_codes(units.gdf, previous.grids.to_crs(crs))
    missing = np.array([c is None for c in codes])
    codes[missing] = by_area[missing]
    return codes, building_codes


def _fill_from_neighbours(
    codes: np.ndarray, nbrs: list[list[int]], lens: list[list[float]]
) -> np.ndarray:
    """Give units without a code the code of the neighbour they share most boundary with."""
    codes = codes.copy()
    while True:
        todo = [u for u in range(len(codes)) if codes[u] is None]
        changed = False
        for u in todo:
            shared: dict[Any, float] = {}
            for v, length in zip(nbrs[u], lens[u], strict=True):
                if codes[v] is not None:
                    shared[codes[v]] = shared.get(codes[v], 0.0) + length + 1e-9
            if shared:
                codes[u] = max(sorted(shared, key=str), key=lambda c: shared[c])
                changed = True
        if not changed:
            return codes


def _labels(codes: np.ndarray) -> tuple[np.ndarray, list[str]]:
    names = sorted({str(c) for c in codes})
    index = {c: i for i, c in enumerate(names)}
    return np.asarray([index[str(c)] for c in codes], dtype=np.int64), names


def _read_context(
    layers: Mapping[str, Any],
    previous: PlanFile | gpd.GeoDataFrame,
    weight: str,
    target: float,
    minimum: float,
    maximum: float,
    progress: Callable[[int, int, str], None] | None,
) -> tuple[Units, Any, Any, PlanFile]:
    plan_file = _as_plan_file(previous)
    units, graph, context = prepare_street(
        layers, weight=weight, target=target, minimum=minimum, maximum=maximum,
        progress=progress,
    )  # fmt: skip
    return units, graph, context, plan_file


def import_plan(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    drawn: PlanFile | gpd.GeoDataFrame,
    *,
    weight: str = "households",
    target: float = 400,
    minimum: float = 300,
    maximum: float = 500,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportedPlan:
    """Map a street office's drawn grids onto the street and measure today's plan.

    Parameters
    ----------
    layers
        The workspace layers.
    drawn
        The drawn grids: a :class:`gridmap.plan.PlanFile` (see :func:`gridmap.plan.read_plan`)
        or polygons with a ``code`` column, in any CRS.
    weight, target, minimum, maximum
        What the grids are measured against.
    progress
        Called as ``progress(step, steps, label)``.

    Returns
    -------
    ImportedPlan
    """
    units, graph, context, plan_file = _read_context(
        layers, drawn, weight, target, minimum, maximum, progress
    )
    crs = units.gdf.crs
    grids = plan_file.grids.to_crs(crs)
    _require_overlap(grids, context.street, plan_file.source)
    check = check_drawing(
        grids, context.street, layers["communities"].to_crs(crs), layers["buildings"].to_crs(crs)
    )
    nbrs, lens = _unit_neighbours(graph)
    codes, _ = _previous_codes(units, layers, plan_file)
    undrawn = np.array([c is None for c in codes])
    codes = _fill_from_neighbours(codes, nbrs, lens)
    community = units.gdf["community"].astype(str).to_numpy()
    for u in np.flatnonzero([c is None for c in codes]):  # a community nobody drew
        codes[u] = f"(not drawn) {community[u]}"
    labels, names = _labels(codes)
    plan = _measure(
        units.gdf, labels, context, codes=names, graph=graph,
        building_unit=units.building_unit, household_unit=units.household_unit,
        parameters={"imported_from": plan_file.source, "weight": weight, "target": target,
                    "minimum": minimum, "maximum": maximum},
    )  # fmt: skip
    lost = sorted(set(plan_file.grids["code"].astype(str)) - set(names))
    problems = _import_problems(plan, check, undrawn, lost, plan_file.source)
    plan.problems = problems
    return ImportedPlan(plan, check, problems)


#: A drawing covering less than this share of the street is not a drawing of the street.
MIN_COVER_SHARE = 0.01


def _require_overlap(grids: gpd.GeoDataFrame, street: Any, source: str) -> None:
    """Refuse a drawing that does not lie over the street (another place, or a wrong CRS)."""
    geoms = grids.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    street_area = float(shapely.area(street))
    covered = 0.0
    if len(geoms):
        drawn = shapely.union_all(shapely.make_valid(geoms))
        covered = float(shapely.area(shapely.intersection(drawn, street)))
    if street_area > 0 and covered >= MIN_COVER_SHARE * street_area:
        return

    def extent(geom: Any) -> str:
        box = gpd.GeoSeries([geom], crs=grids.crs).to_crs(4326).total_bounds
        return f"lon {box[0]:.4f}..{box[2]:.4f}, lat {box[1]:.4f}..{box[3]:.4f}"

    drawing = extent(shapely.union_all(geoms)) if len(geoms) else "empty"
    raise InputError(
        f"the drawing {source} does not overlap the street: it covers "
        f"{100 * covered / max(street_area, 1e-9):.2g} % of it (drawing: {drawing}; street: "
        f"{extent(street)}).",
        fix="import a drawing of this street; if it is one, check its CRS (gridmap validate "
        "DRAWING shows the CRS and extent it was read with).",
    )


def _listing(items: Iterable[Any], limit: int = 8) -> str:
    items = [str(i) for i in items]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _import_problems(
    plan: Plan, check: DrawingCheck, undrawn: np.ndarray, lost: list[str], source: str
) -> list[Problem]:
    problems: list[Problem] = []

    def add(severity: str, message: str, fix: str) -> None:
        problems.append(Problem(severity, message, fix, file=source))

    if len(check.gaps):
        add(
            "warning",
            f"{len(check.gaps)} gap(s) between the drawn grids, {check.gaps['area_m2'].sum():,.0f}"
            f" m² in all; {int(plan.units.loc[undrawn, 'households'].sum())} households live in "
            "them and were given to the neighbouring grid.",
            "draw the gaps into a grid, or let gridmap redraw the plan.",
        )
    if len(check.overlaps):
        pairs = [
            f"{a}/{b}"
            for a, b in zip(check.overlaps["code_a"], check.overlaps["code_b"], strict=True)
        ]
        add(
            "warning",
            f"{len(check.overlaps)} overlap(s) between drawn grids ({_listing(pairs)}), "
            f"{check.overlaps['area_m2'].sum():,.0f} m²; each unit went to the grid holding most "
            "of it.",
            "draw each place in one grid only.",
        )
    if check.slivers:
        add(
            "info",
            f"{check.slivers} sliver(s) thinner than {SLIVER_WIDTH:g} m along the drawn lines "
            f"({check.sliver_m2:,.0f} m²): sloppy edges, ignored.",
            "snap grid edges to each other when drawing (QGIS: snapping, topological editing).",
        )
    if check.outside_m2 > 1.0:
        add(
            "info",
            f"{check.outside_m2:,.0f} m² of the drawing lie outside the street: ignored.",
            "clip the grids to the street boundary.",
        )
    if len(check.buildings_cut):
        add(
            "warning",
            f"{len(check.buildings_cut)} building(s) are cut by drawn grid lines "
            f"({_listing(check.buildings_cut['building_id'])}); each went to the grid holding "
            "most of it.",
            "draw grid lines along roads and between buildings.",
        )
    if len(check.crossing):
        add(
            "warning",
            f"{len(check.crossing)} drawn grid(s) cross a community line: "
            f"{_listing(check.crossing['code'])}.",
            "keep each grid inside one community (gridmap redraw does).",
        )
    if lost:
        add(
            "warning",
            f"{len(lost)} drawn grid(s) hold no whole unit and vanish: {_listing(lost)}.",
            "merge them into a neighbour, or draw them along roads so they hold a block.",
        )
    grids = plan.grids
    pieces = grids.loc[grids["parts"] > 1, "code"].tolist()
    if pieces:
        add("warning", f"{len(pieces)} grid(s) are in several pieces: {_listing(pieces)}.",
            "redraw them as one piece each (gridmap redraw does).")  # fmt: skip
    context = plan.context
    if context.minimum is not None and context.maximum is not None:
        weight = grids["weight"]
        low = grids.loc[weight < context.minimum, "code"].tolist()
        high = grids.loc[weight > context.maximum, "code"].tolist()
        if low or high:
            add(
                "warning",
                f"{len(low) + len(high)} of {len(grids)} grids are out of the range "
                f"{context.minimum:g}-{context.maximum:g} {context.weight}: "
                + "; ".join(
                    part
                    for part in (
                        f"over: {_listing(high)}" if high else "",
                        f"under: {_listing(low)}" if low else "",
                    )
                    if part
                )
                + ".",
                "rebalance with gridmap redraw, which moves as few households as possible.",
            )
    return problems


# ------------------------------------------------------------------------------- redraw


@dataclass
class Redraw:
    """A redrawn plan and what changed against the previous one.

    Attributes
    ----------
    plan
        The new plan; surviving grids keep their codes.
    households_moved
        Households of buildings in the previous plan whose grid code changed.
    households_before
        Households of buildings in the previous plan (the base of the share moved).
    new_households
        Households of buildings the previous plan did not list (new since).
    grids_changed
        Codes kept but with other buildings.
    added, retired
        Codes of new grids, and of previous grids that are gone.
    problems
        Grids still out of range and other findings.
    """

    plan: Plan
    households_moved: int
    households_before: int
    new_households: int
    grids_changed: list[str]
    added: list[str]
    retired: list[str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def share_moved(self) -> float:
        """Share of the previous plan's households that changed grid."""
        return self.households_moved / self.households_before if self.households_before else 0.0


class _Board(Board):
    """A :class:`gridmap.rebalance.Board` whose moves cost the households that change grid."""

    def __init__(
        self,
        labels: list[int],
        names: list[str],
        w: np.ndarray,
        cost: np.ndarray,
        home: list[int],
        nbrs: list[list[int]],
        community: np.ndarray,
        pen: list[list[float]] | None = None,
    ) -> None:
        super().__init__(labels, w.tolist(), nbrs, community.tolist())
        self.names = names
        self.cost = cost.tolist()
        self.home = home  # previous label of each unit (-1: none)
        self.pen = pen  # per neighbour: households a barrier edge costs inside a grid

    def new_label(self, name: str) -> int:
        self.names.append(name)
        label = len(self.names) - 1
        self.members[label] = set()
        self.weight[label] = 0.0
        return label

    def move_cost(self, u: int, b: int) -> float:
        """Change in households moved if ``u`` goes to ``b``, plus penalised crossings."""
        home, a = self.home[u], self.lab[u]
        moved = 0.0
        if home >= 0 and b == home:
            moved = -self.cost[u]
        elif home >= 0 and a == home:
            moved = self.cost[u]
        return moved + self.crossing_change(u, b)

    def crossing_change(self, u: int, b: int) -> float:
        """Change of the penalised barrier cost left inside grids if ``u`` goes to ``b``."""
        if self.pen is None:
            return 0.0
        a, lab = self.lab[u], self.lab
        change = 0.0
        for v, c in zip(self.nbrs[u], self.pen[u], strict=True):
            if c and lab[v] == b:
                change += c
            elif c and lab[v] == a:
                change -= c
        return change


def _grid_number(name: str) -> int | None:
    return int(name[-3:]) if len(name) == 15 and name.isdigit() else None


def _next_code(community: str, taken: set[str]) -> str:
    used = {int(c[-3:]) for c in taken if len(c) == 15 and c.isdigit() and c[:12] == community}
    number = max(used, default=0) + 1
    while f"{community}{number:03d}" in taken:
        number += 1
    if number > 999:
        raise InputError(f"community {community} has run out of 3-digit grid numbers.")
    return f"{community}{number:03d}"


def redraw(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    previous: PlanFile | gpd.GeoDataFrame,
    *,
    weight: str = "households",
    target: float = 400,
    minimum: float = 300,
    maximum: float = 500,
    locked: Iterable[str] = (),
    progress: Callable[[int, int, str], None] | None = None,
    barriers: str | Mapping[str, str] | None = None,
) -> Redraw:
    """Bring a previous plan back into range while moving as few households as possible.

    Parameters
    ----------
    layers
        Today's workspace layers (with the households that moved in or out).
    previous
        The previous plan: a :class:`gridmap.plan.PlanFile` (a gridmap plan file's building
        assignments are used; buildings it does not list count as new) or grid polygons with
        ``code``.
    weight, target, minimum, maximum
        The range every grid must meet, and the target used to size new grids.
    locked
        Codes of grids that must stay exactly as they are.
    progress
        Called as ``progress(step, steps, label)``.
    barriers
        How grids treat the river (``water``) and arterial roads (``arterial``), with the
        values and defaults of :func:`gridmap.plan.make_plan`: ``"forbid"`` (no unit moves
        across; a grid of the previous plan across the barrier keeps its larger side, unless a
        side of its community cannot hold whole grids in range on its own: then a warning),
        ``"penalise"`` (a move leaving more of the barrier inside a grid costs households, see
        :data:`CROSSING_SCALE`) or ``"ignore"``; one mode for both or per class.  Default:
        forbid the river, penalise arterials.

    Returns
    -------
    Redraw
        Its plan records the barrier modes in ``parameters["barriers"]``.

    Raises
    ------
    InputError
        When a community cannot be given a whole number of grids in range, a locked code is
        not in the previous plan, or ``barriers`` names an unknown class or mode.
    """
    modes = resolve_barriers(barriers)  # a typo is refused before any work
    units, graph, context, plan_file = _read_context(
        layers, previous, weight, target, minimum, maximum, progress
    )
    gdf = units.gdf
    old_codes, building_codes = _previous_codes(units, layers, plan_file)
    community = gdf["community"].astype(str).to_numpy()
    w = gdf[weight].to_numpy(dtype=float)
    cost = _old_households(units, layers, building_codes)
    previous_names = sorted({str(c) for c in plan_file.grids["code"]})
    locked = [str(c) for c in locked]
    unknown = sorted(set(locked) - set(previous_names))
    if unknown:
        raise InputError(
            f"cannot lock {_listing(unknown)}: not grids of the previous plan.",
            fix=f"lock codes among {_listing(previous_names)}.",
        )
    problems: list[Problem] = []
    sides, edge_cost = _barrier_rules(graph, gdf, w, modes, weight, target, minimum, maximum,
                                      problems)  # fmt: skip
    nbrs, lens, pens = _move_neighbours(graph, sides, edge_cost, old_codes, locked)
    # a region is a community, or one side of it when a barrier is forbidden
    region = np.asarray(sides.groups, dtype=np.int64)
    community_of = {int(r): community[u] for u, r in enumerate(region.tolist())}
    codes = old_codes.copy()
    # 1. nesting: a grid keeps its part in the region holding most of its weight (a locked
    # grid only its part in the community holding most)
    frame = pd.DataFrame({"code": codes, "region": region, "w": w + 1e-6})
    frame = frame[frame["code"].notna()]
    main = (
        frame.groupby(["code", "region"])["w"].sum().reset_index()
        .sort_values(["code", "w", "region"], ascending=[True, False, True])
        .drop_duplicates("code").set_index("code")["region"]
    )  # fmt: skip
    for u in range(len(codes)):
        if codes[u] is None or main[codes[u]] == region[u]:
            continue
        if codes[u] in locked and community_of[int(main[codes[u]])] == community[u]:
            continue
        codes[u] = None
    codes = _fill_from_neighbours(codes, nbrs, lens)
    taken = set(previous_names)
    for r in sorted(set(region[[c is None for c in codes]].tolist())):
        code = _next_code(community_of[r], taken)  # a region left with no grid at all
        taken.add(code)
        codes[(region == r) & np.array([c is None for c in codes])] = code
    names = sorted({str(c) for c in codes})
    index = {c: i for i, c in enumerate(names)}
    labels = [index[str(c)] for c in codes]
    home = [index.get(str(c), -1) if c is not None else -1 for c in old_codes]
    costly = pens if edge_cost.any() else None
    board = _Board(labels, names, w, cost, home, nbrs, region, costly)
    board.locked = {index[c] for c in locked if c in index}
    # 2. contiguity: a grid keeps its piece with most previous households
    for p in list(board.members):
        comps = board.components(p)
        if len(comps) > 1:
            comps.sort(key=lambda c: (sum(cost[u] for u in c), sum(w[u] for u in c), len(c)))
            for comp in comps[:-1]:
                _reattach(board, comp)
    # 3. grids per region, then 4. balance
    split = {c for c in community_of.values() if list(community_of.values()).count(c) > 1}
    where = {r: f"one side of community {c} (a forbidden barrier runs through it)"
             if c in split else None for r, c in community_of.items()}  # fmt: skip
    for _ in range(2):
        for r in sorted(community_of):
            _fit_count(board, r, community_of[r], minimum, maximum, target, taken, problems,
                       where[r])  # fmt: skip
        settle(board, minimum, maximum)
    # the plan, with surviving codes kept
    used = sorted(board.members)
    relabel = {p: i for i, p in enumerate(used)}
    final = np.asarray([relabel[p] for p in board.lab], dtype=np.int64)
    final_codes = [board.names[p] for p in used]
    plan = _measure(
        gdf, final, context, codes=final_codes, graph=graph,
        building_unit=units.building_unit, household_unit=units.household_unit,
        parameters={"redrawn_from": plan_file.source, "weight": weight, "target": target,
                    "minimum": minimum, "maximum": maximum, "locked": locked,
                    "barriers": modes},
    )  # fmt: skip
    result = _compare(plan, layers, building_codes, previous_names)
    problems += [p for p in units.problems if p.severity != "info"]
    outside = plan.grids.loc[(plan.grids["weight"] < minimum) | (plan.grids["weight"] > maximum)]
    out_of_range = outside["code"].tolist()
    if out_of_range:
        problems.append(
            Problem(
                "warning",
                f"{len(out_of_range)} grid(s) are still out of {minimum:g}-{maximum:g} "
                f"{weight}: {_listing(out_of_range)}.",
                "widen the range, or partition the street afresh (gridmap partition).",
                code="redraw_out_of_range",
                params={
                    "count": len(out_of_range),
                    "minimum": minimum,
                    "maximum": maximum,
                    "weight_name": weight,
                    "grids": [
                        {"code": str(c), "weight": float(w)}
                        for c, w in zip(outside["code"], outside["weight"], strict=True)
                    ],
                },
            )
        )
    result.problems = problems
    plan.problems = problems
    return result


def _barrier_rules(
    graph: Any,
    gdf: gpd.GeoDataFrame,
    w: np.ndarray,
    modes: Mapping[str, str],
    weight: str,
    target: float,
    minimum: float,
    maximum: float,
    problems: list[Problem],
) -> tuple[Any, np.ndarray]:
    """The graph redraw moves units on (barrier sides as groups) and the cost of its edges.

    Forbidden and penalised classes are applied as by the partitioner
    (:func:`gridmap.partition.apply_barriers`, with its rule for which sides stand alone);
    forced crossings are added to ``problems``.  The cost of a penalised edge inside a grid
    is in households: its length over the mean grid perimeter, times its class's crossing
    weight, times :data:`CROSSING_SCALE` target grids.
    """
    request = {"target": target, "minimum": minimum, "maximum": maximum}
    sides, penalty, free, joined = apply_barriers(
        graph, w, _land(gdf), modes, _side_fits({}, request)
    )
    for community, what, side_weight in joined:
        problems.append(_crossing_problem(community, what, side_weight, weight, request))
    barrier = np.asarray(sides.barrier, dtype=np.int64)
    per_metre = np.zeros(len(barrier))
    for cls, value in penalty.items():
        per_metre[barrier == cls] = value
    if free is not None:
        per_metre[free] = 0.0
    grids = max(1.0, float(w.sum()) / target)
    perimeter = 4 * math.sqrt(max(float(gdf.area.sum()), 1.0) / grids)
    scale = CROSSING_SCALE * target / perimeter
    return sides, np.asarray(sides.length, dtype=np.float64) * per_metre * scale


def _old_households(
    units: Units, layers: Mapping[str, Any], building_codes: pd.Series
) -> np.ndarray:
    """Per unit, the households of its buildings that were in the previous plan."""
    buildings = layers["buildings"]
    ids = buildings["id"].astype(str).to_numpy()
    households = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    listed = building_codes.reindex(ids).notna().to_numpy()
    unit_of = units.building_unit.reindex(ids).to_numpy()
    ok = listed & pd.notna(unit_of)
    cost = np.zeros(len(units.gdf))
    np.add.at(cost, unit_of[ok].astype(int), households[ok])
    return cost


def _reattach(board: _Board, comp: set[int]) -> None:
    """Give a detached piece of a grid, unit by unit, to the grids around it."""
    left = set(comp)
    while left:
        progress = False
        for u in sorted(left):
            around = [board.lab[v] for v in board.nbrs[u] if v not in left]
            if not around:
                continue
            board.move(u, max(sorted(set(around)), key=around.count))
            left.discard(u)
            progress = True
        if not progress:
            return


def _fit_count(
    board: _Board,
    region: int,
    comm: str,
    minimum: float,
    maximum: float,
    target: float,
    taken: set[str],
    problems: list[Problem],
    where: str | None = None,
) -> None:
    """Add or merge grids until a region has a number of grids that can all be in range.

    A region is community ``comm`` or, with a forbidden barrier, one side of it (``where``
    names it in messages).  A count that can work is kept; otherwise the region gets the
    count nearest ``total / target``: new grids are carved out of the fullest grid, surplus
    grids merged away.  New grids are numbered in ``comm``.
    """
    where = where or f"community {comm}"
    grids = _grids_of(board, region)
    total = sum(board.weight[p] for p in grids)
    if total <= 0:
        return
    low = max(1, math.ceil(total / maximum - 1e-9))
    high = max(low, math.floor(total / minimum + 1e-9))
    if low > math.floor(total / minimum + 1e-9):
        problem = Problem(
            "warning",
            f"{where} has {total:g} households: no whole number of grids puts every "
            f"grid within {minimum:g}-{maximum:g}.",
            "widen the range for this community.",
            code="community_range_infeasible",
            params={
                "community": comm,
                "side": where != f"community {comm}",
                "total": total,
                "minimum": minimum,
                "maximum": maximum,
            },  # fmt: skip
        )
        if problem not in problems:  # the counts are fitted twice
            problems.append(problem)
    if all(minimum <= board.weight[p] <= maximum for p in grids):
        return  # nothing to mend here
    # a grid left nearly empty (its blocks torn down) goes, when the others can take its share
    band = ((minimum + target) / 2, (target + maximum) / 2)
    for _ in range(len(grids)):
        grids = _grids_of(board, region)
        empty = [p for p in grids if board.weight[p] < minimum / 2 and p not in board.locked]
        if not empty or len(grids) - 1 < low or total / (len(grids) - 1) > band[1]:
            break
        if not _merge_away(board, min(empty, key=lambda p: (board.weight[p], p))):
            break
    # keep the count when its mean grid is comfortably in range, else go to the count
    # nearest the target (fewer splits would leave every grid near the limit)
    grids = _grids_of(board, region)
    wanted = len(grids)
    if not (low <= wanted <= high and band[0] <= total / wanted <= band[1]):
        wanted = min(max(round(total / target), low), high)
    for _ in range(len(board.lab)):
        grids = _grids_of(board, region)
        if len(grids) < wanted:
            free = [p for p in grids if p not in board.locked and len(board.members[p]) > 1]
            if not free:
                return
            fullest = max(free, key=lambda p: (board.weight[p], -p))
            share = board.weight[fullest] / max(2, round(board.weight[fullest] / target))
            name = _next_code(comm, taken | set(board.names))
            taken.add(name)
            if board.weight[fullest] < 2 * minimum:
                # no grid is big enough to split into two in range (every grid grew a little):
                # the new grid takes a little from each of several
                total = sum(board.weight[p] for p in grids)
                carved = _carve_across(board, total / (len(grids) + 1), name, free)
            else:
                carved = _carve(board, fullest, share, name)
            if not carved:
                return
        elif len(grids) > wanted:
            free = [p for p in grids if p not in board.locked]
            lightest = min(free, key=lambda p: (board.weight[p], p)) if free else None
            if lightest is None or not _merge_away(board, lightest):
                return
        else:
            return


def _grids_of(board: _Board, region: Any) -> list[int]:
    """Labels of the grids of a region (the board's community of their units)."""
    return [p for p in board.members if board.community[next(iter(board.members[p]))] == region]


def _carve(board: _Board, p: int, share: float, name: str) -> bool:
    """Cut a new grid of about ``share`` out of grid ``p``, moving the fewest old households."""
    members = board.members[p]
    if len(members) < 2:
        return False
    w, cost = board.w, board.cost

    def fresh(u: int) -> float:  # households that were in no grid before
        return w[u] - cost[u]

    start = max(sorted(members), key=lambda u: (fresh(u), w[u]))
    carved = {start}
    if not board.connected(members - carved):
        boundary = [u for u in sorted(members) if board.connected(members - {u})]
        if not boundary:
            return False
        start = max(boundary, key=lambda u: (fresh(u), w[u]))
        carved = {start}
    got = w[start]
    while got < share:
        frontier = sorted({v for u in carved for v in board.nbrs[u] if v in members} - carved)
        options = []
        for v in frontier:
            if not board.connected(members - carved - {v}):
                continue
            step = w[v]
            over = max(0.0, got + step - share)
            options.append(((cost[v] + 1e-3) / (step + 1e-3), over, v))
        if not options:
            break
        options.sort()
        _, over, v = options[0]
        if over > 0 and got + w[v] - share > share - got:
            break  # taking it would overshoot more than stopping short
        carved.add(v)
        got += w[v]
    if len(carved) == len(members):
        return False
    label = board.new_label(name)
    for u in sorted(carved):
        board.move(u, label)
    return True


def _carve_across(board: _Board, share: float, name: str, free: list[int]) -> bool:
    """Cut a new grid of about ``share`` from several full grids, each giving a little.

    When every grid has grown (no new compound to carve out of one), a new grid where several
    full grids meet takes their border units, fullest donor first, so that each donor loses
    only about its excess instead of one grid losing a whole grid's worth.
    """
    free_set = set(free)
    mean = share
    over = {p for p in free_set if board.weight[p] > mean}
    if not over:
        return False
    # seed: a unit of an over-full grid touching the most other over-full grids
    best = None
    for p in sorted(over):
        for u in sorted(board.members[p]):
            touching = {board.lab[v] for v in board.nbrs[u]} & over - {p}
            score = (len(touching), board.weight[p])
            if (best is None or score > best[0]) and board.can_leave(u):
                best = (score, u)
    if best is None:
        return False
    label = board.new_label(name)
    board.move(best[1], label)
    got = board.w[best[1]]
    while got < share:
        frontier = sorted(
            {v for u in board.members[label] for v in board.nbrs[u]} - board.members[label]
        )
        options = []
        for v in frontier:
            p = board.lab[v]
            if p not in free_set or board.weight[p] - board.w[v] < mean - 1e-9:
                continue  # the donor would fall below the new mean
            if not board.can_leave(v):
                continue
            options.append((-(board.weight[p] - mean), board.cost[v] / (board.w[v] + 1e-3), v))
        if not options:
            break
        options.sort()
        v = options[0][2]
        if got + board.w[v] - share > share - got:
            break
        board.move(v, label)
        got += board.w[v]
    return True


def _merge_away(board: _Board, p: int) -> bool:
    """Merge grid ``p`` into its lightest neighbouring grid (not locked)."""
    touching = {
        board.lab[v] for u in board.members[p] for v in board.nbrs[u] if board.lab[v] != p
    } - board.locked
    if not touching:
        return False
    into = min(sorted(touching), key=lambda q: board.weight[q])
    # the merged grid keeps the code of the side holding more previous households
    mine = sum(board.cost[u] for u in board.members[p] if board.home[u] == p)
    theirs = sum(board.cost[u] for u in board.members[into] if board.home[u] == into)
    keep, gone = (p, into) if mine > theirs else (into, p)
    for u in sorted(board.members[gone]):
        board.move(u, keep)
    return True


def _compare(
    plan: Plan,
    layers: Mapping[str, Any],
    building_codes: pd.Series,
    previous_names: list[str],
) -> Redraw:
    """Households moved, grids changed, added and retired against the previous plan."""
    after = plan.building_codes()
    buildings = layers["buildings"]
    households = pd.Series(
        pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(),
        index=buildings["id"].astype(str).to_numpy(),
    )
    before = building_codes.reindex(households.index)
    now = after.reindex(households.index).astype(object)
    listed = before.notna()
    moved = listed & (before != now)
    names_after = set(plan.grids["code"])
    changed = sorted(
        code
        for code in names_after & set(previous_names)
        if set(before.index[listed & (before == code)]) != set(now.index[listed & (now == code)])
    )
    return Redraw(
        plan=plan,
        households_moved=int(households[moved].sum()),
        households_before=int(households[listed].sum()),
        new_households=int(households[~listed].sum()),
        grids_changed=changed,
        added=sorted(names_after - set(previous_names)),
        retired=sorted(set(previous_names) - names_after),
    )


def households_moved(
    before: pd.Series, after: pd.Series, households: pd.Series, *, match: bool = False
) -> int:
    """Households whose building changes grid between two building -> code assignments.

    Parameters
    ----------
    before, after
        Building id -> grid code.  Buildings missing from ``before`` are new and not counted.
    households
        Building id -> households.
    match
        Pair the grids of ``after`` with those of ``before`` first (the pairing that keeps the
        most households in place; Hungarian method), as when ``after`` was partitioned afresh
        and its codes mean nothing to ``before``.

    Returns
    -------
    int
    """
    ids = before.dropna().index.intersection(after.index)
    old = before.reindex(ids).astype(str).to_numpy()
    new = after.reindex(ids).astype(str).to_numpy()
    weight = households.reindex(ids).fillna(0).to_numpy(dtype=float)
    if match:
        from scipy.optimize import linear_sum_assignment

        old_names, old_idx = np.unique(old, return_inverse=True)
        new_names, new_idx = np.unique(new, return_inverse=True)
        overlap = np.zeros((len(new_names), len(old_names)))
        np.add.at(overlap, (new_idx, old_idx), weight)
        rows, cols = linear_sum_assignment(-overlap)
        rename = dict(zip(new_names[rows], old_names[cols], strict=True))
        new = np.asarray([rename.get(n, f"(new) {n}") for n in new], dtype=object)
    return int(weight[old != new].sum())
