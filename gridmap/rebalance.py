"""Bring grids into an absolute range of weight with few, cheap boundary moves.

Shared by the partitioner (:mod:`gridmap.partition`, as its last step, where a move costs the
compactness and barrier crossings it loses) and by :func:`gridmap.redraw.redraw` (where a move
costs the households that change grid).  A :class:`Board` holds unit labels with the members and
weight of every grid; :func:`settle` repeatedly applies the cheapest step per unit of violation
removed, the violation of a grid being how far its weight lies outside ``minimum..maximum``:

1. a single move of a unit out of a grid out of range, or into it;
2. a chain of two moves out: ``u: a -> b``, then ``v: b -> c`` (``c`` may be ``a``);
3. an exchange into it: ``v: b -> a`` into the grid out of range, then ``x: c -> b``
   refilling the donor (``c`` may be ``a`` itself: a unit in and another out).  This reaches
   grids a single move cannot, e.g. a grid one household short whose neighbours would fall
   out of range by giving it a whole unit;
4. when none of steps 1-3 helps, a path of up to :data:`PATH_DEPTH` moves: a unit into the
   grid short of the range, a unit into its donor (now short in turn) from another neighbour,
   and so on until a donor can spare one (and the same outwards for a grid over the range).
   Units of ~150 households in grids of ~300-450 often need such a path: a grid of two units
   one household short must get a third unit, whose donor must get one from a grid holding
   three.

Every step keeps every grid connected and non-empty, never moves a unit of a locked grid (or a
fixed unit), and never moves a unit into a grid of another community; it stops when no step
lowers the total violation.  Steps 1-3 compete on cost per unit of violation removed: a
costly single move (one across a penalised barrier, one moving many households) loses to a
cheaper chain or exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class Board:
    """Unit labels of one street (or one community) with the bookkeeping moves need.

    Parameters
    ----------
    labels
        Grid label of every unit (kept, not copied: moves update it).
    w
        Weight of every unit.
    nbrs
        Neighbouring units of every unit (only these may share a grid boundary).
    community
        Community (any hashable) of every unit; units never move into another community's
        grid.  ``None``: one community.

    Subclasses override :meth:`move_cost` (and :meth:`move`, to keep more state up to date).
    """

    #: Added to the cost of every move, so that among free moves the fewest win.
    step_cost = 1e-3

    def __init__(
        self,
        labels: list[int],
        w: Sequence[float],
        nbrs: list[list[int]],
        community: Sequence[object] | None = None,
    ) -> None:
        self.lab = labels
        self.w = [float(x) for x in w]
        self.nbrs = nbrs
        self.community = list(community) if community is not None else [0] * len(labels)
        self.members: dict[int, set[int]] = {}
        for u, p in enumerate(labels):
            self.members.setdefault(p, set()).add(u)
        self.weight = {p: float(sum(self.w[u] for u in m)) for p, m in self.members.items()}
        self.locked: set[int] = set()  # grids that must stay as they are
        self.fixed: set[int] = set()  # units that must keep their grid

    def move(self, u: int, b: int) -> None:
        """Move unit ``u`` to grid ``b`` (a grid left empty is dropped)."""
        a = self.lab[u]
        self.members[a].discard(u)
        self.members[b].add(u)
        self.weight[a] -= self.w[u]
        self.weight[b] += self.w[u]
        self.lab[u] = b
        if not self.members[a]:
            del self.members[a]
            del self.weight[a]

    def move_cost(self, u: int, b: int) -> float:
        """What moving ``u`` to ``b`` costs (negative: a move worth making); 0 here."""
        return 0.0

    def connected(self, units: set[int]) -> bool:
        """Whether ``units`` form one piece."""
        if not units:
            return True
        start = next(iter(units))
        seen = {start}
        stack = [start]
        while stack:
            x = stack.pop()
            for v in self.nbrs[x]:
                if v in units and v not in seen:
                    seen.add(v)
                    stack.append(v)
        return len(seen) == len(units)

    def can_leave(self, u: int) -> bool:
        """Whether ``u`` can leave its grid, leaving it non-empty and in one piece."""
        a = self.lab[u]
        rest = self.members[a] - {u}
        if not rest:
            return False
        inside = [v for v in self.nbrs[u] if self.lab[v] == a]
        if len(inside) <= 1:
            return True
        return self.connected(rest)

    def components(self, p: int) -> list[set[int]]:
        """The connected pieces of grid ``p``."""
        left = set(self.members[p])
        out = []
        while left:
            start = left.pop()
            comp = {start}
            stack = [start]
            while stack:
                x = stack.pop()
                for v in self.nbrs[x]:
                    if v in left:
                        left.discard(v)
                        comp.add(v)
                        stack.append(v)
            out.append(comp)
        return out

    def movable(self, u: int, b: int) -> bool:
        """Whether ``u`` may go to grid ``b`` (locks, fixed units, same community)."""
        a = self.lab[u]
        return (
            a != b
            and u not in self.fixed
            and a not in self.locked
            and b not in self.locked
            and self.community[u] == self.community[next(iter(self.members[b]))]
        )


def settle(board: Board, minimum: float, maximum: float) -> None:
    """Boundary moves into ``minimum..maximum``, cheapest per unit of violation removed."""

    def viol(x: float) -> float:
        return max(0.0, x - maximum) + max(0.0, minimum - x)

    for _ in range(4 * len(board.lab)):
        out = {p for p, x in board.weight.items() if viol(x) > 0}
        if not out:
            return
        found = [f(board, out, viol) for f in (_best_single, _best_chain, _best_chain_in)]
        found = [f for f in found if f is not None]
        best = min(found, key=lambda f: f[0]) if found else _best_path(board, out, viol)
        if best is None:
            return
        for u, b in best[1]:
            board.move(u, b)


#: Longest path of moves :func:`settle` tries (step 4), and the most moves it weighs per path
#: search: enough for the sample streets, bounded for big ones.
PATH_DEPTH = 5
PATH_BUDGET = 20_000


def out_of_range(board: Board, minimum: float, maximum: float) -> list[int]:
    """Labels of the grids whose weight lies outside ``minimum..maximum``."""
    return sorted(p for p, x in board.weight.items() if x < minimum or x > maximum)


def _best_single(board: Board, out: set[int], viol: Callable[[float], float]):
    """The cheapest single move out of or into a grid out of range: ``(score, moves)``."""
    best = None
    for p in sorted(out):
        candidates = set()
        for u in board.members[p]:
            for v in board.nbrs[u]:
                if board.lab[v] != p:
                    candidates.add((u, board.lab[v]))  # out of p
                    candidates.add((v, p))  # into p
        for u, b in sorted(candidates):
            if not board.movable(u, b) or board.w[u] <= 0:
                continue
            a = board.lab[u]
            wu = board.w[u]
            gain = viol(board.weight[a]) + viol(board.weight[b])
            gain -= viol(board.weight[a] - wu) + viol(board.weight[b] + wu)
            if gain <= 1e-9:
                continue
            score = (board.move_cost(u, b) + board.step_cost) / gain
            if (best is None or score < best[0]) and board.can_leave(u):
                best = (score, [(u, b)])
    return best


def _best_chain(board: Board, out: set[int], viol: Callable[[float], float]):
    """Two moves u: a -> b, v: b -> c (c may be a) that together lower the excess."""
    best = None
    for a in sorted(out):
        for u in sorted(board.members[a]):
            for b in sorted({board.lab[x] for x in board.nbrs[u]} - {a}):
                if not board.movable(u, b) or board.w[u] <= 0 or not board.can_leave(u):
                    continue
                cost_u = board.move_cost(u, b)
                board.move(u, b)
                for v in sorted(board.members[b] - {u}):
                    for c in sorted({board.lab[x] for x in board.nbrs[v]} - {b}):
                        if not board.movable(v, c) or board.w[v] <= 0:
                            continue
                        weights = dict(board.weight)
                        weights[b] -= board.w[v]
                        weights[c] += board.w[v]
                        before = sum(viol(board.weight[p] + (board.w[u] if p == a else 0.0)
                                          - (board.w[u] if p == b else 0.0))
                                     for p in {a, b, c})  # fmt: skip
                        after = sum(viol(weights[p]) for p in {a, b, c})
                        gain = before - after
                        if gain <= 1e-9:
                            continue
                        cost = cost_u + board.move_cost(v, c) + 2 * board.step_cost
                        score = cost / gain
                        if (best is None or score < best[0]) and board.can_leave(v):
                            best = (score, [(u, b), (v, c)])
                board.move(u, a)
    return best


def _best_chain_in(board: Board, out: set[int], viol: Callable[[float], float]):
    """Two moves v: b -> a (into a grid out of range), then x: c -> b refilling the donor.

    ``c`` may be ``a`` itself: an exchange, a unit in and another out.
    """
    best = None
    for a in sorted(out):
        incoming = sorted(
            {(v, board.lab[v]) for u in board.members[a] for v in board.nbrs[u]}
            - {(v, a) for v in board.members[a]}
        )
        for v, b in incoming:
            if not board.movable(v, a) or board.w[v] <= 0 or not board.can_leave(v):
                continue
            cost_v = board.move_cost(v, a)
            board.move(v, a)
            before = {p: board.weight[p] for p in (a, b)}
            before[a] -= board.w[v]
            before[b] += board.w[v]
            refills = sorted(
                {(x, board.lab[x]) for y in board.members[b] for x in board.nbrs[y]}
                - {(x, b) for x in board.members[b]}
            )
            for x, c in refills:
                if x == v or not board.movable(x, b) or board.w[x] <= 0:
                    continue
                weights = {p: board.weight[p] for p in {a, b, c}}
                weights[c] -= board.w[x]
                weights[b] += board.w[x]
                old = sum(viol(before.get(p, board.weight[p])) for p in weights)
                gain = old - sum(viol(weights[p]) for p in weights)
                if gain <= 1e-9:
                    continue
                cost = cost_v + board.move_cost(x, b) + 2 * board.step_cost
                score = cost / gain
                if (best is None or score < best[0]) and board.can_leave(x):
                    best = (score, [(v, a), (x, b)])
            board.move(v, b)
    return best


def _best_path(
    board: Board,
    out: set[int],
    viol: Callable[[float], float],
    depth: int = PATH_DEPTH,
    budget: int = PATH_BUDGET,
):
    """The cheapest path of moves, each into the grid the previous move left out of range.

    From a grid short of the range, a unit comes in from a neighbour; if that donor is now
    short, a unit comes into it from one of its neighbours, and so on (from a grid over the
    range, units go out instead).  Each move is checked on the board as it stands after the
    moves before it (contiguity, locks); a path counts when the grids it touched are in total
    less out of range than before.
    """
    best: list = [None]
    left = [budget]

    def walk(g: int, pull: bool, moves: list, cost: float, start: dict, used: set) -> None:
        if pull:  # a unit of a neighbour comes into g
            steps = sorted(
                {(v, board.lab[v], g) for u in board.members[g] for v in board.nbrs[u]}
                - {(v, g, g) for v in board.members[g]}
            )
        else:  # a unit of g goes to a neighbour
            steps = sorted(
                {(u, g, board.lab[v]) for u in board.members[g] for v in board.nbrs[u]}
                - {(u, g, g) for u in board.members[g]}
            )
        for x, a, b in steps:
            if left[0] <= 0:
                return
            if x in used or board.w[x] <= 0 or not board.movable(x, b) or not board.can_leave(x):
                continue
            left[0] -= 1
            other = a if pull else b  # the grid the move leaves changed in turn
            added = other not in start
            if added:
                start[other] = board.weight[other]
            step = board.move_cost(x, b)
            board.move(x, b)
            moves.append((x, b))
            used.add(x)
            gain = sum(viol(w) for w in start.values()) - sum(viol(board.weight[p]) for p in start)
            total = cost + step + board.step_cost
            if gain > 1e-9:
                score = total / gain
                if best[0] is None or score < best[0][0]:
                    best[0] = (score, list(moves))
            elif len(moves) < depth and viol(board.weight[other]) > 0:
                short = viol(board.weight[other] + 1e-6) < viol(board.weight[other])
                walk(other, short, moves, total, start, used)
            used.discard(x)
            moves.pop()
            board.move(x, a)
            if added:
                del start[other]

    for g in sorted(out):
        x = board.weight[g]
        walk(g, viol(x + 1e-6) < viol(x), [], 0.0, {g: x}, set())
    return best[0]
