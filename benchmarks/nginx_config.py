"""A local nginx running ``docker/nginx.conf``: the compose file's config, for tests and benchmarks.

The nginx image renders ``docker/nginx.conf`` with envsubst (three placeholders); here the
same file is rendered the same way and included from a small main file whose paths all lie
in one work folder, so nginx runs without root's folders (and as root when the caller is).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "docker" / "nginx.conf"
PLACEHOLDERS = ("MCAE_UPSTREAM", "MCAE_LISTEN", "MCAE_NGINX_CACHE")

MAIN = """daemon off;
master_process on;
worker_processes {workers};
{user}pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {access_log};
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ text/html html; application/json json; image/png png; image/webp webp; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    include {work}/mcae.conf;
}}
"""


def render(values: dict[str, str], text: str | None = None) -> str:
    """``docker/nginx.conf`` with its placeholders replaced; any other ``${...}`` is an error."""
    text = CONF.read_text() if text is None else text
    for name in PLACEHOLDERS:
        text = text.replace("${" + name + "}", values[name])
    left = re.findall(r"\$\{[A-Za-z_]+\}", text)
    if left:
        raise ValueError(f"placeholders left in nginx.conf: {sorted(set(left))}")
    return text


def write_config(work: Path, upstream: str, listen: str, *, workers: int = 1, access_log: bool = False) -> Path:
    """The main file and the rendered ``docker/nginx.conf`` (cache in ``work/cache``); the main file."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "cache").mkdir(exist_ok=True)
    (work / "mcae.conf").write_text(render({"MCAE_UPSTREAM": upstream, "MCAE_LISTEN": listen,
                                            "MCAE_NGINX_CACHE": str(work / "cache")}))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the work folder
    main = work / "nginx.conf"
    main.write_text(MAIN.format(workers=workers, work=work, user=user,
                                access_log=f"{work}/access.log" if access_log else "off"))
    return main
