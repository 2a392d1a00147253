"""The usable core count: affinity, capped by a cgroup CPU quota (v1 or v2)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from faces import cpus

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
    assert cpus.cgroup_cpu_limit(root, tmp_path / "membership") == limit
    cores = cpus.cpu_count(root, tmp_path / "membership")
    affinity = len(os.sched_getaffinity(0))
    assert cores == (min(affinity, math.ceil(limit)) if limit else affinity)
