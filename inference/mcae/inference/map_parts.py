"""The finished windows of a map under way, kept on disk so an interrupted ``mcae map`` resumes.

Each patch's core, once computed, is saved beside the map in ``.<map name>.parts/`` (one small
compressed file each, written atomically), with the digest of everything the map is made
from (``inputs.json``). A rerun with the same inputs reads the saved cores back instead of
computing them again and computes the rest; other inputs start the folder over. The COG is
still made in one go at the end (overviews need every window) and the folder goes once the
map is in place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mcae.inference.atomic import atomic_path, write_json
from mcae.inference.masks.base import PixelWindow

FORMAT = "mcae-map-parts/1"
HEADER = "<4q"  # row_off, col_off, height, width; then the class ids, zlib-compressed


def parts_folder(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.parts"


def inputs_digest(*pieces: Any, arrays: Iterable[tuple[str, np.ndarray]] = ()) -> str:
    """sha256 of JSON-able ``pieces`` and named arrays (the lookups of a map's patches)."""
    h = hashlib.sha256(json.dumps([FORMAT, *pieces], sort_keys=True, default=str).encode())
    for name, array in arrays:
        h.update(name.encode() + b"\0" + np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


class MapParts:
    """Saved windows of the map ``out`` made from inputs of digest ``digest``."""

    def __init__(self, out: str | Path, digest: str) -> None:
        self.folder, self.digest = parts_folder(out), digest
        self.kept = 0  # windows read back from an earlier run

    def open(self) -> MapParts:
        """Keep the saved windows of the same inputs; start over on any other."""
        if self.saved_digest(self.folder) != self.digest:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            write_json(self.folder / "inputs.json", {"format": FORMAT, "digest": self.digest})
        return self

    @staticmethod
    def saved_digest(folder: Path) -> str | None:
        try:
            data = json.loads((folder / "inputs.json").read_text())
        except (OSError, ValueError):
            return None
        return data.get("digest") if isinstance(data, dict) and data.get("format") == FORMAT else None

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.part"

    def load(self, key: str) -> tuple[PixelWindow, np.ndarray] | None:
        """The saved window ``key``, or None (not saved, or unreadable: it is made again)."""
        try:
            raw = self._path(key).read_bytes()
            window = PixelWindow(*struct.unpack_from(HEADER, raw))
            data = np.frombuffer(zlib.decompress(raw[struct.calcsize(HEADER):]), np.uint8).reshape(
                window.height, window.width)
        except (OSError, ValueError, struct.error, zlib.error):
            return None
        self.kept += 1
        return window, data

    def save(self, key: str, window: PixelWindow, data: np.ndarray) -> None:
        """Save one window (zlib level 1: cheaper than making the window again)."""
        header = struct.pack(HEADER, window.row_off, window.col_off, window.height, window.width)
        with atomic_path(self._path(key)) as tmp:
            tmp.write_bytes(header + zlib.compress(np.ascontiguousarray(data, np.uint8).tobytes(), 1))

    def count(self) -> int:
        return sum(1 for _ in self.folder.glob("*.part"))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
