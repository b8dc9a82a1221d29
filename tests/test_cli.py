"""The command line: help, clear errors with exit code 2, nothing left behind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from test_pipeline import SMALL, mcae

from benchmarks.scenes import blocky_scene, write_tif
from mcae.platform.cli import get_app


def test_every_command_has_help() -> None:
    code, out = mcae("--help")
    assert code == 0
    commands = ["segment", "label", "train", "map", "groups", "export-dataset", "evaluate",
                "info", "demo"]
    for command in commands:
        assert command in out
        code, text = mcae(command, "--help")
        assert code == 0 and "Usage" in text and len(text) > 200


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under ``group`` with its path of names (typer vendors its own click)."""
    found = [(path, group)]
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            found += _commands(command, (*path, name))
    return found


def test_help_keeps_bracketed_defaults() -> None:
    """'[mcae]' in an option's help must not be eaten as rich markup (it was: 'layer id .')."""
    checked = 0
    for path, command in _commands(typer.main.get_command(get_app())):
        hints = [re.sub(r"\\", "", h) for p in command.params
                 for h in re.findall(r"\\?\[[a-z][^\] ]*", getattr(p, "help", None) or "")]
        if not hints:
            continue
        code, text = mcae(*path, "--help")
        assert code == 0
        for hint in hints:
            assert hint in text, (path, hint)
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"\x89PNG not really" * 20), "not a readable image"),
    (lambda p: write_tif(p, np.zeros((1, 16, 16), np.uint8)), "1-band"),
    (lambda p: write_tif(p, np.zeros((3, 16, 16), np.complex64)), "unsupported"),
    (lambda p: None, "no such file"),
])
def test_bad_images_exit_2_with_one_line_and_no_project(tmp_path: Path, make: object,
                                                        message: str) -> None:
    image = tmp_path / "in.tif"
    make(image)  # type: ignore[operator]
    code, out = mcae("segment", image, "--project", tmp_path / "p", *SMALL)
    assert code == 2 and message in out
    assert "Traceback" not in out and out.count("error:") == 1
    assert not (tmp_path / "p").exists()


def test_not_a_project_and_bad_decisions(tmp_path: Path) -> None:
    code, out = mcae("train", "--project", tmp_path)
    assert code == 2 and "not an MCAE project" in out
    image = write_tif(tmp_path / "s.tif", blocky_scene(128, 128, objects=60)[0])
    assert mcae("segment", image, "--project", tmp_path / "p", *SMALL)[0] == 0
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"target": "mask", "patch": "0-0", "mask": 99999, "class": 5}\n')
    code, out = mcae("label", "--project", tmp_path / "p", "--decisions", bad)
    assert code == 2 and "no mask 99999" in out
    assert not (tmp_path / "p" / "decisions.jsonl").exists()  # nothing recorded
    code, out = mcae("label", "--project", tmp_path / "p")
    assert code == 2 and "exactly one of" in out


def test_sam_generator_through_the_cli(tmp_path: Path) -> None:
    from mcae.inference.masks.tiny_sam import build_tiny_sam, save_sam_checkpoint

    checkpoint = tmp_path / "tiny_sam.pth"
    save_sam_checkpoint(build_tiny_sam(seed=0, img_size=64), checkpoint)
    image = write_tif(tmp_path / "s.tif", blocky_scene(64, 64, objects=20)[0])
    code, out = mcae("segment", image, "--project", tmp_path / "p", "--sam-checkpoint",
                     checkpoint, "--sam-model", "tiny", "--device", "cpu",
                     "--points-per-side", "4", "--patch-size", "64", "--scheduler",
                     "synchronous", "-q")
    assert code == 0, out
    assert "Segment Anything" in out
    import json

    import pandas as pd

    manifest = json.loads((tmp_path / "p" / "project.json").read_text())
    assert manifest["generator"]["name"] == "sam"
    assert manifest["generator"]["settings"]["checkpoint_sha256"]
    table = pd.read_parquet(tmp_path / "p" / "patches" / "0-0.parquet")
    assert {"fine", "coarse", "fill"} & set(table["source"])
    assert any(c.startswith("sam_") for c in table.columns)  # pooled SAM embedding features
    code, out = mcae("segment", image, "--project", tmp_path / "q", "--sam-checkpoint",
                     tmp_path / "missing.pth", "--patch-size", "64", "--scheduler", "synchronous")
    assert code == 2 and "missing.pth" in out


