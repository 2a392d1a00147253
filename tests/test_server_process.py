"""The real `faces` command in a subprocess: start-up, shutdown, restart,
a missing model, and the model download (served from loopback)."""

from __future__ import annotations

import asyncio
import http.server
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from tornado.websocket import websocket_connect

from tests.conftest import ROOT, photo_bytes
from tests.support.process import faces, free_port, get_json, server, upload


async def ws_close_code(base: str, process: subprocess.Popen) -> int | None:
    client = await websocket_connect(base.replace("http", "ws") + "/ws")
    process.send_signal(signal.SIGTERM)
    while (message := await asyncio.wait_for(client.read_message(), 15)) is not None:
        assert json.loads(message)["type"] == "recognition", message  # (People's state)
    return client.close_code


def test_restart_keeps_the_gallery_and_sigterm_is_clean(tmp_path: Path, model_path: Path,
                                                        images: Path) -> None:
    data = tmp_path / "data"
    with server(data, model_path) as (process, base):
        status, photo = upload(base, "t1.jpg")
        assert status == 201 and len(photo["faces"]) == 6
        assert asyncio.run(ws_close_code(base, process)) == 1001  # "going away"
        assert process.wait(timeout=30) == 0
        log = process.stdout.read()
        assert "shutting down" in log and "Traceback" not in log
    assert not list((data / "tmp").iterdir())
    with server(data, model_path) as (process, base):
        status, listing = get_json(base + "/api/photos")
        assert status == 200 and [p["id"] for p in listing["photos"]] == [photo["id"]]
        assert listing["photos"][0] == photo
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            assert "t1.jpg" in page.read().decode()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def twelve_megapixels() -> bytes:
    image = cv2.imdecode(np.frombuffer(photo_bytes("obama_and_biden.jpg"), np.uint8),
                         cv2.IMREAD_COLOR)
    big = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def busy_workers(base: str) -> int:
    """Detector workers running a job now, as the server's /metrics says."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return int(float(re.search(r"^faces_workers_busy (\S+)$", text, re.M).group(1)))


def test_sigterm_finishes_the_upload_in_flight(tmp_path: Path, model_path: Path,
                                               images: Path) -> None:
    data = twelve_megapixels()
    answers: list[tuple[int, dict]] = []
    with server(tmp_path / "data", model_path) as (process, base):
        sender = threading.Thread(target=lambda: answers.append(upload(base, "big.jpg", data)))
        sender.start()
        deadline = time.monotonic() + 60
        while not busy_workers(base):  # the upload is being processed: a worker has it
            assert time.monotonic() < deadline and sender.is_alive(), "the upload never ran"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        sender.join(30)
        assert process.wait(timeout=30) == 0
        log = process.stdout.read()
    assert answers and answers[0][0] == 201, log
    assert len(answers[0][1]["faces"]) == 3
    assert "finishing uploads in flight" in log
    with server(tmp_path / "data", model_path) as (process, base):
        assert get_json(base + "/api/photos")[1]["photos"][0]["id"] == answers[0][1]["id"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        try:
            children = Path(f"/proc/{todo.pop()}/task").glob("*/children")
            kids = {int(k) for f in children for k in f.read_text().split()}
        except OSError:
            continue
        found |= kids
        todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_do_not_outlive_a_killed_server(tmp_path: Path, model_path: Path) -> None:
    with server(tmp_path / "data", model_path) as (process, base):
        assert get_json(base + "/healthz")[0] == 200
        helpers = descendants(process.pid)  # the worker and multiprocessing's tracker
        assert helpers
        process.kill()  # no chance to shut the pool down
        process.wait()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in helpers if alive(pid)]


def mapped_libraries(pid: int) -> set[str]:
    """The files mapped into a process: the libraries it has loaded."""
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if "/" in line}


def test_the_server_process_never_loads_the_model_runtime(tmp_path: Path, model_path: Path,
                                                         images: Path) -> None:
    with server(tmp_path / "data", model_path) as (process, base):
        assert upload(base, "t1.jpg")[0] == 201  # a whole upload, answered
        assert get_json(base + "/api/photos")[0] == 200
        server_maps = mapped_libraries(process.pid)
        workers = [pid for pid in descendants(process.pid)
                   if any("onnxruntime" in lib for lib in mapped_libraries(pid))]
    heavy = [lib for lib in server_maps if "onnxruntime" in lib or "/cv2/" in lib]
    assert heavy == []
    assert workers  # the check can see the runtime where it is loaded: in the worker


def test_start_up_listens_at_once_and_answers_starting_until_ready(
        tmp_path: Path, model_path: Path, recognition_model: Path) -> None:
    """The port opens before the workers and People are ready: meanwhile
    /healthz answers 503 "starting", pages and reads are served, and a
    change is refused with 503 and Retry-After (never lost half-made);
    then 200, and the same upload is taken."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--workers", "1", "--model", str(model_path),
         "--recognition-model", str(recognition_model)],
        stdout=open(tmp_path / "log", "w"), stderr=subprocess.STDOUT, text=True)
    statuses: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not statuses or statuses[-1] != 200:
            assert process.poll() is None and time.monotonic() < deadline
            try:
                status, body = get_json(base + "/healthz")
            except OSError:
                time.sleep(0.02)
                continue
            statuses.append(status)
            if status == 503:
                assert body == {"status": "starting"}
                if statuses.count(503) == 1:  # once, while starting
                    assert get_json(base + "/api/photos")[0] == 200
                    with urllib.request.urlopen(base + "/", timeout=10) as page:
                        assert page.status == 200
                    try:
                        upload(base, "t1.jpg")
                        raise AssertionError("an upload was taken before the server was ready")
                    except urllib.error.HTTPError as refused:
                        answer = json.loads(refused.read())
                        assert refused.code == 503 and refused.headers["Retry-After"] == "2"
                        assert answer["error"]["code"] == "starting"
        assert statuses[0] == 503 and set(statuses) == {503, 200}
        assert statuses.index(200) == len(statuses) - 1  # ready once, and for good
        assert get_json(base + "/api/photos")[1]["photos"] == []  # nothing half-made
        assert upload(base, "t1.jpg")[0] == 201
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "log").read_text()


