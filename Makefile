# faces: `make` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FACES_MODEL ?= models/det_2.5g.onnx
IMAGE ?= faces:latest
ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && echo docker || echo podman)
export FACES_MODEL

.DEFAULT_GOAL := help
.PHONY: help setup run test lint bench clean build-image launch docker-smoke

help: ## Show this list of targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Create .venv, install faces and its test tools, download + verify the model
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'insightface==2.1'
	$(BIN)/faces fetch-model --dest "$(FACES_MODEL)"

run: ## Start the server on http://0.0.0.0:8282 (settings: `$(BIN)/faces serve --help`)
	$(BIN)/faces serve

test: ## Run the test suite (real model, photos from ../shared/images)
	$(BIN)/python -m pytest

lint: ## Check the code with ruff and the Dockerfile with hadolint
	$(BIN)/ruff check faces tests bench
	$(BIN)/hadolint Dockerfile

bench: ## Benchmark against a reference server like the old app (a few minutes; JSON in bench/results/)
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'face_recognition==1.3.0'
	$(BIN)/python bench/bench.py

build-image: ## Build the image $(IMAGE) with docker (or podman)
	$(ENGINE) build -t $(IMAGE) .

launch: ## Run the image on port 8282, model mounted from $$FACES_MODEL's folder, data in volume faces-data
	$(ENGINE) run --rm -p 8282:8282 -v "$(abspath $(dir $(FACES_MODEL))):/models:ro" \
		-e FACES_MODEL=/models/$(notdir $(FACES_MODEL)) -v faces-data:/data $(IMAGE)

docker-smoke: ## Build, run, wait healthy, upload a photo, check its face count, stop
	scripts/docker-smoke.sh

clean: ## Remove the virtualenv and caches (keeps uploads/ and models/)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
