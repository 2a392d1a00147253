"""What the web side keeps while the server runs: the services (the
library's use cases), the live updates hub, the limits per client, the
metrics, and the uploads in flight (shutdown waits for them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tornado.ioloop import PeriodicCallback

from ..services import Services
from ..settings import Settings
from .hub import Hub
from .metrics import Live, Metrics
from .ratelimit import FailureThrottle, RateLimiter

ENDED = 4401  # the WebSocket close code when a connection's access has ended


@dataclass
class Web:
    services: Services
    hub: Hub
    limiter: RateLimiter = field(init=False)
    throttle: FailureThrottle = field(default_factory=FailureThrottle)  # wrong tokens
    metrics: Metrics = field(init=False)
    inflight: int = 0  # uploads being received or processed
    guard: PeriodicCallback | None = None  # closes connections whose access ended

    def start_guard(self) -> None:
        """Every second, close each live connection whose session, key or
        share link has ended (revoked, expired, its user removed or their
        role changed): it stops hearing within a second."""
        if self.guard is None:
            self.guard = PeriodicCallback(self.check_connections, 1000)
            self.guard.start()

    def check_connections(self) -> int:
        return self.hub.check(self.services.accounts.still, ENDED,
                              "your session or link has ended")

    def stop_guard(self) -> None:
        if self.guard is not None:
            self.guard.stop()
            self.guard = None

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit)
        self.metrics = Metrics(self.live)
        self.services.gallery.on_job = self.metrics.detection_seconds.observe
        self.services.accounts.ended = self.check_connections

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def live(self) -> Live:
        """What the metrics read when Prometheus scrapes."""
        services, backend = self.services, self.services.backend
        recognition = services.recognition
        return Live(photos=services.gallery.count(), faces=services.gallery.face_count(),
                    pending_jobs=backend.pending, workers=backend.workers,
                    worker_restarts=backend.restarts,
                    websocket_clients=len(self.hub.clients), broadcast_drops=self.hub.dropped,
                    recognition_backlog=recognition.backlog,
                    recognition_redescribing=recognition.redescribing,
                    recognition_on=recognition.state == "on",
                    recognition_stalled=recognition.state == "stalled",
                    library=tuple((status.root.path, status.state == "ok", status.photos,
                                   status.offline, status.total, status.done)
                                  for status in services.folders.list()))