def test_unknown_generator_or_option_is_a_clear_error(tmp_path: Path) -> None:
    image = write_tif(tmp_path / "s.tif", blocky_scene(64, 64)[0])
    code, out = mcae("segment", image, "--project", tmp_path / "p", "--generator", "magic", *SMALL)
    assert code == 2 and "unknown mask generator" in out
    checkpoint = tmp_path / "x.pth"
    checkpoint.write_bytes(b"0")
    code, out = mcae("segment", image, "--project", tmp_path / "p", "--sam-checkpoint", checkpoint,
                     "--sam-option", "nonsense", *SMALL)
    assert code == 2 and "KEY=VALUE" in out
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("args", [
    ("catalog", "remove", "nowhere"), ("catalog", "remove", "nowhere", "mcae"), ("catalog", "optimize", "nowhere"),
    ("compare", "--city", "nowhere"),
])
def test_unknown_catalog_ids_exit_2_with_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out = mcae(*args, "--catalog", tmp_path / "catalog.json")
    assert code == 2, out
    assert "Traceback" not in out and out.count("error:") == 1 and "unknown city 'nowhere'" in out


def test_every_group_and_command_has_help() -> None:
    for path, _ in _commands(typer.main.get_command(get_app())):
        code, text = mcae(*path, "--help")
        assert code == 0 and "Usage" in text, path
    names = set(typer.main.get_command(get_app()).commands)  # type: ignore[attr-defined]
    assert {"segment", "label", "train", "map", "groups", "evaluate", "export-dataset", "info", "demo", "serve",
            "ingest", "compare", "catalog", "db", "users"} <= names


@pytest.mark.parametrize("variable, value, args, names", [
    ("MCAE_WORKERS", "lots", ("segment", "{tmp}/missing.tif", "--project", "{tmp}/p"), "workers"),
    ("MCAE_S3_ENABLED", "maybe", ("catalog", "list"), "MCAE_S3_ENABLED"),
    ("MCAE_TILES_MAX_BUNDLE_TILES", "many", ("compare", "--city", "somewhere"), "max_bundle_tiles"),
    ("MCAE_DATABASE__BUSY_TIMEOUT_S", "soon", ("users", "list"), "database.busy_timeout_s"),
    ("MCAE_AUTH__SCRYPT_N", "big", ("projects", "list"), "auth.scrypt_n"),
    ("MCAE_JOBS__WORKERS", "0", ("db", "current"), "jobs.workers"),
    ("MCAE_TILES__GDAL_CACHEMAX_MB", "x", ("demo", "--out", "{tmp}/demo", "--size", "64"), "tiles.gdal_cachemax_mb"),
    ("MCAE_HEAVY__CONCURRENCY", "-1", ("assess", "report", "--sample", "1"), "heavy.concurrency"),
    ("MCAE_DATABASE__URL", "mysql://root:hunter2@db/x", ("projects", "add", "{tmp}/p"), "database.url"),
    ("MCAE_DATABASE__URL", "hunter2", ("db", "upgrade"), "not a database URL"),
])
def test_a_bad_setting_is_one_line_for_every_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str,
                                                     value: str, args: tuple[str, ...], names: str) -> None:
    """Every command reads its settings through ``get_settings``: an invalid MCAE_* variable is one
    line naming it, exit 2, never a traceback (and nothing is made)."""
    monkeypatch.setenv("MCAE_TILES__CATALOG_PATH", str(tmp_path / "catalog.json"))
    monkeypatch.setenv(variable, value)
    code, out = mcae(*(a.format(tmp=tmp_path) for a in args))
    assert code == 2, out
    assert out.strip().count("\n") == 0 and "Traceback" not in out, out
    assert out.startswith("error: invalid settings: ") and names in out and "hunter2" not in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == []
