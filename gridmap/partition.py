"""Balanced, contiguous, compact partition of a unit graph into grids nested in groups.

Up to four steps per group (community), groups being independent (hard nesting):

1. seed with METIS (:func:`pymetis.part_graph`, contiguity on): vertex weights are the unit
   weights, edge weights the shared boundary length times a barrier multiplier, so that the
   cheapest cuts run along arterials and rivers;
2. refine with boundary moves that keep every part contiguous (a unit leaves a part only when
   the rest stays connected, checked by a BFS on the CSR adjacency): first to bring every part
   within ``tolerance`` of the group's mean part weight, then, at no loss of balance, to shorten
   the barrier-weighted cut or, when unit areas and outer lengths are given (``compactness``),
   to raise the parts' Polsby-Popper, with single moves and then chains of two;
3. with ``bounds`` (an absolute range such as 300-500 households), bring every part still out
   of the range into it wherever the units allow, by the moves of
   :func:`gridmap.rebalance.settle` (single moves, chains of two, exchanges), each chosen for
   the least Polsby-Popper (or cut) and barrier crossing lost per household of excess removed.
   The tolerance of step 2 is relative to the group's mean part; a group of few large units can
   leave a part a household or two short of the range, which this step mends;
4. with unit shapes and points, re-split the least compact parts with their neighbours where
   that raises the lower Polsby-Popper (:func:`_raise_least`), within the weights the parts
   already span: the mean Polsby-Popper of step 2 says nothing of the worst grid.

Several METIS seeds are refined and the best kept (balance first, then compactness); everything
depends only on ``seed``.

Barriers (the river, arterial roads) act twice: METIS prefers to cut along them (the edge
multipliers), and with ``crossing_penalty`` every refinement move (balance, cut, Polsby-Popper,
chains, re-splits) pays for each metre of barrier it leaves inside a grid, so that moves keeping
a grid on one side win.  Forbidding a crossing outright is done on the graph instead: see
:func:`barrier_sides`, which splits each group into its sides, to be partitioned separately.

The graph is duck-typed: anything with the attributes of :class:`gridmap.graph.UnitGraph`
(``n``, ``edges``, ``length``, ``barrier``, ``groups``, ``group_names``) will do; only the
barrier constants are taken from :mod:`gridmap.graph`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gridmap.errors import GridmapError, InputError
from gridmap.graph import (
    BARRIER_ARTERIAL,
    BARRIER_GAP,
    BARRIER_LOCAL,
    BARRIER_NONE,
    BARRIER_SECONDARY,
    BARRIER_WATER,
)
from gridmap.rebalance import Board, out_of_range, settle

#: Default multiplier of an edge's weight by what runs along it.  A low multiplier makes the edge
#: cheap to cut, so grid lines prefer arterials and water.  GAP edges (island links, length 0)
#: get a floor weight so that they stay usable for contiguity.
DEFAULT_BARRIER_PENALTY: dict[int, float] = {
    BARRIER_NONE: 1.0,
    BARRIER_LOCAL: 0.6,
    BARRIER_SECONDARY: 0.3,
    BARRIER_ARTERIAL: 0.1,
    BARRIER_WATER: 0.05,
    BARRIER_GAP: 1.0,
}

#: Barrier classes a user can name, and how each may be handled.
BARRIER_CLASSES: dict[str, int] = {"water": BARRIER_WATER, "arterial": BARRIER_ARTERIAL}
BARRIER_MODES = ("forbid", "penalise", "ignore")
#: The default: never cross the river where the community's land allows it, and cross
#: arterials only when balance needs it.
DEFAULT_BARRIERS: dict[str, str] = {"water": "forbid", "arterial": "penalise"}
#: Cost (in Polsby-Popper points per mean grid perimeter) of a barrier left inside a grid, per
#: class, in penalise mode; a forbidden class that must be crossed (fallback) is penalised too.
DEFAULT_CROSSING_WEIGHT: dict[str, float] = {"water": 4.0, "arterial": 2.0}

_MAX_PASSES = 200
_METIS_TRIES = 16
_TRY_BUDGET = 12_000
_SCHEDULE = (3.0, 1.0)
_PAIR_PASSES = 20
_RECOMBINE_ROUNDS = 2
_RECOMBINE_SIZES = (2, 3)
_TRIPLES_PER_ROUND = 2
_LINE_DIRECTIONS = 8
_FINALISTS = 1
_SPLIT_SCHEDULE = (1.0,)
_LEAST_PARTS = 5
_LEAST_STRIP = 0.15
_LEAST_TRADE = 3.0
_LEAST_ROUNDS = 20
_LEAST_STARTS = (1, 4)  # METIS seeds, directions of straight cuts


def allocate_grids(
    group_weights: Mapping[str, float],
    *,
    target: float = 400,
    minimum: float = 300,
    maximum: float = 500,
    total: int | None = None,
    per_group: Mapping[str, int] | None = None,
    weight_name: str = "households",
) -> dict[str, int]:
    """Decide how many grids each group (community) gets.

    Three modes, tried in this order:

    * ``per_group`` given: the counts are checked (every group named, whole numbers >= 1 for a
      group with weight) and returned;
    * ``total`` given: ``total`` grids are shared in proportion to weight by the largest
      remainder method, every group with weight getting at least one;
    * otherwise: each group gets the whole number ``k`` of grids that puts its mean grid weight
      within ``[minimum, maximum]``, the one nearest ``weight / target``.

    Parameters
    ----------
    group_weights
        Group name -> total weight (households or persons).
    target, minimum, maximum
        Wanted weight per grid and the allowed range (target mode).
    total
        Total number of grids for the whole street (total mode).
    per_group
        Group name -> number of grids (explicit mode).
    weight_name
        What the weights count (``households``, ``persons``...), for the messages.

    Returns
    -------
    dict
        Group name -> number of grids, in the order of ``group_weights``.  A group with zero
        weight gets 0 grids in target mode (and 1 in the other modes, if it is listed).

    Raises
    ------
    InputError
        When the request cannot be met, naming the group, its weight and what is possible.
    """
    names = list(group_weights)
    weights = {name: float(group_weights[name]) for name in names}
    for name, w in weights.items():
        if not math.isfinite(w) or w < 0:
            raise InputError(
                f"group {name} has weight {w}: weights must be finite and not negative",
                fix="check the household (or person) counts of its units",
            )
    if per_group is not None:
        return _check_per_group(weights, per_group)
    if total is not None:
        return _allocate_total(weights, int(total))
    if not 0 < minimum <= target <= maximum:
        raise InputError(
            f"grid size range {minimum}-{maximum} with target {target} is not valid",
            fix="give 0 < minimum <= target <= maximum",
        )
    out: dict[str, int] = {}
    for name, w in weights.items():
        if w == 0:
            out[name] = 0
            continue
        low = max(1, math.ceil(w / maximum - 1e-9))
        high = math.floor(w / minimum + 1e-9)
        if low > high:
            range_params = {
                "community": name,
                "weight": w,
                "weight_name": weight_name,
                "minimum": minimum,
                "maximum": maximum,
            }
            if w < minimum:
                raise InputError(
                    f"community {name} has {w:g} {weight_name}: too few for one grid of "
                    f"{minimum:g}-{maximum:g}",
                    fix=(
                        f"allow a smaller minimum (at most {w:g}) or merge community {name} "
                        "with a neighbour"
                    ),
                    code="community_too_small",
                    params=range_params,
                )
            raise InputError(
                f"community {name} has {w:g} {weight_name}: no whole number of grids gives "
                f"{minimum:g}-{maximum:g} per grid ({low - 1} grids give "
                f"{w / max(low - 1, 1):.0f}, {low} grids give {w / low:.0f})",
                fix="widen the allowed range or give the number of grids per community",
                code="range_infeasible",
                params={
                    **range_params,
                    "fewer": low - 1,
                    "fewer_gives": round(w / max(low - 1, 1)),
                    "more": low,
                    "more_gives": round(w / low),
                },
            )
        ideal = w / target
        out[name] = min(range(low, high + 1), key=lambda k: (abs(k - ideal), k))
    return out


def _check_per_group(weights: dict[str, float], per_group: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(per_group) - set(weights))
    if unknown:
        raise InputError(
            f"grids were asked for unknown communities {', '.join(map(str, unknown))}",
            fix=f"use community codes among {', '.join(map(str, weights))}",
        )
    out: dict[str, int] = {}
    for name, w in weights.items():
        if name not in per_group:
            raise InputError(
                f"no number of grids was given for community {name}",
                fix="give a number of grids for every community",
            )
        k = per_group[name]
        if int(k) != k or k < 0 or (k == 0 and w > 0):
            raise InputError(
                f"community {name} was given {k} grids",
                fix="give a whole number of grids, at least 1 for a community with weight",
            )
        out[name] = int(k)
    return out


def _allocate_total(weights: dict[str, float], total: int) -> dict[str, int]:
    names = [name for name, w in weights.items() if w > 0]
    if total < len(names):
        raise InputError(
            f"{total} grids cannot cover {len(names)} communities with households",
            fix=f"ask for at least {len(names)} grids (one per community)",
            code="too_few_grids",
            params={"grids": total, "communities": len(names)},
        )
    out = {name: 0 for name in weights}
    if not names:
        return out
    w = np.array([weights[name] for name in names])
    # Each group gets one grid first; the rest is shared by largest remainder in proportion
    # to weight, so that the whole is as proportional as the floor of one allows.
    quota = w / w.sum() * total
    base = np.maximum(np.floor(quota).astype(int), 1)
    spare = total - int(base.sum())
    while spare < 0:  # floors of 1 took more than their share: take back from the largest
        ratio = np.where(base > 1, base / np.maximum(quota, 1e-12), -np.inf)
        base[int(np.argmax(ratio))] -= 1
        spare += 1
    if spare > 0:
        remainder = quota - base
        order = sorted(range(len(names)), key=lambda i: (-remainder[i], i))
        for i in order[:spare]:
            base[i] += 1
    for name, k in zip(names, base, strict=True):
        out[name] = int(k)
    return out


def resolve_barriers(barriers: str | Mapping[str, str] | None = None) -> dict[str, str]:
    """How each barrier class is handled: ``{"water": mode, "arterial": mode}``.

    Parameters
    ----------
    barriers
        ``None`` or ``"default"`` (:data:`DEFAULT_BARRIERS`: forbid the river, penalise
        arterials); one mode of :data:`BARRIER_MODES` for both classes (``"penalize"`` is
        accepted too); a mapping class -> mode, or the same as text,
        ``"water=forbid,arterial=ignore"`` (classes not named keep their default).

    Raises
    ------
    InputError
        For an unknown class or mode.
    """
    out = dict(DEFAULT_BARRIERS)
    if barriers is None:
        return out

    def mode_of(text: str) -> str:
        mode = str(text).strip().lower().replace("penalize", "penalise")
        if mode not in BARRIER_MODES:
            raise InputError(
                f"unknown barrier mode {text!r}",
                fix=f"use default, {', '.join(BARRIER_MODES)} (or CLASS=MODE pairs)",
            )
        return mode

    if isinstance(barriers, str):
        text = barriers.strip().lower()
        if text in ("", "default"):
            return out
        if "=" not in text:
            return dict.fromkeys(out, mode_of(text))
        pairs = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, mode = item.partition("=")
            pairs[name.strip()] = mode
        barriers = pairs
    for name, mode in barriers.items():
        if name not in BARRIER_CLASSES:
            raise InputError(
                f"unknown barrier class {name!r}",
                fix=f"name one of {', '.join(BARRIER_CLASSES)}",
            )
        out[name] = mode_of(mode)
    return out


def barrier_sides(
    graph: Any,
    weights: np.ndarray,
    land: np.ndarray,
    forbidden: list[int] | tuple[int, ...],
    fits: Callable[[str, list[float]], list[int] | int],
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str, float]]]:
    """Split every group into its sides of the forbidden barriers, where the land allows it.

    The sides of a group are the connected pieces of its units once the edges running along a
    forbidden class are taken out.  A side holding no land (the river itself, a pond) joins the
    side it shares most boundary with.  Then, while ``fits`` refuses the sides of a group (a
    side with land but no weight, a side too small for a grid in range...), the side it names
    is joined to its neighbour across the barrier (the longest shared boundary), and the join is
    reported.  This never loops: each round joins two sides.

    Parameters
    ----------
    graph
        The unit graph.
    weights
        ``(n,)`` unit weights.
    land
        ``(n,)`` bool, False for the water units.
    forbidden
        The ``BARRIER_*`` classes not to cross.
    fits
        ``fits(group_name, side_weights)``: the list of the number of grids of each side, or
        the position (an int) of a side that cannot stand alone.  Given one side (the whole
        group), it must return a list.

    Returns
    -------
    side : numpy.ndarray
        ``(n,)`` side index of every unit, numbered group by group.
    counts : numpy.ndarray
        Number of grids of each side.
    joined : list
        ``(group name, barrier names joined by "+", weight of the side that was joined)`` per
        forced crossing.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = int(graph.n)
    edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
    barrier = np.asarray(graph.barrier)
    length = np.asarray(graph.length, dtype=np.float64)
    groups = np.asarray(graph.groups, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    land = np.asarray(land, dtype=bool)
    across = np.isin(barrier, list(forbidden))
    keep = ~across
    mat = coo_matrix((np.ones(int(keep.sum())), (edges[keep, 0], edges[keep, 1])), shape=(n, n))
    _, comp = connected_components(mat, directed=False)
    side = np.full(n, -1, dtype=np.int64)
    counts: list[int] = []
    joined: list[tuple[str, str, float]] = []
    for g, gname in enumerate(graph.group_names):
        nodes = np.flatnonzero(groups == g)
        if nodes.size == 0:
            continue
        inner = np.flatnonzero(across & (groups[edges[:, 0]] == g))
        links = (comp[edges[inner, 0]], comp[edges[inner, 1]], length[inner], barrier[inner])
        pieces, sizes, group_joined = _group_sides(
            str(gname), comp[nodes], links, w[nodes], land[nodes], fits
        )
        joined += group_joined
        base = len(counts)
        side[nodes] = base + pieces
        counts += sizes
    return side, np.asarray(counts, dtype=np.int64), joined


def _group_sides(
    name: str,
    comp: np.ndarray,
    links: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    w: np.ndarray,
    land: np.ndarray,
    fits: Callable[[str, list[float]], list[int] | int],
) -> tuple[np.ndarray, list[int], list[tuple[str, str, float]]]:
    """Sides of one group (see :func:`barrier_sides`): side per unit, grids per side, joins."""
    labels = {v: k for k, v in BARRIER_CLASSES.items()}
    _, first = np.unique(comp, return_index=True)
    pieces = comp[np.sort(first)].tolist()  # in order of their first unit
    parent = {c: c for c in pieces}

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    def neighbours(c: int) -> dict[int, tuple[float, set[int]]]:
        """Boundary shared with each other side (length) and the barrier classes along it."""
        out: dict[int, tuple[float, set[int]]] = {}
        for a, b, ln, cls in zip(*(x.tolist() for x in links), strict=True):
            a, b = root(a), root(b)
            if a != b and c in (a, b):
                other = b if a == c else a
                total, classes = out.get(other, (0.0, set()))
                out[other] = (total + ln + 1e-9, classes | {cls})
        return out

    def roots() -> list[int]:
        return list(dict.fromkeys(root(c) for c in comp.tolist()))

    for c in pieces:  # a side of water only (the river, a pond) joins its neighbour silently
        if not land[comp == c].any():
            near = neighbours(root(c))
            if near:
                parent[root(c)] = max(near, key=lambda o: (near[o][0], -o))
    joined: list[tuple[str, str, float]] = []
    while True:
        tops = roots()
        top_of = np.array([root(c) for c in comp.tolist()])
        side_w = [float(w[top_of == c].sum()) for c in tops]
        result = fits(name, side_w)
        if not isinstance(result, int | np.integer):
            break
        if len(tops) == 1:
            raise InputError(f"no number of grids fits community {name}")
        bad = tops[int(result)]
        near = neighbours(bad)
        if not near:  # pragma: no cover - a group's graph is connected
            raise InputError(f"a side of community {name} touches no other side")
        into = max(near, key=lambda o: (near[o][0], -o))
        what = "+".join(sorted(labels.get(x, "barrier") for x in near[into][1]))
        joined.append((name, what, side_w[int(result)]))
        parent[bad] = into
    index = {c: i for i, c in enumerate(tops)}
    return np.array([index[c] for c in top_of.tolist()], dtype=np.int64), list(result), joined


def sides_graph(graph: Any, side: np.ndarray, forbidden: list[int] | tuple[int, ...]) -> Any:
    """The unit graph with the sides of :func:`barrier_sides` as groups.

    Edges between sides go, and so do forbidden edges inside a side (the side is connected
    without them), except those joining pieces that :func:`barrier_sides` had to join.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from gridmap.graph import UnitGraph

    n = int(graph.n)
    edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
    across = np.isin(np.asarray(graph.barrier), list(forbidden))
    plain = ~across
    mat = coo_matrix((np.ones(int(plain.sum())), (edges[plain, 0], edges[plain, 1])), shape=(n, n))
    _, comp = connected_components(mat, directed=False)
    same = side[edges[:, 0]] == side[edges[:, 1]]
    keep = same & (plain | (comp[edges[:, 0]] != comp[edges[:, 1]]))
    names = [str(graph.group_names[int(graph.groups[np.flatnonzero(side == s)[0]])])
             for s in range(int(side.max()) + 1)]  # fmt: skip
    return UnitGraph(
        n=n,
        edges=edges[keep],
        length=np.asarray(graph.length)[keep],
        barrier=np.asarray(graph.barrier)[keep],
        groups=side.astype(np.int64),
        group_names=names,
    )


def apply_barriers(
    graph: Any,
    weights: np.ndarray,
    land: np.ndarray,
    modes: Mapping[str, str],
    fits: Callable[[str, list[float]], list[int] | int],
    crossing_weight: Mapping[str, float] | None = None,
) -> tuple[Any, dict[int, float], np.ndarray | None, list[tuple[str, str, float]]]:
    """Carry out barrier modes (see :func:`resolve_barriers`) on a unit graph.

    Forbidden classes split every group into its sides (:func:`barrier_sides` with ``fits``,
    then :func:`sides_graph`); forbidden and penalised classes cost ``crossing_weight`` when
    left inside a grid, except the forbidden edges that join the river's own units to a side
    standing alone (no grid can cross there).  The partitioner and the redraw share this.

    Parameters
    ----------
    graph
        The unit graph.
    weights
        ``(n,)`` unit weights.
    land
        ``(n,)`` bool, False for the water units.
    modes
        Class name -> ``forbid``, ``penalise`` or ``ignore``.
    fits
        The rule of :func:`barrier_sides`: which sides can stand alone.
    crossing_weight
        Class name -> cost of a crossing (:data:`DEFAULT_CROSSING_WEIGHT` by default).

    Returns
    -------
    graph
        The graph to partition: with the sides as groups when a class is forbidden.
    penalty : dict
        ``BARRIER_*`` class -> cost of one of its edges inside a grid (per metre).
    free : numpy.ndarray or None
        Bool mask over the returned graph's edges that cost nothing whatever their class.
    joined : list
        The forced crossings of :func:`barrier_sides`.
    """
    weight_of = dict(DEFAULT_CROSSING_WEIGHT)
    weight_of.update(crossing_weight or {})
    forbidden = [BARRIER_CLASSES[c] for c, mode in modes.items() if mode == "forbid"]
    penalty = {
        BARRIER_CLASSES[c]: float(weight_of[c])
        for c, mode in modes.items()
        if mode in ("forbid", "penalise")
    }
    free = None
    joined: list[tuple[str, str, float]] = []
    if forbidden and np.isin(graph.barrier, forbidden).any():
        side, _, joined = barrier_sides(graph, weights, land, forbidden, fits)
        graph = sides_graph(graph, side, forbidden)
        # A forbidden edge left in a side joins the river's own units to it, unless the
        # community had to be joined across: there grids may cross, and crossing costs.
        crossed = {community for community, _, _ in joined}
        alone = np.array([name not in crossed for name in graph.group_names], dtype=bool)
        free = np.isin(graph.barrier, forbidden) & alone[graph.groups[graph.edges[:, 0]]]
    return graph, penalty, free, joined


def partition_graph(
    graph: Any,
    weights: np.ndarray,
    grids_per_group: Mapping[str, int] | np.ndarray,
    *,
    seed: int = 0,
    tolerance: float = 0.02,
    compactness: np.ndarray | None = None,
    barrier_penalty: Mapping[int, float] | None = None,
    locked: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    crossing_penalty: Mapping[int, float] | None = None,
    bounds: tuple[float, float] | None = None,
    free_crossings: np.ndarray | None = None,
) -> np.ndarray:
    """Partition the units of a graph into contiguous, balanced grids nested in its groups.

    Parameters
    ----------
    graph
        A :class:`gridmap.graph.UnitGraph` (or any object with its ``n``, ``edges``,
        ``length``, ``barrier``, ``groups`` and ``group_names``).
    weights
        ``(n,)`` weight per unit (households or persons); zero is allowed.
    grids_per_group
        Number of grids per group: a mapping group name -> k (see :func:`allocate_grids`) or an
        array indexed by group index.
    seed
        Seed of METIS and of the move order; the same seed gives the same labels.
    tolerance
        Wanted maximum relative deviation of a grid's weight from its group's mean grid weight.
    compactness
        Optional ``(n, 2)`` array: per unit its area (m²) and the length (m) of its boundary
        shared with no other unit of the graph (the street's edge; 0 inside).  When given, the
        last refinement step maximises the grids' mean Polsby-Popper (4 pi A / P²) instead of
        shortening the barrier-weighted cut, and the best of several METIS seeds is chosen by
        it.  Two more columns (a point's x and y per unit, see :func:`shape_inputs`) turn on
        the re-splitting of pairs of neighbouring grids.
    barrier_penalty
        Barrier class -> multiplier of the edge weight (see :data:`DEFAULT_BARRIER_PENALTY`;
        given keys override the defaults).  Low = cheap to cut: grid lines prefer that barrier.
    locked
        Optional ``(n,)`` integer array: ``-1`` for a free unit, else the label (0..K-1) the unit
        must keep.
    progress
        Optional callable ``progress(done, total)`` called after each group.
    crossing_penalty
        Barrier class -> cost of leaving an edge of that class inside a grid, weighed by every
        refinement move: in Polsby-Popper points per mean grid perimeter (the square root of
        the group's area per grid, times 4) of such edges when ``compactness`` is given, else
        in the units of the cut (metres).  ``None`` (the default): barriers only steer the
        METIS seed.
    bounds
        Optional absolute range ``(minimum, maximum)`` of a grid's weight.  When given, the
        refinement ends with the moves of :func:`gridmap.rebalance.settle` (single moves, chains
        of two, exchanges) that bring grids out of the range into it wherever the units allow,
        choosing those that cost the least Polsby-Popper (or cut) and barrier crossing; every
        grid stays connected and in its group.
    free_crossings
        Optional bool mask over the graph's edges: those that cost nothing inside a grid
        whatever their class in ``crossing_penalty`` (the river units joined to a side that
        stands alone: no grid of the side can cross the river through them).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 labels 0..K-1 numbered group by group (group 0's grids first); every grid
        lies in one group and is connected in the graph (GAP edges count).

    Raises
    ------
    InputError
        When a group has fewer units than grids, a group's graph is not connected, or the
        grid counts or locked labels do not fit the groups.
    """
    n = int(graph.n)
    groups = np.asarray(graph.groups, dtype=np.int64)
    names = [str(s) for s in graph.group_names]
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"weights has shape {w.shape}, expected ({n},): one weight per unit")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        raise InputError(
            "unit weights must be finite and not negative", rows=bad.tolist(), fix="fix them"
        )
    ks = _grid_counts(grids_per_group, names, groups)
    penalty = dict(DEFAULT_BARRIER_PENALTY)
    if barrier_penalty:
        penalty.update({int(key): float(v) for key, v in barrier_penalty.items()})
    edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
    length = np.asarray(graph.length, dtype=np.float64)
    barrier = np.asarray(graph.barrier, dtype=np.int64)
    mult = np.array([penalty.get(int(b), 1.0) for b in range(int(barrier.max(initial=0)) + 1)])
    ew = length * mult[barrier]
    positive = ew[ew > 0]
    floor = float(positive.min()) if positive.size else 1.0
    ew = np.where(ew > 0, ew, floor)  # GAP and zero-length edges stay usable
    cost = np.zeros(len(edges))
    for cls, value in (crossing_penalty or {}).items():
        cost[barrier == int(cls)] = float(value)
    if free_crossings is not None:
        cost[np.asarray(free_crossings, dtype=bool)] = 0.0
    pe = length * cost
    offsets = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
    if locked is not None:
        locked = np.asarray(locked, dtype=np.int64)
        if locked.shape != (n,):
            raise InputError(f"locked has shape {locked.shape}, expected ({n},)")
    labels = np.full(n, -1, dtype=np.int64)
    for g, name in enumerate(names):
        nodes = np.flatnonzero(groups == g)
        k = int(ks[g])
        if nodes.size == 0:
            if k:
                raise InputError(f"community {name} has no units but was given {k} grids")
            continue
        if k == 0:
            raise InputError(
                f"community {name} has {nodes.size} units but was given 0 grids",
                fix="give every community with units at least one grid",
            )
        if k > nodes.size:
            raise InputError(
                f"community {name} has {nodes.size} units: too few for {k} grids",
                fix=f"ask for at most {nodes.size} grids in community {name} or use smaller units",
            )
        sub = _subgraph(nodes, edges, ew, groups, g, n, length, pe)
        if not _connected(sub[0], sub[1]):
            raise InputError(
                f"the units of community {name} are not connected in the unit graph",
                fix="link its islands (build_graph adds a GAP edge to the nearest unit)",
            )
        lock = None
        if locked is not None:
            lock = locked[nodes] - offsets[g]
            free = locked[nodes] < 0
            if np.any(~free & ((lock < 0) | (lock >= k))):
                raise InputError(
                    f"locked labels of community {name} must lie in "
                    f"{offsets[g]}..{offsets[g + 1] - 1}",
                    fix="lock each unit to a grid label of its own community, or -1",
                )
            lock[free] = -1
        local = _partition_group(
            sub, w[nodes], k, seed, tolerance, compactness, nodes, lock, bounds
        )
        labels[nodes] = local + offsets[g]
        if progress is not None:
            progress(g + 1, len(names))
    return labels


def _grid_counts(
    grids_per_group: Mapping[str, int] | np.ndarray, names: list[str], groups: np.ndarray
) -> np.ndarray:
    if isinstance(grids_per_group, Mapping):
        present = set(np.unique(groups).tolist())
        missing = [n for i, n in enumerate(names) if n not in grids_per_group and i in present]
        if missing:
            raise InputError(
                f"no number of grids was given for community {missing[0]}",
                fix="use allocate_grids() or give a number for every community",
            )
        ks = np.array([int(grids_per_group.get(name, 0)) for name in names], dtype=np.int64)
    else:
        ks = np.asarray(grids_per_group, dtype=np.int64).reshape(-1)
        if ks.size != len(names):
            raise InputError(f"grids_per_group has {ks.size} counts for {len(names)} communities")
    if np.any(ks < 0):
        raise InputError("numbers of grids must not be negative")
    return ks


def _subgraph(
    nodes: np.ndarray,
    edges: np.ndarray,
    ew: np.ndarray,
    groups: np.ndarray,
    g: int,
    n: int,
    length: np.ndarray | None = None,
    penalty: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Local CSR (xadj, adjncy, edge weight, shared length, crossing cost) of group ``g``."""
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.size)
    keep = (groups[edges[:, 0]] == g) & (groups[edges[:, 1]] == g)
    a, b, wt = local[edges[keep, 0]], local[edges[keep, 1]], ew[keep]
    ln = (ew if length is None else length)[keep]
    pn = (np.zeros(len(ew)) if penalty is None else penalty)[keep]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    wts = np.concatenate([wt, wt])
    lns = np.concatenate([ln, ln])
    pns = np.concatenate([pn, pn])
    order = np.lexsort((dst, src))
    src, dst, wts, lns, pns = src[order], dst[order], wts[order], lns[order], pns[order]
    xadj = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=nodes.size))])
    return xadj.astype(np.int64), dst, wts, lns, pns


