from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import pytest

from faces import settings


def parse(argv: list[str], env: dict[str, str] | None = None) -> settings.Settings:
    return settings.parse(argv, env or {})


def test_defaults_are_safe() -> None:
    s = parse([])
    assert (s.port, s.address, s.data_dir) == (8282, "0.0.0.0", Path("uploads"))
    assert (s.max_upload_mb, s.max_pixels, s.score_threshold) == (25.0, 50_000_000, 0.5)
    assert s.worker_count >= 1
    assert s.solo_thread_count == min(settings.cpu_count(), settings.MAX_SOLO_THREADS)


V1 = "4:cpu,cpuacct:/system.slice/faces.service\n0::/\n"


@pytest.mark.parametrize("membership,files,limit", [
    ("0::/\n", {"cpu.max": "150000 100000\n"}, 1.5),  # v2 container, docker run --cpus 1.5
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),
    ("0::/user.slice/faces\n", {"cpu.max": "max 100000\n",  # v2 host: a parent's quota counts
                                "user.slice/cpu.max": "300000 100000\n",
                                "user.slice/faces/cpu.max": "max 100000\n"}, 3.0),
    (V1, {"cpu/system.slice/faces.service/cpu.cfs_quota_us": "200000\n",  # v1 host
          "cpu/system.slice/faces.service/cpu.cfs_period_us": "100000\n"}, 2.0),
    ("4:cpu,cpuacct:/docker/0123abcd\n", {"cpu/cpu.cfs_quota_us": "100000\n",  # v1 container
                                          "cpu/cpu.cfs_period_us": "100000\n"}, 1.0),
    (V1, {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ("", {}, None),
])
def test_a_cpu_quota_caps_the_core_count(tmp_path: Path, membership: str, files: dict,
                                         limit: float | None) -> None:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "membership").write_text(membership)
    assert settings.cgroup_cpu_limit(root, tmp_path / "membership") == limit
    cores = settings.cpu_count(root, tmp_path / "membership")
    affinity = len(os.sched_getaffinity(0))
    assert cores == (min(affinity, math.ceil(limit)) if limit else affinity)


def test_solo_threads_can_be_set_or_turned_off() -> None:
    assert parse([], {"FACES_SOLO_THREADS": "3"}).solo_thread_count == 3
    assert parse(["--solo-threads", "1"]).solo_thread_count == 1


def test_flag_beats_environment_beats_default() -> None:
    env = {"FACES_PORT": "9000", "FACES_DATA_DIR": "/srv/faces", "FACES_DEBUG": "yes"}
    assert parse([], env).port == 9000
    assert parse(["--port", "9100"], env).port == 9100
    assert parse([], env).data_dir == Path("/srv/faces")
    assert parse([], env).debug is True
    assert parse(["--no-debug"], env).debug is False


@pytest.mark.parametrize("argv,env", [
    (["--port", "0"], {}),
    ([], {"FACES_SCORE_THRESHOLD": "1.5"}),
    ([], {"FACES_WORKERS": "many"}),
    ([], {"FACES_SOLO_THREADS": "-1"}),
    (["--det-size", "100"], {}),
])
def test_bad_values_are_refused_with_a_message(argv, env) -> None:
    with pytest.raises(ValueError):
        parse(argv, env)


def test_every_setting_is_a_flag_and_an_env_var() -> None:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    help_text = parser.format_help()
    for name in ("--port", "--address", "--data-dir", "--model", "--workers", "--max-upload-mb",
                 "--max-pixels", "--score-threshold"):
        assert name in help_text
    for env in ("FACES_PORT", "FACES_DATA_DIR", "FACES_MODEL", "FACES_MAX_UPLOAD_MB"):
        assert env in help_text
