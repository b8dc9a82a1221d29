# syntax=docker/dockerfile:1
# The platform image: the viewer, tiles, the API and the annotation service (`mcae serve`),
# slim: pyproject.toml's dependencies without the `engine` extra (torch, torchvision,
# segment-anything).
# Build from the repository root (docker/compose.yaml does):
#   docker build -f docker/platform.Dockerfile -t mcae-platform .

# the comparison viewer and the expert tools (web/dist); Vite 8 needs Node 20.19+ or 22
FROM node:22-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# the Python environment, built apart so that no compiler or cache reaches the final image
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/mcae
ENV PATH="/opt/mcae/bin:$PATH"
COPY pyproject.toml README.md /src/
COPY inference /src/inference
COPY tiles /src/tiles
COPY platform /src/platform
# the project and its base dependencies: no `engine` extra, so no torch
RUN pip install --no-cache-dir /src \
 && python -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('torch', 'torchvision', 'segment_anything')))"

FROM python:3.11-slim
# uid 10001 in both images: the data volume is written by the demo (inference image) and the server
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/mcae mcae \
 && mkdir -p /data \
 && chown mcae:mcae /data
COPY --from=build /opt/mcae /opt/mcae
COPY --from=web /web/dist /app/web/dist
ENV PATH="/opt/mcae/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    MCAE_TILES__WEB_DIST=/app/web/dist \
    MCAE_TILES__CATALOG_PATH=/data/catalog.json
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["mcae", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
