# faces: a slim, non-root image. See docs/operations.md, "Docker".
# Another base (same Debian family, with python3 and python3-venv) can be given:
#   docker build --build-arg BASE=my/python:3.12 .
ARG BASE=python:3.12-slim

# --- build: a virtualenv with faces and its runtime wheels only ----------------
FROM ${BASE} AS build
RUN python3 -m venv /opt/venv
COPY setup.cfg pyproject.toml README.md /src/
COPY faces /src/faces
COPY static /src/static
COPY templates /src/templates
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check '/src[cluster]' \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && rm -rf /opt/venv/lib/python3*/site-packages/onnxruntime/tools

# --- runtime -------------------------------------------------------------------
FROM ${BASE}
# Models are not in the image: mount a folder holding them at /models, or let
# faces download the missing ones at first start into /cache (checksummed;
# FACES_FETCH_MODELS). FETCH_MODEL=1 downloads them at build time instead;
# MODEL_SHA256 pins the detector's checksum when given, MODEL_MIRROR is a web
# folder to download them from (as FACES_MODEL_MIRROR).
ARG FETCH_MODEL=0
ARG MODEL_SHA256=""
ARG MODEL_MIRROR=""
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FACES_DATA_DIR=/data \
    FACES_MODEL=/models/det_2.5g.onnx \
    FACES_RECOGNITION_MODEL=/models/face_recognition_sface_2021dec_int8bq.onnx \
    FACES_MODEL_CACHE=/cache \
    FACES_FETCH_MODELS=1
# /cache: models downloaded at start, and copies made from them at start
# (the detector's int8 copy, SFace's loadable copy: a second or two, since
# /models is read-only); mount a volume there to keep them between containers.
# One user and one group, both 10001 (what `USER` runs as, and what owns the
# folders); /backups is ready for `docker exec faces faces backup /backups/...`
# with a new volume mounted there (a new volume takes the folder's owner).
RUN groupadd --system --gid 10001 faces \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin faces \
    && mkdir -p /data /models /cache /backups \
    && chown 10001:10001 /data /cache /backups
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
RUN if [ "$FETCH_MODEL" = "1" ]; then \
        faces fetch-model --dest "$FACES_MODEL" ${MODEL_SHA256:+--sha256 "$MODEL_SHA256"} \
            ${MODEL_MIRROR:+--url "$MODEL_MIRROR/$(basename "$FACES_MODEL")"} \
        && faces fetch-model --recognition --dest "$FACES_RECOGNITION_MODEL" \
            ${MODEL_MIRROR:+--url "$MODEL_MIRROR/$(basename "$FACES_RECOGNITION_MODEL")"}; \
    fi
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8282
# Every 5 s: "healthy" at most 5 s after the server is ready (Docker 25's
# --start-interval would do better, but Debian's docker.io 20.10 refuses it).
# Python without site-packages, through http.client: the cheapest check here.
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python3", "-I", "-S", "-c", "import os, sys, http.client as h; c = h.HTTPConnection('127.0.0.1', int(os.environ.get('FACES_PORT', '8282')), timeout=2); c.request('GET', '/healthz'); sys.exit(c.getresponse().status != 200)"]
# `docker run faces` serves; `docker run faces worker tcp://scheduler:8786` is a
# detection worker, and `--entrypoint dask faces scheduler` the Dask scheduler.
ENTRYPOINT ["faces"]
CMD ["serve"]
