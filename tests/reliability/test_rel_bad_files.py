"""Bad files into the engine's commands: a one-line error, exit code 2, nothing left behind.

Hypothesis generates the inputs (seeded: ``derandomize=True``): images of every pixel type,
band count and shape (0 x 0 and 1 x 1 up to a 1 x 100,000 strip), NaN nodata, rotated and
sheared grids, no CRS; valid GeoTIFFs truncated, overwritten or with a header tag changed;
decisions files with bad JSON, wrong types and unknown ids; garbled reference rasters and
maps. An input that is still a processable image (a rotated grid, noise written over pixel
data) may work (exit 0, a complete project); anything else must be refused with exit 2 and
exactly one ``error:`` line, and leave the folder it was in byte for byte as it was.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rel_engine_files import (
    SMALL_SEGMENT,
    ImageSpec,
    error_line,
    image_bytes,
    mcae,
    set_tiff_tag,
    snapshot,
)

SETTINGS = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SUPPORTED = {"uint8", "uint16", "int16", "int32", "uint32", "float32", "float64"}
EXAMPLES = {"segment": 160, "decisions": 60, "reference": 20, "evaluate": 20, "ingest": 40}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad_files")


@contextlib.contextmanager
def example_dir(base: Path) -> Iterator[Path]:
    """A fresh folder per example that also holds Python's temporary files; removed after."""
    work = Path(tempfile.mkdtemp(dir=base))
    (work / "tmp").mkdir()
    saved, tempfile.tempdir = tempfile.tempdir, str(work / "tmp")
    try:
        yield work
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(work, ignore_errors=True)


# -- images --------------------------------------------------------------------------------------

# repeated entries weight the draw towards images that pass the early checks
DTYPES = ["uint8", "uint16", "float32", "uint8", "int16", "int32", "uint32", "float64", "int8", "complex64"]


@st.composite
def image_specs(draw: st.DrawFn) -> ImageSpec:
    shape = draw(st.one_of(
        st.tuples(st.integers(12, 48), st.integers(12, 48)),
        st.sampled_from([(1, 1), (1, 100_000), (100_000, 1), (15, 200), (16, 16)])))
    strip = max(shape) > 1000
    dtype = draw(st.sampled_from(DTYPES))
    nodata = draw(st.sampled_from([None, 0.0, float("nan")] if dtype.startswith("float") else [None, 0.0]))
    return ImageSpec(
        height=shape[0], width=shape[1], bands=draw(st.sampled_from([3, 4, 3, 5, 1, 3, 2])), dtype=dtype,
        nodata=nodata,
        nodata_share=draw(st.sampled_from([0.0, 0.3, 1.0])) if nodata is not None else 0.0,
        angle=0.0 if strip else draw(st.sampled_from([0.0, 0.0, 30.0, 90.0, 180.0, -45.0])),
        shear=0.0 if strip else draw(st.sampled_from([0.0, 0.0, 0.4])),
        crs=draw(st.sampled_from(["EPSG:32650", "EPSG:32650", "EPSG:32650", None])),
        seed=draw(st.integers(0, 2**16)))


def expected(spec: ImageSpec) -> int | None:
    """The exit code an image must give (2 refused, 0 processed), None when either is right."""
    small = min(spec.height, spec.width) < 16
    if (spec.bands < 3 or spec.dtype not in SUPPORTED or spec.crs is None or spec.nodata_share == 1.0
            or (small and spec.angle in (0.0, 180.0) and spec.shear == 0.0)):
        return 2
    if spec.angle == 0.0 and spec.shear == 0.0:
        return 0
    return None


