"""Prometheus metrics, made with the official prometheus_client library and
served at ``GET /metrics`` in its text format. One registry per app (no
module globals): counters and histograms are moved as things happen; the
gauges (photos and faces stored, queue, workers, WebSocket clients) are
read from the live services when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Live:
    """The numbers read at scrape time."""

    photos: int
    faces: int
    pending_jobs: int  # running or waiting
    workers: int
    worker_restarts: int
    websocket_clients: int
    broadcast_drops: int
    recognition_backlog: int = 0  # photos waiting for recognition
    recognition_redescribing: int = 0  # of them, described again for a new recognizer
    recognition_on: bool = False
    recognition_stalled: bool = False  # its results cannot be written now (disk, catalogue)
    # each library folder: (path, usable, photos, offline, files to read, files read)
    library: tuple[tuple[str, bool, int, int, int, int], ...] = ()


class _LiveCollector(Collector):
    def __init__(self, read: Callable[[], Live]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        live = self.read()
        busy = min(live.pending_jobs, live.workers)
        yield GaugeMetricFamily("faces_photos", "Photos in the gallery", live.photos)
        yield GaugeMetricFamily("faces_faces", "Faces stored, over all photos", live.faces)
        yield GaugeMetricFamily("faces_queue_depth", "Photos waiting for a free worker",
                                live.pending_jobs - busy)
        yield GaugeMetricFamily("faces_workers", "Detector workers ready", live.workers)
        yield GaugeMetricFamily("faces_workers_busy", "Detector workers running a job", busy)
        yield CounterMetricFamily("faces_worker_restarts",
                                  "Times the workers were replaced after a crash or a timeout",
                                  live.worker_restarts)
        yield GaugeMetricFamily("faces_websocket_clients", "Browsers connected for live updates",
                                live.websocket_clients)
        yield CounterMetricFamily("faces_broadcast_drops", "WebSocket clients dropped because "
                                  "they stopped reading or a send failed", live.broadcast_drops)
        yield GaugeMetricFamily("faces_recognition_backlog", "Photos waiting for People's "
                                "recognition", live.recognition_backlog)
        yield GaugeMetricFamily("faces_recognition_redescribing", "Photos whose faces are "
                                "described again for a new recognizer",
                                live.recognition_redescribing)
        yield GaugeMetricFamily("faces_recognition_up", "1 while People's recognition runs "
                                "(0: off, stopped or stalled)", int(live.recognition_on))
        yield GaugeMetricFamily("faces_recognition_stalled", "1 while recognition waits "
                                "because its results cannot be written (a full disk, a "
                                "locked or read-only catalogue); /healthz says why",
                                int(live.recognition_stalled))
        families = {
            "up": GaugeMetricFamily("faces_library_up", "1 while a library folder can be "
                                    "scanned (0: missing, unreadable, swapped or held; "
                                    "/api/library says why)", labels=["root"]),
            "photos": GaugeMetricFamily("faces_library_photos", "Photos in a library folder",
                                        labels=["root"]),
            "offline": GaugeMetricFamily("faces_library_offline", "Files of a library folder "
                                         "gone (their photos kept, offline)", labels=["root"]),
            "pending": GaugeMetricFamily("faces_library_scan_pending", "Files of a library "
                                         "folder's scan still to be read", labels=["root"]),
        }
        for path, up, photos, offline, total, done in live.library:
            families["up"].add_metric([path], int(up))
            families["photos"].add_metric([path], photos)
            families["offline"].add_metric([path], offline)
            families["pending"].add_metric([path], max(0, total - done))
        yield from families.values()


class Metrics:
    def __init__(self, read: Callable[[], Live]) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "faces_uploads", "Uploads by outcome: stored, duplicate, detected (POST "
            "/api/detect), or the error code that refused them", ["outcome"],
            registry=self.registry)
        for outcome in ("stored", "duplicate", "detected"):  # at 0 from the first scrape
            self.uploads.labels(outcome)
        self.upload_seconds = Histogram(
            "faces_upload_seconds", "From an upload's first byte to its answer",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.detection_seconds = Histogram(
            "faces_detection_seconds", "A photo's job in the backend (waiting for a worker "
            "included)", buckets=LATENCY_BUCKETS, registry=self.registry)
        self.logins = Counter(
            "faces_logins", "Logins with a name and password, by outcome: ok, wrong (a name "
            "and password that match no account), throttled (refused before being checked)",
            ["outcome"], registry=self.registry)
        self.link_opens = Counter(
            "faces_share_link_opens", "Share links opened, by outcome: opened, wrong_password, "
            "throttled, gone (revoked, expired or never made)", ["outcome"],
            registry=self.registry)
        for outcome in ("ok", "wrong", "throttled"):
            self.logins.labels(outcome)
        for outcome in ("opened", "wrong_password", "throttled", "gone"):
            self.link_opens.labels(outcome)
        self.registry.register(_LiveCollector(read))

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)
