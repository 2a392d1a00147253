"""The application: routes, the services they share, and the server's life
cycle (start, warm, serve, shut down cleanly)."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.netutil import bind_sockets
from tornado.web import Application

from . import access, backends, handlers, logs
from .backends import Backend
from .gallery import Gallery
from .hub import Hub
from .metrics import Live, Metrics
from .options import Options
from .people import People, RecognitionConfig
from .ratelimit import FailureThrottle, RateLimiter
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


def asset_dir(name: str) -> Path:
    """``templates`` or ``static``: inside the installed package (package
    data, wherever it is installed), else beside the package in a checkout."""
    package = Path(__file__).resolve().parent
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


WS_MAX_MESSAGE = 4096
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass
class Services:
    """Everything the handlers share; the only state the server has."""

    settings: Settings
    store: Store
    backend: Backend
    hub: Hub = field(default_factory=Hub)
    limiter: RateLimiter = field(init=False)
    throttle: FailureThrottle = field(default_factory=FailureThrottle)  # wrong tokens
    gallery: Gallery = field(init=False)
    people: People = field(init=False)
    metrics: Metrics = field(init=False)
    options: Options = field(init=False)  # the server's default processing options
    inflight: int = 0  # uploads being received or processed

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit)
        self.options = Options.from_settings(self.settings)
        self.metrics = Metrics(self.live)
        recognition = RecognitionConfig.from_settings(self.settings, self.recognises())
        self.people = People(self.store, self.backend, self.hub, recognition)
        self.gallery = Gallery(self.store, self.backend, self.hub, self.options,
                               on_job=self.metrics.detection_seconds.observe,
                               listeners=[self.people])

    def recognises(self) -> bool:
        """Whether People recognises faces: the descriptor model is here (with
        a cluster, the workers have it: only its setting is checked)."""
        model = self.settings.recognition_model
        if not str(model) or model == Path():
            return False
        if self.settings.cluster or model.is_file():
            return True
        log.warning("People is off: no face descriptor model at %s (`faces fetch-model "
                    "--recognition` gets it)", model)
        return False

    def live(self) -> Live:
        """What the metrics read when Prometheus scrapes."""
        return Live(photos=self.store.count(), faces=self.store.face_count(),
                    pending_jobs=self.backend.pending, workers=self.backend.workers,
                    worker_restarts=self.backend.restarts,
                    websocket_clients=len(self.hub.clients), broadcast_drops=self.hub.dropped)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        return cls(settings=settings, store=Store(settings.data_dir),
                   backend=backends.create(settings))


class FacesApplication(Application):
    """Every request passes here first: a trusted proxy's word on who the
    client is, then the Host check (against DNS rebinding) for every route
    but /healthz, which container health checks reach by any name."""

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        settings = self.settings["services"].settings
        proxies = settings.proxies
        if proxies:
            request.remote_ip, secure = access.forwarded_client(request.remote_ip,
                                                                request.headers, proxies)
            if secure:
                request.protocol = "https"
        if request.path != "/healthz" and not access.host_allowed(request.host,
                                                                   settings.hosts):
            return self.get_handler_delegate(request, handlers.HostRefusedHandler)
        return super().find_handler(request, **kwargs)


def make_app(services: Services) -> Application:
    return FacesApplication(
        [
            (r"/", handlers.GalleryHandler),
            (r"/upload", handlers.UploadFormHandler),
            (r"/login", handlers.LoginHandler),
            (r"/logout", handlers.LogoutHandler),
            (r"/api/photos", handlers.PhotosApiHandler),
            (r"/api/photos/([^/]+)", handlers.PhotoApiHandler),
            (r"/api/detect", handlers.DetectApiHandler),
            (r"/api/people", handlers.PeopleApiHandler),
            (r"/api/people/([0-9a-f]{12})", handlers.PersonApiHandler),
            (r"/api/people/([0-9a-f]{12})/merge", handlers.MergeApiHandler),
            (r"/api/faces/([0-9]{1,18})/person", handlers.FacePersonApiHandler),
            (r"/people", handlers.PeoplePageHandler),
            (r"/api/openapi.json", handlers.OpenApiHandler),
            (r"/healthz", handlers.HealthHandler),
            (r"/metrics", handlers.MetricsHandler),
            (r"/ws", handlers.GalleryWebSocket),
            (r"/uploads/(.*)", handlers.UploadsHandler, {"path": str(services.store.photos_dir)}),
            (r"/crops/(.*)", handlers.UploadsHandler, {"path": str(services.store.crops_dir)}),
        ],
        services=services,
        xsrf_cookies=True,
        cookie_secret=access.load_secret(services.store.data_dir),
        template_path=str(asset_dir("templates")),
        static_path=str(asset_dir("static")),
        static_handler_class=handlers.AssetsHandler,
        default_handler_class=handlers.NotFoundHandler,
        websocket_max_message_size=WS_MAX_MESSAGE,
        websocket_ping_interval=30,
        compress_response=True,
        debug=services.settings.debug,
        log_function=logs.log_request,
    )


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS (and WSS) with --certfile/--keyfile, TLS 1.2 at least."""
    if not settings.certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.certfile, settings.keyfile)
    return context


def make_server(app: Application, settings: Settings) -> HTTPServer:
    cap = settings.max_upload_bytes + handlers.MULTIPART_SLACK
    # Forwarded headers are read by FacesApplication, from trusted proxies only.
    return HTTPServer(app, max_body_size=cap, max_buffer_size=cap,
                      idle_connection_timeout=settings.request_timeout,
                      body_timeout=settings.request_timeout, xheaders=False,
                      ssl_options=tls_context(settings))


async def drain(services: Services, grace: float) -> None:
    """Wait up to ``grace`` seconds for uploads in flight to finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while services.inflight and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if services.inflight:
        log.warning("%d uploads still in flight after %.0fs; stopping anyway",
                    services.inflight, grace)


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    services = Services.create(settings)
    services.gallery.reconcile()
    app = make_app(services)
    server = make_server(app, settings)
    sockets = bind_sockets(settings.port, settings.address)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]  # the one the system chose, with --port 0
    scheme = "https" if settings.certfile else "http"
    log.info("faces listening on %s://%s:%d (data in %s, model %s)", scheme, settings.address,
             port, settings.data_dir, settings.model)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await services.backend.start()
        services.people.start()
        log.info("ready: %d photos in the gallery", services.store.count())
        await stop.wait()
        log.info("shutting down: no new connections; finishing uploads in flight")
    finally:
        server.stop()
        for client in list(services.hub.clients):
            client.close(1001, "server shutting down")
        await drain(services, SHUTDOWN_GRACE_SECONDS)
        try:
            await asyncio.wait_for(server.close_all_connections(), 2)
        except asyncio.TimeoutError:
            log.warning("connections still open; closing anyway")
        services.people.stop()
        services.backend.shutdown()
        services.store.close()
