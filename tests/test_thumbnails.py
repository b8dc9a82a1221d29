"""Server-side images of the annotation tools, on a small seeded project segmented here."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from benchmarks.scenes import blocky_scene, write_tif
from mcae.inference.classes import MCAE
from mcae.inference.compute import executor
from mcae.inference.project import Project
from mcae.inference.segment import SegmentOptions, prepare_project, read_mask_raster, segment_patches
from mcae.platform.annotation import patch_images
from mcae.platform.annotation.thumbnails import (
    RED,
    YELLOW,
    PatchImages,
    UnknownMask,
    UnknownPatch,
    crop_origin,
    crop_side,
    mask_at,
    mask_thumbnail,
    patch_classification,
    patch_image,
)

HEIGHT, WIDTH, PATCH = 256, 240, 128  # the right column of patches reaches past the scene


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("thumbs")
    image, _ = blocky_scene(HEIGHT, WIDTH, seed=5, objects=60)
    write_tif(root / "scene.tif", image)
    project = prepare_project(root / "scene.tif", root / "project",
                              SegmentOptions(generator="superpixel", patch_size=PATCH))
    with executor("synchronous", None, True) as run:
        segment_patches(project, run)
    return root / "project"


@pytest.fixture(scope="module")
def scene_image(project_dir: Path) -> np.ndarray:
    image, _ = blocky_scene(HEIGHT, WIDTH, seed=5, objects=60)
    return image


@pytest.fixture
def images(project_dir: Path) -> PatchImages:
    return PatchImages(project_dir)


def decode(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def raster(project_dir: Path, patch_id: str) -> np.ndarray:
    return read_mask_raster(Project.open(project_dir), patch_id)


def interior_mask(project_dir: Path, patch_id: str = "0-0") -> tuple[int, tuple[int, int, int, int]]:
    """A mask of 10-30 px across that does not touch the patch edge, and its box."""
    labels = raster(project_dir, patch_id)
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        r0, r1, c0, c1 = box[0].start, box[0].stop, box[1].start, box[1].stop
        if 10 <= max(r1 - r0, c1 - c0) <= 30 and min(r0, c0) > 20 and max(r1, c1) < PATCH - 20:
            return i, (r0, c0, r1, c1)
    raise AssertionError("the seeded scene has no mid-sized interior mask")


def test_thumbnail_is_a_png_of_the_asked_size(images: PatchImages, project_dir: Path) -> None:
    mask_id, _ = interior_mask(project_dir)
    assert decode(mask_thumbnail(images, "0-0", mask_id)).shape == (192, 192, 3)
    assert decode(mask_thumbnail(images, "0-0", mask_id, size=96, context=3)).shape == (96, 96, 3)


def test_outline_is_yellow_on_the_mask_boundary_and_bbox_red(images: PatchImages,
                                                               project_dir: Path) -> None:
    mask_id, (r0, c0, r1, c1) = interior_mask(project_dir)
    pixels = decode(mask_thumbnail(images, "0-0", mask_id, size=192, context=2.0))
    side = max(64, int(np.ceil(max(r1 - r0, c1 - c0) * 2.0)))
    top, left, scale = (r0 + r1 - side) // 2, (c0 + c1 - side) // 2, 192 / side

    # Every yellow pixel lies on the mask's boundary (within a source pixel), none deep inside.
    mask = raster(project_dir, "0-0") == mask_id
    boundary = mask & ~ndimage.binary_erosion(mask)
    near = ndimage.binary_dilation(boundary, iterations=1)
    ys, xs = np.nonzero(np.all(pixels == YELLOW, axis=-1))
    assert len(ys) > 4 * (r1 - r0 + c1 - c0)
    src_r = np.floor(top + (ys + 0.5) / scale).astype(int)
    src_c = np.floor(left + (xs + 0.5) / scale).astype(int)
    assert near[src_r, src_c].mean() > 0.95
    deep = ndimage.binary_erosion(mask, iterations=3)
    assert not deep[src_r, src_c].any()
    # Every part of the boundary is outlined.
    outlined = np.zeros_like(mask)
    outlined[src_r, src_c] = True
    assert (boundary & ndimage.binary_dilation(outlined, iterations=1)).sum() >= 0.9 * boundary.sum()

    # The red rectangle frames the mask's box, one output pixel outside it.
    red = np.all(pixels == RED, axis=-1)
    ry, rx = np.nonzero(red)
    assert abs(rx.min() - (c0 - left) * scale) <= 2 and abs(rx.max() - (c1 - left) * scale) <= 2
    assert abs(ry.min() - (r0 - top) * scale) <= 2 and abs(ry.max() - (r1 - top) * scale) <= 2
    y0, y1, x0, x1 = ry.min(), ry.max(), rx.min(), rx.max()
    perimeter = np.concatenate([red[y0, x0:x1 + 1], red[y1, x0:x1 + 1],
                                red[y0:y1 + 1, x0], red[y0:y1 + 1, x1]])
    assert perimeter.mean() > 0.6  # the yellow outline may cover it where the mask touches
    assert red.sum() <= perimeter.size  # a rectangle, nothing else


def test_thumbnail_crop_stays_inside_the_patch(images: PatchImages, project_dir: Path) -> None:
    labels = raster(project_dir, "0-0")
    mask_id = int(labels[0, 0])  # touches the top-left corner: the crop moves inside instead of padding
    pixels = decode(mask_thumbnail(images, "0-0", mask_id, size=128))
    assert not (pixels[:4, :4] == 0).all()


def test_a_large_mask_fills_its_thumbnail() -> None:
    # a field 900 px long in a 1024 px patch: its box takes most of the crop, no black frame
    side = crop_side(900, 2.0, (1024, 1024))
    assert 900 <= side <= 1024 and 900 / side > 0.85
    assert crop_origin(100, 1000, side, 1024) == 1024 - side  # moved inside, not centred past the edge
    assert crop_side(20, 2.0, (1024, 1024)) == 64  # a small mask keeps its context
    assert crop_side(80, 2.0, (1024, 1024)) == 160


def test_the_large_view_is_at_native_pixels(images: PatchImages, project_dir: Path) -> None:
    mask_id, (r0, c0, r1, c1) = interior_mask(project_dir)
    pixels = decode(mask_thumbnail(images, "0-0", mask_id, size=None, context=4.0))
    assert pixels.shape[0] == pixels.shape[1] >= 256
    assert pixels.shape[0] >= crop_side(max(r1 - r0, c1 - c0), 4.0, (1024, 1024)) or pixels.shape[0] == 1024


def test_unknown_mask_and_patch(images: PatchImages, project_dir: Path) -> None:
    n = int(raster(project_dir, "0-0").max())
    with pytest.raises(UnknownMask):
        mask_thumbnail(images, "0-0", n + 5)
    with pytest.raises(LookupError):
        mask_thumbnail(images, "0-0", 0)
    for bad in ("9-9", "x", "0-0-0"):
        with pytest.raises(UnknownPatch):
            patch_image(images, bad)
    with pytest.raises(ValueError):
        mask_thumbnail(images, "0-0", 1, size=2)


def test_classification_paints_class_colours(images: PatchImages, project_dir: Path) -> None:
    labels = raster(project_dir, "0-1")
    ids = [int(v) for v in np.unique(labels) if v]
    tree, undecided, building = ids[0], ids[1], ids[2]
    classes = {tree: 5, undecided: 0, building: 8}
    pixels = decode(patch_classification(images, "0-1", classes))
    assert pixels.shape == (PATCH, PATCH, 3)
    assert (pixels[labels == tree] == MCAE.get(5).rgb).all()
    assert (pixels[labels == building] == MCAE.get(8).rgb).all()
    assert (pixels[labels == undecided] == 0).all()
    assert (labels == 0).any() and (pixels[labels == 0] == 0).all()  # past the scene
    assert (pixels[~np.isin(labels, [tree, building])] == 0).all()  # unclassified masks

    lut = np.zeros(labels.max() + 1, np.int64)
    for m, c in classes.items():
        lut[m] = c
    assert (decode(patch_classification(images, "0-1", lut)) == pixels).all()
    small = decode(patch_classification(images, "0-1", lut, size=64))
    assert small.shape == (64, 64, 3)
    with pytest.raises(ValueError):
        patch_classification(images, "0-1", {tree: 42})


def test_classification_highlight_outlines_in_white(images: PatchImages, project_dir: Path) -> None:
    labels = raster(project_dir, "0-0")
    mask_id, _ = interior_mask(project_dir)
    classes = {int(m): 4 for m in np.unique(labels) if m}  # all Road: white
    pixels = decode(patch_classification(images, "0-0", classes, highlight=[mask_id]))
    mask = labels == mask_id
    white = np.all(pixels == 255, axis=-1)
    black = np.all(pixels == 0, axis=-1)
    boundary = mask & ~ndimage.binary_erosion(mask)
    assert (white[boundary]).all()  # the outline: on the mask's boundary
    assert black[mask].any() and not black[~mask & (labels > 0)].any()  # inner line: visible on Road
    assert (pixels[ndimage.binary_erosion(mask, iterations=3)] == 255).all()  # the fill stays


def test_patch_image_is_the_imagery(images: PatchImages, scene_image: np.ndarray) -> None:
    pixels = decode(patch_image(images, "0-1"))
    assert pixels.shape == (PATCH, PATCH, 3)
    inside = WIDTH - PATCH
    expected = np.moveaxis(scene_image[:, :PATCH, PATCH:], 0, -1)
    assert np.abs(pixels[:, :inside].astype(int) - expected).max() <= 1
    assert (pixels[:, inside:] == 0).all()  # past the scene: black
    assert decode(patch_image(images, "0-1", size=50)).shape == (50, 50, 3)


def test_mask_at(images: PatchImages, project_dir: Path) -> None:
    labels = raster(project_dir, "1-1")
    for x, y in ((0, 0), (5, 100), (PATCH - 1, PATCH - 1), (111, 3)):
        assert mask_at(images, "1-1", x, y) == labels[y, x]
    assert mask_at(images, "1-1", PATCH - 1, 0) == 0  # past the scene
    for x, y in ((-1, 0), (0, PATCH), (PATCH, 0)):
        with pytest.raises(ValueError):
            mask_at(images, "1-1", x, y)


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = patch_images.read_mask_raster

    def spy(project: Project, patch_id: str) -> np.ndarray:
        calls.append(patch_id)
        return real(project, patch_id)

    monkeypatch.setattr(patch_images, "read_mask_raster", spy)
    return calls


def test_each_patch_is_read_once(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_reads(monkeypatch)
    images = PatchImages(project_dir)
    ids = [int(v) for v in np.unique(raster(project_dir, "0-0")) if v][:10]
    for mask_id in ids:
        mask_thumbnail(images, "0-0", mask_id)
    patch_classification(images, "0-0", {ids[0]: 3})
    mask_at(images, "0-0", 1, 1)
    assert calls == ["0-0"]
    with ThreadPoolExecutor(8) as pool:  # concurrent cold requests share one read
        list(pool.map(lambda m: mask_thumbnail(images, "1-0", m), ids * 2))
    assert calls == ["0-0", "1-0"]


def test_cache_is_a_bounded_lru(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_reads(monkeypatch)
    images = PatchImages(project_dir, max_patches=2)
    for patch_id in ("0-0", "0-1", "0-0", "1-0", "0-0", "0-1"):
        patch_image(images, patch_id)
    assert calls == ["0-0", "0-1", "1-0", "0-1"]  # 0-1 was the least recently used
    assert images.cached() == ["0-0", "0-1"]


def test_rewritten_raster_is_read_again(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_reads(monkeypatch)
    images = PatchImages(project_dir)
    before = images.version("1-1")
    patch_image(images, "1-1")
    path = Project.open(project_dir).patch_raster("1-1")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert images.version("1-1") != before
    patch_image(images, "1-1")
    assert calls == ["1-1", "1-1"]


def counting_imagery(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The (height, width) of each imagery read of the patches."""
    sizes: list[tuple[int, int]] = []
    real = PatchImages._read_imagery

    def spy(self: PatchImages, window):  # type: ignore[no-untyped-def]
        sizes.append((window.height, window.width))
        return real(self, window)

    monkeypatch.setattr(PatchImages, "_read_imagery", spy)
    return sizes


