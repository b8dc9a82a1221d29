"""Failed authentications, throttled: per client address and per token id, with backoff.

Guessing a token at scale is refused in three ways, all per server process and in memory:

- :class:`Backoff`: after ``failures_allowed`` failures of one key (a client address, a token
  id) within ``failure_window_s``, that key is refused with 429 and ``Retry-After`` for
  ``backoff_base_s * 2**(extra failures)`` seconds, at most ``backoff_max_s``;
- :class:`FailureMemo`: a token that just failed (by a hash of it) fails again at once, for
  ``failure_memory_s``, without another scrypt;
- :class:`VerifySlots`: at most ``max_concurrent_verifications`` scrypt verifications run at
  the same time; one more is answered 503 with ``Retry-After`` (it never waits on a thread).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mcae.platform.errors import Saturated, TooManyRequests

Clock = Callable[[], float]
MAX_KEYS = 100_000  # keys remembered at most (the oldest forgotten first beyond it)


@dataclass
class _Failures:
    count: int
    last: float


class Backoff:
    """Failure counts per key; a key over its allowance waits, doubling with each failure."""

    def __init__(self, allowed: int, window_s: float, base_s: float, max_s: float,
                 clock: Clock = time.monotonic) -> None:
        self.allowed, self.window_s, self.base_s, self.max_s = allowed, window_s, base_s, max_s
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, _Failures] = {}

    def wait_s(self, key: str) -> float:
        """Seconds ``key`` must still wait (0: it may try)."""
        with self._lock:
            found = self._current(key)
            if found is None or found.count < self.allowed:
                return 0.0
            return max(0.0, found.last + self._delay(found.count) - self.clock())

    def check(self, *keys: str) -> None:
        """429 with ``Retry-After`` while any of ``keys`` is backing off."""
        wait = max((self.wait_s(key) for key in keys), default=0.0)
        if wait > 0:
            raise TooManyRequests("too many failed authentications from this address or for this token; "
                                  f"try again in {math.ceil(wait)} s", retry_after=wait)

    def fail(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                found = self._current(key)
                if found is None:
                    if len(self._seen) >= MAX_KEYS:
                        self._seen.pop(next(iter(self._seen)))
                    self._seen[key] = _Failures(1, now)
                else:
                    found.count, found.last = found.count + 1, now

    def forgive(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def _delay(self, count: int) -> float:
        return float(min(self.max_s, self.base_s * 2 ** min(count - self.allowed, 32)))

    def _current(self, key: str) -> _Failures | None:
        found = self._seen.get(key)
        if found is not None and self.clock() - found.last > self.window_s + self._delay(found.count):
            del self._seen[key]  # quiet for a whole window after its last wait: forgotten
            return None
        return found


class FailureMemo:
    """Token hashes that failed recently: failed again without a scrypt."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def __contains__(self, key: object) -> bool:
        with self._lock:
            until = self._until.get(str(key))
            if until is None:
                return False
            if until < self.clock():
                del self._until[str(key)]
                return False
            return True

    def add(self, key: str) -> None:
        with self._lock:
            if len(self._until) >= MAX_KEYS:
                self._until.pop(next(iter(self._until)))
            self._until[key] = self.clock() + self.seconds


class VerifySlots:
    """At most ``slots`` scrypt verifications at a time; one more is a 503, never a wait."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._free = threading.BoundedSemaphore(self.slots)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise Saturated("too many token verifications at once; try again in a second")
        try:
            yield
        finally:
            self._free.release()


@dataclass
class AuthGuard:
    """What ``authenticate`` consults: the backoff, the failure memo and the scrypt slots."""

    backoff: Backoff
    failed: FailureMemo
    slots: VerifySlots

    @classmethod
    def from_settings(cls, auth: object, clock: Clock = time.monotonic) -> AuthGuard:
        get = auth.__getattribute__
        return cls(Backoff(get("failures_allowed"), get("failure_window_s"), get("backoff_base_s"),
                           get("backoff_max_s"), clock),
                   FailureMemo(get("failure_memory_s"), clock), VerifySlots(get("max_concurrent_verifications")))
