"""The tile benchmark's results: rows, the printed table, ratios and the issue's goals."""

from __future__ import annotations

from typing import Any

GOAL_COLD = 3.0
GOAL_HOT = 10.0
NOISY_CORES = 0.3  # rows during which other programs used more than this many cores are marked


def row(name: str, group: str, zoom: str, fmt: str, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"row": name, "group": group, "zoom": zoom, "fmt": fmt, **result, **extra}


def fmt_num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'row':<44} {'zoom':<7} {'fmt':<4} {'requests':>8} {'tiles/s':>9} {'p50 ms':>7} {'p95 ms':>7} " \
           f"{'p99 ms':>7} {'errors':>6} {'cpu ms':>6} {'other':>5}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        status = r.get("status")
        status_txt = " ".join(f"{k}:{v}" for k, v in status.items()) if isinstance(status, dict) else ""
        if r.get("complete") is False:
            status_txt += " INCOMPLETE (time limit)"
        if (r.get("other_cores") or 0) > NOISY_CORES:
            status_txt += " (noisy)"
        cpu = r.get("server_cpu_ms_per_req", r.get("mean_ms"))
        lines.append(f"{r['row']:<44} {r['zoom']:<7} {r['fmt']:<4} {fmt_num(r.get('requests', r.get('tiles'))):>8} "
                     f"{fmt_num(r.get('tiles_per_s')):>9} {fmt_num(r.get('p50_ms'), 2):>7} "
                     f"{fmt_num(r.get('p95_ms'), 2):>7} {fmt_num(r.get('p99_ms'), 2):>7} "
                     f"{fmt_num(r.get('errors', 0)):>6} {fmt_num(cpu, 2):>6} {fmt_num(r.get('other_cores'), 2):>5}  "
                     f"{status_txt}")
    lines.append("cpu ms: server CPU per request (both processes; in-process rows: time per tile); other: cores "
                 f"used by other programs on the machine during the row (noisy: > {NOISY_CORES:g})")
    text = "\n".join(lines)
    print(text)
    return text


Goals = list[dict[str, Any]]