def test_port_zero_binds_a_free_port_and_logs_it(tmp_path: Path, model_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--workers", "1", "--model", str(model_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                break
        port = int(found[1])
        assert port > 0
        deadline = time.monotonic() + 60
        while get_json_or_none(f"http://127.0.0.1:{port}/healthz") != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def get_json_or_none(url: str) -> int | None:
    try:
        return get_json(url)[0]
    except OSError:
        return None


def test_a_file_that_is_no_face_detector_is_one_clear_line(tmp_path: Path,
                                                           model_path: Path) -> None:
    graph = onnx.load(str(model_path))
    del graph.graph.output[4:]  # four outputs: neither SCRFD nor YuNet
    other = tmp_path / "other.onnx"
    onnx.save(graph, str(other))
    for command in (["detect", str(model_path)],
                    ["serve", "--port", "0", "--workers", "1", "--data-dir", str(tmp_path)]):
        result = faces(*command, "--model", str(other))
        assert result.returncode == 2, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("faces: other.onnx is not a face detector we know")
        assert "FACES_DETECTOR" in last and "Traceback" not in result.stderr
    named = faces("detect", str(model_path), "--model", str(other), "--detector", "scrfd")
    assert named.returncode == 2 and "does not have SCRFD's outputs" in named.stderr


def test_an_installed_package_serves_the_page_from_any_directory(tmp_path: Path,
                                                                model_path: Path) -> None:
    """The wheel carries templates/ and static/: unpacked away from the checkout
    and started in an empty folder, it serves the page and its assets."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "-w", str(tmp_path / "wheel"), str(ROOT)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "wheel").glob("faces-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(site)
    assert "faces/templates/index.html" in names and "faces/static/app.js" in names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    which = subprocess.run([sys.executable, "-c", "import faces; print(faces.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert which.stdout.startswith(str(site))  # the unpacked wheel, not the checkout
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", str(port),
         "--data-dir", "data", "--workers", "1", "--model", str(model_path)],
        cwd=elsewhere, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get_json_or_none(base + "/healthz") != 200:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            html = page.read().decode()
        script = re.search(r'src="(/static/app\.js\?v=[^"]+)"', html)[1]
        with urllib.request.urlopen(base + script, timeout=10) as asset:
            assert asset.status == 200 and b"WebSocket" in asset.read()
    finally:
        process.send_signal(signal.SIGTERM)
        log = process.communicate(timeout=30)[0]
    assert "Traceback" not in log
    assert (elsewhere / "data" / "catalogue.sqlite3").is_file()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to drop its override rights")
def test_a_folder_owned_by_another_user_is_one_clear_line_then_works_once_chowned(
        model_path: Path) -> None:
    """What `docker run -v /srv/faces:/data` does to the image's uid 10001: a
    folder owned by someone else. Here the server runs as root without the
    rights to override file permissions (the interpreter may live where no
    other uid may run it), against a folder owned by uid 10001."""
    host = Path(tempfile.mkdtemp(prefix="faces-host-"))
    try:
        host.chmod(0o755)
        data = host / "srv-faces"
        data.mkdir()
        os.chown(data, 10001, 10001)  # 0755, someone else's
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                   sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1",
                   "--port", "0", "--workers", "1", "--data-dir", str(data),
                   "--model", str(model_path)]
        refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert str(data) in line and "sudo chown -R 0:0" in line
        assert "docker run --user 10001:10001" in line
        os.chown(data, 0, 0)  # the fix the line gives
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        try:
            for line in process.stdout:
                if "ready:" in line:
                    break
            assert process.poll() is None
            assert (data / "catalogue.sqlite3").is_file()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    finally:
        shutil.rmtree(host, ignore_errors=True)


def test_missing_model_stops_start_up_with_one_clear_line(tmp_path: Path) -> None:
    result = faces("serve", "--model", str(tmp_path / "nope.onnx"), "--port", str(free_port()))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.onnx" in lines[0] and "FACES_MODEL" in lines[0]


def test_a_model_another_user_cannot_read_is_one_line_about_permissions(
        tmp_path: Path, model_path: Path) -> None:
    """What the image's uid 10001 met with a model `faces fetch-model` had left
    as 0600: here the model is another user's 0600 file, and the server runs
    as root without the rights to override file permissions."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to take away its own right to read any file")
    model = tmp_path / "models" / "det.onnx"
    model.parent.mkdir()
    model.write_bytes(model_path.read_bytes())
    model.chmod(0o600)
    os.chown(model, 10001, 10001)
    result = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
         "faces", "serve", "--model", str(model), "--data-dir", str(tmp_path / "data"),
         "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "cannot read the model" in lines[0] and "chmod a+r det.onnx" in lines[0]


