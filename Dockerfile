# Minimal image that runs the server; mount a model and a data volume.
ARG BASE=python:3.12-slim
FROM ${BASE}
WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY faces ./faces
COPY static ./static
COPY templates ./templates
RUN pip install --no-cache-dir .
ENV FACES_DATA_DIR=/data FACES_MODEL=/models/det_2.5g.onnx
EXPOSE 8282
ENTRYPOINT ["faces", "serve"]
