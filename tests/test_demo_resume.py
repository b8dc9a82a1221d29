"""``mcae demo`` resumes: a run stopped part way keeps its scene and its finished patches, and the
next run reuses them (a 40,960 px city's scene takes most of an hour, its masks hours) while the
simulated expert starts over, so its decisions are not counted twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcae.inference.demo import run as demo_run
from mcae.inference.demo.run import DemoOptions, run_demo


def _options(out: Path, seed: int = 7) -> DemoOptions:
    return DemoOptions(out=out, size=512, seed=seed, quiet=True, scheduler="synchronous", rounds=1)


def stop(*_: object, **__: object) -> None:
    """Stands in for a step the user interrupts."""
    raise KeyboardInterrupt


def _decision_lines(out: Path) -> int:
    return sum(1 for line in (out / "project" / "decisions.jsonl").read_text().splitlines() if line.strip())


def test_a_stopped_demo_resumes_with_its_scene_and_patches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"

    with monkeypatch.context() as patched:
        patched.setattr(demo_run, "write_map", stop)
        with pytest.raises(KeyboardInterrupt):
            run_demo(_options(out), log=lambda *_: None)
    assert json.loads((out / "scene.json").read_text())["size"] == 512
    scene = {name: (out / name).stat().st_mtime_ns for name in demo_run.SCENE_FILES}
    patches = {p.name: p.stat().st_mtime_ns for p in (out / "project" / "patches").iterdir()}
    assert patches and _decision_lines(out) > 0

    said: list[str] = []
    summary = run_demo(_options(out), log=said.append)
    assert any("reused" in line for line in said) and not any(line.startswith("building") for line in said)
    assert {name: (out / name).stat().st_mtime_ns for name in demo_run.SCENE_FILES} == scene
    assert {p.name: p.stat().st_mtime_ns for p in (out / "project" / "patches").iterdir()} == patches
    assert _decision_lines(out) == summary["expert_actions"]  # the first run's decisions are not kept twice
    assert (out / "mcae.tif").is_file() and 0.3 < summary["overall_accuracy"] <= 1

    said.clear()
    run_demo(_options(out, seed=8), log=said.append)  # another city: drawn again
    assert any(line.startswith("building") for line in said)
    assert json.loads((out / "scene.json").read_text())["seed"] == 8


def test_a_demo_stopped_while_writing_its_cogs_does_not_draw_the_city_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"

    with monkeypatch.context() as patched:
        patched.setattr(demo_run, "write_city_cogs", stop)
        with pytest.raises(KeyboardInterrupt):
            demo_run._scene(out, _options(out), log=lambda *_: None)
    assert not (out / "scene.json").exists() and (out / ".scene" / ".city.json").is_file()

    from mcae.inference.demo import tiled
    monkeypatch.setattr(tiled, "make_city", stop)  # drawing anything again would raise
    districts = demo_run._scene(out, _options(out), log=lambda *_: None)
    assert districts and all((out / name).is_file() for name in demo_run.SCENE_FILES)
    assert not (out / ".scene").exists()