def test_a_model_folder_the_server_cannot_enter_is_one_line_naming_it(
        tmp_path: Path, model_path: Path) -> None:
    """A models folder mounted with a mode the server's user cannot enter
    (0700, another user's): one line naming the folder, its owner, who faces
    runs as and the fix; no traceback. Fetching at start too."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to take away its own right to read any file")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "det.onnx").write_bytes(model_path.read_bytes())
    folder.chmod(0o700)
    os.chown(folder, 10001, 10001)
    for fetching in ("0", "1"):
        result = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
             "faces", "serve", "--model", str(folder / "det.onnx"), "--data-dir",
             str(tmp_path / "data"), "--port", str(free_port())], capture_output=True,
            text=True, timeout=60, env={**os.environ, "FACES_FETCH_MODELS": fetching,
                                        "FACES_MODEL_CACHE": str(tmp_path / "cache")})
        lines = [line for line in result.stderr.strip().splitlines()
                 if not line.startswith("20")]  # (the server's own log lines, if any)
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"{folder} stops it, it belongs to 10001:10001 (mode drwx------)" in lines[0]
        assert "faces runs as 0:0" in lines[0] and f"chown -R 0:0 {folder}" in lines[0]


def test_a_backup_into_a_folder_it_cannot_write_is_one_line(tmp_path: Path) -> None:
    """`faces backup` into a folder another user owns (a new host folder
    mounted at /backups): one line naming it, its owner and the fix."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to take away its own right to write anywhere")
    from faces.library.catalogue import Catalogue

    data = tmp_path / "data"
    data.mkdir()
    Catalogue(data).close()
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chown(backups, 10001, 10001)
    result = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
         "faces", "backup", str(backups / "faces"), "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "cannot write the copy" in lines[0] and f"{backups} stops it" in lines[0]
    assert "belongs to 10001:10001" in lines[0]


