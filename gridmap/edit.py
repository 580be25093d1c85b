"""Hand edits of a plan: move units, split and merge grids, lock grids, undo and redo.

:class:`PlanEditor` wraps a :class:`gridmap.plan.Plan` and applies the edits a street office
makes by hand in the web editor.  Every edit is checked against the rules of a plan before
anything changes, and refused with :class:`EditRefused` (naming the grids and units involved and
what to do instead) when it would break one:

* every grid stays in one piece in the unit graph (:data:`gridmap.graph.BARRIER_GAP` links
  joining islands count as connections); a grid that was already in several pieces may not be
  cut into more;
* no grid crosses a community line;
* no grid is left without units, nor without households when it had some;
* units move only into a grid they touch; grids merge only with a neighbour of their community;
* a locked grid refuses every edit that touches it.

A refused edit changes nothing.  Each accepted edit answers with an :class:`EditResult`: the
grids it touched, re-measured in milliseconds (only their units are dissolved), and the codes
it retired or added.  Moves, splits, merges and locks form one history that :meth:`PlanEditor.undo`
and :meth:`PlanEditor.redo` walk; :meth:`PlanEditor.plan` re-measures the whole plan.

Codes are stable: an edit never renumbers a grid it does not create.  A split gives the new grid
the next grid number of its community that no grid of the editor's history has held (so a code
always means the same grid, in exports and in the incidents filed under it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.coding import MAX_GRIDS_PER_COMMUNITY, grid_order
from gridmap.errors import GridmapError, InputError
from gridmap.graph import UnitGraph
from gridmap.metrics import COUNT_COLUMNS, PART_MIN_SHARE
from gridmap.partition import partition_graph, shape_inputs
from gridmap.plan import Plan

__all__ = ["EditRefused", "EditResult", "PlanEditor"]

#: How many units a message names before it says "and N more".
MAX_UNITS_SHOWN = 6

_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon
_CODE15 = re.compile(r"\d{15}")
_TRAILING_NUMBER = re.compile(r"(.*?)(\d+)")


class EditRefused(GridmapError):  # noqa: N818 - the name the web editor and brief use
    """An edit that would break a rule of the plan; nothing was changed.

    Parameters
    ----------
    message
        What would go wrong, naming the grids and units involved.
    fix
        What to do instead.
    codes
        The grid codes involved (for the editor to highlight).
    units
        The unit indices involved.
    code, params
        The kind of refusal (``not_touching``, ``grid_locked``, ``merge_not_neighbours``...)
        and the values its message is made of, for front ends that word it themselves.

    Attributes
    ----------
    codes, units, code, params
        As given.
    """

    def __init__(
        self,
        message: str,
        *,
        fix: str = "",
        codes: Iterable[str] = (),
        units: Iterable[int] = (),
        code: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, fix=fix, code=code, params=params)
        self.codes = [str(c) for c in codes]
        self.units = [int(u) for u in units]


@dataclass
class EditResult:
    """What an edit (or an undo or redo) changed.

    Attributes
    ----------
    operation
        What was done, in words (``"move 2 units to grid 510104090001003"``,
        ``"undo: merge grid ... into grid ..."``).
    touched
        One row per grid the edit touched and that exists after it, in label order, in the
        units' metric CRS: ``code``, ``community``, ``units``, ``weight`` and the
        ``households``, ``persons`` and ``buildings`` the units carry, ``deviation`` (from the
        plan's target, or from the mean of the community's grids without one), ``in_range``
        (``None`` without a range), ``area_m2``, ``polsby_popper``, ``parts`` (pieces of the
        dissolved polygon), ``locked`` and the dissolved ``geometry``.
    retired
        Codes of the grids the edit removed (merged away, or a split undone).
    added
        Codes of the grids the edit created (a split, or a merge undone).
    moved
        Indices of the units whose grid changed.
    """

    operation: str
    touched: gpd.GeoDataFrame
    retired: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    moved: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


@dataclass
class _Step:
    """One reversible change of the editor's state (an entry of the history)."""

    operation: str
    units: np.ndarray
    before: np.ndarray
    after: np.ndarray
    born: tuple[int, ...] = ()
    died: tuple[int, ...] = ()
    lock: tuple[int, ...] = ()
    unlock: tuple[int, ...] = ()

    def inverse(self) -> _Step:
        return _Step(
            self.operation,
            self.units,
            self.after,
            self.before,
            born=self.died,
            died=self.born,
            lock=self.unlock,
            unlock=self.lock,
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class PlanEditor:
    """Hand edits of a plan, checked against the plan's rules, with undo and redo.

    Grids are named by their codes and units by their index (row position in ``plan.units``).
    Internally every grid the editor has known keeps a slot whose code never changes; the
    public :attr:`labels` number the current grids ``0..K-1`` community by community (the
    grids of a community in the order of the original plan, grids added by splits after
    them), as :func:`gridmap.partition.partition_graph` numbers its output.

    Parameters
    ----------
    plan
        A plan with its unit graph (``plan.graph``), as :func:`gridmap.plan.make_plan` and
        :func:`gridmap.plan.partition_units` make it.

    Raises
    ------
    InputError
        When the plan has no unit graph, or its labels, grids and graph do not match.

    Examples
    --------
    >>> editor = PlanEditor(plan)  # doctest: +SKIP
    >>> result = editor.move_units([12], "510104090001003")  # doctest: +SKIP
    >>> result.touched[["code", "households", "in_range"]]  # doctest: +SKIP
    >>> editor.undo()  # doctest: +SKIP
    """

    def __init__(self, plan: Plan) -> None:
        graph = plan.graph
        if graph is None:
            raise InputError(
                "the plan has no unit graph, so edits cannot be checked for contiguity.",
                fix="edit a plan made by make_plan or partition_units (they keep plan.graph).",
            )
        n = len(plan.units)
        labels = np.asarray(plan.labels, dtype=np.int64)
        k = len(plan.grids)
        if int(graph.n) != n or labels.shape != (n,):
            raise InputError(
                f"the plan has {n} units, {labels.size} labels and a graph of {graph.n} units.",
                fix="edit the plan as make_plan returned it.",
            )
        if n and (labels.min() < 0 or labels.max() >= k):
            raise InputError(
                f"the plan's labels must lie in 0..{k - 1}, one per grid row.",
                fix="edit the plan as make_plan returned it.",
            )
        self._plan = plan
        self._n = n
        self._context = plan.context
        self._edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
        self._length = np.asarray(graph.length, dtype=np.float64)
        self._barrier = np.asarray(graph.barrier)
        self._groups = np.asarray(graph.groups, dtype=np.int64)
        self._group_names = [str(name) for name in graph.group_names]
        xadj, adjncy, _ = graph.csr()
        self._nbrs = [adjncy[xadj[i] : xadj[i + 1]].tolist() for i in range(n)]
        self._geoms = plan.units.geometry.to_numpy()
        self._unit_ids = (
            plan.units["unit_id"].astype(str).to_numpy() if "unit_id" in plan.units else None
        )
        self._shape: np.ndarray | None = None  # per-unit compactness inputs, made on demand

        # the columns summed per grid: the balanced weight first, then the counts
        units = plan.units
        columns = ["weight", *[c for c in COUNT_COLUMNS if c in units.columns]]
        sources = [self._context.weight, *columns[1:]]
        self._columns = columns
        self._integer = [
            name != "weight" and pd.api.types.is_integer_dtype(units[source])
            for name, source in zip(columns, sources, strict=True)
        ]
        self._values = np.column_stack(
            [pd.to_numeric(units[s], errors="coerce").fillna(0).to_numpy(float) for s in sources]
        ).reshape(n, len(columns))

        # one slot per grid ever known; slot i is row i of plan.grids at the start
        self._labels = labels.copy()
        self._codes = [str(code) for code in plan.grids["code"]]
        self._slot_of = {code: i for i, code in enumerate(self._codes)}
        self._alive = np.ones(k, dtype=bool)
        self._locked = np.zeros(k, dtype=bool)
        groups_count = max(1, len(self._group_names))
        votes = np.bincount(labels * groups_count + self._groups, minlength=k * groups_count)
        self._community = votes.reshape(k, groups_count).argmax(axis=1).astype(np.int64)
        self._seen = set(self._codes)
        self._done: list[_Step] = []
        self._undone: list[_Step] = []
        self._recount()

    # ------------------------------------------------------------------------------ state

    @property
    def labels(self) -> np.ndarray:
        """Current grid label (``0..K-1``) of every unit, numbered community by community."""
        return self._compact()[self._labels]

    @property
    def codes(self) -> list[str]:
        """Current grid codes, one per label (``codes[label]``)."""
        return [self._codes[s] for s in self._order()]

    @property
    def locked(self) -> set[str]:
        """Codes of the locked grids (a copy)."""
        return {self._codes[s] for s in np.flatnonzero(self._locked & self._alive)}

    @property
    def history(self) -> list[str]:
        """The edits that :meth:`undo` would take back, oldest first, in words."""
        return [step.operation for step in self._done]

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._undone)

    def grid_of(self, unit: int) -> str:
        """The code of the grid holding a unit.

        Parameters
        ----------
        unit
            A unit index.

        Raises
        ------
        EditRefused
            When there is no such unit.
        """
        return self._codes[self._labels[self._unit_array([unit])[0]]]

    def units_of(self, code: str) -> np.ndarray:
        """The unit indices of a grid, ascending.

        Parameters
        ----------
        code
            A current grid code.

        Raises
        ------
        EditRefused
            When there is no such grid.
        """
        return self._members(self._live_slot(code))

    def neighbours(self, code: str) -> list[str]:
        """Codes of the grids sharing a unit-graph edge with a grid, sorted.

        Parameters
        ----------
        code
            A current grid code.

        Raises
        ------
        EditRefused
            When there is no such grid.
        """
        return sorted(self._codes[s] for s in self._neighbour_slots(self._live_slot(code)))

    def grids_per_community(self) -> dict[str, int]:
        """Number of current grids in each community (the ``grids_per_group`` of a re-run)."""
        alive = np.flatnonzero(self._alive)
        counts = np.bincount(self._community[alive], minlength=len(self._group_names))
        return {name: int(c) for name, c in zip(self._group_names, counts, strict=True)}

    def locked_labels(self) -> np.ndarray:
        """Per unit ``-1`` when its grid is free, else its grid's current label.

        This is the ``locked`` argument of :func:`gridmap.partition.partition_graph` (with
        :meth:`grids_per_community` as ``grids_per_group``): an optimiser run then keeps every
        unit of a locked grid in it.  (``partition_graph`` may still add free units to a locked
        grid; compare its result with :meth:`units_of` to keep locked grids exactly.)
        """
        compact = self._compact()
        return np.where(self._locked[self._labels], compact[self._labels], -1).astype(np.int64)

    def measure(self, codes: Sequence[str] | None = None) -> gpd.GeoDataFrame:
        """Measure some grids (or all) as :attr:`EditResult.touched` does.

        Parameters
        ----------
        codes
            Current grid codes; all grids by default (that dissolves every grid: use
            :meth:`plan` for the full metrics).

        Raises
        ------
        EditRefused
            When a code names no current grid.
        """
        slots = self._order() if codes is None else [self._live_slot(c) for c in codes]
        return self._table(slots)

    def plan(self) -> Plan:
        """The current plan, fully re-measured (all grids, plan summary), codes kept."""
        return self._plan.with_labels(self.labels, self.codes)

    # ------------------------------------------------------------------------------ edits

    def move_units(self, units: Sequence[int], to_code: str) -> EditResult:
        """Move units into a grid that touches them.

        Parameters
        ----------
        units
            Unit indices; those already in the target grid are left where they are.
        to_code
            The code of the grid receiving them.

        Returns
        -------
        EditResult
            The target grid and the grids the units came from.

        Raises
        ------
        EditRefused
            When the grid is unknown or locked, a unit is unknown, lies in another community,
            or does not touch the grid (directly or through other moved units), or when a grid
            the units leave would be empty, without households, or cut in pieces.
        """
        target = self._live_slot(to_code)
        code = self._codes[target]
        asked = self._unit_array(units)
        moving = asked[self._labels[asked] != target]
        if not moving.size:
            raise EditRefused(
                f"{self._unit_names(asked)} already belong to grid {code}: nothing to move.",
                fix=f"select units of the grids around {code} to move them into it.",
                codes=[code],
                units=asked,
                code="nothing_to_move",
                params={"grid": code, "units": self._unit_labels(asked)},
            )
        sources = [int(s) for s in np.unique(self._labels[moving])]
        self._refuse_locked([target, *sources], f"move units into grid {code}")
        community = self._community[target]
        foreign = moving[self._groups[moving] != community]
        if foreign.size:
            theirs = self._group_name(int(self._groups[foreign[0]]))
            raise EditRefused(
                f"{self._unit_names(foreign)} lie in community {theirs} but grid {code} is in "
                f"community {self._group_name(community)}: a grid never crosses a community "
                "line.",
                fix=f"move them to a grid of community {theirs}.",
                codes=[code],
                units=foreign,
                code="crosses_community",
                params={
                    "grid": code,
                    "units": self._unit_labels(foreign),
                    "community": theirs,
                    "grid_community": self._group_name(community),
                },
            )
        # every moved unit must touch the target, directly or through other moved units
        members = self._members(target)
        inside = set(members.tolist())
        apart = [
            p for p in self._pieces(np.union1d(members, moving)) if inside.isdisjoint(p.tolist())
        ]
        if apart:
            apart = np.sort(np.concatenate(apart))
            raise EditRefused(
                f"grid {code} does not touch {self._unit_names(apart)}: with them it would "
                "be in several pieces.",
                fix=f"move only units that share a boundary with grid {code} (or with other "
                "units moved along with them).",
                codes=[code],
                units=apart,
                code="not_touching",
                params={"grid": code, "units": self._unit_labels(apart)},
            )
        for source in sources:
            what = f"moving {self._unit_names(moving)} to grid {code}"
            self._check_rest(source, moving, what, code)
        step = _Step(
            f"move {self._unit_names(moving, ids=False)} to grid {code}",
            moving,
            self._labels[moving].copy(),
            np.full(moving.size, target, dtype=np.int64),
        )
        return self._commit(step)

    def split_grid(self, code: str, units: Sequence[int] | None = None) -> EditResult:
        """Split a grid in two; the new grid gets the next free grid number of its community.

        Parameters
        ----------
        code
            The grid to split.
        units
            The units of the new grid (the rest keep ``code``).  By default the grid is split
            into two balanced, compact halves (:func:`gridmap.partition.partition_graph`), the
            half first in reading order (north-west) keeping ``code``; with the plan's range
            (``minimum``-``maximum``), both halves are brought into it where the units allow;
            a grid of fewer than twice the minimum is refused (naming the halves it would
            make), and one too big for two grids, or whose units are too coarse, is split as
            evenly as it goes.  Units given by hand are split as given: the halves'
            ``in_range`` says how they fare.

        Returns
        -------
        EditResult
            Both halves, with the new code in ``added``.

        Raises
        ------
        EditRefused
            When the grid is unknown, locked or has one unit, the units are not all in it or
            are all of it, either half would be in pieces or without households while the grid
            had some, a grid split without ``units`` holds less than twice the plan's minimum
            (code ``split_out_of_range``), or the community has no grid number left.
        """
        slot = self._live_slot(code)
        code = self._codes[slot]
        self._refuse_locked([slot], f"split grid {code}")
        members = self._members(slot)
        if members.size < 2:
            raise EditRefused(
                f"grid {code} has a single unit ({self._unit_names(members)}): it cannot be "
                "split, since units are never cut.",
                fix=f"move a neighbouring unit into grid {code} first, or split another grid.",
                codes=[code],
                units=members,
                code="split_single_unit",
                params={"grid": code},
            )
        if units is None:
            part = self._balanced_half(slot, members)
        else:
            part = self._unit_array(units)
            strays = part[self._labels[part] != slot]
            if strays.size:
                where = sorted({self._codes[s] for s in self._labels[strays]})
                raise EditRefused(
                    f"{self._unit_names(strays)} are not in grid {code} (they are in "
                    f"{', '.join(where)}).",
                    fix=f"choose the new grid's units among the {members.size} units of "
                    f"grid {code}.",
                    codes=[code, *where],
                    units=strays,
                )
            if part.size == members.size:
                raise EditRefused(
                    f"the units given are all {members.size} units of grid {code}: grid "
                    f"{code} would be left empty.",
                    fix=f"leave at least one unit in grid {code}.",
                    codes=[code],
                    units=part,
                )
        rest = np.setdiff1d(members, part)
        allowed = self._allowed_pieces(members)
        for side, name in ((rest, f"grid {code}"), (part, "the new grid")):
            pieces = self._pieces(side)
            if len(pieces) > allowed:
                cut = np.sort(np.concatenate(pieces[1:]))
                raise EditRefused(
                    f"splitting grid {code} this way leaves {name} in {len(pieces)} pieces: "
                    f"{self._unit_names(cut)} would be cut off from the rest of it.",
                    fix="give the new grid units that form one piece and leave the rest of "
                    f"grid {code} in one piece.",
                    codes=[code],
                    units=cut,
                    code="split_cuts_grid",
                    params={"grid": code, "pieces": len(pieces), "cut": self._unit_labels(cut)},
                )
        if self._sums[slot, 0] > 0:
            for side, name in ((rest, f"grid {code}"), (part, "the new grid")):
                if self._values[side, 0].sum() <= 0:
                    raise EditRefused(
                        f"splitting grid {code} this way leaves {name} without "
                        f"{self._weight_word()}.",
                        fix=f"give both halves a unit with {self._weight_word()}"
                        + (" (pass units=...)." if units is None else "."),
                        codes=[code],
                        units=side,
                        code="split_without_weight",
                        params={"grid": code, "weight": self._weight_word()},
                    )
        new_code = self._next_code(slot)
        new_slot = self._add_slot(new_code, int(self._community[slot]))
        step = _Step(
            f"split grid {code} into {code} and {new_code}",
            part,
            np.full(part.size, slot, dtype=np.int64),
            np.full(part.size, new_slot, dtype=np.int64),
            born=(new_slot,),
        )
        return self._commit(step)

    def merge_grids(self, keep: str, other: str) -> EditResult:
        """Merge two neighbouring grids of one community; ``keep``'s code survives.

        Parameters
        ----------
        keep
            The grid that receives the other's units and keeps its code.
        other
            The grid merged away (its code is retired and never given again).

        Returns
        -------
        EditResult
            The merged grid, with ``other`` in ``retired``.

        Raises
        ------
        EditRefused
            When a grid is unknown or locked, the two are the same grid, lie in different
            communities or do not touch.
        """
        a, b = self._live_slot(keep), self._live_slot(other)
        keep, other = self._codes[a], self._codes[b]
        if a == b:
            raise EditRefused(
                f"cannot merge grid {keep} with itself.",
                fix=f"merge it with one of its neighbours: {self._neighbour_list(a)}.",
                codes=[keep],
                code="merge_itself",
                params={"grid": keep, "neighbours": self._neighbour_codes(a)},
            )
        self._refuse_locked([a, b], f"merge grids {keep} and {other}")
        if self._community[a] != self._community[b]:
            raise EditRefused(
                f"grid {keep} is in community {self._group_name(self._community[a])} and grid "
                f"{other} in community {self._group_name(self._community[b])}: a grid never "
                "crosses a community line.",
                fix=f"merge grid {other} with a neighbour of its own community: "
                f"{self._neighbour_list(b)}.",
                codes=[keep, other],
                code="merge_across_communities",
                params={
                    "keep": keep,
                    "other": other,
                    "keep_community": self._group_name(self._community[a]),
                    "other_community": self._group_name(self._community[b]),
                    "neighbours": self._neighbour_codes(b),
                },
            )
        if b not in self._neighbour_slots(a):
            raise EditRefused(
                f"grids {keep} and {other} do not touch: merged, they would be in two pieces.",
                fix=f"merge grid {keep} with one of its neighbours: {self._neighbour_list(a)}.",
                codes=[keep, other],
                code="merge_not_neighbours",
                params={"keep": keep, "other": other, "neighbours": self._neighbour_codes(a)},
            )
        members = self._members(b)
        step = _Step(
            f"merge grid {other} into grid {keep}",
            members,
            np.full(members.size, b, dtype=np.int64),
            np.full(members.size, a, dtype=np.int64),
            died=(b,),
        )
        return self._commit(step)

    def lock(self, code: str) -> EditResult:
        """Lock a grid: every edit touching it is refused until it is unlocked.

        Parameters
        ----------
        code
            A current grid code.

        Raises
        ------
        EditRefused
            When there is no such grid or it is already locked.
        """
        slot = self._live_slot(code)
        code = self._codes[slot]
        if self._locked[slot]:
            raise EditRefused(
                f"grid {code} is already locked.",
                fix=f"nothing to do (unlock it with unlock({code!r})).",
                codes=[code],
                code="already_locked",
                params={"grid": code},
            )
        return self._commit(_Step(f"lock grid {code}", *self._no_units(), lock=(slot,)))

    def unlock(self, code: str) -> EditResult:
        """Unlock a locked grid.

        Parameters
        ----------
        code
            A current grid code.

        Raises
        ------
        EditRefused
            When there is no such grid or it is not locked.
        """
        slot = self._live_slot(code)
        code = self._codes[slot]
        if not self._locked[slot]:
            raise EditRefused(
                f"grid {code} is not locked.",
                fix="nothing to do; the locked grids are editor.locked.",
                codes=[code],
                code="not_locked",
                params={"grid": code},
            )
        return self._commit(_Step(f"unlock grid {code}", *self._no_units(), unlock=(slot,)))

    def undo(self) -> EditResult:
        """Take back the last edit (move, split, merge, lock or unlock).

        Raises
        ------
        EditRefused
            When there is nothing to undo.
        """
        if not self._done:
            raise EditRefused(
                "there is nothing to undo.",
                fix="undo takes back edits made with this editor; none is left.",
                code="nothing_to_undo",
            )
        step = self._done.pop()
        inverse = step.inverse()
        self._apply(inverse)
        self._undone.append(step)
        return self._result(inverse, f"undo: {step.operation}")

    def redo(self) -> EditResult:
        """Make again the last edit taken back by :meth:`undo`.

        Raises
        ------
        EditRefused
            When there is nothing to redo (nothing was undone, or an edit was made since).
        """
        if not self._undone:
            raise EditRefused(
                "there is nothing to redo.",
                fix="redo makes again an undone edit; a new edit after undo clears them.",
                code="nothing_to_redo",
            )
        step = self._undone.pop()
        self._apply(step)
        self._done.append(step)
        return self._result(step, f"redo: {step.operation}")

    # ------------------------------------------------------------------------------ helpers

    def _commit(self, step: _Step) -> EditResult:
        self._apply(step)
        self._done.append(step)
        self._undone.clear()
        return self._result(step, step.operation)

    def _apply(self, step: _Step) -> None:
        self._labels[step.units] = step.after
        self._alive[list(step.born)] = True
        self._alive[list(step.died)] = False
        self._locked[list(step.lock)] = True
        self._locked[list(step.unlock)] = False
        self._recount()

    def _recount(self) -> None:
        """Per-slot unit counts and sums (exact: recounted rather than updated)."""
        k = len(self._codes)
        self._counts = np.bincount(self._labels, minlength=k)
        self._sums = np.column_stack(
            [
                np.bincount(self._labels, weights=self._values[:, j], minlength=k)
                for j in range(self._values.shape[1])
            ]
        ).reshape(k, -1)

    def _result(self, step: _Step, operation: str) -> EditResult:
        slots = set(step.before.tolist()) | set(step.after.tolist())
        slots |= set(step.lock) | set(step.unlock)
        position = self._compact()
        touched = sorted((s for s in slots if self._alive[s]), key=lambda s: position[s])
        return EditResult(
            operation=operation,
            touched=self._table(touched),
            retired=[self._codes[s] for s in step.died],
            added=[self._codes[s] for s in step.born],
            moved=np.sort(step.units),
        )

    def _no_units(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty

    def _order(self) -> np.ndarray:
        """Live slots in label order: community by community, then slot order."""
        slots = np.flatnonzero(self._alive)
        return slots[np.lexsort((slots, self._community[slots]))]

    def _compact(self) -> np.ndarray:
        """Slot -> current label (-1 for slots of grids that no longer exist)."""
        out = np.full(len(self._codes), -1, dtype=np.int64)
        order = self._order()
        out[order] = np.arange(order.size)
        return out

    def _members(self, slot: int) -> np.ndarray:
        return np.flatnonzero(self._labels == slot)

    def _add_slot(self, code: str, community: int) -> int:
        """A new slot (not alive until a step makes it so) for a new grid code."""
        self._codes.append(code)
        self._slot_of[code] = len(self._codes) - 1
        self._seen.add(code)
        self._alive = np.append(self._alive, False)
        self._locked = np.append(self._locked, False)
        self._community = np.append(self._community, community)
        self._recount()
        return len(self._codes) - 1

    def _live_slot(self, code: Any) -> int:
        key = str(code).strip()
        slot = self._slot_of.get(key)
        if slot is None or not self._alive[slot]:
            state = "does not exist"
            if slot is not None:
                state = "no longer exists (merged away, or its split undone)"
            raise EditRefused(
                f"grid {key} {state}.",
                fix="use the code of a current grid (editor.codes).",
                codes=[key],
                code="unknown_grid",
                params={"grid": key, "gone": slot is not None},
            )
        return slot

    def _unit_array(self, units: Any) -> np.ndarray:
        array = np.asarray(units)
        if array.ndim == 0:
            array = array.reshape(1)
        if array.size == 0:
            raise EditRefused("no units were given.", fix="select at least one unit.")
        if array.dtype.kind not in "iu":
            raise EditRefused(
                f"units are given by their index (whole numbers), not {array.dtype} values "
                f"such as {array.ravel()[0]!r}.",
                fix=f"pass unit indices 0..{self._n - 1} (row positions in plan.units).",
            )
        array = array.astype(np.int64).ravel()
        unknown = array[(array < 0) | (array >= self._n)]
        if unknown.size:
            shown = ", ".join(str(u) for u in unknown[:MAX_UNITS_SHOWN])
            raise EditRefused(
                f"there is no unit {shown}: the plan has {self._n} units.",
                fix=f"pass unit indices 0..{self._n - 1} (row positions in plan.units).",
                units=unknown,
            )
        return np.unique(array)

    def _unit_names(self, units: np.ndarray, *, ids: bool = True) -> str:
        units = np.asarray(units, dtype=np.int64)
        shown = units[:MAX_UNITS_SHOWN].tolist()
        if ids and self._unit_ids is not None:
            names = [f"{u} ({self._unit_ids[u]})" for u in shown]
        else:
            names = [str(u) for u in shown]
        more = units.size - len(shown)
        text = ", ".join(names) + (f" and {more} more" if more > 0 else "")
        return f"unit {text}" if units.size == 1 else f"units {text}"

    def _unit_labels(self, units: np.ndarray) -> list[str]:
        """Every unit's name as messages give it: its index, with its unit id when known."""
        units = np.asarray(units, dtype=np.int64).tolist()
        if self._unit_ids is None:
            return [str(u) for u in units]
        return [f"{u} ({self._unit_ids[u]})" for u in units]

    def _group_name(self, group: int) -> str:
        return self._group_names[int(group)] if self._group_names else ""

    def _weight_word(self) -> str:
        return str(self._context.weight)

    def _refuse_locked(self, slots: Sequence[int], what: str) -> None:
        locked = [self._codes[s] for s in dict.fromkeys(slots) if self._locked[s]]
        if locked:
            names = ", ".join(locked)
            word = "is" if len(locked) == 1 else "are"
            raise EditRefused(
                f"cannot {what}: grid {names} {word} locked.",
                fix="unlock it first ("
                + ", ".join(f"unlock({c!r})" for c in locked)
                + "), or leave locked grids alone.",
                codes=locked,
                code="grid_locked",
                params={"grids": locked},
            )

    def _neighbour_slots(self, slot: int) -> set[int]:
        left = self._labels[self._edges[:, 0]]
        right = self._labels[self._edges[:, 1]]
        out = np.concatenate([right[(left == slot) & (right != slot)],
                              left[(right == slot) & (left != slot)]])  # fmt: skip
        return set(np.unique(out).tolist())

    def _neighbour_codes(self, slot: int) -> list[str]:
        return sorted(self._codes[s] for s in self._neighbour_slots(slot))

    def _neighbour_list(self, slot: int) -> str:
        codes = self._neighbour_codes(slot)
        return ", ".join(codes) if codes else "(none)"

    def _pieces(self, members: np.ndarray) -> list[np.ndarray]:
        """Connected pieces of a set of units in the unit graph, largest first."""
        inside = set(members.tolist())
        seen: set[int] = set()
        pieces = []
        for start in members.tolist():
            if start in seen:
                continue
            seen.add(start)
            piece, stack = [start], [start]
            while stack:
                u = stack.pop()
                for v in self._nbrs[u]:
                    if v in inside and v not in seen:
                        seen.add(v)
                        piece.append(v)
                        stack.append(v)
            pieces.append(np.sort(np.asarray(piece, dtype=np.int64)))
        pieces.sort(key=lambda p: (-p.size, int(p[0])))
        return pieces

    def _allowed_pieces(self, members: np.ndarray) -> int:
        """Pieces a grid may have after an edit: 1, or as many as it has already."""
        return max(1, len(self._pieces(members))) if members.size else 1

    def _check_rest(self, source: int, moving: np.ndarray, what: str, target: str) -> None:
        """Refuse a move that leaves ``source`` empty, without weight or in more pieces."""
        code = self._codes[source]
        members = self._members(source)
        rest = np.setdiff1d(members, moving)
        if not rest.size:
            raise EditRefused(
                f"{what} would leave grid {code} without units.",
                fix=f"merge the grids instead (merge_grids({target!r}, {code!r})), or leave "
                f"one unit in grid {code}.",
                codes=[code, target],
                units=members,
                code="leaves_grid_empty",
                params={"grid": code, "target": target, "units": self._unit_labels(moving)},
            )
        if self._sums[source, 0] > 0 and self._values[rest, 0].sum() <= 0:
            raise EditRefused(
                f"{what} would leave grid {code} without {self._weight_word()}: its other units "
                f"({self._unit_names(rest, ids=False)}) hold none.",
                fix=f"leave a unit with {self._weight_word()} in grid {code}, or merge it "
                f"(merge_grids({target!r}, {code!r})).",
                codes=[code, target],
                units=rest,
                code="leaves_grid_without_weight",
                params={
                    "grid": code,
                    "target": target,
                    "weight": self._weight_word(),
                    "units": self._unit_labels(moving),
                },
            )
        pieces = self._pieces(rest)
        if len(pieces) > self._allowed_pieces(members):
            cut = np.sort(np.concatenate(pieces[1:]))
            raise EditRefused(
                f"{what} would cut grid {code} in {len(pieces)} pieces: "
                f"{self._unit_names(cut)} would be cut off from the rest of it.",
                fix=f"move these units along too, or choose units on the edge of grid {code}.",
                codes=[code, target],
                units=cut,
                code="cuts_grid",
                params={
                    "grid": code,
                    "target": target,
                    "pieces": len(pieces),
                    "units": self._unit_labels(moving),
                    "cut": self._unit_labels(cut),
                },
            )

    def _next_code(self, slot: int) -> str:
        """The next grid number of the slot's community that no grid has ever held."""
        code = self._codes[slot]
        if _CODE15.fullmatch(code):
            prefix, width, limit = code[:12], 3, MAX_GRIDS_PER_COMMUNITY
        else:
            match = _TRAILING_NUMBER.fullmatch(code)
            prefix, width = (match[1], len(match[2])) if match else (f"{code}-", 1)
            limit = None
        used = {
            int(seen[len(prefix) :])
            for seen in self._seen
            if seen.startswith(prefix) and seen[len(prefix) :].isdigit()
            and (limit is None or len(seen) == len(code))
        }  # fmt: skip
        number = max(used, default=0) + 1
        if limit is not None and number > limit:
            free = [i for i in range(1, limit + 1) if i not in used]
            if not free:
                raise EditRefused(
                    f"community {prefix} has used all {limit} grid numbers: a split needs a "
                    "new one.",
                    fix="merge grids instead, or renumber the plan (make_plan) and edit again.",
                    codes=[code],
                    code="no_grid_number_left",
                    params={"community": prefix, "limit": limit},
                )
            number = free[0]
        return f"{prefix}{number:0{width}d}"

    def _shape_inputs(self) -> np.ndarray:
        if self._shape is None:
            points = shapely.point_on_surface(self._geoms)
            self._shape = np.column_stack(
                [
                    shapely.area(self._geoms),
                    shapely.length(self._geoms),
                    shapely.get_x(points),
                    shapely.get_y(points),
                ]
            )
        return self._shape

    def _balanced_half(self, slot: int, members: np.ndarray) -> np.ndarray:
        """The units of the new grid in a balanced, compact split of a grid in two."""
        code = self._codes[slot]
        local = np.full(self._n, -1, dtype=np.int64)
        local[members] = np.arange(members.size)
        keep = (local[self._edges[:, 0]] >= 0) & (local[self._edges[:, 1]] >= 0)
        sub = UnitGraph(
            n=int(members.size),
            edges=local[self._edges[keep]].reshape(-1, 2),
            length=self._length[keep],
            barrier=self._barrier[keep],
            groups=np.zeros(members.size, dtype=np.int64),
            group_names=[code],
        )
        shape = self._shape_inputs()[members]
        weights = self._values[members, 0]
        if weights.sum() <= 0:  # a grid without households is halved by area
            weights = shape[:, 0]
        compactness = shape_inputs(sub, shape[:, 0], shape[:, 1], shape[:, 2:4])
        bounds = self._bounds() if self._values[members, 0].sum() > 0 else None
        halves = None
        # both halves in the plan's range, where the units allow it (never under twice the minimum)
        if bounds is not None and weights.sum() >= 2 * bounds[0]:
            try:
                halves = partition_graph(
                    sub, weights, {code: 2}, compactness=compactness, bounds=bounds
                )
            except GridmapError:
                halves = None
            if halves is not None and not self._within(weights, halves, bounds):
                halves = None
        if halves is None:  # else the most even split, refused only when both would be short
            try:
                halves = partition_graph(sub, weights, {code: 2}, compactness=compactness)
            except GridmapError as error:
                raise EditRefused(
                    f"grid {code} cannot be split in two balanced halves: {error.message}",
                    fix="give the units of the new grid (split_grid(code, units=...)).",
                    codes=[code],
                    code="split_unbalanced",
                    params={"grid": code},
                ) from error
            if bounds is not None:
                self._refuse_too_few(code, weights, halves, bounds)
        geoms = np.array(
            [self._dissolve(members[halves == h]) for h in (0, 1)],
            dtype=object,
        )
        first = int(grid_order(geoms)[0])  # the north-western half keeps the code
        return members[halves != first]

    def _bounds(self) -> tuple[float, float] | None:
        """The plan's range of weight per grid, or ``None`` without one."""
        low, high = self._context.minimum, self._context.maximum
        if low is None and high is None:
            return None
        return (0.0 if low is None else float(low), math.inf if high is None else float(high))

    @staticmethod
    def _within(weights: np.ndarray, halves: np.ndarray, bounds: tuple[float, float]) -> bool:
        """Whether both halves of a split hold a weight within ``bounds``."""
        sums = [float(weights[halves == h].sum()) for h in (0, 1)]
        return all(bounds[0] <= value <= bounds[1] for value in sums)

    def _refuse_too_few(
        self, code: str, weights: np.ndarray, halves: np.ndarray, bounds: tuple[float, float]
    ) -> None:
        """Refuse a split of a grid too small for two grids in ``bounds``, saying what would do.

        A grid big enough for two but whose units allow no split in range (or too big for two)
        is split as evenly as it goes: the halves' ``in_range`` says how they fare.
        """
        sums = sorted(float(weights[halves == h].sum()) for h in (0, 1))
        low, high = bounds
        if sums[0] + sums[1] >= 2 * low:
            return
        total = sums[0] + sums[1]
        word = self._weight_word()
        span = f"{low:g}-{high:g}" if math.isfinite(high) else f"at least {low:g}"
        raise EditRefused(
            f"grid {code} holds {total:g} {word}: two grids of {span} {word} need at least "
            f"{2 * low:g}. The most even split found gives halves of {sums[0]:g} and "
            f"{sums[1]:g} {word}; a range reaching down to {sums[0]:g} and up to {sums[1]:g} "
            "would allow it.",
            fix="merge it with a neighbour and split the merged grid, choose the new grid's "
            "units by hand (split_grid(code, units=...)), or widen the plan's range.",
            codes=[code],
            code="split_out_of_range",
            params={
                "grid": code,
                "total": total,
                "halves": sums,
                "minimum": low,
                "maximum": high,
                "weight": word,
                "need": 2 * low,
                "smaller": sums[0],
                "larger": sums[1],
                "reason": "" if math.isfinite(high) else "open",
            },
        )

    def _dissolve(self, members: np.ndarray) -> Any:
        if members.size == 1:
            return self._geoms[members[0]]
        union = shapely.union_all(self._geoms[members])
        if shapely.get_type_id(union) in _POLYGONAL:
            return union
        parts = shapely.get_parts(union)
        return shapely.union_all(parts[np.isin(shapely.get_type_id(parts), _POLYGONAL)])

    def _table(self, slots: Sequence[int]) -> gpd.GeoDataFrame:
        """Measure the grids of some slots (see :attr:`EditResult.touched`)."""
        slots = np.asarray(list(slots), dtype=np.int64)
        geoms = np.array([self._dissolve(self._members(s)) for s in slots], dtype=object)
        geoms = geoms.reshape(-1)
        area = shapely.area(geoms) if slots.size else np.empty(0)
        perimeter = shapely.length(geoms) if slots.size else np.empty(0)
        weight = self._sums[slots, 0]
        context = self._context
        with np.errstate(invalid="ignore", divide="ignore"):
            if context.target:
                deviation = weight / context.target - 1.0
            else:
                alive = self._alive.copy()
                means = np.array(
                    [self._sums[alive & (self._community == c), 0].mean()
                     for c in self._community[slots]]
                )  # fmt: skip
                deviation = np.where(means > 0, weight / means - 1.0, np.nan)
            polsby = np.where(perimeter > 0, 4 * math.pi * area / perimeter**2, 0.0)
        if context.minimum is None and context.maximum is None:
            in_range = np.full(slots.size, None, dtype=object)
        else:
            low = -np.inf if context.minimum is None else context.minimum
            high = np.inf if context.maximum is None else context.maximum
            in_range = (weight >= low) & (weight <= high)
        parts = np.zeros(slots.size, dtype=np.int64)
        if slots.size:
            pieces, owner = shapely.get_parts(geoms, return_index=True)
            sizes = shapely.area(pieces)
            real = (sizes > 0) & (sizes >= PART_MIN_SHARE * area[owner])
            parts = np.bincount(owner[real], minlength=slots.size).astype(np.int64)
        named = context.group_column is not None
        table: dict[str, Any] = {
            "code": [self._codes[s] for s in slots],
            "community": [self._group_name(c) if named else "" for c in self._community[slots]],
            "units": self._counts[slots].astype(np.int64),
        }
        for j, name in enumerate(self._columns):
            values = self._sums[slots, j]
            table[name] = np.rint(values).astype(np.int64) if self._integer[j] else values
        table.update(
            deviation=deviation,
            in_range=in_range,
            area_m2=area,
            polsby_popper=polsby,
            parts=parts,
            locked=self._locked[slots].astype(bool),
        )
        return gpd.GeoDataFrame(table, geometry=geoms, crs=self._plan.units.crs)
