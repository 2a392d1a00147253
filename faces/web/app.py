"""The web application: every resource module's routes in one Tornado
application, the HTTP server, and the server's life cycle (start, warm,
serve, shut down cleanly)."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from pathlib import Path
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.httputil import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
)
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from .. import logs
from ..services import Services
from ..settings import Settings
from ..vision import fetch
from . import access, account, files, library, live, people, photos, session, shares, system, users
from .base import MULTIPART_SLACK, HostRefusedHandler, NotFoundHandler
from .files import AssetsHandler
from .hub import Hub
from .state import Web

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0


def asset_dir(name: str) -> Path:
    """``templates`` or ``static``: inside the installed package (package
    data, wherever it is installed), else beside the package in a checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


class FacesApplication(Application):
    """Every request passes here first: a trusted proxy's word on who the
    client is, then the Host check (against DNS rebinding) for every route
    but /healthz, which container health checks reach by any name."""

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        settings = self.settings["web"].settings
        proxies = settings.proxies
        if proxies:
            request.remote_ip, secure = access.forwarded_client(request.remote_ip,
                                                                request.headers, proxies)
            if secure:
                request.protocol = "https"
        if request.path != "/healthz" and not access.host_allowed(request.host,
                                                                   settings.hosts):
            return self.get_handler_delegate(request, HostRefusedHandler)
        return super().find_handler(request, **kwargs)


def make_app(web: Web) -> Application:
    services = web.services
    web.start_guard()
    routes = [*photos.ROUTES, *people.ROUTES, *library.ROUTES, *session.ROUTES, *account.ROUTES,
              *shares.ROUTES, *users.ROUTES, *system.ROUTES, *live.ROUTES,
              *files.routes(services.files)]
    return FacesApplication(
        routes,
        web=web,
        xsrf_cookies=True,
        cookie_secret=access.load_secret(services.files.data_dir),
        template_path=str(asset_dir("templates")),
        static_path=str(asset_dir("static")),
        static_handler_class=AssetsHandler,
        default_handler_class=NotFoundHandler,
        websocket_max_message_size=live.MAX_MESSAGE,
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


class Preparing(RequestHandler):
    """Every request while the models are fetched (before the application
    exists): 503, saying so, and when to try again."""

    def prepare(self) -> None:
        self.set_status(503)
        self.set_header("Retry-After", "5")
        self.set_header("Cache-Control", "no-store")
        self.finish({"status": "starting",
                     "why": "downloading the models (progress in the server's log)"})


class Switch(HTTPServerConnectionDelegate):
    """What the HTTP server hands each request to: the application once it
    exists; until then one that answers 503 (the port is open at once)."""

    def __init__(self, target: HTTPServerConnectionDelegate) -> None:
        self.target = target

    def start_request(self, server_conn: object, request_conn: HTTPConnection
                      ) -> HTTPMessageDelegate:
        return self.target.start_request(server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.target.on_close(server_conn)


def make_server(app: HTTPServerConnectionDelegate, settings: Settings) -> HTTPServer:
    cap = settings.max_upload_bytes + MULTIPART_SLACK
    # Forwarded headers are read by FacesApplication, from trusted proxies only.
    return HTTPServer(app, max_body_size=cap, max_buffer_size=cap,
                      idle_connection_timeout=settings.request_timeout,
                      body_timeout=settings.request_timeout, xheaders=False,
                      ssl_options=tls_context(settings))


async def drain(web: Web, grace: float) -> None:
    """Wait up to ``grace`` seconds for uploads in flight to finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while web.inflight and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if web.inflight:
        log.warning("%d uploads still in flight after %.0fs; stopping anyway",
                    web.inflight, grace)


async def serve(settings: Settings) -> None:
    """Listen at once; start the workers and read the library meanwhile
    (``/healthz`` answers 503 "starting", changes 503 with Retry-After,
    until then); run until SIGINT or SIGTERM, then stop cleanly."""
    hub = Hub()
    loop = asyncio.get_running_loop()
    fetching = settings.fetch_models and not settings.cluster
    services = None
    if not (fetching and await loop.run_in_executor(None, fetch.to_download, settings)):
        if fetching:  # (each one there, or fetched before into the cache)
            settings = fetch.provide_all(settings)
        services = Services.create(settings, events=hub)  # (the data directory checked first)
    switch = Switch(Application([(r".*", Preparing)]))
    server = make_server(switch, settings)
    sockets = bind_sockets(settings.port, settings.address)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]  # the one the system chose, with --port 0
    scheme = "https" if settings.certfile else "http"
    log.info("faces listening on %s://%s:%d (data in %s, model %s)", scheme, settings.address,
             port, settings.data_dir, settings.model)
    if services is None:  # models to download first, with the port open meanwhile
        try:
            settings = await loop.run_in_executor(None, fetch.provide_all, settings)
            services = Services.create(settings, events=hub)
        except BaseException:
            server.stop()
            raise
    web = Web(services, hub)
    switch.target = make_app(web)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await services.start()
        log.info("ready: %d photos in the gallery", services.gallery.count())
        await stop.wait()
        log.info("shutting down: no new connections; finishing uploads in flight")
    finally:
        server.stop()
        web.stop_guard()
        for client in list(hub.clients):
            client.close(1001, "server shutting down")
        await drain(web, SHUTDOWN_GRACE_SECONDS)
        try:
            await asyncio.wait_for(server.close_all_connections(), 2)
        except asyncio.TimeoutError:
            log.warning("connections still open; closing anyway")
        services.stop()
