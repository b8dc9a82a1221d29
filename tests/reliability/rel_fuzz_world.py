"""The world the schema fuzzer runs against: one app over a small tile catalog (three layers
and a city of hostile entries, from ``tiles_data``) and an annotation project in SQLite with
one user per role (from ``annotation_fixtures``), plus the real ids of what it holds.

``real_ids`` lets the fuzzer aim at existing cities, layers, projects, groups, patches,
masks and decisions as well as at random ids, so that handlers run past their 404s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation_fixtures import copy_project, seed_database
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rel_fuzz_aims import inner_bbox
from tiles_data import CITY, make_tile_world

from mcae.platform.app import create_app
from mcae.platform.settings import AuthSettings, DatabaseSettings, JobSettings, Settings
from mcae.tiles.settings import TileSettings

PROJECT = "demo"
# a tile of the test layers (the layers sit at 668000, 3550000 in UTM 50N)
TILE_ZXY = (18, 217566, 106391)


@dataclass
class FuzzWorld:
    """The app, the tokens of its users, and candidate values per path parameter name."""

    app: FastAPI
    tokens: dict[str, str]
    real_ids: dict[str, list[Any]] = field(default_factory=dict)

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def make_fuzz_world(root: Path, template_project: Path) -> FuzzWorld:
    """Catalog, project and database under ``root``; the app is built but not started."""
    world = make_tile_world(root / "tiles")
    project_root = copy_project(template_project, root / "city")
    url = f"sqlite:///{root / 'annotation.db'}"
    tokens = seed_database(url, project_root, PROJECT)
    # the fuzzer sends made-up tokens: with the default allowance its own address would back
    # off (429) for a second or more, and what a later test sees would depend on how fast the
    # machine ran the earlier ones; the throttle has its own tests (test_annotation_throttle)
    settings = Settings(tiles=TileSettings(catalog_path=world.store.path, web_dist=root / "no-web"),
                        database=DatabaseSettings(url=url), jobs=JobSettings(dir=root / "jobs"),
                        auth=AuthSettings(failures_allowed=1_000_000))
    app = create_app(settings)
    found = FuzzWorld(app, tokens)
    found.real_ids = _real_ids(app, found.bearer("admin"))
    bounds = world.store.layer(CITY, "mcae").bounds
    found.real_ids["bbox"] = [inner_bbox(bounds, 0.3), inner_bbox(bounds, 2.0)]  # inside; around
    return found


def _real_ids(app: FastAPI, auth: dict[str, str]) -> dict[str, list[Any]]:
    """What exists, read through the API itself (no lifespan needed for reads)."""
    client = TestClient(app)
    p = f"/api/projects/{PROJECT}"
    hoods = [h["name"] for h in client.get(p + "/neighbourhoods", headers=auth).json()["items"]]
    groups = client.get(f"{p}/neighbourhoods/{hoods[0]}/groups", headers=auth).json()
    members = client.get(f"{p}/neighbourhoods/{hoods[0]}/groups/{groups[0]['key']}/masks", headers=auth).json()
    patches = [x["name"] for x in client.get(p + "/patches", headers=auth).json()["items"]]
    masks = client.get(f"{p}/patches/{patches[0]}", headers=auth).json()["mask_list"]
    z, x, y = TILE_ZXY
    return {"city": [CITY, "evil-city"], "layer": ["mcae", "sinolc1", "imagery", "missing", "vrt"],
            "scheme": ["mcae", "sinolc1"], "item_file": ["mcae.json"], "project": [PROJECT],
            "hood": hoods[:1], "group": [g["key"] for g in groups[:2]], "patch": patches[:1],
            "mask": [m["mask_id"] for m in masks[:2]], "decision": [1, 2],
            "mask_row": [m["id"] for m in members["items"][:6]], "z": [z], "x": [x], "y": [y]}
