"""The README's "Your own image" section, followed command by command (the CLI in process).

The commands are read from the README itself, so the test breaks when the text and the tools
part. Test-only additions: small files, `--scheduler synchronous -q` (one process, no bars),
and `mcae serve` replaced by the server-less rebuild the section gives beside it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from benchmarks.scenes import blocky_scene, write_tif
from mcae.platform.cli import get_app

README = Path(__file__).resolve().parents[1] / "README.md"
FAST = ["--scheduler", "synchronous", "-q"]


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Your own image")
    return text[start:text.index("\n## ", start + 3)]


def readme_commands() -> list[list[str]]:
    """The `mcae ...` lines of the section's shell block, comments and pipes cut off."""
    block = re.search(r"```bash\n(.*?)```", section(), re.S)
    assert block, "the section has no bash block"
    out = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].split("|", 1)[0].strip()
        if line.startswith("mcae "):
            out.append(shlex.split(line)[1:])
    return out


def run(args: list[str]) -> tuple[str, str]:
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return result.stdout, result.stderr


@pytest.fixture
def own_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)  # a stray ./demo-output would show up here
    for name in ("MCAE_DATABASE__URL", "MCAE_TILES__CATALOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    image, _ = blocky_scene(240, 240, seed=4, objects=160)
    return {"my_city.tif": write_tif(tmp_path / "my_city.tif", image)}


def decisions_file(project: Path, path: Path) -> Path:
    """Two classes over the first groups: what an expert's file would hold."""
    groups = pd.read_parquet(project / "groups.parquet")
    keys = groups[["neighbourhood", "group"]].drop_duplicates().head(6)
    lines = [json.dumps({"target": "group", "neighbourhood": h, "group": g, "class": ["Tree", "Building"][i % 2]})
             for i, (h, g) in enumerate(keys.itertuples(index=False))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_readme_path_for_ones_own_image(own_image: dict[str, Path], tmp_path: Path) -> None:
    commands = readme_commands()
    assert [c[0] for c in commands] == ["segment", "catalog", "projects", "users", "groups", "label", "serve"]
    assert "--kind" in commands[1] and commands[1][commands[1].index("--kind") + 1] == "imagery"
    text = section()
    train = "mcae train --project runs/mine"
    publish = "mcae map --project runs/mine --out runs/mine/map.tif --publish mine --catalog\n  site/catalog.json"
    assert train in text and publish in text, "the server-less rebuild is no longer in the section"
    serverless = [shlex.split(train)[1:], shlex.split(publish.replace("\n  ", " "))[1:]]
    project = tmp_path / "runs" / "mine"
    catalog = tmp_path / "site" / "catalog.json"
    out = {}
    for args in commands[:-1] + serverless:  # `serve` runs until Ctrl-C: the server-less rebuild instead
        if args[0] == "label":
            decisions_file(project, tmp_path / "my_decisions.jsonl")
        if args[0] in ("segment", "label", "train"):
            args = [*args, *FAST]
        out[args[0]] = run(args)

    # the project records the database holding its decisions; label and train found it there
    manifest = json.loads((project / "project.json").read_text())
    assert manifest["decisions_store"] == "database"
    assert manifest["decisions_database"]["url"] == f"sqlite:///{catalog.parent.resolve() / 'annotation.db'}"
    assert not (tmp_path / "demo-output").exists()
    # `mcae groups` wrote its table to stdout
    stdout, stderr = out["groups"]
    assert "neighbourhood" in stdout and "groups;" in stderr
    # the city has its imagery and, after the rebuild, its map layer
    cat = json.loads(catalog.read_text())
    layers = cat["cities"]["mine"]["layers"]
    assert set(layers) == {"imagery", "mcae"}
    assert layers["mcae"]["maxzoom"] >= 18  # 0.6 m pixels: zoom 18 shows them
    with rasterio.open(project / "map.tif") as src:
        tags = src.tags()
        assert src.crs is not None and np.unique(src.read(1)).size > 1
    assert tags["MCAE_PROJECT"] == "mine" and tags["MCAE_IMAGE"] == "my_city.tif"
    assert str(tmp_path) not in json.dumps(tags)


def test_groups_says_when_it_stops(own_image: dict[str, Path], tmp_path: Path) -> None:
    project = tmp_path / "p"
    run(["segment", str(own_image["my_city.tif"]), "--project", str(project), "--patch-size", "64", *FAST])
    stdout, stderr = run(["groups", "--project", str(project), "--limit", "2"])
    total = int(re.search(r"(\d+) groups;", stderr).group(1))  # type: ignore[union-attr]
    assert total > 2 and f"showing the first 2 of {total} groups" in stderr
    rows = [line for line in stdout.splitlines() if re.search(r"\d+-\d+", line)]
    assert len(rows) == 2
    stdout, stderr = run(["groups", "--project", str(project), "--all"])
    assert len([line for line in stdout.splitlines() if re.search(r"\d+-\d+", line)]) == total
    assert "showing the first" not in stderr


def test_a_plain_image_map_is_published_with_bounds_or_refused_with_advice(
        own_image: dict[str, Path], tmp_path: Path) -> None:
    image, _ = blocky_scene(200, 200, seed=6, objects=120)
    plain = tmp_path / "plain.png"
    from PIL import Image

    Image.fromarray(np.moveaxis(image, 0, -1)).save(plain)
    project = tmp_path / "plain"
    run(["segment", str(plain), "--project", str(project), "--gsd", "0.6", "--patch-size", "64", *FAST])
    decisions_file(project, tmp_path / "d.jsonl")
    run(["label", "--project", str(project), "--decisions", str(tmp_path / "d.jsonl"), *FAST])
    run(["train", "--project", str(project), "--classifier", "baseline", *FAST])
    run(["map", "--project", str(project), "--out", str(tmp_path / "local.tif")])
    refused = CliRunner().invoke(get_app(), ["catalog", "add", "plain", str(tmp_path / "local.tif"),
                                                             "--catalog", str(tmp_path / "c" / "catalog.json")])
    assert refused.exit_code == 2 and "--bounds" in refused.stderr and "no georeferencing" in refused.stderr
    bounds = "6.95,50.90,6.9517,50.9011"
    run(["map", "--project", str(project), "--out", str(tmp_path / "geo.tif"), "--bounds", bounds])
    run(["catalog", "add", "plain", str(tmp_path / "geo.tif"), "--catalog", str(tmp_path / "c" / "catalog.json")])
    layer = json.loads((tmp_path / "c" / "catalog.json").read_text())["cities"]["plain"]["layers"]["mcae"]
    assert layer["bounds"] == pytest.approx([6.95, 50.90, 6.9517, 50.9011], abs=1e-6)
