"""Small engine projects for the reliability tests, and the ``mcae`` command as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rel_engine_files import mcae

from benchmarks.scenes import blocky_scene, write_tif

SEGMENT = ["--neighbourhood", "2", "--scheduler", "synchronous", "-q"]


def scene(folder: Path, size: int = 256, seed: int = 3) -> tuple[Path, Path]:
    """A seeded georeferenced RGB scene and its reference labels."""
    folder.mkdir(parents=True, exist_ok=True)
    image, labels = blocky_scene(size, size, seed=seed, objects=size * size // 300)
    return write_tif(folder / "scene.tif", image), write_tif(folder / "labels.tif", labels)


def trained_project(folder: Path, size: int = 256, patch: int = 64) -> Path:
    """Segment, label (simulated expert) and train a project; returns its folder."""
    image, labels = scene(folder, size)
    project = folder / "project"
    steps = [
        ["segment", image, "--project", project, "--patch-size", str(patch), *SEGMENT],
        ["label", "--project", project, "--reference", labels, "--budget", "60", "--scheduler", "synchronous",
         "-q"],
        ["train", "--project", project, "--classifier", "baseline", "--scheduler", "synchronous", "-q"],
    ]
    for args in steps:
        result = mcae(*args)
        assert result.exit_code == 0, (args[0], result.output)
    return project


def command(*args: str | Path) -> list[str]:
    """The argv of ``mcae ARGS`` run by this Python."""
    return [sys.executable, "-m", "mcae.platform.cli", *[str(a) for a in args]]


def start(*args: str | Path) -> subprocess.Popen[bytes]:
    """Start ``mcae ARGS`` as its own process (output captured)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(command(*args), capture_output=True, timeout=timeout, env=env, check=False)
