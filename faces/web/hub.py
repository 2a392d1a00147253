"""Live updates: the set of connected browsers, and each of the library's
events published to all of them as one serialised message. Every message
carries a sequence number, and the last ones are kept: a page rendered at
number N that connects a moment later hears what it missed (``?since=N``)."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from ..library.accounts import Who
from ..library.events import Event
from .views import event_json

log = logging.getLogger(__name__)

KEPT = 1000  # messages kept for pages that connect after they went out


class Client(Protocol):
    def send(self, text: str) -> None: ...

    def scope(self, message: dict) -> dict | None: ...  # what it may hear of a message

    def who(self) -> Who: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.dropped = 0  # clients dropped for not reading or a failed send
        self.seq = 0  # the number of the last message sent
        self.kept: deque[tuple[int, str]] = deque(maxlen=KEPT)

    def since(self, seq: int) -> list[str] | None:
        """The messages sent after number ``seq``; None when some of them are
        no longer kept (or ``seq`` is from before a restart): the page
        should load again."""
        if seq > self.seq or (seq < self.seq and (not self.kept or self.kept[0][0] > seq + 1)):
            return None
        return [text for number, text in self.kept if number > seq]

    def join(self, client: Client) -> None:
        self.clients.add(client)

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def drop(self, client: Client) -> None:
        """Remove a client that could not be sent to."""
        if client in self.clients:
            self.dropped += 1
        self.leave(client)

    def check(self, still: Callable[[Who], bool], code: int, reason: str) -> int:
        """Close every connection whose session, key or link no longer holds
        (``still`` says); how many were closed."""
        ended = [client for client in list(self.clients) if not still(client.who())]
        for client in ended:
            self.leave(client)
            client.close(code, reason)
        return len(ended)

    def publish(self, event: Event) -> int:
        """Tell every client of one of the library's events."""
        return self.broadcast(event_json(event))

    def broadcast(self, message: dict) -> int:
        """Send ``message`` to every client, numbered; returns how many were
        sent to."""
        self.seq += 1
        text = json.dumps({**message, "seq": self.seq}, separators=(",", ":"))
        self.kept.append((self.seq, text))
        for client in list(self.clients):
            try:
                heard = client.scope(message)
                if heard is message:
                    client.send(text)
                elif heard is not None:
                    client.send(json.dumps({**heard, "seq": self.seq}, separators=(",", ":")))
            except Exception:  # one bad client never stops the others
                log.exception("dropping a WebSocket client after a failed send")
                self.drop(client)
        return len(self.clients)
