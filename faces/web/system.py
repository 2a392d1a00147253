"""The server about itself: ``/healthz`` (for container health checks and
load balancers), ``/metrics`` (Prometheus) and the OpenAPI document."""

from __future__ import annotations

from . import metrics, openapi
from .base import BaseHandler


class HealthHandler(BaseHandler):
    def get(self) -> None:
        backend, recognition = self.services.backend, self.services.recognition
        if not (backend.ready and self.services.ready):
            self.write_json({"status": "starting"}, 503)
            return
        about = backend.info
        self.write_json({"status": "ok", "model": backend.model, "detector": backend.family,
                         "precision": about.precision if about else None,
                         "first_pass": about.first_pass if about else None,
                         "workers": backend.workers, "recognition": recognition.state,
                         "recognizer": recognition.family or None,
                         "recognition_backlog": recognition.backlog,
                         "recognition_redescribing": recognition.redescribing})


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
