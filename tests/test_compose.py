"""docker-compose.yml stays true to the CLI and the image."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from faces.cli import build_parser
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DASK = Path(sys.executable).with_name("dask")


def test_services_and_commands_match_the_cli() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"web", "scheduler", "worker"}
    images = {service["image"] for service in services.values()}
    assert images == {"faces"}  # one image for every role
    web = build_parser().parse_args(services["web"]["command"])
    assert web.command == "serve"
    cluster = services["web"]["environment"]["FACES_CLUSTER"]
    worker = build_parser().parse_args(services["worker"]["command"])
    assert worker.command == "worker" and worker.scheduler == cluster
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["worker"]["restart"] == "always"
    # The scheduler listens where the others look, with Dask's own options.
    scheduler = services["scheduler"]
    assert scheduler["entrypoint"] == ["dask", "scheduler"]
    port = scheduler["command"][scheduler["command"].index("--port") + 1]
    assert cluster == f"tcp://scheduler:{port}"
    known = subprocess.run([str(DASK), "scheduler", "--help"], capture_output=True,
                           text=True).stdout
    for option in (a for a in scheduler["command"] if a.startswith("--")):
        assert option in known, option
    # Data and models are volumes: the photos with the web process, the model
    # with the workers (the web process never loads it).
    assert "faces-data:/data" in services["web"]["volumes"]
    assert "./models:/models:ro" in services["worker"]["volumes"]
    assert services["worker"]["environment"]["FACES_MODEL"].startswith("/models/")
    assert "FACES_MODEL" not in services["web"]["environment"]


def test_the_image_runs_faces_with_serve_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["faces"]' in dockerfile and 'CMD ["serve"]' in dockerfile
    assert "'/src[cluster]'" in dockerfile  # the image can be a worker too
    # Missing models are fetched at first start (docker run with no model mount works),
    # and "healthy" comes within 5 s of the server being ready.
    assert "FACES_FETCH_MODELS=1" in dockerfile and "FACES_MODEL_CACHE=/cache" in dockerfile
    assert "HEALTHCHECK --interval=5s" in dockerfile
