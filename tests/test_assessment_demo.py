"""`mcae demo`'s assessment: the demo map gets a stratified sample labelled by the simulated
response from reference.tif (marked as such), its report files, the STAC item's figures and
the public line of the version on screen; a rebuilt map (a new version) is "not assessed"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotation_fixtures import FAST_SCRYPT
from fastapi.testclient import TestClient

from mcae.platform.settings import DatabaseSettings, Settings, TileSettings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    from mcae.inference.demo.run import DemoOptions, run_demo
    from mcae.platform.annotation.demo import setup_demo_annotation
    from mcae.tiles.layers import register_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(DemoOptions(out=out, size=512, quiet=True, scheduler="synchronous", rounds=1), log=lambda *_: None)
    store = register_demo(out)
    settings = Settings(tiles=TileSettings(catalog_path=store.path, web_dist=out / "no-web"),
                        database=DatabaseSettings(url=f"sqlite:///{out / 'annotation.db'}"))
    settings.auth.scrypt_n = FAST_SCRYPT.n
    setup_demo_annotation(out, settings)
    return out, settings


def test_demo_map_is_assessed_by_the_simulated_response(demo: tuple[Path, Settings]) -> None:
    from mcae.platform.app import create_app

    out, settings = demo
    report = json.loads((out / "assessment" / "report.json").read_text())
    assert report["simulated"] is True and report["sample"]["response"] == "reference"
    assert report["n"] + report["cant_tell"] == report["sample"]["points"] > 100
    oa = report["overall_accuracy"]
    assert 0.3 < oa["estimate"] <= 1 and oa["ci95"] > 0
    # the demo's evaluation counts every pixel against reference.tif: the true OA of the map
    truth = json.loads((out / "evaluation" / "accuracy.json").read_text())["overall_accuracy"]
    print(f"demo: sample OA {oa['estimate']:.4f} ± {oa['ci95']:.4f}, every pixel {truth:.4f}")
    assert abs(oa["estimate"] - truth) <= oa["ci95"]
    for name in ("design.json", "sample.csv", "report.csv", "error_matrix.png", "class_areas.png"):
        assert (out / "assessment" / name).is_file()
    with TestClient(create_app(settings)) as client:
        line = client.get("/api/cities/demo-city/layers/mcae/assessment").json()
        assert line["sample"] == report["sample"]["id"] and line["simulated"] is True
        assert line["version"] == report["version"]
        item = client.get("/api/stac/demo-city/mcae/mcae.json")
        figures = item.json()["properties"]["mcae:assessment"]
        assert figures["overall_accuracy"] == report["overall_accuracy"] and figures["simulated"] is True
        # a rebuilt map: a new version, and the line says it is not assessed yet
        path = out / "mcae.tif"
        path.write_bytes(path.read_bytes())
        import os

        os.utime(path, (1, 1))
        after = client.get("/api/cities/demo-city/layers/mcae/assessment").json()
        assert after["version"] != report["version"] and after["sample"] is None and after["earlier_versions"] == 1
