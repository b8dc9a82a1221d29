"""The load generator of the tile benchmark: a bounded list of requests, 8 keep-alive connections.

``wrk`` (``apt-get install -y wrk``) drives every HTTP row when installed: one thread,
``connections`` keep-alive connections, a Lua script that walks a fixed list of
requests (path + optional ``If-None-Match``) in order, counts status codes and stops the
run after the list's ``count`` responses (a wall-clock limit stops it regardless).
Each list entry is sent at most once unless the list is meant to repeat (hot rows),
and the list holds ``connections`` spare entries so that no entry repeats at the end.
Without ``wrk`` the same run is made by a plain asyncio HTTP/1.1 client (slower: the
client then takes a larger share of the 2 cores).

A run's result: requests, seconds, tiles/s, p50/p95/p99/max latency (ms), status counts,
errors (socket errors, timeouts, any status other than 200/204/304, and 304s where a
200 was expected or the reverse) and body bytes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk")

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
int kill(int pid, int sig);
int getpid(void);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end
local list, heads, n, i, answered = {}, {}, 0, 0, 0
counts = {}
t_first, t_last = 0, 0
local target = tonumber(os.getenv("BENCH_COUNT"))
function init(args)
  for line in io.lines(os.getenv("BENCH_LIST")) do
    local path, etag = line:match("^([^\t]+)\t?(.*)$")
    n = n + 1
    list[n] = path
    if etag ~= "" then heads[n] = {["If-None-Match"] = etag} end
  end
end
function request()
  i = i + 1
  if i == 1 then t_first = now_us() end
  local k = ((i - 1) % n) + 1
  return wrk.format("GET", list[k], heads[k])
end
function response(status, headers, body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
  answered = answered + 1
  if answered == target then
    t_last = now_us()
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), 2)  -- SIGINT: wrk's main thread stops sleeping and reports now
  end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local all, first, last = {}, nil, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
    local f, l = t:get("t_first"), t:get("t_last")
    if first == nil or f < first then first = f end
    if l > last then last = l end
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  local measured = summary.duration
  if last > 0 and first ~= nil then measured = last - first end
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "wrk_duration_us": %d, "bytes": %d, "errors": {"connect": %d, ' ..
    '"read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p95": %d, ' ..
    '"p99": %d, "max": %d, "mean": %f}, "status": {%s}}',
    summary.requests, measured, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ", ")))
  out:close()
end
"""


@dataclass
class Request:
    path: str
    if_none_match: str | None = None


def run_load(base_url: str, requests: list[Request], count: int, *, connections: int = 8,
             expect: tuple[int, ...] = (200, 204), time_limit_s: float = 300.0,
             client: str | None = None) -> dict[str, Any]:
    """Send ``count`` requests walking ``requests`` in order (cycling when ``count`` exceeds it)."""
    if not requests or count <= 0:
        raise ValueError("nothing to request")
    use = client or ("wrk" if WRK else "asyncio")
    if use == "wrk":
        raw = _run_wrk(base_url, requests, count, connections, time_limit_s)
    else:
        raw = asyncio.run(_run_asyncio(base_url, requests, count, connections, time_limit_s))
    status = {int(k): v for k, v in raw["status"].items()}
    unexpected = sum(v for k, v in status.items() if k not in expect)
    socket_errors = sum(v for k, v in raw["errors"].items() if k != "status")
    seconds = raw["duration_us"] / 1e6
    answered = sum(status.values())
    lat = raw["latency_us"]
    return {"client": use, "connections": connections, "requests": answered,
            "seconds": round(seconds, 3), "tiles_per_s": round(answered / seconds, 1) if seconds else 0.0,
            "p50_ms": lat["p50"] / 1e3, "p95_ms": lat["p95"] / 1e3, "p99_ms": lat["p99"] / 1e3,
            "max_ms": lat["max"] / 1e3, "mean_ms": round(lat["mean"] / 1e3, 3),
            "status": dict(sorted(status.items())), "errors": unexpected + socket_errors,
            "socket_errors": raw["errors"], "bytes": raw["bytes"],
            "complete": answered >= count}


def _run_wrk(base_url: str, requests: list[Request], count: int, connections: int,
             time_limit_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcae-wrk-") as tmp:
        folder = Path(tmp)
        script, listing, out = folder / "bench.lua", folder / "list.txt", folder / "out.json"
        script.write_text(LUA)
        listing.write_text("".join(f"{r.path}\t{r.if_none_match or ''}\n" for r in requests))
        env = {"BENCH_LIST": str(listing), "BENCH_OUT": str(out), "BENCH_COUNT": str(count),
               "PATH": "/usr/bin:/bin"}
        duration = max(1, int(time_limit_s))
        cmd = [WRK or "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
               "-s", str(script), base_url]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return json.loads(out.read_text())


async def _run_asyncio(base_url: str, requests: list[Request], count: int, connections: int,
                       time_limit_s: float) -> dict[str, Any]:
    """The same run without wrk: HTTP/1.1 keep-alive over asyncio streams."""
    host_port = base_url.split("://", 1)[1].rstrip("/")
    host, port = host_port.rsplit(":", 1)
    latencies: list[float] = []
    status: dict[str, int] = {}
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    nbytes = 0
    state = {"issued": 0}
    deadline = time.perf_counter() + time_limit_s

    async def worker() -> None:
        nonlocal nbytes
        reader = writer = None
        try:
            while state["issued"] < count and time.perf_counter() < deadline:
                k = state["issued"]
                state["issued"] += 1
                if writer is None:
                    try:
                        reader, writer = await asyncio.open_connection(host, int(port))
                    except OSError:
                        errors["connect"] += 1
                        return
                assert reader is not None
                req = requests[k % len(requests)]
                head = f"GET {req.path} HTTP/1.1\r\nHost: {host_port}\r\n"
                if req.if_none_match:
                    head += f"If-None-Match: {req.if_none_match}\r\n"
                t0 = time.perf_counter()
                writer.write((head + "\r\n").encode())
                try:
                    line = await reader.readline()
                    code = line.split(b" ", 2)[1].decode()
                    length, close = 0, line.startswith(b"HTTP/1.0")
                    while True:
                        h = await reader.readline()
                        if h in (b"\r\n", b""):
                            break
                        name, _, value = h.partition(b":")
                        name, value = name.strip().lower(), value.strip().lower()
                        if name == b"content-length":
                            length = int(value)
                        elif name == b"connection":
                            close = value == b"close" or (close and value != b"keep-alive")
                    body = await reader.readexactly(length) if length else b""
                except (OSError, IndexError, asyncio.IncompleteReadError):
                    errors["read"] += 1
                    return
                latencies.append(time.perf_counter() - t0)
                status[code] = status.get(code, 0) + 1
                nbytes += len(line) + len(body)
                if close:
                    writer.close()
                    writer = None
        finally:
            if writer is not None:
                writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    duration = time.perf_counter() - t0
    lat = sorted(latencies) or [0.0]

    def pct(p: float) -> int:
        return int(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e6)

    return {"requests": len(latencies), "duration_us": int(duration * 1e6), "bytes": nbytes, "errors": errors,
            "latency_us": {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": int(lat[-1] * 1e6),
                           "mean": sum(lat) / len(lat) * 1e6},
            "status": status}
