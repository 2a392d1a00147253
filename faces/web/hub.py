"""Live updates: the set of connected browsers, and each of the library's
events published to all of them as one serialised message."""

from __future__ import annotations

import json
import logging
from typing import Protocol

from ..library.events import Event
from .views import event_json

log = logging.getLogger(__name__)


class Client(Protocol):
    def send(self, text: str) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.dropped = 0  # clients dropped for not reading or a failed send

    def join(self, client: Client) -> None:
        self.clients.add(client)

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def drop(self, client: Client) -> None:
        """Remove a client that could not be sent to."""
        if client in self.clients:
            self.dropped += 1
        self.leave(client)

    def publish(self, event: Event) -> int:
        """Tell every client of one of the library's events."""
        return self.broadcast(event_json(event))

    def broadcast(self, message: dict) -> int:
        """Send ``message`` to every client; returns how many were sent to."""
        text = json.dumps(message, separators=(",", ":"))
        for client in list(self.clients):
            try:
                client.send(text)
            except Exception:  # one bad client never stops the others
                log.exception("dropping a WebSocket client after a failed send")
                self.drop(client)
        return len(self.clients)
