"""Kill points for ``mcae map``: the writer SIGKILLs itself at a point the test names.

``install(point, n)`` wraps the map writer's steps in this process (a forked copy of the test,
or a fresh interpreter started by ``python rel_kill_points.py POINT N mcae-args...``) so that it
kills itself with SIGKILL exactly there, whatever the machine's load:

- ``start``: on entering the writer, before its scratch folder exists (old map, nothing left);
- ``window``: after the ``n``-th class window is written to the raw file (old map, scratch left);
- ``translate``: before the COG translation; ``validated``: after it (old map, scratch left);
- ``sidecars``: after the class sidecars are made (old map, scratch left);
- ``rename``: just before the map's rename (old map, scratch left);
- ``renamed``: just after it, before the scratch folder is removed (new map, scratch left).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

POINTS = ("start", "window", "translate", "validated", "sidecars", "rename", "renamed")
# what each point leaves: the map at the output path, and whether a scratch folder stays beside it
EXPECTED = {"start": ("old", False), "window": ("old", True), "translate": ("old", True),
            "validated": ("old", True), "sidecars": ("old", True), "rename": ("old", True),
            "renamed": ("new", True)}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, n: int = 1) -> None:
    """Make this process's ``mcae map`` kill itself at ``point`` (``n``: the window count)."""
    if point not in POINTS:
        raise ValueError(f"unknown kill point {point!r}")
    from mcae.inference import cog, mapping

    write, translate, sidecars, replace = (cog.write_class_cog, cog.translate_to_cog,
                                           cog.write_class_sidecars, os.replace)

    def counted(windows: Iterable[Any]) -> Iterator[Any]:
        for i, item in enumerate(windows, 1):
            if i > n:  # the n-th window was written by the writer's loop before it asks for the next
                _die()
            yield item
        _die()  # fewer windows than n: die after the last one was written

    def write_class_cog(path: Any, **kwargs: Any) -> Any:
        if point == "start":
            _die()
        if point == "window":
            kwargs["windows"] = counted(kwargs["windows"])
        return write(path, **kwargs)

    def translate_to_cog(*args: Any, **kwargs: Any) -> Any:
        if point == "translate":
            _die()
        done = translate(*args, **kwargs)
        if point == "validated":
            _die()
        return done

    def write_class_sidecars(*args: Any, **kwargs: Any) -> Any:
        made = sidecars(*args, **kwargs)
        if point == "sidecars":
            _die()
        return made

    def os_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        is_map = Path(dst).suffix == ".tif" and Path(src).parent.name.endswith(".d")
        if is_map and point == "rename":
            _die()
        replace(src, dst, *args, **kwargs)
        if is_map and point == "renamed":
            _die()

    mapping.write_class_cog = write_class_cog  # type: ignore[assignment]
    cog.translate_to_cog = translate_to_cog  # type: ignore[assignment]
    cog.write_class_sidecars = write_class_sidecars  # type: ignore[assignment]
    cog.os.replace = os_replace  # type: ignore[assignment]


if __name__ == "__main__":  # python rel_kill_points.py POINT N map --project ... --out ...
    install(sys.argv[1], int(sys.argv[2]))
    from mcae.platform.cli import get_app

    get_app()(sys.argv[3:], prog_name="mcae")
