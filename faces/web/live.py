"""The live connection: every page's WebSocket, to which the hub
(:mod:`faces.web.hub`) sends each event. ``/ws?after=<id>`` first replays
every photo newer than ``<id>``, oldest first, so a page that reconnects
misses nothing; with People on, every connection first hears where
recognition stands (its last change may have come before the page
connected)."""

from __future__ import annotations

import json
import logging

from tornado.iostream import StreamBufferFullError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..library.events import PhotoAdded, RecognitionState
from .base import AccessMixin
from .views import event_json

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096  # bytes a client may send (it has nothing to say)
MAX_BUFFER = 4 * 1024 * 1024  # bytes queued for one client before it is dropped


class GalleryWebSocket(AccessMixin, WebSocketHandler):
    """Every message passes the one check too: a share link's holder hears
    only that its set changed (``{"type": "shared"}``), and only for its
    own photos; a connection whose session, key or link ends is closed
    (:meth:`faces.web.hub.Hub.check`, every second)."""

    def prepare(self) -> None:
        self.may_see()

    def scope(self, message: dict) -> dict | None:
        """What a share link's holder hears of ``message`` (None: nothing;
        everyone else hears it all)."""
        share = self.who().share
        if share is None:
            return message
        photos = {message["photo"]["id"]} if "photo" in message else \
            {photo["id"] for photo in message.get("photos", ())} | \
            {face["photo"] for face in message.get("faces", ())} | \
            ({message["id"]} if message.get("type") == "photo.deleted" else set())
        if message.get("type") == "photo.deleted" or any(
                self.accounts.shared(share, photo) for photo in photos):
            return {"type": "shared"}
        return None

    def check_origin(self, origin: str) -> bool:
        return self.origin_ok(origin)

    def open(self) -> None:
        # A client that stops reading is dropped once this much is queued for it.
        self.ws_connection.stream.max_write_buffer_size = MAX_BUFFER
        if self.who().share is not None:  # its page reads its set from /api/shared
            self.web.hub.join(self)
            return
        after = self.get_argument("after", None)  # "" replays everything
        if after is not None:
            backlog = self.services.gallery.since(after or None)
            if backlog is None:  # unknown id: the client should reload its list
                self.send(json.dumps({"type": "resync"}))
            else:
                for photo in backlog:
                    self.send(json.dumps(event_json(PhotoAdded(photo)), separators=(",", ":")))
        since = self.get_argument("since", None)  # a page rendered at that message number
        if since is not None:
            missed = self.web.hub.since(int(since)) if since.isdigit() else None
            if missed is None:
                self.send(json.dumps({"type": "resync"}))
            for text in missed or ():
                self.send(text)
        recognition = self.services.recognition
        if recognition.state != "off":  # where it stands now: the page may be older than that
            self.send(json.dumps(event_json(RecognitionState(
                recognition.state, recognition.backlog, recognition.redescribing))))
        self.web.hub.join(self)  # same IOLoop turn as the backlog: nothing is missed

    def send(self, text: str) -> None:
        try:
            self.write_message(text)
        except WebSocketClosedError:
            self.web.hub.leave(self)
        except StreamBufferFullError:
            log.warning("dropping WebSocket client %s: it is not reading its messages",
                        self.request.remote_ip)
            self.web.hub.drop(self)
            self.ws_connection.stream.close()  # a close frame would not fit either

    def on_message(self, message: str | bytes) -> None:
        pass  # the protocol is server-to-client only

    def on_close(self) -> None:
        self.web.hub.leave(self)


ROUTES = [(r"/ws", GalleryWebSocket)]
