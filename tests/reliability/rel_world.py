"""The world the reliability tests attack: the tile tests' catalog (three COGs with serving
copies, a district) and the annotation test project in a SQLite database, under one folder,
served by ``create_app`` with small caps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotation_fixtures import FAST_SCRYPT, copy_project, seed_database
from fastapi import FastAPI
from tiles_data import CITY, make_tile_world

from mcae.platform.app import create_app
from mcae.platform.settings import AuthSettings, DatabaseSettings, Settings
from mcae.tiles.catalog import CatalogStore, City, District
from mcae.tiles.settings import TileSettings

MAX_IMAGE_PIXELS = 100_000  # a whole layer (512 x 512) is over it: statistics and clips can be refused
MAX_BUNDLE_TILES = 500
PROJECT = "demo"


@dataclass
class World:
    root: Path  # the catalog's folder: data, .serving/, jobs/, annotation.db, the project (city/)
    store: CatalogStore
    settings: Settings
    tokens: dict[str, str]
    project_root: Path

    def app(self, **tiles: Any) -> FastAPI:
        """A new app over this world (``tiles``: TileSettings overrides)."""
        settings = self.settings
        if tiles:
            settings = settings.model_copy(update={"tiles": settings.tiles.model_copy(update=tiles)})
        return create_app(settings)

    def layer_files(self) -> set[str]:
        """Every layer file of the test city and its serving copies (what GDAL may open)."""
        layers = self.store.city(CITY).layers.values()
        files = {str(self.store.layer_path(la)) for la in layers}
        return files | {str(c) for la in layers if (c := self.store.serving_copy(la)) is not None}

    def inner_bbox(self) -> tuple[float, float, float, float]:
        """A small bbox inside the right (data) half of the MCAE layer."""
        w, s, e, n = self.store.layer(CITY, "mcae").bounds
        return (w + (e - w) * 0.6, s + (n - s) * 0.4, w + (e - w) * 0.7, s + (n - s) * 0.5)


def make_world(root: Path, template_project: Path) -> World:
    """Build the world under ``root`` (a fresh folder)."""
    tiles = make_tile_world(root)
    store = tiles.store
    w, s, e, n = store.layer(CITY, "mcae").bounds
    mx, my = (w + e) / 2, (s + n) / 2
    square = {"type": "Polygon", "coordinates": [[[mx, s], [e, s], [e, my], [mx, my], [mx, s]]]}
    store.put_city(City(id=CITY, name="Test City", provenance="synthetic",
                        districts={"square": District(id="square", name="Square", geometry=square)}))
    project_root = copy_project(template_project, root / "city")
    meta = json.loads((project_root / "project.json").read_text())
    meta["image"]["path"] = str(project_root.parent / Path(meta["image"]["path"]).name)  # the copy's own
    (project_root / "project.json").write_text(json.dumps(meta))
    tokens = seed_database(f"sqlite:///{root / 'annotation.db'}", project_root, PROJECT)
    settings = Settings(tiles=TileSettings(catalog_path=store.path, web_dist=root / "no-web",
                                           max_image_pixels=MAX_IMAGE_PIXELS, max_bundle_tiles=MAX_BUNDLE_TILES),
                        database=DatabaseSettings(url=None),
                        auth=AuthSettings(scrypt_n=FAST_SCRYPT.n, scrypt_r=FAST_SCRYPT.r, scrypt_p=FAST_SCRYPT.p))
    return World(root, store, settings, tokens, project_root)
