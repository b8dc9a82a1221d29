"""What the benchmarks share: where the data is, thread limits, results, machine facts."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
# ../shared/data relative to the repository root, unless MCAE_SHARED_DATA says otherwise.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def shared_data_dir() -> Path:
    """The shared data folder (it may not exist: see :func:`require_data`)."""
    return Path(os.environ.get("MCAE_SHARED_DATA", DEFAULT_SHARED_DATA)).expanduser()


def require_data(*relative: str) -> Path:
    """The shared data folder, or a clean exit (status 0) when something needed is missing."""
    root = shared_data_dir()
    for rel in relative:
        if not (root / rel).exists():
            skip(f"{root / rel} not found (set MCAE_SHARED_DATA to the shared data folder)")
    return root


def skip(reason: str) -> NoReturn:
    print(f"SKIPPED: {reason}")
    sys.exit(0)


def set_thread_env(threads: int) -> None:
    """Thread caps for processes started from now on (BLAS / OpenMP read them at import)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def limit_threads(threads: int | None) -> None:
    """Cap BLAS, OpenMP and torch threads in this process (None: leave the defaults).

    Dask workers of ``mcae`` run with ``OMP_NUM_THREADS=1`` (distributed sets it), so
    one thread is what a patch or a neighbourhood gets in production.
    """
    if threads is None:
        return
    set_thread_env(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)  # applies process-wide until changed
    import torch

    torch.set_num_threads(threads)


def machine_info() -> dict[str, Any]:
    """Facts that make timings comparable (or not)."""
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpu_count": os.cpu_count()}
    with contextlib.suppress(OSError):
        info["load_average_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>`` (JSON) and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    return path


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and arrays, paths and anything else printable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
