"""The web tools' API types never go stale: the checked-in web/openapi.json is the app's
current OpenAPI document, and web/src/shared/api-types.ts is what openapi-typescript makes
of it (checked where Node and web/node_modules are present)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mcae.platform.openapi_dump import COMMAND, openapi_document, render

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
DOCUMENT = WEB / "openapi.json"
TYPES = WEB / "src" / "shared" / "api-types.ts"
GENERATOR = WEB / "node_modules" / "openapi-typescript" / "bin" / "cli.js"


def test_checked_in_openapi_document_is_current() -> None:
    assert DOCUMENT.is_file(), f"{DOCUMENT} is missing: run `{COMMAND}`"
    current = render(openapi_document())
    checked_in = DOCUMENT.read_text(encoding="utf-8")
    if checked_in != current:
        old, new = json.loads(checked_in), json.loads(current)
        changed = sorted(set(old.get("paths", {})) ^ set(new.get("paths", {})))
        changed += sorted(p for p in set(old.get("paths", {})) & set(new.get("paths", {}))
                          if old["paths"][p] != new["paths"][p])
        schemas = sorted(k for k in set(old.get("components", {}).get("schemas", {}))
                         | set(new.get("components", {}).get("schemas", {}))
                         if old.get("components", {}).get("schemas", {}).get(k)
                         != new.get("components", {}).get("schemas", {}).get(k))
        pytest.fail(f"web/openapi.json is stale (the API changed: paths {changed[:8]}, schemas {schemas[:8]}): "
                    f"regenerate it and the TypeScript types with `{COMMAND}`, and commit both", pytrace=False)


def test_the_document_is_stable() -> None:
    assert render(openapi_document()) == render(openapi_document())


def test_checked_in_types_are_generated_from_the_document(tmp_path: Path) -> None:
    assert TYPES.is_file(), f"{TYPES} is missing: run `npm run types --prefix web`"
    node = shutil.which("node")
    if node is None or not GENERATOR.is_file():
        pytest.skip("node or web/node_modules/openapi-typescript missing (npm ci --prefix web)")
    out = tmp_path / "api-types.ts"
    # the flags of `npm run types` (web/package.json), writing elsewhere
    script = json.loads((WEB / "package.json").read_text())["scripts"]["types"].split()
    assert script[0] == "openapi-typescript" and "-o" in script, script
    args = script[1:]
    args[args.index("-o") + 1] = str(out)
    subprocess.run([node, str(GENERATOR), *args], cwd=WEB, check=True, capture_output=True, timeout=120)
    assert out.read_text(encoding="utf-8") == TYPES.read_text(encoding="utf-8"), (
        "web/src/shared/api-types.ts is not what openapi-typescript makes of web/openapi.json: "
        f"run `{COMMAND}` and commit both")
