# faces: a slim, non-root image. See README "Docker".
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
# Bake the model in at build time (downloaded and verified), or leave it out
# and mount it at /models. MODEL_SHA256 pins the checksum when given.
ARG FETCH_MODEL=0
ARG MODEL_SHA256=""
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FACES_DATA_DIR=/data \
    FACES_MODEL=/models/det_2.5g.onnx \
    FACES_RECOGNITION_MODEL=/models/dlib_face_recognition_resnet_model_v1.dat \
    FACES_MODEL_CACHE=/cache
# /cache: the model's int8 copy, made at start (under a second) since /models
# is mounted read-only; mount a volume there to keep it between containers.
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin faces \
    && mkdir -p /data /models /cache \
    && chown faces:faces /data /cache
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
RUN if [ "$FETCH_MODEL" = "1" ]; then \
        faces fetch-model --dest /models/det_2.5g.onnx ${MODEL_SHA256:+--sha256 "$MODEL_SHA256"} \
        && faces fetch-model --recognition --dest "$FACES_RECOGNITION_MODEL"; \
    fi
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8282
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FACES_PORT', '8282'), timeout=2).status != 200)"]
# `docker run faces` serves; `docker run faces worker tcp://scheduler:8786` is a
# detection worker, and `--entrypoint dask faces scheduler` the Dask scheduler.
ENTRYPOINT ["faces"]
CMD ["serve"]
