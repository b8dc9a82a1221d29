"""The city-size reads stay what they were: a patch's compact mask rows say what the full mask
read says, and the groups' class mix (plain Python now) rounds exactly as numpy's did."""

from __future__ import annotations

import numpy as np
from annotation_fixtures import Service

from mcae.inference.classes import MCAE
from mcae.platform.annotation.views import mix_percent, mix_totals


def numpy_mix(weights: list[float]) -> dict[str, float]:
    """The class mix as it was computed with numpy (the reference)."""
    w = np.asarray(weights, np.float64)
    total = w.sum()
    if not w.size or total == 0:
        return {}
    pct = 100 * w / total
    order = np.argsort(-pct, kind="stable")
    return {MCAE.get(int(i) + 1).name: round(float(pct[i]), 2) for i in order if pct[i] >= 0.01}


def test_the_class_mix_rounds_as_numpy_did() -> None:
    rng = np.random.default_rng(17)
    n = len(list(MCAE))
    cases: list[list[float]] = [[], [0.0] * n, [1.0] + [0.0] * (n - 1), [1.0] * n, [3.0, 3.0, 1.0] + [0.0] * (n - 3)]
    # weights as the groups keep them: k masks' probabilities summed (5 decimals), so the total is
    # near a whole number and a share on a .xx5 boundary rounds by the sum's last bit (a plain sum
    # of this one is 7.0, numpy's 7.000000000000001: Bareland 4.61 against 4.60 at 4 M masks)
    cases.append([4.65139, 0.17605, 0.3061, 0.28273, 0.4626, 0.40898, 0.24387, 0.20982, 0.25846])
    cases += [[round(float(v), 5) for v in rng.dirichlet(np.ones(n), int(k)).sum(axis=0)]
              for k in rng.integers(1, 30, 5000)]
    cases += [[float(v) for v in rng.integers(0, 40, n)] for _ in range(1000)]
    cases += [[round(float(v), 5) for v in rng.random(n) * rng.integers(0, 2, n)] for _ in range(1000)]
    cases.append([1.0, 2.0])  # another length: summed on its own
    totals = mix_totals(cases)  # the groups route's way: one numpy call for the mixes of the usual length
    assert totals[0] is None and totals[-1] is None and totals[5] is not None
    mismatched = [w for w, total in zip(cases, totals, strict=True)
                  if mix_percent(w) != numpy_mix(w) or mix_percent(w, total) != numpy_mix(w)
                  or list(mix_percent(w, total)) != list(numpy_mix(w))]  # the same values, in the same order
    assert not mismatched, mismatched[:3]


def test_a_patch_lists_its_masks_as_the_mask_read_says(service: Service) -> None:
    group = service.take_group(min_size=2)
    masks = service.masks(group)
    r = service.post(service.group_url(group, "/decisions"), json={  # a decided mask, with its `via`
        "class": "Water", "version": group["version"], "masks": [masks[0]["id"]]})
    assert r.status_code == 201, r.text
    patch = masks[0]["patch"]
    detail = service.get(service.p(f"/patches/{patch}")).json()
    rows = {m["mask_id"]: m for m in detail["mask_list"]}
    assert detail["masks"] == len(rows) > 0
    assert [m["mask_id"] for m in detail["mask_list"]] == sorted(rows)
    assert rows[masks[0]["mask_id"]]["class_name"] == "Water" and rows[masks[0]["mask_id"]]["via"] == "group"
    fields = ["id", "mask_id", "group", "bbox", "pred_class", "class_id", "class_name", "fine_class", "via",
              "refine", "version"]
    for mask_id in sorted(rows)[:40]:
        full = service.get(service.p(f"/patches/{patch}/masks/{mask_id}")).json()
        assert full["patch"] == patch and full["neighbourhood"] == detail["neighbourhood"]
        assert {k: full[k] for k in fields} == rows[mask_id], mask_id
