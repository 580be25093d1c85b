"""Tests of gridmap.rebalance: moves, chains, exchanges and paths that bring grids into range."""

from __future__ import annotations

import pytest

from gridmap.rebalance import Board, out_of_range, settle


def _strip(grids: list[list[float]], community=None) -> Board:
    """Units in a line (each touching the next), grid ``i`` holding the weights ``grids[i]``."""
    weights = [x for grid in grids for x in grid]
    labels = [i for i, grid in enumerate(grids) for _ in grid]
    n = len(weights)
    nbrs = [[v for v in (u - 1, u + 1) if 0 <= v < n] for u in range(n)]
    return Board(labels, weights, nbrs, community)


def _whole(board: Board) -> bool:
    return all(len(board.components(p)) == 1 for p in board.members)


def test_a_single_move_mends_a_grid_over_the_range():
    board = _strip([[200, 200, 150], [150, 150]])  # 550 and 300
    settle(board, 300, 500)
    assert out_of_range(board, 300, 500) == [] and _whole(board)
    assert sorted(board.weight.values()) == [400, 450]


def test_a_unit_in_and_its_donor_refilled_mend_a_grid_one_household_short():
    # 299: its neighbour (300) cannot give a whole unit unless it is refilled from the next
    board = _strip([[150, 149], [150, 150], [150, 150, 150]])
    assert out_of_range(board, 300, 500) == [0]
    settle(board, 300, 500)
    assert out_of_range(board, 300, 500) == [] and _whole(board)
    assert sorted(board.weight.values()) == [300, 300, 449]


def test_a_path_of_moves_reaches_a_grid_no_two_moves_can_mend():
    # every neighbour of the short grid holds exactly 300: a unit must come in and each donor
    # be refilled in turn, down to the grid holding three units
    board = _strip([[149, 148], [150, 150], [150, 150], [150, 150, 150]])
    settle(board, 300, 500)
    assert out_of_range(board, 300, 500) == [] and _whole(board)
    assert sorted(board.weight.values()) == [300, 300, 300, 447]


def test_locked_grids_fixed_units_and_other_communities_are_left_alone():
    board = _strip([[149, 148], [150, 150], [150, 150], [150, 150, 150]])
    board.locked = {2}
    settle(board, 300, 500)
    assert board.weight[2] == 300 and board.weight[0] == 297  # the path runs through grid 2
    board = _strip([[200, 200, 150], [150, 150]], community=["a"] * 3 + ["b"] * 2)
    settle(board, 300, 500)
    assert board.weight == {0: 550, 1: 300}
    board = _strip([[200, 200, 150], [150, 150]])
    board.fixed = {2}
    settle(board, 300, 500)
    assert board.weight[0] == 550  # only unit 2 touches the other grid


@pytest.mark.parametrize("grids", [[[100], [100]], [[150, 149]]])
def test_nothing_to_do_when_the_units_do_not_allow_it(grids):
    board = _strip(grids)
    labels = list(board.lab)
    settle(board, 300, 500)
    assert board.lab == labels
