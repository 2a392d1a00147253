from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from faces import settings
from faces.cpus import cpu_count


def parse(argv: list[str], env: dict[str, str] | None = None) -> settings.Settings:
    return settings.parse(argv, env or {})


def test_defaults_are_safe() -> None:
    s = parse([])
    assert (s.port, s.address, s.data_dir) == (8282, "0.0.0.0", Path("uploads"))
    assert (s.max_upload_mb, s.max_pixels) == (25.0, 50_000_000)
    assert (s.detector, s.score_threshold) == ("auto", 0.0)  # the family's own threshold
    assert s.worker_count >= 1
    assert s.solo_thread_count == min(cpu_count(), settings.MAX_SOLO_THREADS)


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
    (["--port", "65536"], {}),
    ([], {"FACES_DETECTOR": "haar"}),
    ([], {"FACES_SCORE_THRESHOLD": "1.5"}),
    ([], {"FACES_WORKERS": "many"}),
    ([], {"FACES_SOLO_THREADS": "-1"}),
    (["--det-size", "100"], {}),
])
def test_bad_values_are_refused_with_a_message(argv, env) -> None:
    with pytest.raises(ValueError):
        parse(argv, env)


def test_port_zero_means_any_free_port() -> None:
    assert parse(["--port", "0"], {}).port == 0


def test_every_setting_is_a_flag_and_an_env_var() -> None:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    help_text = parser.format_help()
    for name in ("--port", "--address", "--data-dir", "--model", "--workers", "--max-upload-mb",
                 "--max-pixels", "--score-threshold"):
        assert name in help_text
    for env in ("FACES_PORT", "FACES_DATA_DIR", "FACES_MODEL", "FACES_MAX_UPLOAD_MB"):
        assert env in help_text
