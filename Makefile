# faces: `make` lists the targets. `make run` and `make test` set themselves
# up on first use (virtualenv, dependencies, model).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The model: FACES_MODEL if set; else one downloaded before, else the shared
# copy beside a development checkout, else models/det_2.5g.onnx (downloaded).
FACES_MODEL ?= $(firstword $(wildcard models/det_2.5g.onnx ../shared/models/scrfd_2.5g_bnkps.onnx) models/det_2.5g.onnx)
# The family `fetch-model` downloads when FACES_MODEL is missing.
FETCH_DETECTOR ?= $(if $(findstring yunet,$(notdir $(FACES_MODEL))),yunet,scrfd)
INSTALLED := $(VENV)/.installed
CLUSTER ?= tcp://127.0.0.1:8786
IMAGE ?= faces:latest
ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && echo docker || echo podman)
# The face recognizer, for People: SFace (Apache-2.0; checksummed), or the
# shared copy beside a development checkout.
SFACE := face_recognition_sface_2021dec_int8bq.onnx
FACES_RECOGNITION_MODEL ?= $(firstword $(wildcard models/$(SFACE) ../shared/models/$(SFACE)) models/$(SFACE))
# Copies made from the models (the detector's int8 copy, SFace's loadable
# copy): kept in models/ (git-ignored), whichever models are used.
FACES_MODEL_CACHE ?= models
export FACES_MODEL FACES_RECOGNITION_MODEL FACES_MODEL_CACHE

.DEFAULT_GOAL := help
.PHONY: help setup run scheduler worker test test-fast lint bench bench-scale calibration clean build-image launch docker-smoke

help: ## Show this list of targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): setup.cfg pyproject.toml package.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,cluster]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'insightface==2.1'
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the browser tests' accessibility checks will be skipped"; fi
	touch $@

$(FACES_MODEL): | $(INSTALLED)
	$(BIN)/faces fetch-model --detector $(FETCH_DETECTOR) --dest "$@"

$(FACES_RECOGNITION_MODEL): | $(INSTALLED)
	$(BIN)/faces fetch-model --recognition --dest "$@"

setup: $(INSTALLED) $(FACES_MODEL) $(FACES_RECOGNITION_MODEL) ## Create .venv, install faces and its test tools, get + verify the models, make the int8 copy
	$(BIN)/faces fetch-model --dest "$(FACES_MODEL)"
	$(BIN)/faces quantize || echo "no int8 copy: the server runs the model in float32 (see above)"

run: $(INSTALLED) $(FACES_MODEL) $(FACES_RECOGNITION_MODEL) ## Start the server on http://0.0.0.0:8282 (settings: `$(BIN)/faces serve --help`)
	$(BIN)/faces serve

scheduler: $(INSTALLED) ## A Dask scheduler on this machine's loopback, for FACES_CLUSTER=$(CLUSTER)
	$(BIN)/dask scheduler --host 127.0.0.1 --port 8786 --no-dashboard --dashboard-address 127.0.0.1:8787

worker: $(INSTALLED) $(FACES_MODEL) $(FACES_RECOGNITION_MODEL) ## Detection workers (one per core) for the scheduler at $(CLUSTER)
	$(BIN)/faces worker $(CLUSTER) --model "$(FACES_MODEL)" -- --host 127.0.0.1

test: $(INSTALLED) $(FACES_MODEL) $(FACES_RECOGNITION_MODEL) ## Run the whole test suite (real models, photos from ../shared/images)
	$(BIN)/python -m pytest

test-fast: $(INSTALLED) ## Run the tests that need no model or worker process (seconds; -m "not slow")
	$(BIN)/python -m pytest -m "not slow and not browser"

lint: $(INSTALLED) ## Check the code with ruff and the Dockerfile with hadolint
	$(BIN)/ruff check faces tests bench
	$(BIN)/hadolint Dockerfile

bench: $(INSTALLED) $(FACES_MODEL) $(FACES_RECOGNITION_MODEL) ## Benchmark both detector families, a reference server like the old app, 1k / 10k / 100k-photo libraries, memory under large photos, library folders (rescan, moves, first scan beside InsightFace), access (logins, links revoked and expired) (minutes; JSON in bench/results/)
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'face_recognition==1.3.0'
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/scale.py all --photos 1000 10000 100000
	$(BIN)/python bench/memory.py --large 300
	$(BIN)/python bench/library.py all --files 100000
	$(BIN)/python bench/access.py

bench-scale: $(INSTALLED) $(FACES_MODEL) $(FACES_RECOGNITION_MODEL) ## Only the large-library table: the real server on 1k / 10k / 100k-photo galleries (about 4 minutes; bench/results/scale.json)
	$(BIN)/python bench/scale.py all --photos 1000 10000 100000

WIDER ?= ../shared/eval/widerface/images
calibration: $(INSTALLED) $(FACES_MODEL) ## Maintainers: measure the int8 calibration table of FACES_MODEL on WIDER photos into faces/detectors/calibration/
	$(BIN)/faces quantize --calibrate "$(WIDER)" --save-table faces/detectors/calibration

build-image: ## Build the image $(IMAGE) with docker (or podman)
	$(ENGINE) build -t $(IMAGE) .

launch: ## Run the image on port 8282, model mounted from $$FACES_MODEL's folder, data in volume faces-data
	$(ENGINE) run --rm -p 8282:8282 -v "$(abspath $(dir $(FACES_MODEL))):/models:ro" \
		-e FACES_MODEL=/models/$(notdir $(FACES_MODEL)) -v faces-data:/data $(IMAGE)

docker-smoke: ## The README's Docker lines on fresh volumes (run, models fetched, upload, backup, check) and the permission and download faults (NETWORK=host: loopback only)
	scripts/docker-smoke.sh

clean: ## Remove the virtualenv and caches (keeps uploads/ and models/)
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache *.egg-info build