@st.composite
def broken_geotiffs(draw: st.DrawFn, bands: int = 3) -> bytes:
    """A valid small GeoTIFF, then truncated, overwritten or with one header tag changed."""
    spec = ImageSpec(height=draw(st.integers(16, 40)), width=draw(st.integers(16, 40)), bands=bands,
                     dtype=draw(st.sampled_from(["uint8", "uint16", "float32"])),
                     seed=draw(st.integers(0, 99)))
    data = image_bytes(spec, compress=draw(st.sampled_from([None, "deflate", "lzw"])))
    how = draw(st.sampled_from(["truncate", "overwrite", "tag"]))
    if how == "truncate":
        return data[:draw(st.one_of(st.integers(8, len(data) - 1), st.sampled_from([0, 4, 100])))]
    if how == "overwrite":
        at = draw(st.integers(0, len(data) - 1))
        noise = draw(st.binary(min_size=1, max_size=64))
        return data[:at] + noise + data[at + len(noise):]
    # width, height, bits, compression, photometric, strip offsets, samples, rows/strip, byte counts,
    # planar configuration, sample format
    tag = draw(st.sampled_from([256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 339]))
    value = draw(st.one_of(st.sampled_from([0, 1, 2, 7, 65535, 2**31]), st.integers(0, 2**32 - 1)))
    return set_tiff_tag(data, tag, value)


def check_segment(work: Path, image: Path, must: int | None, *extra: str) -> int:
    """Segment ``image`` in ``work``: a complete project, or refused with nothing left."""
    before = snapshot(work)
    result = mcae("segment", image, "--project", work / "project", *SMALL_SEGMENT, *extra)
    if result.exit_code == 0 and must in (None, 0):
        for name in ("project.json", "masks.parquet", "groups.parquet"):
            assert (work / "project" / name).is_file(), name
        event("segment: processed")
        return 0
    line = error_line(result)
    assert result.exit_code == 2 and must in (None, 2), (must, result.output)
    assert image.name in line, line
    assert snapshot(work) == before, "a refused segment left files behind"
    event(f"segment: refused ({line.split(': ', 2)[-1][:40]})")
    return 2


