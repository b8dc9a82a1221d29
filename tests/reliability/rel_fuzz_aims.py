"""Hooks that aim part of the fuzzer's request bodies and headers at what exists, so that writes
can succeed (201), clips and statistics cover the layers (200) and bundles start (202).

A generated body keeps the schema's shape; some of its fields are replaced by existing values:
class names and ids, the aimed group's mask ids, the aimed patch's mask numbers, small
versions, a bbox inside the test layers, a polygon there (statistics, clip) and low zooms.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from schemathesis.hooks import HookDispatcher, HookScope

from mcae.inference.classes import MCAE

CLASSES: list[Any] = [*MCAE.names, *MCAE.ids, "Unknown"]


def polygon(bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def inner_bbox(bounds: tuple[float, float, float, float], share: float = 0.3) -> tuple[float, float, float, float]:
    """A box around the middle of ``bounds``, ``share`` of its size."""
    w, s, e, n = bounds
    cx, cy, hx, hy = (w + e) / 2, (s + n) / 2, (e - w) * share / 2, (n - s) * share / 2
    return (cx - hx, cy - hy, cx + hx, cy + hy)


def _field(name: str, real: dict[str, list[Any]]) -> st.SearchStrategy | None:
    """What an existing value of a body field looks like (None: leave the field as generated)."""
    bbox = st.sampled_from(real["bbox"])
    choices: dict[str, st.SearchStrategy] = {
        "class": st.sampled_from(CLASSES),
        "masks": st.one_of(st.none(), st.lists(st.sampled_from(real["mask_row"]), min_size=1, max_size=4,
                                               unique=True)),
        "rows": st.lists(st.fixed_dictionaries({"mask": st.sampled_from(real["mask"]),
                                                "class": st.sampled_from(CLASSES)}), min_size=1, max_size=3),
        "version": st.integers(1, 4),  # versions start at 1
        "fine_class": st.none(),
        "second_pass": st.just(False),
        "comment": st.none(),
        "bbox": bbox.map(list),
        "district": st.none(),
        "minzoom": st.just(15),
        "maxzoom": st.integers(15, 16),
        "fine_classes": st.just({"Tree": ["Broadleaf", "Conifer"]}),
        "double_share": st.sampled_from([0.0, 0.1]),
    }
    return choices.get(name)


def aimed_hooks(real: dict[str, list[Any]]) -> HookDispatcher:
    """A test-scope dispatcher for ``as_strategy(hooks=...)`` of the aimed cases."""
    hooks = HookDispatcher(scope=HookScope.TEST)

    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
        path = context.operation.path if context.operation is not None else ""
        if path.endswith(("/statistics", "/clip")):  # a GeoJSON body: a polygon on the layers
            return st.one_of(st.just(body), st.sampled_from(real["bbox"]).map(polygon),
                             st.sampled_from(real["bbox"]).map(lambda b: {"type": "Feature", "properties": {},
                                                                          "geometry": polygon(b)}))
        if not isinstance(body, dict):
            return st.just(body)
        fields = {k: s for k in body if (s := _field(k, real)) is not None}
        if not fields:
            return st.just(body)
        return st.one_of(st.just(body), st.fixed_dictionaries(fields).map(lambda found: {**body, **found}))

    def flatmap_headers(context: Any, headers: Any) -> st.SearchStrategy:
        if not isinstance(headers, dict) or "If-Match" not in headers:
            return st.just(headers)
        return st.integers(1, 4).map(lambda v: {**headers, "If-Match": f'"{v}"'})

    hooks.register_hook_with_name(flatmap_body, "flatmap_body")
    hooks.register_hook_with_name(flatmap_headers, "flatmap_headers")
    return hooks