def test_bad_setting_is_reported(tmp_path: Path) -> None:
    result = faces("serve", env={"FACES_SCORE_THRESHOLD": "7"})
    assert result.returncode == 2 and "score threshold" in result.stderr


@contextmanager
def file_server(payload: bytes) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/model"
    finally:
        httpd.shutdown()


def pack(model: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("buffalo_m/det_2.5g.onnx", model.read_bytes())
        archive.writestr("buffalo_m/w600k_r50.onnx", b"not needed")
    return buffer.getvalue()


def test_fetch_model_downloads_verifies_and_places(tmp_path: Path, model_path: Path) -> None:
    dest = tmp_path / "models" / "det_2.5g.onnx"
    with file_server(pack(model_path)) as url:
        wrong = faces("fetch-model", "--dest", str(dest), "--url", url, "--sha256", "0" * 64)
        assert wrong.returncode == 2 and "checksum mismatch" in wrong.stderr
        assert not dest.exists()
        result = faces("fetch-model", "--dest", str(dest), "--url", url)
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == model_path.read_bytes()
    assert dest.stat().st_mode & 0o777 == 0o644  # readable by a server of another user
    tight = tmp_path / "tight" / "det_2.5g.onnx"  # and so under a umask of 077 too
    with file_server(pack(model_path)) as url:
        done = subprocess.run([sys.executable, "-m", "faces", "fetch-model", "--dest",
                               str(tight), "--url", url], capture_output=True, text=True,
                              timeout=120, preexec_fn=lambda: os.umask(0o077))
    assert done.returncode == 0, done.stderr
    assert tight.stat().st_mode & 0o777 == 0o644
    assert "sha256" in result.stdout and "with landmarks" in result.stdout
    again = faces("fetch-model", "--dest", str(dest))
    assert again.returncode == 0 and "already present" in again.stdout
    assert [p.name for p in dest.parent.iterdir()] == ["det_2.5g.onnx"]  # no temp left


def test_fetch_model_yunet_checks_the_pinned_checksum(tmp_path: Path, yunet_path: Path,
                                                      model_path: Path) -> None:
    with file_server(model_path.read_bytes()) as url:  # not the YuNet file
        wrong = faces("fetch-model", "--detector", "yunet", "--url", url,
                      "--dest", str(tmp_path / "y.onnx"))
    assert wrong.returncode == 2 and "checksum mismatch" in wrong.stderr
    assert not list(tmp_path.iterdir())
    with file_server(yunet_path.read_bytes()) as url:
        result = subprocess.run(
            [sys.executable, "-m", "faces", "fetch-model", "--detector", "yunet", "--url", url],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "models" / "face_detection_yunet_2023mar.onnx"  # the default place
    assert saved.read_bytes() == yunet_path.read_bytes()
    assert "YUNET, with landmarks" in result.stdout and "MIT" in result.stdout


def test_fetch_model_offline_names_faces_model(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/buffalo_m.zip"  # nothing listens there
    result = faces("fetch-model", "--dest", str(tmp_path / "m.onnx"), "--url", url)
    assert result.returncode == 2 and "FACES_MODEL" in result.stderr


def test_help_for_every_command() -> None:
    for command in ([], ["serve"], ["fetch-model"], ["detect"], ["reindex"]):
        result = faces(*command, "--help")
        assert result.returncode == 0 and "usage: faces" in result.stdout


def test_missing_models_are_fetched_at_first_start(tmp_path: Path, model_path: Path,
                                                   recognition_model: Path) -> None:
    """As the Docker image starts with nothing mounted: FACES_FETCH_MODELS
    downloads the detector and SFace into the model cache (here from a
    mirror on loopback), checked, in a process of their own; the next start
    uses them; offline, one line says what to do."""
    served = tmp_path / "mirror"
    served.mkdir()
    (served / "det_2.5g.onnx").write_bytes(model_path.read_bytes())
    (served / "face_recognition_sface_2021dec_int8bq.onnx").write_bytes(
        recognition_model.read_bytes())
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(served), **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    mirror = f"http://127.0.0.1:{httpd.server_address[1]}"
    cache, empty = tmp_path / "cache", tmp_path / "models"
    env = {"FACES_FETCH_MODELS": "1", "FACES_MODEL_CACHE": str(cache),
           "FACES_RECOGNITION_MODEL": str(empty / "face_recognition_sface_2021dec_int8bq.onnx")}
    try:
        with server(tmp_path / "data", empty / "det_2.5g.onnx",
                    env={**env, "FACES_MODEL_MIRROR": mirror}) as (process, base):
            health = get_json(base + "/healthz")[1]
            assert health["detector"] == "scrfd" and health["recognizer"] == "sface"
            assert upload(base, "t1.jpg")[0] == 201
            heavy = [lib for lib in mapped_libraries(process.pid)
                     if "onnxruntime" in lib or "/cv2/" in lib]
            assert heavy == []  # the download was checked in a process of its own
        assert (cache / "det_2.5g.onnx").read_bytes() == model_path.read_bytes()
        assert (cache / "face_recognition_sface_2021dec_int8bq.onnx").stat().st_mode & 0o044
    finally:
        httpd.shutdown()
    with server(tmp_path / "data", empty / "det_2.5g.onnx", env=env) as (_, base):
        assert get_json(base + "/healthz")[1]["recognizer"] == "sface"  # no mirror needed now
    offline = faces("serve", "--model", str(tmp_path / "nowhere" / "det_2.5g.onnx"),
                    "--port", str(free_port()),
                    env={**env, "FACES_MODEL_CACHE": str(tmp_path / "new-cache"),
                         "FACES_MODEL_MIRROR": f"http://127.0.0.1:{free_port()}"})
    lines = offline.stderr.strip().splitlines()
    assert offline.returncode == 2 and "Traceback" not in offline.stderr
    assert "faces listening on" in lines[0]  # the port opened first
    assert any("downloading it into" in line for line in lines)  # what takes the time
    assert lines[-1].startswith("faces: no model at ")
    assert "fetching it failed" in lines[-1] and "/models:ro" in lines[-1]
    assert not [line for line in lines if line.startswith("faces:")][:-1]  # one such line


def test_a_mirror_that_never_answers_keeps_no_port_closed(tmp_path: Path) -> None:
    """A first start whose model download hangs (a mirror that accepts and
    never answers): the port is open at once, /healthz says what is going
    on, and after FACES_DOWNLOAD_TIMEOUT without a byte one line says what to
    do; no traceback."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--model", str(tmp_path / "m" / "det_2.5g.onnx")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "FACES_FETCH_MODELS": "1", "FACES_DOWNLOAD_TIMEOUT": "3",
             "FACES_MODEL_CACHE": str(tmp_path / "cache"),
             "FACES_RECOGNITION_MODEL": "",
             "FACES_MODEL_MIRROR": f"http://127.0.0.1:{silent.getsockname()[1]}"})
    try:
        answer = None
        while answer is None:  # (bounded: the download gives up after 3 s)
            assert process.poll() is None, process.communicate()
            try:
                answer = get_json(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.02)
        status, health = answer
        assert status == 503 and health["status"] == "starting"
        assert "downloading the models" in health["why"]
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        silent.close()
    lines = stderr.strip().splitlines()
    assert process.returncode == 2 and "Traceback" not in stderr
    assert lines[-1].startswith("faces: no model at ") and "timed out" in lines[-1]
    assert time.monotonic() - started >= 3  # it did wait for the mirror, that long
