"""What tiles routes need of the app's job registry (the registry itself is the platform's).

The platform's ``JobRegistry`` (``mcae.platform.jobs``) satisfies these protocols; tiles
code only ever sees them, so this layer never imports the platform. A job's ``work`` gets a
context with ``out_path`` (the file to write, in the jobs folder) and ``progress(done,
total=None, message=None, **extra)``, and may return a JSON-able dict (the job's result).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel


class JobContext(Protocol):
    """What a job's work function is given."""

    @property
    def out_path(self) -> Path: ...

    def progress(self, done: int, total: int | None = None, message: str | None = None,
                 **extra: Any) -> None: ...


Work = Callable[[JobContext], "dict[str, Any] | None"]


class JobView(Protocol):
    """A job record as routes use it."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    def public(self) -> dict[str, Any]: ...


class JobSubmitter(Protocol):
    """The registry's ``submit``."""

    def submit(self, kind: str, spec: dict[str, Any] | BaseModel, total: int, work: Work, *,
               owner: str | None = None, suffix: str = "", filename: str | None = None,
               media_type: str | None = None, extra: dict[str, Any] | None = None,
               client: str | None = None) -> tuple[JobView, bool]: ...
