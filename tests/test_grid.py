"""The patch grid and neighbourhoods."""

from __future__ import annotations

import numpy as np
import pytest

from mcae.inference.errors import NotFoundError
from mcae.inference.grid import PatchGrid


@pytest.mark.parametrize("overlap", [0, 64, 200])
def test_cores_tile_the_scene_exactly_once(overlap: int) -> None:
    grid = PatchGrid(2500, 3100, patch_size=1024, overlap=overlap)
    cover = np.zeros((2500, 3100), np.int32)
    for p in grid.patches():
        c, w = p.core, p.window
        assert w.row_off <= c.row_off and c.row_end <= w.row_end  # core inside the window
        assert w.col_off <= c.col_off and c.col_end <= w.col_end
        cover[c.row_off:c.row_end, c.col_off:c.col_end] += 1
    assert (cover == 1).all()


def test_ids_and_neighbourhood_names() -> None:
    grid = PatchGrid(5 * 1024, 4 * 1024, neighbourhood=3)
    assert (grid.n_rows, grid.n_cols) == (5, 4)
    assert grid.patch(0, 0).id == "0-0" and grid.patch_by_id("4-3").id == "4-3"
    hoods = grid.neighbourhoods()
    assert hoods["1-1"] == ["0-0", "0-1", "0-2", "1-0", "1-1", "1-2", "2-0", "2-1", "2-2"]
    assert grid.neighbourhood_of(4, 3) == "3-3"  # edge block rows 3-4, col 3: centre clamped
    assert sum(len(v) for v in hoods.values()) == len(grid)
    with pytest.raises(NotFoundError, match='outside'):
        grid.patch_by_id("9-9")


def test_small_scene_is_one_patch() -> None:
    grid = PatchGrid(300, 200)
    assert len(grid) == 1 and grid.patch(0, 0).core.height == 300
