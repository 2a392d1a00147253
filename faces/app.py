"""The application: routes, the services they share, and the server's life
cycle (start, warm, serve, shut down cleanly)."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.web import Application

from . import handlers
from .hub import Hub
from .pipeline import Options
from .pool import DetectorPool
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)

def _asset_root() -> Path:
    """The folder holding templates/ and static/: the source checkout, or the
    working directory when the package is installed elsewhere (the image)."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "templates").is_dir() else Path.cwd()


ROOT = _asset_root()
WS_MAX_MESSAGE = 4096
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass
class Services:
    """Everything the handlers share; the only state the server has."""

    settings: Settings
    store: Store
    pool: DetectorPool
    hub: Hub = field(default_factory=Hub)

    @property
    def options(self) -> Options:
        s = self.settings
        return Options(max_pixels=s.max_pixels, score_threshold=s.score_threshold,
                       nms_threshold=s.nms_threshold)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        pool = DetectorPool(settings.model, settings.worker_count, settings.det_size,
                            settings.max_pixels)
        return cls(settings=settings, store=Store(settings.data_dir), pool=pool)


def make_app(services: Services) -> Application:
    return Application(
        [
            (r"/", handlers.GalleryHandler),
            (r"/upload", handlers.UploadFormHandler),
            (r"/api/photos", handlers.PhotosApiHandler),
            (r"/api/photos/([^/]+)", handlers.PhotoApiHandler),
            (r"/api/detect", handlers.DetectApiHandler),
            (r"/api/openapi.json", handlers.OpenApiHandler),
            (r"/healthz", handlers.HealthHandler),
            (r"/ws", handlers.GalleryWebSocket),
            (r"/uploads/(.*)", handlers.UploadsHandler, {"path": str(services.store.photos_dir)}),
        ],
        services=services,
        template_path=str(ROOT / "templates"),
        static_path=str(ROOT / "static"),
        websocket_max_message_size=WS_MAX_MESSAGE,
        websocket_ping_interval=30,
        compress_response=True,
        debug=services.settings.debug,
    )


def make_server(app: Application, settings: Settings) -> HTTPServer:
    cap = settings.max_upload_bytes + handlers.MULTIPART_SLACK
    return HTTPServer(app, max_body_size=cap, max_buffer_size=cap,
                      idle_connection_timeout=60, body_timeout=120, xheaders=False)


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    services = Services.create(settings)
    app = make_app(services)
    server = make_server(app, settings)
    server.listen(settings.port, settings.address)
    log.info("faces listening on http://%s:%d (data in %s, model %s)", settings.address,
             settings.port, settings.data_dir, settings.model)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await services.pool.start()
        log.info("ready: %d photos in the gallery", services.store.count())
        await stop.wait()
        log.info("shutting down")
    finally:
        server.stop()
        for client in list(services.hub.clients):
            client.close(1001, "server shutting down")
        try:
            await asyncio.wait_for(server.close_all_connections(), SHUTDOWN_GRACE_SECONDS)
        except asyncio.TimeoutError:
            log.warning("connections still open after %.0fs; closing anyway",
                        SHUTDOWN_GRACE_SECONDS)
        services.pool.shutdown()
        services.store.close()
