"""Property test: on random generated streets every plan is a clean cover of the street."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.metrics import buildings_split
from gridmap.plan import make_plan
from gridmap.sample import generate_street


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_any_street_gets_an_exact_nested_contiguous_plan(seed):
    layers = generate_street(seed)
    plan = make_plan(layers)
    grids = plan.grids
    # exact cover of the street, no overlaps
    assert plan.summary["gap_m2"] < 1.0 and plan.summary["overlap_m2"] < 1.0
    # every grid in one piece and inside its community
    assert (grids["parts"] == 1).all()
    communities = layers["communities"].to_crs(grids.crs)
    shapes = dict(zip(communities["code"], communities.geometry, strict=True))
    for code, grid in zip(grids["group"], grids.geometry, strict=True):
        assert shapely.area(shapely.difference(grid, shapes[code].buffer(0.5))) < 1.0
    # no building split, every household counted once
    buildings = layers["buildings"].to_crs(grids.crs)
    assert len(buildings_split(buildings, grids)) == 0
    assert grids["households"].sum() == len(layers["households"])
    # balance within range where the request is feasible (it is on generated streets)
    assert plan.summary["in_range_share"] >= 0.9, np.sort(grids["households"].to_numpy())
