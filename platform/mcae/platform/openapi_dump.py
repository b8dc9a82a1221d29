"""Write the app's OpenAPI document, from which the web tools' TypeScript types are generated.

    python -m mcae.platform.openapi_dump web/openapi.json

The app is built with a throwaway catalog and database in a temporary folder (nothing is
started: no lifespan, no database connection), so the document depends on the code alone.
``npm run types --prefix web`` turns the file into ``web/src/shared/api-types.ts``;
``tests/test_openapi_types.py`` fails when the checked-in file is stale.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

COMMAND = "python -m mcae.platform.openapi_dump web/openapi.json && npm run types --prefix web"


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, independent of any catalog or database."""
    from mcae.platform.app import create_app
    from mcae.platform.settings import get_settings

    with tempfile.TemporaryDirectory(prefix="mcae-openapi-") as tmp:
        root = Path(tmp)
        settings = get_settings(catalog=root / "catalog.json", database=f"sqlite:///{root / 'annotation.db'}")
        settings.tiles.web_dist, settings.jobs.dir = root / "no-web", root / "jobs"
        app = create_app(settings)
        document = app.openapi()
        app.state.database.dispose()
    return document


def render(document: dict[str, Any]) -> str:
    """Sorted, indented JSON with a final newline (stable diffs)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in {"-h", "--help"}:
        print(__doc__.strip())
        return 0 if args and args[0] in {"-h", "--help"} else 2
    out = Path(args[0])
    text = render(openapi_document())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
