"""Real full disks for tests: a tmpfs of a few megabytes (root only;
skipped with a reason otherwise, failed under CI)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def mount_tmpfs(path: Path, size: str, *options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]),
                             "tmpfs", str(path)], capture_output=True, text=True)
    if result.returncode:
        message = f"cannot mount a tmpfs here: {result.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class OnTmpfs:
    """A FacesTestCase whose data directory is a tmpfs of ``disk_size``."""

    disk_size = "400k"
    settings: object

    def setUp(self) -> None:
        self.mount = self.settings.data_dir
        mount_tmpfs(self.mount, self.disk_size)
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        subprocess.run(["umount", "-R", "-l", str(self.mount)], check=False)
