"""The package layout: one `mcae` namespace, the standard library never shadowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def test_stdlib_platform_is_not_shadowed_from_repo_root() -> None:
    code = "import platform, sys; print(platform.__file__); print(platform.system())"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert "platform/" not in out[0].replace(str(REPO), "")  # the stdlib module, not our folder
    assert out[1] in {"Linux", "Darwin", "Windows"}


def test_every_subpackage_is_declared_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    found = set()
    for root_name, folder in config["package-dir"].items():
        base = REPO / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join([root_name, *rel]))
    assert found == declared


def test_namespace_imports() -> None:
    import mcae.inference
    import mcae.platform
    import mcae.tiles

    assert {m.__name__ for m in (mcae.inference, mcae.platform, mcae.tiles)} == {
        "mcae.inference", "mcae.platform", "mcae.tiles"}
