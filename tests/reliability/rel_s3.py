"""A real S3-compatible endpoint on loopback for tests: moto's server (``moto_server``) in its
own process, and the ``MCAE_S3_*`` / ``AWS_*`` environment that points MCAE at it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import free_port as _free_port

BIN = Path(sys.executable).parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mcae-test", "AWS_SECRET_ACCESS_KEY": "mcae-test-secret"}


@dataclass
class S3Server:
    """A running moto server: its endpoint and the environment that selects it."""

    host: str  # 127.0.0.1:PORT
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def env(self) -> dict[str, str]:
        """MCAE's object storage settings for this server (credentials the usual AWS way)."""
        return {"MCAE_S3_ENABLED": "true", "MCAE_S3_ENDPOINT": self.host, "MCAE_S3_HTTPS": "false",
                "MCAE_S3_VIRTUAL_HOSTING": "false", "MCAE_S3_REGION": "us-east-1", **CREDENTIALS}

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])




@contextlib.contextmanager
def moto_server(log: Path, timeout: float = 30.0) -> Iterator[S3Server]:
    """Start ``moto_server -H 127.0.0.1 -p PORT``, wait until it answers, stop it afterwards."""
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield S3Server(f"127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def object_storage_env(server: S3Server) -> Iterator[None]:
    """The process environment pointing at ``server`` while the block runs; afterwards the
    environment is as it was (an app's GDAL options and object store are its own)."""
    saved = dict(os.environ)
    os.environ.update(server.env())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
