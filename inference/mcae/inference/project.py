"""The project folder: the state of one city between the pipeline's steps.

Layout (format ``mcae-project``, version 1; every file is written atomically)::

    project.json          manifest: image and working grid, patch grid, generator
                          settings, feature version, the steps run so far
    patches/<row-col>.tif mask-id raster of each patch (uint32 GeoTIFF, 0 = no data)
    masks.parquet         one row per mask: patch, mask_id, neighbourhood, area,
                          core_area, bbox, score, stability, source
    features.parquet      one row per mask: patch, mask_id, then the feature columns
    groups.parquet        one row per mask: cluster, predicted class and score, group
    decisions.jsonl       the expert's decisions, one JSON object per line, in order
    models/classifier.pt  the trained classifier (its class scheme and feature version inside)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from mcae.inference.atomic import write_json
from mcae.inference.errors import InputError, ProjectStateError
from mcae.inference.grid import PatchGrid
from mcae.inference.imagery import RasterScene, SceneInfo

PROJECT_FORMAT = "mcae-project"
PROJECT_VERSION = 1


class Project:
    """A project folder and its manifest."""

    def __init__(self, root: str | Path, manifest: dict[str, Any]) -> None:
        self.root = Path(root)
        self.manifest = manifest

    # -- paths ---------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / "project.json"

    @property
    def patches_dir(self) -> Path:
        return self.root / "patches"

    def patch_raster(self, patch_id: str) -> Path:
        return self.patches_dir / f"{patch_id}.tif"

    def patch_table(self, patch_id: str) -> Path:
        return self.patches_dir / f"{patch_id}.parquet"

    @property
    def masks_path(self) -> Path:
        return self.root / "masks.parquet"

    @property
    def features_path(self) -> Path:
        return self.root / "features.parquet"

    @property
    def groups_path(self) -> Path:
        return self.root / "groups.parquet"

    @property
    def decisions_path(self) -> Path:
        return self.root / "decisions.jsonl"

    @property
    def classifier_path(self) -> Path:
        return self.root / "models" / "classifier.pt"

    # -- life cycle ----------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, scene: SceneInfo, grid: PatchGrid,
               generator: dict[str, Any], feature_version: str) -> Project:
        """Start a project for ``scene`` (an existing project's image must match)."""
        root = Path(root)
        if (root / "project.json").exists():
            existing = cls.open(root)
            if existing.manifest["image"]["path"] != scene.path:
                raise InputError(f"{root} already holds a project for "
                                 f"{existing.manifest['image']['path']}; use another --project")
        manifest = {
            "format": PROJECT_FORMAT,
            "version": PROJECT_VERSION,
            "created": _now(),
            "image": scene.to_dict(),
            "grid": grid.to_dict(),
            "generator": generator,
            "feature_version": feature_version,
            "steps": {},
        }
        project = cls(root, manifest)
        project.patches_dir.mkdir(parents=True, exist_ok=True)
        project.save()
        return project

    @classmethod
    def open(cls, root: str | Path) -> Project:
        root = Path(root)
        path = root / "project.json"
        if not path.is_file():
            raise InputError(f"{root} is not an MCAE project (no project.json); "
                             "run `mcae segment IMAGE --project DIR` first")
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON ({exc.msg})") from None
        if manifest.get("format") != PROJECT_FORMAT:
            raise InputError(f"{path} is not an MCAE project manifest")
        if manifest.get("version") != PROJECT_VERSION:
            raise InputError(f"{path} has project format version {manifest.get('version')}; "
                             f"this MCAE reads version {PROJECT_VERSION}")
        return cls(root, manifest)

    def save(self) -> None:
        write_json(self.manifest_path, self.manifest)

    def record_step(self, name: str, **info: Any) -> None:
        """Note that step ``name`` finished (and is no longer running)."""
        self.manifest.get("running", {}).pop(name, None)
        if not self.manifest.get("running"):
            self.manifest.pop("running", None)
        self.manifest["steps"][name] = {"finished": _now(), **info}
        self.save()

    def mark_running(self, name: str, **info: Any) -> None:
        """Note that step ``name`` started: ``mcae info`` shows it as interrupted until it
        finishes (``record_step``), with what it takes to resume."""
        self.manifest.setdefault("running", {})[name] = {"started": _now(), **info}
        self.save()

    @property
    def running(self) -> dict[str, dict[str, Any]]:
        """Steps started and not finished (still running, or interrupted)."""
        return dict(self.manifest.get("running", {}))

    # -- state ---------------------------------------------------------------
    @property
    def scene_info(self) -> SceneInfo:
        return SceneInfo(**self.manifest["image"])

    def scene(self) -> RasterScene:
        return RasterScene(self.scene_info)

    @property
    def grid(self) -> PatchGrid:
        return PatchGrid(**self.manifest["grid"])

    def require(self, path: Path, step: str) -> Path:
        if not path.is_file():
            raise ProjectStateError(f"{self.root}: {path.name} is missing; run `{step}` first")
        return path

    def masks(self) -> pd.DataFrame:
        return pd.read_parquet(self.require(self.masks_path, "mcae segment"))

    def features(self) -> pd.DataFrame:
        return pd.read_parquet(self.require(self.features_path, "mcae segment"))

    def groups(self, columns: list[str] | None = None) -> pd.DataFrame:
        """``groups.parquet`` (only ``columns`` if given: at city size, read what you need)."""
        return pd.read_parquet(self.require(self.groups_path, "mcae segment"), columns=columns)

    def has_model(self) -> bool:
        return self.classifier_path.is_file()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