def _connected(xadj: np.ndarray, adj: np.ndarray) -> bool:
    m = xadj.size - 1
    seen = np.zeros(m, dtype=bool)
    seen[0] = True
    stack = [0]
    while stack:
        u = stack.pop()
        for v in adj[xadj[u] : xadj[u + 1]].tolist():
            if not seen[v]:
                seen[v] = True
                stack.append(v)
    return bool(seen.all())


def _partition_group(
    sub: tuple[np.ndarray, ...],
    w: np.ndarray,
    k: int,
    seed: int,
    tolerance: float,
    compactness: np.ndarray | None,
    nodes: np.ndarray,
    lock: np.ndarray | None,
    bounds: tuple[float, float] | None = None,
) -> np.ndarray:
    """Labels 0..k-1 for the units of one connected group."""
    xadj, adj, ew, raw, pn = sub
    m = w.size
    if k == 1:
        return np.zeros(m, dtype=np.int64)
    if k == m and lock is None:
        return np.arange(m, dtype=np.int64)
    nbrs = [adj[xadj[u] : xadj[u + 1]].tolist() for u in range(m)]
    nw = [ew[xadj[u] : xadj[u + 1]].tolist() for u in range(m)]
    shape = None
    xy = None
    scale = 1.0
    if compactness is not None:
        ae = np.asarray(compactness, dtype=np.float64)[nodes]
        nl = [raw[xadj[u] : xadj[u + 1]].tolist() for u in range(m)]
        shape = (ae[:, 0].tolist(), ae[:, 1].tolist(), nl)
        if ae.shape[1] >= 4:
            xy = ae[:, 2:4]
        scale = 1.0 / max(4.0 * math.sqrt(max(float(ae[:, 0].sum()), 1.0) / k), 1e-9)
    pen = None
    if np.any(pn > 0):
        pen = [(pn[xadj[u] : xadj[u + 1]] * scale).tolist() for u in range(m)]
    results: list[tuple[tuple[float, float], int, _Refiner]] = []
    tries = max(2, min(_METIS_TRIES, _TRY_BUDGET // m))  # fewer restarts on big groups
    for t in range(tries):
        part = _metis_seed(xadj, adj, ew, w, k, seed * _METIS_TRIES + t)
        part = _repair(part, nbrs, k)
        if lock is not None:
            part = _apply_lock(part, lock, nbrs, k)
        refiner = _Refiner(nbrs, nw, w, part, k, tolerance, shape, lock, seed + t, pen)
        # shape first under a loose balance, then balance tightly, then shape again
        for factor in _SCHEDULE:
            refiner.tol = tolerance * factor * refiner.mean * 0.99
            refiner.balance()
            if shape is None:
                refiner.compact()
            else:
                refiner.polsby_popper()
        score = (refiner.violation(), -refiner.objective())
        results.append((score, t, refiner))
    results.sort(key=lambda item: item[:2])
    best_refiner = results[0][2]
    if shape is not None:
        # the most promising starts go through the slower searches, which never leave a part
        # further out of the tolerance than it is
        finalists = [r for score, _, r in results[:_FINALISTS] if score[0] == results[0][0][0]]
        for refiner in finalists:
            refiner.pair_moves()
            if xy is not None:
                _recombine(refiner, xy, seed)
        best_refiner = max(finalists, key=lambda r: r.objective())
    _fill_empty_parts(best_refiner, seed)
    if bounds is not None:
        _settle_parts(best_refiner, *bounds)
    if shape is not None and xy is not None and _LEAST_ROUNDS:
        _raise_least(best_refiner, xy, seed, bounds)
    if lock is not None:  # locked labels are the caller's: keep the numbering
        return best_refiner.part
    return _renumber(best_refiner.part, k)


def _metis_seed(
    xadj: np.ndarray, adj: np.ndarray, ew: np.ndarray, w: np.ndarray, k: int, seed: int
) -> np.ndarray:
    try:
        import pymetis
    except ImportError as err:  # pragma: no cover - pymetis is a dependency
        raise GridmapError(
            "the partition engine needs pymetis, which is not installed",
            fix="pip install pymetis",
        ) from err

    total = float(w.sum())
    if total > 0 and np.all(w == np.round(w)) and total < 1e8:
        vw = w.astype(np.int64)
    else:
        scale = 1e7 / total if total > 0 else 1.0
        vw = np.round(w * scale).astype(np.int64)
    if vw.sum() == 0:
        vw = np.ones_like(vw)
    ewi = np.maximum(np.round(ew / ew.max() * 10000), 1).astype(np.int64)
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2
        graph = {"adjacency": pymetis.CSRAdjacency(xadj, adj)}
    else:  # pragma: no cover - older pymetis
        graph = {"xadj": xadj, "adjncy": adj}
    opts = pymetis.Options(seed=int(seed) % (2**31 - 1), contig=1, ufactor=10)
    try:
        _, membership = pymetis.part_graph(k, **graph, vweights=vw, eweights=ewi, options=opts)
    except Exception:  # METIS refuses some contiguity requests: _repair() does the job
        opts = pymetis.Options(seed=int(seed) % (2**31 - 1), ufactor=10)
        _, membership = pymetis.part_graph(k, **graph, vweights=vw, eweights=ewi, options=opts)
    return np.asarray(membership, dtype=np.int64)


def _components(members: list[int], part: np.ndarray, nbrs: list[list[int]], p: int) -> list:
    seen: set[int] = set()
    comps = []
    for s in members:
        if s in seen:
            continue
        seen.add(s)
        comp = [s]
        stack = [s]
        while stack:
            u = stack.pop()
            for v in nbrs[u]:
                if v not in seen and part[v] == p:
                    seen.add(v)
                    comp.append(v)
                    stack.append(v)
        comps.append(comp)
    return comps


def _repair(
    part: np.ndarray, nbrs: list[list[int]], k: int, fixed: np.ndarray | None = None
) -> np.ndarray:
    """Make every part connected and non-empty (METIS may leave either undone).

    Units where ``fixed`` is true keep their part: of a part's pieces, one holding fixed
    units is kept.
    """
    part = part.copy()
    fixed = np.zeros(part.size, dtype=bool) if fixed is None else fixed
    m = part.size
    # 1. keep each part's largest component; free the other pieces
    for p in range(k):
        members = np.flatnonzero(part == p).tolist()
        comps = _components(members, part, nbrs, p)
        if len(comps) > 1:
            comps.sort(key=lambda c: (bool(fixed[c].any()), len(c)), reverse=True)
            for comp in comps[1:]:
                if fixed[comp].any():
                    raise InputError(
                        f"the units locked to grid {p} are not connected",
                        fix="lock only units that form one connected piece per grid",
                    )
                part[comp] = -1
    # 2. give freed units to a neighbouring part, growing from the assigned ones
    while np.any(part < 0):
        progress = False
        for u in np.flatnonzero(part < 0).tolist():
            cands = sorted({part[v] for v in nbrs[u] if part[v] >= 0})
            if cands:
                part[u] = cands[0]
                progress = True
        if not progress:  # a freed piece touching no part: make it a part of its own
            part[part < 0] = -2
            break
    # 3. empty parts (or a lone piece): take a non-cut unit from the part with most units
    for p in range(k):
        if np.any(part == p):
            continue
        sizes = np.bincount(part[part >= 0], minlength=k)
        donor = int(np.argmax(sizes))
        members = np.flatnonzero(part == donor).tolist()
        for u in members:
            if fixed[u]:
                continue
            rest = [v for v in members if v != u]
            part[u] = -3
            ok = len(_components(rest, part, nbrs, donor)) == 1
            part[u] = donor
            if ok:
                part[u] = p
                break
    if np.any(part < 0):  # pragma: no cover - only with a disconnected group graph
        raise InputError("could not make every grid connected")
    assert part.size == m
    return part


def _apply_lock(part: np.ndarray, lock: np.ndarray, nbrs: list[list[int]], k: int) -> np.ndarray:
    """Relabel METIS parts to best match the locked labels, force them, then repair."""
    fixed = lock >= 0
    overlap = np.zeros((k, k))
    np.add.at(overlap, (part[fixed], lock[fixed]), 1)
    mapping = -np.ones(k, dtype=np.int64)
    used = set()
    for flat in np.argsort(-overlap, axis=None, kind="stable"):
        a, b = divmod(int(flat), k)
        if mapping[a] < 0 and b not in used:
            mapping[a] = b
            used.add(b)
    part = mapping[part]
    part[fixed] = lock[fixed]
    return _repair(part, nbrs, k, fixed)


def _renumber(part: np.ndarray, k: int) -> np.ndarray:
    """Number parts in order of their first unit, for labels independent of METIS's order."""
    first = np.full(k, part.size, dtype=np.int64)
    np.minimum.at(first, part, np.arange(part.size))
    order = np.argsort(first, kind="stable")
    new = np.empty(k, dtype=np.int64)
    new[order] = np.arange(k)
    return new[part]


class _Refiner:
    """Boundary moves that keep every part connected and never empty a part."""

    def __init__(self, nbrs, nw, w, part, k, tolerance, shape, lock, seed, pen=None):
        self.nbrs, self.nw = nbrs, nw
        self.pen = pen  # per neighbour: cost of the edge when inside a part (barriers)
        self.w = w.tolist()
        self.part = part.copy()
        self.lab = self.part.tolist()
        self.k = k
        self.mean = float(w.sum()) / k
        self.tol = tolerance * self.mean * 0.99
        self.pw = np.bincount(part, weights=w, minlength=k).tolist()
        self.size = np.bincount(part, minlength=k).tolist()
        self.shape = shape
        self.free = [True] * len(self.w) if lock is None else (lock < 0).tolist()
        self.rng = np.random.default_rng(seed)
        self._src = np.repeat(np.arange(len(nbrs)), [len(row) for row in nbrs])
        self._dst = np.asarray([v for row in nbrs for v in row], dtype=np.int64)
        self._shape_arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _viol(self, x: float) -> float:
        return max(0.0, abs(x - self.mean) - self.tol)

    def _cross(self, u: int, b: int) -> float:
        """Change of the barrier cost left inside parts when u moves to b (> 0: more)."""
        if self.pen is None:
            return 0.0
        lab = self.lab
        a = lab[u]
        d = 0.0
        for v, c in zip(self.nbrs[u], self.pen[u], strict=True):
            if c:
                if lab[v] == b:
                    d += c
                elif lab[v] == a:
                    d -= c
        return d

    def crossing(self, units: list[int] | None = None) -> float:
        """Barrier cost left inside parts (among ``units`` only, when given)."""
        if self.pen is None:
            return 0.0
        lab = self.lab
        among = None if units is None else set(units)
        total = 0.0
        for u in range(len(lab)) if units is None else units:
            for v, c in zip(self.nbrs[u], self.pen[u], strict=True):
                if c and lab[v] == lab[u] and (among is None or v in among):
                    total += c
        return total / 2

    def objective(self) -> float:
        """What the refinement raises: mean Polsby-Popper (or minus the cut), less crossings."""
        if self.shape is None:
            return -self.cut() - self.crossing()
        return self.mean_pp() - self.crossing() / self.k

    def least_pp(self) -> float:
        """The lowest Polsby-Popper of the parts."""
        pa, pp = self._part_shapes()
        return min(self._pp(a, p) for a, p in zip(pa, pp, strict=True))

    def raise_least(self) -> None:
        """Single moves that raise the lowest Polsby-Popper of the parts, keeping balance.

        A move counts when the parts' lowest Polsby-Popper rises and their sum (less barrier
        crossings) falls by no more than that rise.  For the few parts of a re-split.
        """
        area = self.shape[0]
        eps = 1e-9 * max(self.mean, 1.0)
        parea, pper = self._part_shapes()
        for _ in range(_MAX_PASSES):
            pps = [self._pp(a, p) for a, p in zip(parea, pper, strict=True)]
            low = min(pps)
            best = None
            for u in self._boundary():
                a = self.lab[u]
                if not self.free[u]:
                    continue
                for b in sorted({self.lab[v] for v in self.nbrs[u]} - {a}):
                    gain, new_pa, new_pb = self._pp_change(u, b, parea, pper)
                    after = list(pps)
                    after[a] = self._pp(parea[a] - area[u], new_pa)
                    after[b] = self._pp(parea[b] + area[u], new_pb)
                    rise = min(after) - low
                    if rise <= 1e-9 or gain < -rise or (best is not None and rise <= best[0]):
                        continue
                    if self._allowed(a, b, self.w[u], eps) and self._can_leave(u):
                        best = (rise, u, b, new_pa, new_pb)
            if best is None:
                break
            _, u, b, new_pa, new_pb = best
            self._shift(u, b, parea, pper, new_pa, new_pb)
        self.part = np.asarray(self.lab, dtype=np.int64)

    def violation(self) -> float:
        return float(sum(self._viol(x) for x in self.pw))

    def cut(self) -> float:
        lab = self.lab
        return float(
            sum(
                wt
                for u, row in enumerate(self.nbrs)
                for v, wt in zip(row, self.nw[u], strict=True)
                if lab[v] != lab[u]
            )
            / 2
        )

    def _links(self, u: int) -> dict[int, float]:
        out: dict[int, float] = {}
        lab = self.lab
        for v, wt in zip(self.nbrs[u], self.nw[u], strict=True):
            out[lab[v]] = out.get(lab[v], 0.0) + wt
        return out

    def _can_leave(self, u: int) -> bool:
        a = self.lab[u]
        if self.size[a] <= 1 or not self.free[u]:
            return False
        lab = self.lab
        inside = [v for v in self.nbrs[u] if lab[v] == a]
        if len(inside) <= 1:
            return True
        # BFS in part a without u: every remaining member must be reached
        seen = {u, inside[0]}
        stack = [inside[0]]
        target = set(inside)
        target.discard(inside[0])
        while stack and target:
            x = stack.pop()
            for v in self.nbrs[x]:
                if v not in seen and lab[v] == a:
                    seen.add(v)
                    target.discard(v)
                    stack.append(v)
        return not target

    def _move(self, u: int, b: int) -> None:
        a = self.lab[u]
        wu = self.w[u]
        self.lab[u] = b
        self.pw[a] -= wu
        self.pw[b] += wu
        self.size[a] -= 1
        self.size[b] += 1

    def _boundary(self) -> list[int]:
        """The units with a neighbour in another part, in random order."""
        lab = np.asarray(self.lab)
        units = np.unique(self._src[lab[self._src] != lab[self._dst]])
        return units[self.rng.permutation(units.size)].tolist()

    def _gain(self, u: int, b: int, eps: float) -> tuple[float, float] | None:
        """(violation change, squared-deviation change) of moving u to b, when it improves."""
        a = self.lab[u]
        wu = self.w[u]
        pa, pb = self.pw[a], self.pw[b]
        mean, tol = self.mean, self.tol
        dv = (
            max(0.0, abs(pa - wu - mean) - tol)
            + max(0.0, abs(pb + wu - mean) - tol)
            - max(0.0, abs(pa - mean) - tol)
            - max(0.0, abs(pb - mean) - tol)
        )
        ds = 2 * wu * (wu + pb - pa)
        if dv > eps or (dv > -eps and ds >= -eps):
            return None
        return dv, ds

    def balance(self) -> None:
        """Moves that lower the total violation, or the squared deviation at equal violation.

        Each pass collects the improving moves and applies them best shape first (least growth
        of the cut relative to the unit's links), re-checking each against the current weights.
        """
        eps = 1e-9 * max(self.mean, 1.0)
        cross_ok = self.pen is None  # moves leaving more barrier inside a part come last
        for _ in range(_MAX_PASSES):
            if self.violation() <= eps:
                break
            cands = []
            lo, hi = self.mean - self.tol, self.mean + self.tol
            over = [x > hi for x in self.pw]
            under = [x < lo for x in self.pw]
            for u in self._boundary():
                a = self.lab[u]
                if self.w[u] == 0 or not self.free[u]:
                    continue
                if not over[a] and not any(under[self.lab[v]] for v in self.nbrs[u]):
                    continue  # no move of u can lower the violation
                links = self._links(u)
                total = sum(links.values()) or 1.0
                for b, link in links.items():
                    if b != a and self._gain(u, b, eps) is not None:
                        cands.append(((links.get(a, 0.0) - link) / total, u, b))
            cands.sort()
            moved = False
            for _, u, b in cands:
                if self.lab[u] == b or b not in {self.lab[v] for v in self.nbrs[u]}:
                    continue
                if not cross_ok and self._cross(u, b) > 1e-12:
                    continue
                if self._gain(u, b, eps) is not None and self._can_leave(u):
                    self._move(u, b)
                    moved = True
            if not moved:
                if cross_ok:
                    break
                cross_ok = True  # nothing else helps: crossing moves may restore balance
            elif self.pen is not None:
                cross_ok = False
        self.part = np.asarray(self.lab, dtype=np.int64)

    def _allowed(self, a: int, b: int, wu: float, eps: float) -> bool:
        pa, pb = self.pw[a], self.pw[b]
        return (
            self._viol(pa - wu) <= self._viol(pa) + eps
            and self._viol(pb + wu) <= self._viol(pb) + eps
        )

    def _pp(self, area: float, perim: float) -> float:
        return 4 * math.pi * area / (perim * perim) if perim > 0 else 0.0

    def _part_shapes(self) -> tuple[list[float], list[float]]:
        """Area and perimeter of every part, from the units' areas and boundary lengths."""
        if self._shape_arrays is None:
            area, ext, nl = self.shape
            flat = np.asarray([x for row in nl for x in row], dtype=np.float64)
            self._shape_arrays = (np.asarray(area), np.asarray(ext), flat)
        area, ext, flat = self._shape_arrays
        lab = np.asarray(self.lab)
        cut = lab[self._src] != lab[self._dst]
        pa = np.bincount(lab, weights=area, minlength=self.k)
        pp = np.bincount(lab, weights=ext, minlength=self.k)
        pp += np.bincount(lab[self._src[cut]], weights=flat[cut], minlength=self.k)
        return pa.tolist(), pp.tolist()

    def mean_pp(self) -> float:
        """Mean Polsby-Popper of the parts, from unit areas and boundary lengths."""
        pa, pp = self._part_shapes()
        return sum(self._pp(a, p) for a, p in zip(pa, pp, strict=True)) / self.k

    def polsby_popper(self) -> None:
        """Moves that raise the sum of the parts' Polsby-Popper without losing balance."""
        area, ext, nl = self.shape
        eps = 1e-9 * max(self.mean, 1.0)
        parea, pper = self._part_shapes()
        for _ in range(_MAX_PASSES):
            moved = False
            for u in self._boundary():
                if not self.free[u]:
                    continue
                a = self.lab[u]
                wu = self.w[u]
                lens: dict[int, float] = {}
                for v, x in zip(self.nbrs[u], nl[u], strict=True):
                    lens[self.lab[v]] = lens.get(self.lab[v], 0.0) + x
                tot = ext[u] + sum(lens.values())
                new_pa = pper[a] - tot + 2 * lens.get(a, 0.0)
                old = self._pp(parea[a], pper[a])
                after_a = self._pp(parea[a] - area[u], new_pa)
                best = None
                for b in lens:
                    if b == a:
                        continue
                    new_pb = pper[b] + tot - 2 * lens[b]
                    gain = (
                        after_a
                        + self._pp(parea[b] + area[u], new_pb)
                        - old
                        - self._pp(parea[b], pper[b])
                        - self._cross(u, b)
                    )
                    better = gain > 1e-9 and (best is None or gain > best[0])
                    if better and self._allowed(a, b, wu, eps):
                        best = (gain, b, new_pb)
                if best is not None and self._can_leave(u):
                    b = best[1]
                    self._move(u, b)
                    parea[a] -= area[u]
                    parea[b] += area[u]
                    pper[a], pper[b] = new_pa, best[2]
                    moved = True
            if not moved:
                break
        self.part = np.asarray(self.lab, dtype=np.int64)

    def _pp_change(self, u: int, b: int, parea: list, pper: list) -> tuple[float, float, float]:
        """Polsby-Popper gain of moving u to b, and the new perimeters of u's part and b."""
        area, ext, nl = self.shape
        a = self.lab[u]
        lens: dict[int, float] = {}
        for v, x in zip(self.nbrs[u], nl[u], strict=True):
            lens[self.lab[v]] = lens.get(self.lab[v], 0.0) + x
        tot = ext[u] + sum(lens.values())
        new_pa = pper[a] - tot + 2 * lens.get(a, 0.0)
        new_pb = pper[b] + tot - 2 * lens.get(b, 0.0)
        gain = (
            self._pp(parea[a] - area[u], new_pa)
            + self._pp(parea[b] + area[u], new_pb)
            - self._pp(parea[a], pper[a])
            - self._pp(parea[b], pper[b])
            - self._cross(u, b)
        )
        return gain, new_pa, new_pb

    def _shift(self, u: int, b: int, parea: list, pper: list, new_pa: float, new_pb: float):
        a = self.lab[u]
        self._move(u, b)
        parea[a] -= self.shape[0][u]
        parea[b] += self.shape[0][u]
        pper[a], pper[b] = new_pa, new_pb

    def pair_moves(self) -> None:
        """Chains of two moves (u: a -> b, then v: b -> c) that raise the parts' Polsby-Popper.

        A single move of a big unit often breaks the balance; the second move gives the weight
        back on.  Every part stays within the tolerance and connected.
        """
        eps = 1e-9 * max(self.mean, 1.0)
        parea, pper = self._part_shapes()
        for _ in range(_PAIR_PASSES):
            moved = False
            for u in self._boundary():
                a = self.lab[u]
                if not self.free[u]:
                    continue
                for b in sorted({self.lab[v] for v in self.nbrs[u]} - {a}):
                    g1, new_pa, new_pb = self._pp_change(u, b, parea, pper)
                    if g1 <= 1e-9 or self._allowed(a, b, self.w[u], eps):
                        continue  # no gain, or a single move (done by polsby_popper)
                    if not self._can_leave(u):
                        break
                    saved = (list(parea), list(pper))
                    self._shift(u, b, parea, pper, new_pa, new_pb)
                    done = False
                    for v in [x for x in self._boundary_of(b) if x != u and self.free[x]]:
                        for c in sorted({self.lab[y] for y in self.nbrs[v]} - {b}):
                            g2, pb2, pc2 = self._pp_change(v, c, parea, pper)
                            if g1 + g2 <= 1e-9:
                                continue
                            wv = self.w[v]
                            after = dict.fromkeys({a, b, c}, 0.0)
                            for p in after:
                                after[p] = self.pw[p]
                            after[b] -= wv
                            after[c] += wv
                            if any(self._viol(x) > eps for x in after.values()):
                                continue
                            if self._can_leave(v):
                                self._shift(v, c, parea, pper, pb2, pc2)
                                done = True
                                break
                        if done:
                            break
                    if done:
                        moved = True
                        break
                    self._move(u, a)  # undo
                    parea[:], pper[:] = saved
            if not moved:
                break
        self.part = np.asarray(self.lab, dtype=np.int64)

    def _boundary_of(self, p: int) -> list[int]:
        lab = self.lab
        return [
            u for u in range(len(lab)) if lab[u] == p and any(lab[v] != p for v in self.nbrs[u])
        ]

    def compact(self) -> None:
        """Moves that shorten the penalised cut without raising any part's violation."""
        eps = 1e-9 * max(self.mean, 1.0)
        for _ in range(_MAX_PASSES):
            moved = False
            for u in self._boundary():
                if not self.free[u]:
                    continue
                a = self.lab[u]
                wu = self.w[u]
                links = self._links(u)
                inner = links.get(a, 0.0)
                best = None
                for b, link in links.items():
                    if b == a:
                        continue
                    link -= self._cross(u, b)
                    if link - inner <= 1e-9 * (abs(link) + inner):
                        continue
                    pa, pb = self.pw[a], self.pw[b]
                    if self._viol(pa - wu) > self._viol(pa) + eps:
                        continue
                    if self._viol(pb + wu) > self._viol(pb) + eps:
                        continue
                    if best is None or link > best[0]:
                        best = (link, b)
                if best is not None and self._can_leave(u):
                    self._move(u, best[1])
                    moved = True
            if not moved:
                break
        self.part = np.asarray(self.lab, dtype=np.int64)


class _RefinerBoard(Board):
    """A :class:`gridmap.rebalance.Board` over a refiner's labels.

    A move costs what it loses of the parts' summed Polsby-Popper (or, without shapes, the
    cut it adds), barrier crossings included, as the refinement measures them; moves that gain
    cost nothing.  Locked units stay put.
    """

    def __init__(self, r: _Refiner) -> None:
        super().__init__(list(r.lab), r.w, r.nbrs)
        self.r = r
        self.fixed = {u for u, free in enumerate(r.free) if not free}
        self.parea: list[float] = []
        self.pper: list[float] = []
        if r.shape is not None:
            self.parea, self.pper = r._part_shapes()

    def move(self, u: int, b: int) -> None:
        r = self.r
        if r.shape is not None:
            _, new_pa, new_pb = r._pp_change(u, b, self.parea, self.pper)
            r._shift(u, b, self.parea, self.pper, new_pa, new_pb)
        else:
            r._move(u, b)
        super().move(u, b)

    def move_cost(self, u: int, b: int) -> float:
        r = self.r
        if r.shape is not None:
            loss = -r._pp_change(u, b, self.parea, self.pper)[0]
        else:
            links = r._links(u)
            loss = links.get(r.lab[u], 0.0) - links.get(b, 0.0) + r._cross(u, b)
        return max(loss, 0.0)


def _settle_parts(r: _Refiner, minimum: float, maximum: float) -> None:
    """Bring the parts into ``minimum..maximum`` where the units allow (see :func:`settle`)."""
    board = _RefinerBoard(r)
    if out_of_range(board, minimum, maximum):
        settle(board, minimum, maximum)
    r.part = np.asarray(r.lab, dtype=np.int64)


def _fill_empty_parts(r: _Refiner, seed: int) -> None:
    """Give every part some weight where the units allow it.

    When the parts outnumber the weighted units they can reach, a part may be left holding only
    units without weight (a park, a school).  Such a part is merged whole into a neighbour
    (which keeps it connected) and the heaviest free part holding two or more weighted units is
    split in two instead.  Parts with locked units are left alone; at most ``k`` rounds.
    """
    if sum(r.pw) <= 0:
        return
    rng = np.random.default_rng(seed + 104729)
    for _ in range(r.k):
        lab = r.lab
        members: list[list[int]] = [[] for _ in range(r.k)]
        for u, p in enumerate(lab):
            members[p].append(u)
        free = [all(r.free[u] for u in units) for units in members]
        empty = [p for p in range(r.k) if r.pw[p] <= 0 and free[p] and members[p]]
        if not empty:
            break
        p = empty[0]
        touching = sorted({lab[v] for u in members[p] for v in r.nbrs[u] if lab[v] != p})
        if not touching:
            break
        donors = [
            q for q in range(r.k) if q != p and free[q] and sum(r.w[u] > 0 for u in members[q]) >= 2
        ]
        if not donors:
            break
        into = min(touching, key=lambda q: (r.pw[q], q))
        for u in members[p]:
            r._move(u, into)
        donor = max(donors, key=lambda q: (r.pw[q] + (r.pw[p] if q == into else 0), -q))
        units = [u for u, q in enumerate(r.lab) if q == donor]
        sides = _split_in_two(r, units, int(rng.integers(2**31 - 1)))
        if sides is None:  # pragma: no cover - a connected part with 2 weighted units splits
            break
        for u, side in zip(units, sides, strict=True):
            if side:
                r._move(u, p)
    r.part = np.asarray(r.lab, dtype=np.int64)


def _split_in_two(r: _Refiner, units: list[int], seed: int) -> list[int] | None:
    """Sides 0/1 splitting a connected part in two connected pieces that both hold weight."""
    index = {u: i for i, u in enumerate(units)}
    nbrs = [[index[v] for v in r.nbrs[u] if v in index] for u in units]
    nw = [[x for v, x in zip(r.nbrs[u], r.nw[u], strict=True) if v in index] for u in units]
    xadj = np.concatenate([[0], np.cumsum([len(row) for row in nbrs])]).astype(np.int64)
    adj = np.asarray([v for row in nbrs for v in row], dtype=np.int64)
    ew = np.asarray([x for row in nw for x in row], dtype=np.float64)
    w = np.asarray([r.w[u] for u in units], dtype=np.float64)
    for t in range(4):
        start = _repair(_metis_seed(xadj, adj, ew, w, 2, seed + t), nbrs, 2)
        sub = _Refiner(nbrs, nw, w, start, 2, 0.0, None, None, seed + t)
        sub.tol = 0.0
        sub.balance()
        if min(sub.pw) > 0:
            return sub.lab
    # fall back: a weighted unit whose leaving keeps the rest connected goes alone
    sub = _Refiner(nbrs, nw, w, np.zeros(len(units), dtype=np.int64), 2, 0.0, None, None, seed)
    for i in np.argsort(-w, kind="stable").tolist():
        if w[i] > 0 and w.sum() - w[i] > 0 and sub._can_leave(i):
            return [int(j == i) for j in range(len(units))]
    return None


def _recombine(r: _Refiner, xy: np.ndarray, seed: int) -> None:
    """Merge neighbouring parts and split them again where a better split exists.

    A large-neighbourhood search on top of the unit moves: the units of a pair of adjacent
    parts (then of three parts in a chain) are split afresh from several starts (METIS, and
    straight parallel cuts at weighted quantiles in several directions), each refined like a
    whole group; the best split that leaves the parts no further out of the tolerance and
    raises their summed Polsby-Popper replaces the old one.  A set of parts is tried again
    only after one of them changed; sets holding locked units are left alone.
    """
    rng = np.random.default_rng(seed + 7919)
    stamp = [0] * r.k
    tried: dict[tuple[int, ...], tuple[int, ...]] = {}
    parea, pper = r._part_shapes()
    for size in _RECOMBINE_SIZES:
        for _ in range(_RECOMBINE_ROUNDS):
            changed = False
            sets = _neighbour_sets(r, size)
            if size > 2:  # the least compact sets first, and a bounded number of them
                pps = [r._pp(x, y) for x, y in zip(parea, pper, strict=True)]
                sets = [t for t in sets if tried.get(t) != tuple(stamp[p] for p in t)]
                sets.sort(key=lambda t: sum(pps[p] for p in t))
                sets = sets[: int(_TRIPLES_PER_ROUND * r.k)]
            for i in rng.permutation(len(sets)).tolist():
                parts = sets[i]
                key = tuple(stamp[p] for p in parts)
                if tried.get(parts) == key:
                    continue
                tried[parts] = key
                members = [u for u, p in enumerate(r.lab) if p in parts]
                if not all(r.free[u] for u in members):
                    continue
                allowed = [r._viol(r.pw[p]) for p in parts]
                sub_seed = int(rng.integers(2**31 - 1))
                split = _best_split(r, members, len(parts), xy, allowed, sub_seed)
                if split is None:
                    continue
                before = sum(r._pp(parea[p], pper[p]) for p in parts) - r.crossing(members)
                gain = split[0] - before
                if gain <= 1e-9:
                    continue
                for u, side in zip(members, split[1], strict=True):
                    if r.lab[u] != parts[side]:
                        r._move(u, parts[side])
                parea, pper = r._part_shapes()
                for p in parts:
                    stamp[p] += 1
                changed = True
            if not changed:
                break
    r.part = np.asarray(r.lab, dtype=np.int64)


def _neighbour_sets(r: _Refiner, size: int) -> list[tuple[int, ...]]:
    """Sorted tuples of ``size`` (2 or 3) parts that are connected through adjacency."""
    lab = r.lab
    touch: list[set[int]] = [set() for _ in range(r.k)]
    for u, row in enumerate(r.nbrs):
        for v in row:
            if lab[v] != lab[u]:
                touch[lab[u]].add(lab[v])
    pairs = {(a, b) for a in range(r.k) for b in touch[a] if a < b}
    if size == 2:
        return sorted(pairs)
    triples = {
        tuple(sorted((a, b, c))) for a, b in pairs for c in touch[a] | touch[b] if c not in (a, b)
    }
    return sorted(triples)


def _local(r: _Refiner, members: list[int]) -> tuple[Any, ...] | None:
    """The sub-problem of some units: adjacency, edge weights, weights, shapes, crossing costs.

    ``None`` when the units are not connected.  The boundary with other parts stays perimeter.
    """
    area, ext, nl = r.shape
    index = {u: i for i, u in enumerate(members)}
    nbrs: list[list[int]] = []
    nw: list[list[float]] = []
    lens: list[list[float]] = []
    outer: list[float] = []
    pens: list[list[float]] | None = None if r.pen is None else []
    for u in members:
        row, wts, xs, out, ps = [], [], [], ext[u], []
        costs = r.pen[u] if r.pen is not None else [0.0] * len(r.nbrs[u])
        for v, wt, x, c in zip(r.nbrs[u], r.nw[u], nl[u], costs, strict=True):
            if v in index:
                row.append(index[v])
                wts.append(wt)
                xs.append(x)
                ps.append(c)
            else:
                out += x  # boundary with the other parts stays perimeter
        nbrs.append(row)
        nw.append(wts)
        lens.append(xs)
        outer.append(out)
        if pens is not None:
            pens.append(ps)
    xadj = np.concatenate([[0], np.cumsum([len(row) for row in nbrs])]).astype(np.int64)
    adj = np.asarray([v for row in nbrs for v in row], dtype=np.int64)
    if not _connected(xadj, adj):  # the parts no longer touch
        return None
    ew = np.asarray([x for row in nw for x in row], dtype=np.float64)
    w = np.asarray([r.w[u] for u in members], dtype=np.float64)
    shape = ([area[u] for u in members], outer, lens)
    return nbrs, nw, w, shape, pens, xadj, adj, ew


def _split_starts(
    xadj: np.ndarray,
    adj: np.ndarray,
    ew: np.ndarray,
    w: np.ndarray,
    parts: int,
    pts: np.ndarray,
    rng: np.random.Generator,
    metis: int = 2,
    lines: int = _LINE_DIRECTIONS,
) -> list[np.ndarray]:
    """Starting splits: ``metis`` METIS seeds and straight cuts in ``lines`` directions."""
    starts = [
        _metis_seed(xadj, adj, ew, w, parts, int(rng.integers(2**31 - 1))) for _ in range(metis)
    ]
    turn = rng.random()
    quantiles = w.sum() * np.arange(1, parts) / parts
    for d in range(lines):
        angle = math.pi * (d + turn) / lines
        order = np.argsort(pts @ np.array([math.cos(angle), math.sin(angle)]), kind="stable")
        cuts = np.searchsorted(np.cumsum(w[order]), quantiles) + 1
        side = np.empty(len(w), dtype=np.int64)
        side[order] = np.searchsorted(cuts, np.arange(len(w)), side="right")
        starts.append(side)
    return starts


def _best_split(
    r: _Refiner,
    members: list[int],
    parts: int,
    xy: np.ndarray,
    allowed: list[float],
    seed: int,
) -> tuple[float, list[int]] | None:
    """The best split of ``members`` into ``parts`` parts (summed Polsby-Popper, sides 0..).

    Only splits no further out of the tolerance than the parts now (``allowed``: their
    violations) count: no side worse than the worst part, the sum no larger.
    """
    local = _local(r, members)
    if local is None:
        return None
    nbrs, nw, w, shape, pens, xadj, adj, ew = local
    rng = np.random.default_rng(seed)
    starts = _split_starts(xadj, adj, ew, w, parts, xy[members], rng)
    eps = 1e-9 * max(r.mean, 1.0)
    best = None
    for t, start in enumerate(starts):
        start = _repair(start, nbrs, parts)
        sub = _Refiner(nbrs, nw, w, start, parts, 0.0, shape, None, seed + t, pens)
        sub.mean = r.mean  # balance against the group's mean part, not the set's
        for factor in _SPLIT_SCHEDULE:
            sub.tol = r.tol * factor
            sub.balance()
            sub.polsby_popper()
        sub.tol = r.tol
        after = [sub._viol(x) for x in sub.pw]
        if max(after) > max(allowed) + eps or sum(after) > sum(allowed) + eps:
            continue
        score = parts * sub.objective()
        if best is None or score > best[0]:
            best = (score, sub)
    if best is None:
        return None
    best[1].pair_moves()
    return parts * best[1].objective(), best[1].lab


def _raise_least(
    r: _Refiner, xy: np.ndarray, seed: int, bounds: tuple[float, float] | None = None
) -> None:
    """Re-split the least compact parts with their neighbours where that raises the least.

    The refinement raises the parts' summed Polsby-Popper within the tolerance, which leaves
    a strip-shaped part alone when mending it would cost its neighbours more than it gains or
    move a part off the group's mean.  Here each of the :data:`_LEAST_PARTS` least compact
    parts is split afresh with each neighbouring part, from a few starts (METIS, straight
    cuts), each refined to raise the lowest Polsby-Popper of the set, then their sum.  A split
    replaces the old parts when it raises their lowest Polsby-Popper without lowering their
    summed Polsby-Popper or adding barrier crossings.  The least compact part of the group,
    when still a strip (under :data:`_LEAST_STRIP`) with no such pair, is tried with two
    neighbours, and may cost the set's summed Polsby-Popper up to :data:`_LEAST_TRADE` times
    the rise of its lowest (strips of units of ~150 households joined end to end are mended
    only so: two units side by side fall a household or two short of the range).
    Every part stays within the weights the group's parts already span and within ``bounds``
    (no part leaves the range, no deviation from the group's mean grows) and in one piece;
    parts with locked units are left alone.
    """
    rng = np.random.default_rng(seed + 6151)
    envelope = (min(r.pw), max(r.pw))
    if bounds is not None:
        envelope = (max(envelope[0], bounds[0]), min(envelope[1], bounds[1]))
    if envelope[0] > envelope[1]:
        return
    tried: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()

    def best_of(sets: list[tuple[int, ...]], pps: list[float], trade: float) -> tuple | None:
        best = None
        for group in sets:
            members = [u for u, x in enumerate(r.lab) if x in group]
            key = (tuple(sorted(group)), tuple(members))
            if key in tried or not all(r.free[u] for u in members):
                continue
            tried.add(key)
            floor = (
                min(pps[x] for x in group),
                sum(pps[x] for x in group),
                r.crossing(members),
            )
            split = _least_split(
                r, members, len(group), xy, envelope, int(rng.integers(2**31 - 1)), floor, trade
            )
            if split is not None and (best is None or split[0] - floor[0] > best[0]):
                best = (split[0] - floor[0], group, members, split[1])
        return best

    for _ in range(_LEAST_ROUNDS):
        parea, pper = r._part_shapes()
        pps = [r._pp(a, p) for a, p in zip(parea, pper, strict=True)]
        touch: list[set[int]] = [set() for _ in range(r.k)]
        for u, row in enumerate(r.nbrs):
            for v in row:
                if r.lab[v] != r.lab[u]:
                    touch[r.lab[u]].add(r.lab[v])
        best = None
        for rank, p in enumerate(sorted(range(r.k), key=lambda x: (pps[x], x))[:_LEAST_PARTS]):
            best = best_of([(p, q) for q in sorted(touch[p])], pps, 0.0)
            if best is None and rank == 0 and pps[p] < _LEAST_STRIP:
                triples = {(p, *sorted((q, x))) for q in touch[p] for x in touch[p] | touch[q]
                           if x not in (p, q)}  # fmt: skip
                best = best_of(sorted(triples), pps, _LEAST_TRADE)
            if best is not None:
                break
        if best is None:
            break
        _, group, members, sides = best
        for u, side in zip(members, sides, strict=True):
            if r.lab[u] != group[side]:
                r._move(u, group[side])
    r.part = np.asarray(r.lab, dtype=np.int64)


def _least_split(
    r: _Refiner,
    members: list[int],
    parts: int,
    xy: np.ndarray,
    envelope: tuple[float, float],
    seed: int,
    floor: tuple[float, float, float],
    trade: float = 0.0,
) -> tuple[float, list[int]] | None:
    """The split of some parts' units with the highest lowest Polsby-Popper, within ``envelope``.

    Only splits that beat ``floor`` count: their lowest Polsby-Popper above its first value,
    their summed Polsby-Popper at least its second (less ``trade`` times the rise of the
    lowest), their barrier crossing at most its third.  Returns the lowest Polsby-Popper and
    the side (0..parts-1) of every unit, or ``None``.
    """
    local = _local(r, members)
    if local is None:
        return None
    nbrs, nw, w, shape, pens, xadj, adj, ew = local
    rng = np.random.default_rng(seed)
    best = None
    starts = _split_starts(xadj, adj, ew, w, parts, xy[members], rng, *_LEAST_STARTS)
    for t, start in enumerate(starts):
        start = _repair(start, nbrs, parts)
        sub = _Refiner(nbrs, nw, w, start, parts, 0.0, shape, None, seed + t, pens)
        sub.mean = (envelope[0] + envelope[1]) / 2  # the violation: how far outside it
        sub.tol = (envelope[1] - envelope[0]) / 2
        sub.balance()
        if sub.violation() > 1e-9 * max(sub.mean, 1.0):
            continue
        for step in (sub.raise_least, sub.polsby_popper):  # the least up, then the sum
            step()
            low = sub.least_pp()
            good = (
                low > floor[0] + 1e-6
                and parts * sub.mean_pp() >= floor[1] - trade * (low - floor[0]) - 1e-9
                and sub.crossing() <= floor[2] + 1e-12
            )
            if good and (best is None or low > best[0]):
                best = (low, list(sub.lab))
    return best


def shape_inputs(
    graph: Any,
    area: np.ndarray,
    perimeter: np.ndarray,
    centroids: np.ndarray | None = None,
) -> np.ndarray:
    """The ``compactness`` input of :func:`partition_graph` for units of known shape.

    Parameters
    ----------
    graph
        The unit graph (its ``edges`` and shared ``length``).
    area, perimeter
        Area (m²) and perimeter (m) of every unit.
    centroids
        Optional ``(n, 2)`` metric coordinates of a point in every unit.  With them the
        partitioner also re-splits pairs of neighbouring grids along straight cuts, which
        finds more compact grids.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` (or ``(n, 4)`` with ``centroids``): each unit's area, the length of its
        boundary shared with no other unit of the graph, and its point's x and y.
    """
    shared = np.zeros(graph.n)
    np.add.at(shared, graph.edges[:, 0], graph.length)
    np.add.at(shared, graph.edges[:, 1], graph.length)
    outer = np.maximum(np.asarray(perimeter, dtype=float) - shared, 0.0)
    columns = [np.asarray(area, dtype=float), outer]
    if centroids is not None:
        xy = np.asarray(centroids, dtype=float).reshape(-1, 2)
        columns += [xy[:, 0], xy[:, 1]]
    return np.column_stack(columns)
