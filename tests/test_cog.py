"""``mcae.inference.cog.translate_to_cog``: valid COGs, BigTIFF only where the data may pass 4 GB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from mcae.inference import cog


def _small(path: Path) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=600, height=600, count=3, dtype="uint8",
                       crs="EPSG:32650", transform=Affine(0.6, 0, 500000, 0, -0.6, 3500000)) as dst:
        dst.write(np.random.default_rng(1).integers(0, 255, (3, 600, 600), dtype=np.uint8))
    return path


def test_a_small_cog_stays_classic_tiff_and_a_large_one_may_be_bigtiff(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40,960 px city's imagery COG failed at its last directory ("exceeds 32 bit range allowed
    for Classic TIFF"): GDAL is asked for BigTIFF where the data may need it (IF_SAFER), and a
    small raster stays classic TIFF (readers that know no BigTIFF still open it)."""
    profiles: list[dict[str, Any]] = []
    translate = cog.cog_translate

    def recorded(src: Any, dst: Any, profile: dict[str, Any], **kwargs: Any) -> Any:
        profiles.append(dict(profile))
        return translate(src, dst, profile, **kwargs)

    monkeypatch.setattr(cog, "cog_translate", recorded)
    out = tmp_path / "small_cog.tif"
    cog.translate_to_cog(_small(tmp_path / "small.tif"), out, overview_resampling="average")
    assert profiles and profiles[0].get("BIGTIFF") == "IF_SAFER"
    assert out.read_bytes()[:4] == b"II*\x00"  # classic TIFF (BigTIFF starts II+)
    with rasterio.open(out) as src:
        assert src.count == 3 and src.overviews(1)