def test_a_cold_patch_first_thumbnails_read_only_their_squares(project_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: the first thumbnails of a cold patch (``SQUARES``) read their squares of the scene,
    not the patch's imagery; the next reads the whole imagery once, which the rest share; every
    thumbnail is the same PNG as one drawn from the whole imagery (masks inside, at the patch edge,
    and in the patch past the scene's edge)."""
    sizes = counting_imagery(monkeypatch)
    labels = raster(project_dir, "0-1")  # the right column: it reaches past the scene (black there)
    boxes = ndimage.find_objects(labels)
    last = WIDTH - PATCH - 1  # the scene's last column, in the patch
    at_edge = [i for i, b in enumerate(boxes, start=1) if b is not None and b[1].stop - 1 == last]
    edge = min(at_edge, key=lambda i: (boxes[i - 1][0].stop - boxes[i - 1][0].start))  # a small one
    chosen = [interior_mask(project_dir, "0-0")[0], interior_mask(project_dir, "0-1")[0], edge]
    whole = PatchImages(project_dir)
    patch_image(whole, "0-0")
    patch_image(whole, "0-1")
    assert sizes == [(PATCH, PATCH), (PATCH, PATCH)]
    for patch_id, mask_id in (("0-0", chosen[0]), ("0-1", chosen[1]), ("0-1", chosen[2])):
        sizes.clear()
        cold = PatchImages(project_dir)
        first = mask_thumbnail(cold, patch_id, mask_id)
        assert len(sizes) == 1 and sizes[0][0] * sizes[0][1] < PATCH * PATCH // 2, sizes  # its square only
        assert first == mask_thumbnail(whole, patch_id, mask_id)
        mask_at(cold, patch_id, 1, 1)
        patch_classification(cold, patch_id, {})
        assert len(sizes) == 1  # neither needs the imagery
        for _ in range(patch_images.SQUARES - 1):
            assert mask_thumbnail(cold, patch_id, mask_id, size=64) == mask_thumbnail(whole, patch_id, mask_id,
                                                                                      size=64)
        assert len(sizes) == patch_images.SQUARES and (PATCH, PATCH) not in sizes
        again = mask_thumbnail(cold, patch_id, mask_id)
        assert sizes[patch_images.SQUARES:] == [(PATCH, PATCH)] and again == first  # then the whole imagery
        mask_thumbnail(cold, patch_id, chosen[0] if patch_id == "0-0" else chosen[1], size=64)
        assert len(sizes) == patch_images.SQUARES + 1  # once


def test_the_start_up_warm_up_runs_quietly(recwarn: pytest.WarningsRecorder) -> None:
    """Issue 17: the app pays the image libraries' one-time costs at start-up (``warm_up``): it
    must not fail or warn (a start-up that raises takes the service down)."""
    from mcae.platform.annotation.thumbnails import warm_up

    warm_up()
    assert not [w for w in recwarn if "rasterio" in str(w.category.__module__)], [str(w) for w in recwarn]
