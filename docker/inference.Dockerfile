# syntax=docker/dockerfile:1
# The inference image: the engine with torch (CPU wheels by default) and Segment Anything, the
# `mcae` command line, and the Dask scheduler and workers that run `mcae segment` on a cluster.
# Build from the repository root (docker/compose.yaml does):
#   docker build -f docker/inference.Dockerfile -t mcae-inference .
# For a GPU: a CUDA base image, TORCH_INDEX=https://download.pytorch.org/whl/cu124 (or the
# CUDA build you need) and `--device cuda` on `mcae segment`.

FROM python:3.11-slim AS build
ARG TORCH="torch==2.14.1 torchvision==0.29.1"
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/mcae
ENV PATH="/opt/mcae/bin:$PATH"
# torch first, from its own index (CPU wheels: no CUDA libraries in the image). DL3013 (pin
# versions) is ignored because TORCH holds pinned versions, which hadolint cannot see in a variable.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" $TORCH
COPY pyproject.toml README.md /src/
COPY inference /src/inference
COPY tiles /src/tiles
COPY platform /src/platform
# the project with its `engine` extra (segment-anything; torch and torchvision are already there)
RUN pip install --no-cache-dir "/src[engine]" \
 && python -c "import torch, torchvision, segment_anything, distributed, mcae.inference"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/mcae mcae \
 && mkdir -p /data \
 && chown mcae:mcae /data
COPY --from=build /opt/mcae /opt/mcae
ENV PATH="/opt/mcae/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 \
    MCAE_TILES__CATALOG_PATH=/data/catalog.json \
    DASK_SCHEDULER_ADDRESS=tcp://dask-scheduler:8786
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# the default: a Dask worker of the scheduler above, one thread (the engine parallelises by patch);
# `mcae ...` for the engine's commands, `dask scheduler` for the scheduler
CMD ["dask", "worker", "--nworkers", "1", "--nthreads", "1", "--dashboard-address", ":8789"]
