"""Figures and the printed table of ``benchmarks.load``: latency per route, errors, worker RSS."""

from __future__ import annotations

from typing import Any

from benchmarks.load_run import Stats
from benchmarks.load_server import RssSample

MB = 1024 * 1024


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def route_figures(stats: Stats) -> dict[str, dict[str, Any]]:
    """Per route: count, p50/p99/max ms, 409s, 503s waited out, errors, statuses."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(stats.routes):
        r = stats.routes[name]
        out[name] = {"count": len(r.latencies), "p50_ms": 1000 * percentile(r.latencies, 50),
                     "p99_ms": 1000 * percentile(r.latencies, 99),
                     "max_ms": 1000 * max(r.latencies, default=float("nan")),
                     "conflicts_409": r.conflicts, "busy_503": r.busy, "errors": r.errors,
                     "statuses": dict(r.statuses)}
    return out


def totals(stats: Stats) -> dict[str, Any]:
    every = [x for r in stats.routes.values() for x in r.latencies]
    return {"requests": stats.answered, "seconds": round(stats.seconds, 2),
            "requests_per_s": stats.answered / stats.seconds if stats.seconds else float("nan"),
            "errors": stats.errors, "conflicts_409": sum(r.conflicts for r in stats.routes.values()),
            "busy_503": sum(r.busy for r in stats.routes.values()),
            "p50_ms": 1000 * percentile(every, 50), "p99_ms": 1000 * percentile(every, 99),
            "first_errors": stats.messages}


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two distinct x)."""
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def rss_figures(samples: list[RssSample], warmup: int,
                fresh: dict[int, int] | None = None) -> dict[int, dict[str, Any]]:
    """Per worker, in MB: fresh (before any request), start and end of the run, after the
    warm-up (the first sample at ``warmup`` requests or more), peak; growth after the warm-up
    (end - warm) and its least-squares rate per 1,000 requests (all workers' requests); open
    file descriptors at the start and the end."""
    out: dict[int, dict[str, Any]] = {}
    pids = sorted({pid for s in samples for pid in s.rss})
    for pid in pids:
        mine = [s for s in samples if pid in s.rss]
        warm = next((s for s in mine if s.requests >= warmup), mine[-1])
        after = [s for s in mine if s.requests >= warm.requests]
        out[pid] = {
            "fresh_mb": fresh[pid] / MB if fresh and pid in fresh else None,
            "start_mb": mine[0].rss[pid] / MB, "warm_mb": warm.rss[pid] / MB, "end_mb": mine[-1].rss[pid] / MB,
            "peak_mb": max(s.rss[pid] for s in mine) / MB,
            "growth_mb": (mine[-1].rss[pid] - warm.rss[pid]) / MB,
            "growth_mb_per_1000": 1000 * slope([(s.requests, s.rss[pid] / MB) for s in after]),
            "warm_at_requests": warm.requests, "end_at_requests": mine[-1].requests,
            "fds_start": mine[0].fds.get(pid), "fds_warm": warm.fds.get(pid), "fds_end": mine[-1].fds.get(pid),
            "samples": len(mine),
        }
    return out


def table(routes: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None = None) -> str:
    base_cols = f"{'p50 1c':>8}{'p99 1c':>8}" if baseline else ""
    head = (f"{'route':24}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'409':>6}{'503':>5}{'errors':>8}"
            + base_cols)
    lines = [head, "-" * len(head)]
    for name, r in routes.items():
        line = (f"{name:24}{r['count']:>8}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}"
                f"{r['conflicts_409']:>6}{r['busy_503']:>5}{r['errors']:>8}")
        if baseline:
            b = baseline.get(name)
            line += f"{b['p50_ms']:>8.1f}{b['p99_ms']:>8.1f}" if b else f"{'-':>8}{'-':>8}"
        lines.append(line)
    return "\n".join(lines)


def rss_table(rss: dict[int, dict[str, Any]]) -> str:
    head = (f"{'worker':>8}{'fresh':>8}{'start':>8}{'warm':>8}{'end':>8}{'peak':>8}{'growth':>9}"
            f"{'/1000 req':>11}{'fds':>10}")
    lines = [head + "   (MB; growth = end - warm)", "-" * len(head)]
    for pid, r in rss.items():
        fresh = f"{r['fresh_mb']:>8.1f}" if r["fresh_mb"] is not None else f"{'-':>8}"
        lines.append(f"{pid:>8}{fresh}{r['start_mb']:>8.1f}{r['warm_mb']:>8.1f}{r['end_mb']:>8.1f}"
                     f"{r['peak_mb']:>8.1f}{r['growth_mb']:>+9.1f}{r['growth_mb_per_1000']:>+11.3f}"
                     f"{str(r['fds_start']) + '>' + str(r['fds_end']):>10}")
    return "\n".join(lines)
