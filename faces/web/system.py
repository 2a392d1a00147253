"""The server about itself: ``/healthz`` (for container health checks and
load balancers), ``/metrics`` (Prometheus) and the OpenAPI document."""

from __future__ import annotations

import asyncio

from . import metrics, openapi
from .base import BaseHandler


class HealthHandler(BaseHandler):
    """200 "ok"; 503 "starting" until the library is read and the workers
    are warm (or while no worker is there); 503 "failing" with the
    ``problems`` in sentences when People has stopped or stalled, the
    catalogue cannot be written or the disk is full (what a container's
    health check reports)."""

    async def get(self) -> None:
        services = self.services
        backend, recognition = services.backend, services.recognition
        if not (backend.ready and services.ready):
            self.write_json({"status": "starting"}, 503)
            return
        # (off the event loop: it may try the catalogue's write lock)
        problems = await asyncio.get_running_loop().run_in_executor(None, services.problems)
        about = backend.info
        found = {"status": "failing" if problems else "ok", "model": backend.model,
                 "detector": backend.family, "precision": about.precision if about else None,
                 "first_pass": about.first_pass if about else None,
                 "workers": backend.workers, "recognition": recognition.state,
                 "recognizer": recognition.family or None,
                 "recognition_backlog": recognition.backlog,
                 "recognition_redescribing": recognition.redescribing}
        roots = services.folders.list()
        if roots:  # (a folder not mounted is said, not failed: the rest works)
            found["library"] = [{"path": status.root.path, "state": status.state,
                                 "why": status.why or None, "scanning": status.scanning,
                                 "done": status.done, "total": status.total}
                                for status in roots]
        if problems:
            found["problems"] = problems
        self.write_json(found, 503 if problems else 200)


class MetricsHandler(BaseHandler):
    """Prometheus metrics; with FACES_PRIVATE, only with the token."""

    def prepare(self) -> None:
        self.require_view()

    def wants_html(self) -> bool:
        return False

    def get(self) -> None:
        self.set_header("Content-Type", metrics.CONTENT_TYPE)
        self.finish(self.web.metrics.exposition())


class OpenApiHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(openapi.document())


ROUTES = [
    (r"/healthz", HealthHandler),
    (r"/metrics", MetricsHandler),
    (r"/api/openapi.json", OpenApiHandler),
]
