"""`mcae map` at city size: memory bounded by windows, and resumed after an interruption.

The projects are engine tables written straight (``benchmarks.city_service``, as in
``test_dataset``): many one-pixel masks on small patches, every mask labelled by group
decisions, so anything held per mask or per decision shows in memory at once. Memory is
measured, never time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio
from test_dataset import PER_PATCH, RATIO, city_project

from benchmarks.city import MCAE, measure
from mcae.inference.decisions import Decision, record_decisions
from mcae.inference.map_parts import parts_folder
from mcae.inference.mapping import write_map
from mcae.inference.project import Project
from mcae.platform.cli.engine import _progress_of


def labelled(project: Project, per_decision: int = 2_000) -> Project:
    """Every mask decided by group decisions of ``per_decision`` masks (classes 1-9 in turn),
    plus a mask decision that overrides one of them."""
    groups = pq.read_table(project.groups_path, columns=["patch", "mask_id"]).to_pandas()
    decisions = [Decision(target="group", neighbourhood="n", group=str(i), class_id=1 + i % 9,
                          masks=[(p, int(m)) for p, m in zip(part["patch"], part["mask_id"], strict=True)])
                 for i, part in enumerate(groups.iloc[s:s + per_decision] for s in range(0, len(groups), per_decision))]
    decisions.append(Decision(target="mask", patch="0-0", mask=5, class_id=8))
    record_decisions(project, decisions)
    return project


def districts(path: Path, project: Project) -> Path:
    """Two districts (halves of the scene), in the scene's CRS given as EPSG:4326-free GeoJSON."""
    from rasterio.warp import transform_geom

    info = project.scene_info
    west, north = info.affine @ (0, 0)
    east, south = info.affine @ (info.width, info.height)
    mid = (west + east) / 2
    features = []
    for name, (x0, x1) in {"West": (west, mid), "East": (mid, east)}.items():
        ring = [[x0, south], [x1, south], [x1, north], [x0, north], [x0, south]]
        geom = transform_geom(info.rio_crs, "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})
        features.append({"type": "Feature", "properties": {"name": name}, "geometry": geom})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_the_map_runs_in_bounded_memory(tmp_path: Path) -> None:
    """2x the scene (and masks and decided masks), at most 1.25x the peak memory of `mcae map`."""
    peaks = {}
    for masks in (1_000_000, 2_000_000):
        project = labelled(city_project(tmp_path / str(masks), masks))
        result = measure([MCAE, "map", "-p", str(project.root), "-o", str(tmp_path / f"map{masks}.tif"), "-q"],
                         poll_s=0.02)
        assert result["rc"] == 0, result["output"]
        peaks[masks] = result["peak_rss_mb"]
    with rasterio.open(tmp_path / "map2000000.tif") as src:
        assert src.tags()["MCAE_DECIDED_MASKS"] == "2000000"
    assert peaks[2_000_000] <= RATIO * peaks[1_000_000], peaks


@pytest.fixture
def small(tmp_path: Path) -> Project:
    return labelled(city_project(tmp_path / "p", 4 * PER_PATCH), per_decision=5_000)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return np.asarray(src.read(1))


def test_an_interrupted_map_resumes_where_it_stopped(small: Project, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import mcae.inference.mapping as mapping

    bounds = districts(tmp_path / "districts.geojson", small)
    whole = write_map(small, tmp_path / "whole" / "map.tif", districts=bounds)  # uninterrupted, for reference
    out = tmp_path / "map.tif"
    out.write_bytes(b"the old map")
    real, made = mapping._class_core, []

    def dies_on_the_third(*args: object, **kw: object) -> object:
        if len(made) == 2:
            raise KeyboardInterrupt
        made.append(args[1])
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(mapping, "_class_core", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        write_map(small, out, districts=bounds)
    assert out.read_bytes() == b"the old map"  # a killed run never leaves a half map in its place
    assert len(list(parts_folder(out).glob("*.part"))) == 2
    _, remaining = _progress_of(Project.open(small.root))  # what `mcae info --project` shows
    cores = sum(1 for p in small.grid.patches() if p.core.height and p.core.width)
    assert any(f"2 of {cores} windows done" in line and "resumes" in line for line in remaining), remaining

    made.clear()
    monkeypatch.setattr(mapping, "_class_core", lambda *a, **k: (made.append(a[1]), real(*a, **k))[1])
    write_map(Project.open(small.root), out, districts=bounds)
    assert len(made) == cores - 2  # the two saved windows were read back, not made again
    step = Project.open(small.root).manifest["steps"]["map"]
    assert step["resumed_windows"] == 2 and not parts_folder(out).exists()
    assert np.array_equal(read(out), read(whole)) and set(np.unique(read(out))) - {0} == set(range(1, 10))
    for name in ("map_West.tif", "map_East.tif"):
        assert np.array_equal(read(tmp_path / name), read(tmp_path / "whole" / name))
    done, remaining = _progress_of(Project.open(small.root))
    assert not any("interrupted" in line for line in remaining) and any("map (" in line for line in done)


def test_district_maps_finished_before_an_interruption_are_kept(small: Project, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import mcae.inference.districts as district_module

    bounds = districts(tmp_path / "districts.geojson", small)
    out = tmp_path / "map.tif"
    real, clipped = district_module.write_class_cog, []

    def dies_on_the_second(path: Path, **kw: object) -> Path:
        if clipped:
            raise KeyboardInterrupt
        clipped.append(Path(path).name)
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(district_module, "write_class_cog", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        write_map(small, out, districts=bounds)
    assert clipped == ["map_West.tif"] and out.is_file() and not (tmp_path / "map_East.tif").exists()
    _, remaining = _progress_of(Project.open(small.root))
    assert any("city map is written" in line for line in remaining), remaining
    first = (tmp_path / "map_West.tif").stat().st_mtime_ns, out.stat().st_mtime_ns

    clipped.clear()
    monkeypatch.setattr(district_module, "write_class_cog",
                        lambda path, **kw: (clipped.append(Path(path).name), real(path, **kw))[1])
    write_map(Project.open(small.root), out, districts=bounds)
    assert clipped == ["map_East.tif"]  # the city map and the West district were kept
    assert ((tmp_path / "map_West.tif").stat().st_mtime_ns, out.stat().st_mtime_ns) == first
    assert Project.open(small.root).manifest["steps"]["map"]["kept_map"]

    record_decisions(small, [Decision(target="mask", patch="0-0", mask=6, class_id=3)])
    clipped.clear()
    write_map(Project.open(small.root), out, districts=bounds)  # new inputs: everything is made again
    assert sorted(clipped) == ["map_East.tif", "map_West.tif"]