@settings(SETTINGS, max_examples=EXAMPLES["segment"] // 2)
@given(spec=image_specs())
def test_segment_generated_images(base: Path, spec: ImageSpec) -> None:
    with example_dir(base) as work:
        image = work / "in.tif"
        image.write_bytes(image_bytes(spec))
        check_segment(work, image, expected(spec))


@settings(SETTINGS, max_examples=EXAMPLES["segment"] // 2)
@given(data=broken_geotiffs())
def test_segment_broken_geotiffs(base: Path, data: bytes) -> None:
    with example_dir(base) as work:
        image = work / "broken.tif"
        image.write_bytes(data)
        # --gsd: a cut file loses its georeferencing (stored last) and would be refused for that
        # alone; with a GSD the engine goes on to read the pixels that are not there
        check_segment(work, image, 2 if len(data) < 200 else None, "--gsd", "0.6")


@pytest.mark.parametrize("tag, value, message", [
    (256, 0, "no pixels"), (257, 0, "no pixels"), (256, 1, "too small")])
def test_zero_and_one_pixel_headers(base: Path, tag: int, value: int, message: str) -> None:
    """A header saying 0 (or 1) pixels wide is refused, not segmented."""
    with example_dir(base) as work:
        image = work / "zero.tif"
        image.write_bytes(set_tiff_tag(image_bytes(ImageSpec(24, 24)), tag, value))
        result = mcae("segment", image, "--project", work / "project", *SMALL_SEGMENT)
        assert result.exit_code == 2 and (message in error_line(result) or "not a readable" in result.output)
        assert not (work / "project").exists()


def test_rotated_and_strip_images_behave() -> None:
    """The oracle itself: rotated grids may work; strips, no CRS, 2 bands must be refused."""
    assert expected(ImageSpec(1, 100_000)) == 2 and expected(ImageSpec(100_000, 1)) == 2
    assert expected(ImageSpec(24, 24, angle=30.0)) is None and expected(ImageSpec(24, 24)) == 0
    assert expected(ImageSpec(24, 24, bands=2)) == 2 and expected(ImageSpec(24, 24, crs=None)) == 2


# -- decisions -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def segmented(base: Path) -> Path:
    """A small segmented project (4 patches), made once."""
    image = base / "scene.tif"
    image.write_bytes(image_bytes(ImageSpec(64, 64, seed=5)))
    result = mcae("segment", image, "--project", base / "project", *SMALL_SEGMENT)
    assert result.exit_code == 0, result.output
    return base / "project"


def _groups(project: Path) -> pd.DataFrame:
    return pd.read_parquet(project / "groups.parquet")


BAD_VALUES = {
    "class": [True, False, 5.7, -1, 10, 2**70, None, [5], {"id": 5}, "Treee", "", float("inf"), float("nan")],
    "mask": ["abc", 1.5, True, [1], None, {"m": 1}],
    "patch": [0, 1.5, ["0-0"], None, True],
    "target": ["tile", 5, None, "", "GROUP"],
}


@st.composite
def bad_decision_files(draw: st.DrawFn, groups: pd.DataFrame) -> tuple[bytes, str]:
    """A decisions file (JSON Lines) with valid lines and one bad one; the fragment its error names."""
    keys = groups[["neighbourhood", "group"]].drop_duplicates().to_numpy().tolist()
    masks = groups[["patch", "mask_id"]].to_numpy().tolist()

    def good() -> dict[str, object]:
        if draw(st.booleans()):
            nb, group = draw(st.sampled_from(keys))
            return {"target": "group", "neighbourhood": nb, "group": group, "class": draw(st.integers(1, 9))}
        patch, mask = draw(st.sampled_from(masks))
        return {"target": "mask", "patch": patch, "mask": int(mask), "class": draw(st.sampled_from([1, "Tree", 0]))}

    lines = [json.dumps(good()).encode() for _ in range(draw(st.integers(0, 4)))]
    at = draw(st.integers(0, len(lines)))
    kind = draw(st.sampled_from(["json", "type", "missing", "unknown", "utf8"]))
    name = "decisions.jsonl"
    if kind == "json":
        text = json.dumps(good())
        bad = draw(st.sampled_from([text[:draw(st.integers(1, len(text) - 1))], "{'target': 'mask'}", "nonsense",
                                    text + " trailing", "{" + text]))
        return b"\n".join([*lines[:at], bad.encode(), *lines[at:]]), f"{name}:{at + 1}"
    if kind == "utf8":
        return b"\n".join([*lines[:at], b'{"target": "\xff\xfe"}', *lines[at:]]), "not UTF-8"
    item = good()
    if kind == "type":
        field = draw(st.sampled_from(sorted(BAD_VALUES)))
        item = {**item, "target": "mask"} if field in ("mask", "patch") else item
        item.setdefault("patch", masks[0][0])
        item.setdefault("mask", int(masks[0][1]))
        item[field] = draw(st.sampled_from(BAD_VALUES[field]))
        fragment = f"{name}:{at + 1}"
    elif kind == "missing":  # every field of a good decision is required for its target
        field = draw(st.sampled_from(sorted(item)))
        item = {k: v for k, v in item.items() if k != field}
        fragment = f"{name}:{at + 1}"
    else:
        if item["target"] == "group":
            item["group"] = draw(st.sampled_from(["99-1", "0-99", "x", ""]))
            fragment = "no group"
        else:
            item["mask"] = draw(st.sampled_from([99_999, 0, -3, 2**40]))
            fragment = "no mask"
    text = json.dumps(item).replace("Infinity", "1e999")
    return b"\n".join([*lines[:at], text.encode(), *lines[at:]]), fragment


def test_decision_strategy_covers_every_kind(segmented: Path) -> None:
    """Each kind of bad line is drawn (the strategy does not collapse to one kind)."""
    seen: set[str] = set()

    @settings(derandomize=True, max_examples=60, database=None, deadline=None)
    @given(bad_decision_files(_groups(segmented)))
    def collect(case: tuple[bytes, str]) -> None:
        seen.add(case[1].split(":")[0] if case[1].startswith("decisions") else case[1])

    collect()
    assert {"decisions.jsonl", "not UTF-8", "no group", "no mask"} <= seen


@settings(SETTINGS, max_examples=EXAMPLES["decisions"])
@given(data=st.data())
def test_label_bad_decisions(base: Path, segmented: Path, data: st.DataObject) -> None:
    content, fragment = data.draw(bad_decision_files(_groups(segmented)))
    with example_dir(base) as work:
        project = work / "project"
        shutil.copytree(segmented, project)
        decisions = work / "decisions.jsonl"
        decisions.write_bytes(content)
        before = snapshot(work)
        result = mcae("label", "--project", project, "--decisions", decisions)
        line = error_line(result)
        assert result.exit_code == 2, result.output
        if fragment.startswith("decisions.jsonl"):
            assert f"{decisions}:{fragment.split(':')[1]}:" in line, (fragment, line)
        else:
            assert fragment in line, (fragment, line)
        assert snapshot(work) == before, "a refused label changed the project"


# -- rasters read by label --reference and evaluate -----------------------------------------------

@settings(SETTINGS, max_examples=EXAMPLES["reference"])
@given(data=broken_geotiffs())
def test_label_broken_reference(base: Path, segmented: Path, data: bytes) -> None:
    with example_dir(base) as work:
        project = work / "project"
        shutil.copytree(segmented, project)
        reference = work / "reference.tif"
        reference.write_bytes(data)
        before = snapshot(work)
        result = mcae("label", "--project", project, "--reference", reference, "--scheduler", "synchronous", "-q")
        if result.exit_code == 0:
            assert (project / "decisions.jsonl").is_file()
            return
        line = error_line(result)
        assert result.exit_code == 2 and reference.name in line, result.output
        assert snapshot(work) == before


@settings(SETTINGS, max_examples=EXAMPLES["evaluate"])
@given(data=broken_geotiffs(), which=st.sampled_from(["map", "reference"]))
def test_evaluate_broken_rasters(base: Path, data: bytes, which: str) -> None:
    with example_dir(base) as work:
        good = image_bytes(ImageSpec(24, 24, bands=1, seed=1))
        paths = {"map": work / "map.tif", "reference": work / "reference.tif"}
        for name, path in paths.items():
            path.write_bytes(data if name == which else good)
        before = snapshot(work)
        result = mcae("evaluate", paths["map"], paths["reference"], "--out", work / "report")
        if result.exit_code == 0:
            assert (work / "report" / "accuracy.json").is_file()
            return
        line = error_line(result)
        assert result.exit_code == 2 and paths[which].name in line, result.output
        assert snapshot(work) == before


@settings(SETTINGS, max_examples=EXAMPLES["ingest"])
@given(data=broken_geotiffs(bands=1))
def test_ingest_broken_layers(base: Path, data: bytes) -> None:
    """``mcae ingest layer``: a broken class raster adds nothing to the catalog, writes no COG."""
    with example_dir(base) as work:
        layer = work / "other.tif"
        layer.write_bytes(data)
        legend = work / "legend.json"
        legend.write_text(json.dumps([{"id": i, "name": f"class {i}", "color": "#102030"} for i in range(1, 9)]))
        site = work / "site"
        site.mkdir()
        before = snapshot(work)
        result = mcae("ingest", "layer", layer, "--city", "testville", "--layer", "other", "--legend", legend,
                      "--catalog", site / "catalog.json")
        if result.exit_code == 0:
            assert (site / "catalog.json").is_file()
            event("ingest: added")
            return
        line = error_line(result)
        assert result.exit_code == 2 and layer.name in line, result.output
        assert snapshot(work) == before, "a refused ingest left files behind"
        event(f"ingest: refused ({line.rsplit(': ', 1)[-1][:50]})")
