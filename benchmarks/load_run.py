"""The clients of ``benchmarks.load``: N closed-loop clients on one asyncio loop, each with its
own keep-alive connection (so the kernel spreads them over the ``SO_REUSEPORT`` workers).

Every request of the mix is timed from its first byte sent to its final answer. A 503 with
``Retry-After`` (the database stayed busy) is waited out and sent again (at most
``busy_retries`` times), counted under ``busy``, and the time it cost stays in the latency.
A 409 on a save is an expected outcome of competing clients (``conflicts``); the client
retries once on the current version. An error is any other answer than the call expects
(5xx, an unexpected 4xx), any transport failure (refused or reset connection, timeout)
and a bundle job whose status reads ``failed``.
After every ``sample_every`` answers the workers' RSS is sampled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from benchmarks.load_mix import Call, Mix, World
from benchmarks.load_server import RssSampler

MAX_ERROR_MESSAGES = 20


@dataclass
class RunConfig:
    clients: int = 32
    seconds: float = 60.0
    requests: int | None = None  # stop after this many requests as well (whichever comes first)
    sample_every: int = 250
    seed: int = 1
    timeout_s: float = 30.0
    think_ms: float = 0.0  # pause between a client's requests (0: closed loop, as fast as answered)
    busy_retries: int = 5


@dataclass
class RouteStats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    busy: int = 0
    errors: int = 0


@dataclass
class Stats:
    routes: dict[str, RouteStats] = field(default_factory=dict)
    answered: int = 0
    started: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    def route(self, name: str) -> RouteStats:
        return self.routes.setdefault(name, RouteStats())

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.routes.values())

    def error(self, route: RouteStats, message: str) -> None:
        route.errors += 1
        if len(self.messages) < MAX_ERROR_MESSAGES:
            self.messages.append(message)


class Runner:
    """One run of the mix against ``base``."""

    def __init__(self, base: str, world: World, config: RunConfig, sampler: RssSampler | None = None) -> None:
        self.base, self.world, self.config, self.sampler = base, world, config, sampler
        self.stats = Stats()
        self._deadline = 0.0

    def run(self) -> Stats:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._main())
        # a loop already runs in this thread (a test process that also drives a sync Playwright
        # browser): the clients get their own loop in a thread of their own
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(lambda: asyncio.run(self._main())).result()

    async def _main(self) -> Stats:
        start = time.perf_counter()
        self._deadline = time.monotonic() + self.config.seconds
        if self.sampler is not None:
            self.sampler.sample(0)
        await asyncio.gather(*(self._client(i) for i in range(self.config.clients)))
        self.stats.seconds = time.perf_counter() - start
        if self.sampler is not None and self.stats.answered % self.config.sample_every:
            self.sampler.sample(self.stats.answered)
        return self.stats

    def _more(self) -> bool:
        cap = self.config.requests
        return time.monotonic() < self._deadline and (cap is None or self.stats.started < cap)

    async def _client(self, index: int) -> None:
        mix = Mix(self.world, self.config.seed * 1000 + index)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        timeout = httpx.Timeout(self.config.timeout_s, connect=5.0)
        async with httpx.AsyncClient(base_url=self.base, timeout=timeout, limits=limits) as http:
            while self._more():
                call: Call | None = mix.next()
                while call is not None:
                    call = await self._perform(http, mix, call)
                if self.config.think_ms:
                    await asyncio.sleep(self.config.think_ms / 1000)

    async def _perform(self, http: httpx.AsyncClient, mix: Mix, call: Call) -> Call | None:
        """Send ``call`` (503s waited out); record it; the follow-up call, if any."""
        self.stats.started += 1
        route = self.stats.route(call.route)
        headers = dict(call.headers or {})
        if call.auth:
            headers["Authorization"] = f"Bearer {self.world.token}"
        began = time.perf_counter()
        try:
            for attempt in range(self.config.busy_retries + 1):
                response = await http.request(call.method, call.url, params=call.params, json=call.json,
                                              headers=headers)
                if response.status_code != 503 or attempt == self.config.busy_retries:
                    break
                route.busy += 1
                await asyncio.sleep(_retry_after(response))
        except httpx.TransportError as exc:
            route.latencies.append(time.perf_counter() - began)
            route.statuses[type(exc).__name__] += 1
            self.stats.error(route, f"{call.route} {call.method} {call.url}: {type(exc).__name__}: {exc}")
            self._answered()
            return None
        route.latencies.append(time.perf_counter() - began)
        status = response.status_code
        route.statuses[str(status)] += 1
        self._answered()
        follow: Call | None = None
        if status in call.expect and call.route == "job status" and response.json().get("state") == "failed":
            self.stats.error(route, f"job {call.url} failed: {response.json().get('error')}")
        elif status in call.expect:
            mix.remember(call, response)
            if call.save is not None:
                follow = mix.saved(call, response)
            elif call.route == "bundle job":
                follow = Call("job status", "GET", f"/api/jobs/{response.json()['id']}")
        elif status == 409 and call.save is not None:
            route.conflicts += 1
            follow = mix.saved(call, response)
        else:
            self.stats.error(route, f"{status} {call.route} {call.method} {response.request.url.path}: "
                                    f"{response.text[:200]}")
        return follow

    def _answered(self) -> None:
        self.stats.answered += 1
        if self.sampler is not None and self.stats.answered % self.config.sample_every == 0:
            self.sampler.sample(self.stats.answered)


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(10.0, max(0.05, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0
