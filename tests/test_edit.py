"""Hand edits (gridmap.edit): moves, splits, merges, locks, undo/redo, and every refusal."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from gridmap import io
from gridmap.edit import EditRefused, EditResult, PlanEditor
from gridmap.errors import GridmapError, InputError
from gridmap.graph import BARRIER_GAP, BARRIER_NONE, UnitGraph
from gridmap.partition import partition_graph
from gridmap.plan import Plan, PlanContext, make_plan

# ------------------------------------------------------------------------------ fixtures

# A synthetic street: 6 x 3 squares of 100 m, community 001 in columns 0-2 and 002 in
# columns 3-5, one grid per column; unit 18 is an island west of unit 0, linked by a GAP edge.
#
#   y=2   12 13 14 | 15 16 17
#   y=1    6  7  8 |  9 10 11
#   y=0    0  1  2 |  3  4  5        18 (island, at x=-2, y=0)
#          A  B  C    D  E  F
COLS, ROWS = 6, 3
C1, C2 = "510104090001", "510104090002"
A, B, C = C1 + "001", C1 + "002", C1 + "003"
D, E, F = C2 + "001", C2 + "002", C2 + "003"
ISLAND = 18


def _square(x: float, y: float):
    return shapely.box(x * 100.0, y * 100.0, (x + 1) * 100.0, (y + 1) * 100.0)


def _toy_plan() -> Plan:
    geoms, community, households = [], [], []
    for y in range(ROWS):
        for x in range(COLS):
            geoms.append(_square(x, y))
            community.append(C1 if x < 3 else C2)
            households.append(100)
    households[5] = 0  # F keeps one unit without households
    geoms.append(_square(-2, 0))
    community.append(C1)
    households.append(0)
    n = len(geoms)
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"U{i:02d}" for i in range(n)],
            "community": community,
            "households": np.array(households, dtype=np.int64),
            "persons": np.array(households, dtype=np.int64) * 2,
            "buildings": np.ones(n, dtype=np.int64),
            "kind": ["block"] * n,
        },
        geometry=geoms,
        crs="EPSG:32648",
    )
    edges = []
    for y in range(ROWS):
        for x in range(COLS):
            i = y * COLS + x
            if x + 1 < COLS and (x + 1 < 3) == (x < 3):
                edges.append((i, i + 1))
            if y + 1 < ROWS:
                edges.append((i, i + COLS))
    barrier = [BARRIER_NONE] * len(edges) + [BARRIER_GAP]
    edges.append((0, ISLAND))
    groups = np.array([0 if c == C1 else 1 for c in community], dtype=np.int64)
    graph = UnitGraph(
        n=n,
        edges=np.array(edges, dtype=np.int64),
        length=np.array([100.0] * (len(edges) - 1) + [0.0]),
        barrier=np.array(barrier, dtype=np.int8),
        groups=groups,
        group_names=[C1, C2],
    )
    labels = np.array([i % COLS if i < ISLAND else 0 for i in range(n)], dtype=np.int64)
    context = PlanContext(
        weight="households", target=300, minimum=250, maximum=400, street_code="510104090"
    )
    seed = Plan(units, labels, gpd.GeoDataFrame(), {}, {}, graph=graph, context=context)
    return seed.with_labels(labels)


@pytest.fixture(scope="module")
def toy() -> Plan:
    return _toy_plan()


@pytest.fixture
def toy_editor(toy) -> PlanEditor:
    return PlanEditor(toy)


@pytest.fixture(scope="module")
def plan(sample_workspace) -> Plan:
    return make_plan(io.read_workspace(sample_workspace))


@pytest.fixture
def editor(plan) -> PlanEditor:
    return PlanEditor(plan)


# ------------------------------------------------------------------------------ helpers


def _state(editor: PlanEditor):
    return (
        editor.labels.copy(),
        list(editor.codes),
        set(editor.locked),
        list(editor.history),
        editor.can_redo,
    )


def _same_state(a, b) -> bool:
    return np.array_equal(a[0], b[0]) and a[1:] == b[1:]


def _refused(editor: PlanEditor, call, *words: str) -> EditRefused:
    """Run an edit that must be refused; check the message and that nothing changed."""
    before = _state(editor)
    with pytest.raises(EditRefused) as caught:
        call()
    error = caught.value
    text = str(error)
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    assert error.fix, f"no fix in {text!r}"
    assert _same_state(before, _state(editor)), f"state changed by a refused edit: {text}"
    return error


def _nx(graph) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(map(tuple, graph.edges))
    return g


def _assert_rules(plan: Plan, editor: PlanEditor) -> None:
    """Every grid is one piece of the unit graph (GAP edges count) inside one community."""
    labels, g = editor.labels, _nx(plan.graph)
    k = len(editor.codes)
    assert sorted(np.unique(labels).tolist()) == list(range(k))
    for label in range(k):
        members = np.flatnonzero(labels == label)
        assert nx.is_connected(g.subgraph(members.tolist())), editor.codes[label]
        assert np.unique(plan.graph.groups[members]).size == 1, editor.codes[label]


def _units_by_code(codes, labels) -> dict[str, frozenset]:
    return {code: frozenset(np.flatnonzero(labels == i).tolist()) for i, code in enumerate(codes)}


def _movable(editor: PlanEditor, start: int = 0) -> tuple[int, str]:
    """A unit on a grid boundary that can move to the neighbouring grid."""
    codes = editor.codes
    for code in codes[start:]:
        for other in editor.neighbours(code):
            for unit in editor.units_of(other):
                try:
                    editor.move_units([int(unit)], code)
                except EditRefused:
                    continue
                editor.undo()
                return int(unit), code
    raise AssertionError("no movable unit")


# ------------------------------------------------------------------------------ the toy street


def test_toy_plan_is_coded_column_by_column(toy_editor):
    assert toy_editor.codes == [A, B, C, D, E, F]
    assert toy_editor.grid_of(ISLAND) == A
    assert toy_editor.neighbours(A) == [B]
    assert toy_editor.neighbours(B) == [A, C]
    assert toy_editor.neighbours(C) == [B]  # D is across the community line
    assert toy_editor.grids_per_community() == {C1: 3, C2: 3}


def test_move_units_moves_them_and_re_measures_the_touched_grids(toy_editor):
    result = toy_editor.move_units([0, ISLAND], B)  # the island follows through its GAP link
    assert isinstance(result, EditResult)
    assert result.operation == f"move units 0, {ISLAND} to grid {B}"
    assert result.moved.tolist() == [0, ISLAND]
    assert result.retired == [] and result.added == []
    assert toy_editor.grid_of(0) == B and toy_editor.grid_of(ISLAND) == B
    touched = result.touched.set_index("code")
    assert list(touched.index) == [A, B]
    assert touched.loc[A, "households"] == 200 and touched.loc[B, "households"] == 400
    assert touched.loc[A, "units"] == 2 and touched.loc[B, "units"] == 5
    assert touched.loc[A, "persons"] == 400 and touched.loc[B, "buildings"] == 5
    assert touched["households"].sum() == 600  # nothing lost on the way
    assert touched.loc[A, "deviation"] == pytest.approx(200 / 300 - 1)
    assert not touched.loc[A, "in_range"] and touched.loc[B, "in_range"]
    assert touched.loc[A, "area_m2"] == pytest.approx(20_000)
    assert touched.loc[A, "polsby_popper"] == pytest.approx(4 * np.pi * 20_000 / 600**2)
    assert touched.loc[B, "parts"] == 2  # the island is a separate polygon, linked in the graph
    assert touched.loc[A, "community"] == C1
    assert result.touched.crs == "EPSG:32648"


def test_units_already_in_the_target_are_left_alone(toy_editor):
    result = toy_editor.move_units([1, 2], B)  # 1 is in B already
    assert result.moved.tolist() == [2]
    assert toy_editor.grid_of(2) == B
    _refused(toy_editor, lambda: toy_editor.move_units([1, 7], B), "already belong", B)


def test_a_move_into_a_grid_the_units_do_not_touch_is_refused(toy_editor):
    error = _refused(toy_editor, lambda: toy_editor.move_units([0], C), C, "does not touch")
    assert error.units == [0] and error.codes == [C]
    # the island touches grid A only through its GAP link, not grid B
    _refused(toy_editor, lambda: toy_editor.move_units([ISLAND], B), "does not touch", "U18")


def test_a_move_that_cuts_the_source_grid_is_refused(toy_editor):
    # unit 6 holds A's top (12) to its bottom (0, and the island through it)
    error = _refused(toy_editor, lambda: toy_editor.move_units([6], B), f"grid {A}", "pieces")
    assert 12 in error.units
    # moving unit 0 alone cuts the island off: the GAP edge is its only link
    error = _refused(toy_editor, lambda: toy_editor.move_units([0], B), "pieces", "U18")
    assert error.units == [ISLAND]


def test_a_move_across_a_community_line_is_refused(toy_editor):
    error = _refused(toy_editor, lambda: toy_editor.move_units([3], C), "community 510104090002", C)
    assert "community line" in str(error) and error.units == [3]


def test_a_move_that_empties_a_grid_is_refused_with_merge_as_the_fix(toy_editor):
    error = _refused(toy_editor, lambda: toy_editor.move_units([5, 11, 17], E), F, "without units")
    assert "merge_grids" in error.fix


def test_a_move_that_leaves_a_grid_without_households_is_refused(toy_editor):
    error = _refused(
        toy_editor, lambda: toy_editor.move_units([11, 17], E), f"grid {F}", "without households"
    )
    assert error.units == [5]
    toy_editor.move_units([5, 11], E)  # F keeps unit 17 with households: allowed
    assert toy_editor.measure([F])["households"].iloc[0] == 100


def test_unknown_grids_and_units_are_refused(toy_editor):
    _refused(toy_editor, lambda: toy_editor.move_units([0], "510104090001099"), "does not exist")
    _refused(toy_editor, lambda: toy_editor.move_units([99], B), "no unit 99", "19 units")
    _refused(toy_editor, lambda: toy_editor.move_units([-1], B), "no unit -1")
    _refused(toy_editor, lambda: toy_editor.move_units([], B), "no units")
    _refused(toy_editor, lambda: toy_editor.move_units([1.5], B), "whole numbers")
    _refused(toy_editor, lambda: toy_editor.split_grid("nope"), "grid nope does not exist")
    _refused(toy_editor, lambda: toy_editor.merge_grids(A, "x"), "grid x does not exist")
    _refused(toy_editor, lambda: toy_editor.lock("x"), "does not exist")
    with pytest.raises(EditRefused, match="no unit 40"):
        toy_editor.grid_of(40)
    with pytest.raises(EditRefused, match="does not exist"):
        toy_editor.neighbours("x")


def test_split_with_units_gives_them_the_next_free_number(toy_editor):
    result = toy_editor.split_grid(B, [7, 13])
    assert result.added == [C1 + "004"]  # after A, B, C of community 001
    assert result.operation == f"split grid {B} into {B} and {C1}004"
    assert set(toy_editor.units_of(C1 + "004").tolist()) == {7, 13}
    assert set(toy_editor.units_of(B).tolist()) == {1}
    touched = result.touched.set_index("code")
    assert touched.loc[B, "households"] + touched.loc[C1 + "004", "households"] == 300
    # the new grid is numbered with its community, before the grids of community 002
    assert toy_editor.codes == [A, B, C, C1 + "004", D, E, F]
    assert toy_editor.labels[7] == 3 and toy_editor.labels[3] == 4


def _merged(editor: PlanEditor, start: int = 0) -> str:
    """Merge a grid with a neighbour of its community into a grid of 700-900 households.

    Two grids of 300-500 fit in it with room for units of ~150 households either way.
    """
    for code in editor.codes[start:]:
        for other in editor.neighbours(code):
            if 700 <= editor.measure([code, other])["households"].sum() <= 900:
                editor.merge_grids(code, other)
                return code
    raise AssertionError("no pair of neighbouring grids holds 700-900 households")


def test_split_without_units_halves_the_grid(plan, editor):
    before = list(editor.codes)
    code = _merged(editor)
    members = editor.units_of(code)
    weights = plan.units["households"].to_numpy()
    community = code[:12]
    numbers = [int(c[12:]) for c in before if c.startswith(community)]
    result = editor.split_grid(code)
    new = f"{community}{max(numbers) + 1:03d}"
    assert result.added == [new]
    halves = result.touched.set_index("code")
    assert set(halves.index) == {code, new}
    assert halves["households"].sum() == weights[members].sum()
    assert (
        abs(halves.loc[code, "households"] - halves.loc[new, "households"])
        <= weights[members].max()
    )
    assert (halves["parts"] == 1).all()
    _assert_rules(plan, editor)


def test_split_puts_both_halves_in_the_plan_range(toy_editor, plan, editor):
    toy_editor.merge_grids(A, B)  # 600 households in 6 units, range 250-400
    halves = toy_editor.split_grid(A).touched
    assert halves["households"].tolist() == [300, 300] and halves["in_range"].all()
    for start in (0, 30, 60):  # sample grids of two merged neighbours, range 300-500
        code = _merged(editor, start)
        halves = editor.split_grid(code).touched
        assert halves["households"].between(300, 500).all(), halves[["code", "households"]]
        assert halves["in_range"].all() and (halves["parts"] == 1).all()
    _assert_rules(plan, editor)


def test_split_out_of_range_is_refused_with_what_would_do(toy, toy_editor):
    # grid B: 3 units of 100 households in a column; two grids of 250-400 need 500
    error = _refused(
        toy_editor,
        lambda: toy_editor.split_grid(B),
        f"grid {B} holds 300 households",
        "need at least 500",
        "halves of 100 and 200 households",
        "down to 100 and up to 200",
    )
    assert error.code == "split_out_of_range" and error.codes == [B]
    assert error.params["halves"] == [100.0, 200.0]
    assert (error.params["minimum"], error.params["maximum"]) == (250.0, 400.0)
    assert "merge it with a neighbour" in error.fix
    # units given by hand are split as given, out of range or not
    assert not toy_editor.split_grid(B, [13]).touched["in_range"].any()
    # enough households, but units too coarse: 20 + 520 + 20 in a column (grid A)
    units = toy.units.copy()
    units.loc[[0, 6, 12], "households"] = [20, 520, 20]
    coarse = Plan(units, toy.labels, gpd.GeoDataFrame(), {}, {}, graph=toy.graph,
                  context=toy.context).with_labels(toy.labels, list(toy.grids["code"]))  # fmt: skip
    coarse_editor = PlanEditor(coarse)
    # enough households for two grids but units too coarse: split as evenly as it goes
    halves = coarse_editor.split_grid(A).touched
    assert sorted(halves["households"]) == [20, 540] and not halves["in_range"].all()


def test_split_of_a_grid_too_big_for_two_is_as_even_as_it_goes(toy_editor):
    toy_editor.merge_grids(A, B)
    toy_editor.merge_grids(A, C)  # 900 households in 9 units of 100; two grids of 250-400 hold 800
    halves = toy_editor.split_grid(A).touched
    assert sorted(halves["households"]) == [400, 500]
    assert halves["in_range"].tolist().count(True) == 1


def test_split_refusals(toy_editor):
    _refused(toy_editor, lambda: toy_editor.split_grid(B, [7]), "2 pieces", f"grid {B}")
    _refused(toy_editor, lambda: toy_editor.split_grid(B, [1, 13]), "the new grid", "pieces")
    _refused(toy_editor, lambda: toy_editor.split_grid(B, [1, 7, 13]), "left empty")
    _refused(toy_editor, lambda: toy_editor.split_grid(B, [2]), "not in grid", C)
    _refused(toy_editor, lambda: toy_editor.split_grid(F, [5]), "without households")
    toy_editor.split_grid(B, [7, 13])
    error = _refused(toy_editor, lambda: toy_editor.split_grid(B), "single unit", "U01")
    assert error.codes == [B]


def test_split_never_reuses_a_number_that_existed(toy_editor):
    first = toy_editor.split_grid(B, [13]).added[0]
    assert first == C1 + "004"
    toy_editor.merge_grids(B, first)  # 004 retired
    second = toy_editor.split_grid(B, [13]).added[0]
    assert second == C1 + "005"
    toy_editor.undo()  # 005 undone: it existed, so it is not given again either
    assert toy_editor.split_grid(B, [1]).added == [C1 + "006"]
    # community 002 numbers on its own
    assert toy_editor.split_grid(D, [15]).added == [C2 + "004"]
    # codes of the other grids never changed
    assert {A, C, E, F} <= set(toy_editor.codes)


def test_merge_keeps_the_first_code_and_retires_the_other(toy, toy_editor):
    result = toy_editor.merge_grids(B, A)
    assert result.retired == [A] and result.added == []
    assert result.operation == f"merge grid {A} into grid {B}"
    assert toy_editor.codes == [B, C, D, E, F]
    assert list(result.touched["code"]) == [B]
    assert result.touched["households"].iloc[0] == 600
    assert set(toy_editor.units_of(B).tolist()) == {0, 1, 6, 7, 12, 13, ISLAND}
    _refused(toy_editor, lambda: toy_editor.move_units([2], A), "no longer exists")
    _assert_rules(toy, toy_editor)


def test_merge_refusals(toy_editor):
    error = _refused(toy_editor, lambda: toy_editor.merge_grids(A, C), "do not touch", A, C)
    assert B in error.fix  # A's neighbours are offered instead
    _refused(toy_editor, lambda: toy_editor.merge_grids(C, D), "community", "510104090002")
    _refused(toy_editor, lambda: toy_editor.merge_grids(A, A), "itself")


def test_locked_grids_refuse_every_edit_that_touches_them(toy_editor):
    result = toy_editor.lock(B)
    assert toy_editor.locked == {B}
    assert result.touched["code"].tolist() == [B] and result.touched["locked"].all()
    _refused(toy_editor, lambda: toy_editor.move_units([2], B), "locked", f"unlock({B!r})")
    _refused(toy_editor, lambda: toy_editor.move_units([1], A), "locked", B)
    _refused(toy_editor, lambda: toy_editor.split_grid(B), "locked")
    _refused(toy_editor, lambda: toy_editor.merge_grids(A, B), "locked")
    _refused(toy_editor, lambda: toy_editor.merge_grids(B, C), "locked")
    _refused(toy_editor, lambda: toy_editor.lock(B), "already locked")
    _refused(toy_editor, lambda: toy_editor.unlock(A), "not locked")
    toy_editor.merge_grids(D, E)  # other grids stay editable
    toy_editor.unlock(B)
    assert toy_editor.locked == set()
    toy_editor.move_units([2], B)
    assert toy_editor.grid_of(2) == B


def test_locked_labels_feed_partition_graph(toy, toy_editor):
    new = toy_editor.split_grid(A, [12]).added[0]  # a grid added after C in label order
    toy_editor.lock(new)
    toy_editor.lock(E)
    locked = toy_editor.locked_labels()
    labels = toy_editor.labels
    assert (locked[[12, 4, 10, 16]] == labels[[12, 4, 10, 16]]).all()
    assert (np.delete(locked, [12, 4, 10, 16]) == -1).all()
    weights = toy.units["households"].to_numpy(dtype=float)
    again = partition_graph(
        toy.graph, weights, toy_editor.grids_per_community(), locked=locked, seed=1
    )
    assert (again[[12]] == labels[12]).all()
    assert (again[[4, 10, 16]] == labels[4]).all()


def test_undo_and_redo_walk_a_mixed_history_exactly(toy_editor):
    edits = [
        lambda: toy_editor.move_units([0, ISLAND], B),
        lambda: toy_editor.split_grid(C, [14]),
        lambda: toy_editor.lock(D),
        lambda: toy_editor.merge_grids(B, A),
        lambda: toy_editor.move_units([17], E),
        lambda: toy_editor.unlock(D),
    ]
    states, results = [_state(toy_editor)[:3]], []
    for edit in edits:
        results.append(edit())
        states.append(_state(toy_editor)[:3])
    assert len({str(state) for state in states}) == len(states)  # every edit changed something
    assert len(toy_editor.history) == 6
    for i in range(len(results), 0, -1):
        undone = toy_editor.undo()
        assert undone.operation == f"undo: {results[i - 1].operation}"
        state = _state(toy_editor)[:3]
        assert np.array_equal(state[0], states[i - 1][0]) and state[1:] == states[i - 1][1:]
    _refused(toy_editor, toy_editor.undo, "nothing to undo")
    for i in range(1, len(results) + 1):
        redone = toy_editor.redo()
        assert redone.operation == f"redo: {results[i - 1].operation}"
        state = _state(toy_editor)[:3]
        assert np.array_equal(state[0], states[i][0]) and state[1:] == states[i][1:]
    _refused(toy_editor, toy_editor.redo, "nothing to redo")


def test_undo_reports_what_it_brings_back(toy_editor):
    toy_editor.merge_grids(B, A)
    result = toy_editor.undo()
    assert result.added == [A] and result.retired == []
    assert list(result.touched["code"]) == [A, B]
    assert result.touched.set_index("code")["households"].to_dict() == {A: 300, B: 300}
    result = toy_editor.redo()
    assert result.retired == [A]
    split = toy_editor.split_grid(C, [14])
    result = toy_editor.undo()
    assert result.retired == split.added and list(result.touched["code"]) == [C]


def test_a_new_edit_after_undo_clears_redo(toy_editor):
    toy_editor.move_units([0, ISLAND], B)
    toy_editor.undo()
    assert toy_editor.can_redo
    toy_editor.merge_grids(D, E)
    assert not toy_editor.can_redo
    _refused(toy_editor, toy_editor.redo, "nothing to redo")
    assert toy_editor.history == [f"merge grid {E} into grid {D}"]


def test_editor_without_graph_is_an_input_error(toy):
    bare = Plan(toy.units, toy.labels, toy.grids, toy.summary, toy.parameters, graph=None)
    with pytest.raises(InputError, match="no unit graph"):
        PlanEditor(bare)


def test_refusals_are_gridmap_errors_with_codes_and_units(toy_editor):
    with pytest.raises(GridmapError) as caught:
        toy_editor.move_units([0], C)
    assert isinstance(caught.value, EditRefused)
    assert "Fix:" in str(caught.value)


def test_without_a_range_in_range_is_none_and_deviation_is_from_the_community_mean(toy):
    context = PlanContext(weight="households", street_code="510104090")
    free = Plan(toy.units, toy.labels, toy.grids, {}, {}, graph=toy.graph, context=context)
    editor = PlanEditor(free)
    table = editor.measure([D, F]).set_index("code")
    assert table["in_range"].isna().all()
    mean = (300 + 300 + 200) / 3
    assert table.loc[F, "deviation"] == pytest.approx(200 / mean - 1)


# ------------------------------------------------------------------------------ the sample plan


def test_sample_edits_keep_every_rule_and_the_totals(plan, editor):
    total = plan.units["households"].sum()
    unit, code = _movable(editor)
    source = editor.grid_of(unit)
    before = editor.measure([source, code]).set_index("code")["households"]
    result = editor.move_units([unit], code)
    after = result.touched.set_index("code")["households"]
    assert after.sum() == before.sum()
    assert after[code] == before[code] + plan.units["households"].iloc[unit]
    assert editor.grid_of(unit) == code
    editor.split_grid(_merged(editor, 10))
    target = editor.codes[20]
    other = editor.neighbours(target)[0]
    assert other[:12] == target[:12]  # neighbours never cross a community line
    assert editor.merge_grids(target, other).retired == [other]
    _assert_rules(plan, editor)
    whole = editor.plan()
    assert whole.grids["households"].sum() == total
    assert (whole.grids["parts"] == 1).all()


def test_plan_matches_with_labels_and_keeps_untouched_codes(plan, editor):
    original = _units_by_code(list(plan.grids["code"]), plan.labels)
    unit, code = _movable(editor, start=5)
    source = editor.grid_of(unit)
    editor.move_units([unit], code)
    merged = _merged(editor, 40)
    retired = {c for c in original if c not in editor.codes}
    split = editor.split_grid(merged)
    new = split.added[0]
    touched = {code, source, merged, new, *retired}
    edited = editor.plan()
    expected = plan.with_labels(editor.labels, editor.codes)
    assert list(edited.grids["code"]) == list(expected.grids["code"]) == editor.codes
    assert np.array_equal(edited.labels, expected.labels)
    assert np.array_equal(edited.grids["households"], expected.grids["households"])
    now = _units_by_code(editor.codes, editor.labels)
    for grid, units in original.items():
        if grid not in touched:
            assert now[grid] == units, grid
    # the quick measures of an edit agree with the full re-measure
    quick = split.touched.set_index("code")
    full = edited.grids.set_index("code").loc[quick.index]
    for column in ("households", "persons", "buildings", "units", "parts"):
        assert (quick[column] == full[column]).all(), column
    for column in ("area_m2", "polsby_popper", "deviation", "weight"):
        assert np.allclose(quick[column], full[column]), column
    assert np.array_equal(plan.labels, PlanEditor(plan).labels)  # the plan was not changed


def test_sample_undo_redo_returns_to_every_state(editor):
    start = _state(editor)[:3]
    unit, code = _movable(editor)
    editor.move_units([unit], code)
    mid = _state(editor)[:3]
    code = _merged(editor, editor.codes.index(code))
    editor.split_grid(code)
    editor.lock(code)
    for _ in range(3):
        editor.undo()
    assert np.array_equal(editor.labels, mid[0]) and editor.codes == mid[1]
    editor.undo()
    assert np.array_equal(editor.labels, start[0]) and editor.codes == start[1]
    for _ in range(4):
        editor.redo()
    assert editor.locked == {code}


def test_a_grid_already_in_pieces_may_be_mended_but_not_cut_further(toy):
    labels = toy.labels.copy()
    labels[12] = labels[2]  # grid C gets unit 12, across grid B: two pieces
    editor = PlanEditor(toy.with_labels(labels, list(toy.grids["code"])))
    assert editor.measure([C])["parts"].iloc[0] == 2
    _refused(editor, lambda: editor.move_units([8], B), f"grid {C}", "3 pieces")
    result = editor.move_units([13], C)  # the bridge mends it
    assert result.touched.set_index("code").loc[C, "parts"] == 1


def test_units_mode_codes_number_on_from_the_highest(toy):
    context = PlanContext(weight="households", group_column=None)
    seed = Plan(toy.units, toy.labels, gpd.GeoDataFrame(), {}, {}, graph=toy.graph, context=context)
    plain = seed.with_labels(toy.labels)
    editor = PlanEditor(plain)
    assert editor.codes == ["001", "002", "003", "004", "005", "006"]
    result = editor.split_grid("002", [13])
    assert result.added == ["007"]
    assert result.touched["community"].tolist() == ["", ""]
    assert result.touched["in_range"].isna().all()