def summarize(rows: list[dict[str, Any]], checks: list[dict[str, Any]], bundle: dict[str, Any] | None,
              fmts: list[str], nat_label: str, low_label: str) -> tuple[dict[str, Any], Goals, list[str]]:
    """Ratios, goals (PASS/FAIL) and the printed ratio lines of one run's rows."""

    def find(group: str, zoom: str, fmt: str = "png") -> dict[str, Any] | None:
        return next((r for r in rows if r["group"] == group and r["zoom"] == zoom and r["fmt"] == fmt), None)

    def get(group: str, zoom: str, fmt: str = "png") -> dict[str, Any]:
        found = find(group, zoom, fmt)
        if found is None:
            raise KeyError(f"no row {group} {zoom} {fmt}")
        return found

    ratios: dict[str, Any] = {}
    goals: list[dict[str, Any]] = []
    lines = []
    for zoom, word in ((nat_label, "native"), (low_label, "low")):
        oc, sc = get("ours-cold", zoom), get("stock-cold", zoom)
        oh, sh, o304 = get("ours-hot", zoom), get("stock-hot", zoom), get("ours-304", zoom)
        st = find("static", zoom)
        r_cold = oc["tiles_per_s"] / sc["tiles_per_s"]
        r_hot = oh["tiles_per_s"] / sh["tiles_per_s"]
        r_304 = o304["tiles_per_s"] / sh["tiles_per_s"]
        ratios[word] = {"cold_ours_over_stock": round(r_cold, 2), "hot_ours_over_stock_hot": round(r_hot, 2),
                        "hot_ours_over_stock_cold": round(oh["tiles_per_s"] / sc["tiles_per_s"], 2),
                        "304_ours_over_stock_hot": round(r_304, 2),
                        "p99_cold_ours_ms": oc["p99_ms"], "p99_cold_stock_ms": sc["p99_ms"],
                        "p99_hot_ours_ms": oh["p99_ms"], "p99_hot_stock_ms": sh["p99_ms"]}
        lines.append(f"{word:>8} ({zoom}): cold ours/stock {r_cold:5.2f}x  (p99 {oc['p99_ms']:.1f} vs "
                     f"{sc['p99_ms']:.1f} ms); hot ours/stock {r_hot:6.1f}x (p99 {oh['p99_ms']:.2f} vs "
                     f"{sh['p99_ms']:.1f} ms); 304 ours/stock {r_304:6.1f}x")
        if oc.get("server_cpu_ms_per_req") and sc.get("server_cpu_ms_per_req"):
            cpu_cold = sc["server_cpu_ms_per_req"] / oc["server_cpu_ms_per_req"]
            cpu_hot = sh["server_cpu_ms_per_req"] / oh["server_cpu_ms_per_req"]
            ratios[word].update(cold_cpu_stock_over_ours=round(cpu_cold, 2), hot_cpu_stock_over_ours=round(cpu_hot, 2))
            lines.append(f"{'':>8}  server CPU per tile, stock/ours: cold {cpu_cold:.2f}x "
                         f"({sc['server_cpu_ms_per_req']:.2f} vs {oc['server_cpu_ms_per_req']:.2f} ms), hot "
                         f"{cpu_hot:.1f}x")
        if st:
            ratios[word].update(cold_ours_over_static=round(oc["tiles_per_s"] / st["tiles_per_s"], 4),
                                hot_ours_over_static=round(oh["tiles_per_s"] / st["tiles_per_s"], 4))
            lines.append(f"{'':>8}  ours/static files: cold {oc['tiles_per_s'] / st['tiles_per_s']:.4f}, "
                         f"hot {oh['tiles_per_s'] / st['tiles_per_s']:.3f} (static {st['tiles_per_s']:,.0f} tiles/s)")
        nat, sts = find("ours-native-cold", zoom), find("stock-serving-cold", zoom)
        if nat and sts:  # the gain, split: serving layout vs everything else of ours
            ratios[word].update(cold_serving_copy_over_none=round(oc["tiles_per_s"] / nat["tiles_per_s"], 2),
                                cold_ours_no_copy_over_stock=round(nat["tiles_per_s"] / sc["tiles_per_s"], 2),
                                cold_ours_over_stock_on_serving_copy=round(oc["tiles_per_s"] / sts["tiles_per_s"], 2),
                                cold_stock_on_serving_copy_over_stock=round(sts["tiles_per_s"] / sc["tiles_per_s"], 2))
            lines.append(f"{'':>8}  split: serving copy {oc['tiles_per_s'] / nat['tiles_per_s']:.2f}x ours without "
                         f"it; ours without it {nat['tiles_per_s'] / sc['tiles_per_s']:.2f}x stock; on the serving "
                         f"copy, ours {oc['tiles_per_s'] / sts['tiles_per_s']:.2f}x stock "
                         f"(stock on it {sts['tiles_per_s'] / sc['tiles_per_s']:.2f}x stock on the UTM file)")
        for fmt in fmts[1:]:
            w = find("ours-cold", zoom, fmt)
            if w:
                lines.append(f"{'':>8}  ours cold {fmt}/png: {w['tiles_per_s'] / oc['tiles_per_s']:.2f}x")
        goals.append({"goal": f"cold tiles >= {GOAL_COLD:g}x stock TiTiler at {word} zoom ({zoom}), the same "
                              "catalog map (stock reads its UTM file), p99 no worse",
                      "pass": r_cold >= GOAL_COLD and oc["p99_ms"] <= sc["p99_ms"] and oc["errors"] == 0,
                      "detail": f"{r_cold:.2f}x, p99 {oc['p99_ms']:.1f} vs {sc['p99_ms']:.1f} ms, "
                                f"errors {oc['errors']}"})
        goals.append({"goal": f"hot tiles >= {GOAL_HOT:g}x stock TiTiler at {word} zoom ({zoom})",
                      "pass": r_hot >= GOAL_HOT and oh["errors"] == 0,
                      "detail": f"{r_hot:.1f}x (304s: {r_304:.1f}x), errors {oh['errors']}"})
    etag_ok = all(c["ok"] for c in checks)
    goals.append({"goal": "correct ETag / 304 behaviour", "pass": etag_ok,
                  "detail": f"{sum(c['ok'] for c in checks)}/{len(checks)} checks"})
    if bundle:
        oc = get("ours-cold", nat_label)
        ratios["bundle_over_endpoint_cold_native"] = round(bundle["tiles_per_s"] / oc["tiles_per_s"], 2)
        lines.append(f"bundle export {bundle['tiles_per_s']:,.1f} tiles/s / tile endpoint cold native "
                     f"{oc['tiles_per_s']:,.1f} tiles/s = {ratios['bundle_over_endpoint_cold_native']:.2f}x")
    return ratios, goals, lines
