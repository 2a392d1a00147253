"""Prometheus metrics and structured logs."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from tornado.testing import gen_test

from tests.support.process import server, upload
from tests.support.server import FacesTestCase


def scraped(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample: (name, sorted labels) -> value."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


class TestMetrics(FacesTestCase):
    async def scrape(self, **kwargs) -> dict:
        response = await self.http_client.fetch(self.get_url("/metrics"), **kwargs)
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return scraped(response.body.decode())

    @gen_test(timeout=60)
    async def test_counters_move_by_exactly_the_uploads_made(self) -> None:
        before = await self.scrape()
        assert before[("faces_photos", ())] == 0 and before[("faces_workers", ())] == 2
        clients = [await self.ws(), await self.ws()]
        assert (await self.upload("t1.jpg")).code == 201
        assert (await self.upload("t1.jpg")).code == 200  # a duplicate
        assert (await self.upload("coffee.jpg")).code == 201
        assert (await self.upload("notes.jpg", b"just some text")).code == 415
        assert (await self.upload("t1.jpg", path="/api/detect")).code == 200
        after = await self.scrape()

        def uploads(outcome: str) -> float:
            return after.get(("faces_uploads_total", (("outcome", outcome),)), 0.0)

        assert (uploads("stored"), uploads("duplicate"), uploads("unsupported_type"),
                uploads("detected")) == (2, 1, 1, 1)
        assert after[("faces_upload_seconds_count", ())] == 5
        assert after[("faces_detection_seconds_count", ())] == 3  # two stored, one detect
        assert after[("faces_photos", ())] == 2 and after[("faces_faces", ())] == 6
        assert after[("faces_websocket_clients", ())] == 2
        assert after[("faces_queue_depth", ())] == 0 == after[("faces_workers_busy", ())]
        assert ("faces_worker_restarts_total", ()) in after
        assert ("faces_broadcast_drops_total", ()) in after
        for client in clients:
            client.close()

    @gen_test(timeout=30)
    async def test_busy_workers_and_queue_are_seen_while_they_work(self) -> None:
        from tests.support.jobs import NAP

        naps = [asyncio.ensure_future(self.pool.run(NAP, 1.0)) for _ in range(3)]
        await asyncio.sleep(0.3)
        during = await self.scrape()
        await asyncio.gather(*naps)
        assert during[("faces_workers_busy", ())] == 2 and during[("faces_queue_depth", ())] == 1


class TestPrivateMetrics(FacesTestCase):
    overrides = {"token": "a long random test token", "private": True}

    def test_the_token_is_needed(self) -> None:
        assert self.fetch("/metrics").code == 401
        answer = self.fetch("/metrics",
                            headers={"Authorization": "Bearer a long random test token"})
        assert answer.code == 200 and b"faces_photos" in answer.body


def test_json_log_lines_with_request_ids(tmp_path: Path, model_path: Path, images: Path) -> None:
    with server(tmp_path / "data", model_path, extra=("--log-format", "json")) as (process,
                                                                                   base):
        request = urllib.request.Request(base + "/api/photos",
                                         headers={"X-Request-Id": "trace-42"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["X-Request-Id"] == "trace-42"
        with urllib.request.urlopen(base + "/healthz", timeout=10) as answer:
            made = answer.headers["X-Request-Id"]
        assert len(made) == 16
        assert upload(base, "obama_small.jpg")[0] == 201
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every one
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "faces.access"]
    traced = next(line for line in access if line["request_id"] == "trace-42")
    assert (traced["method"], traced["path"], traced["status"]) == ("GET", "/api/photos", 200)
    assert traced["duration_ms"] >= 0
    assert any(line["request_id"] == made and line["path"] == "/healthz" for line in access)
    stored = next(line for line in access if line["method"] == "POST")
    assert stored["status"] == 201 and stored["path"] == "/api/photos"
    assert any("stored" in line["message"] for line in lines
               if line["logger"] == "faces.library.gallery")


DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "faces.json"


class TestDashboard(FacesTestCase):
    def test_the_grafana_dashboard_uses_only_our_metrics(self) -> None:
        import re

        dashboard = json.loads(DASHBOARD.read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert len(exprs) >= 10
        named = {name for expr in exprs for name in re.findall(r"\bfaces_\w+", expr)}
        served = {sample[0] for sample in scraped(self.fetch("/metrics").body.decode())}
        for name in named:  # a histogram's _bucket series exist once it has observed
            assert name in served or name.replace("_bucket", "_count") in served, name
        assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in dashboard["panels"])
