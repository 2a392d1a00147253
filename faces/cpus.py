"""How many CPU cores this process may really use: its affinity mask, capped
by the CPU quota of its control group (``docker run --cpus``, systemd's
CPUQuota), which ``os.cpu_count()`` does not see.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_MEMBERSHIP = Path("/proc/self/cgroup")


def _v2_limit(folder: Path) -> float | None:
    quota, period = (folder / "cpu.max").read_text().split()[:2]  # "max 100000" = none
    return None if quota == "max" else int(quota) / int(period)


def _v1_limit(folder: Path) -> float | None:
    quota = int((folder / "cpu.cfs_quota_us").read_text())  # -1 = none
    period = int((folder / "cpu.cfs_period_us").read_text())
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT,
                     membership: Path = CGROUP_MEMBERSHIP) -> float | None:
    """The CPU quota, in cores, of this process's control group and the groups
    above it (``docker run --cpus``, a systemd CPUQuota); None when unlimited.
    Works with cgroup v2 and v1, inside a container or not."""
    paths = {"v2": "/", "v1": "/"}
    try:
        for line in membership.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if not controllers:
                paths["v2"] = path
            elif "cpu" in controllers.split(","):
                paths["v1"] = path
    except (OSError, ValueError):
        pass
    limits = []
    for base, path, read in ((root, paths["v2"], _v2_limit),
                             (root / "cpu", paths["v1"], _v1_limit)):
        parts = PurePosixPath(path).parts[1:]
        for depth in range(len(parts), -1, -1):  # the group itself, then its parents
            try:
                limits.append(read(base.joinpath(*parts[:depth])))
            except (OSError, ValueError):
                continue
    limits = [limit for limit in limits if limit]
    return min(limits) if limits else None


def cpu_count(root: Path = CGROUP_ROOT, membership: Path = CGROUP_MEMBERSHIP) -> int:
    """CPU cores this process may use: its affinity mask, capped by its
    control group's CPU quota (rounded up)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root, membership)
    return min(cores, max(1, math.ceil(limit))) if limit else cores
