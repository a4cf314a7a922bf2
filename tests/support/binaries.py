"""Real binaries for integration tests: found, or installed, or a loud failure.

``require_binary`` looks a program up (PATH and the given extra folders); if it
is missing it installs the Debian package with apt-get (as CI's scripts do);
if it is still missing the test fails. It never skips: a missing component
must not pass silently.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

__all__ = ["free_port", "require_binary"]

_apt_lock = threading.Lock()
_apt_updated = False


def _find(name: str, extra_globs: tuple[str, ...]) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        for candidate in sorted(glob.glob(os.path.join(pattern, name)), reverse=True):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def _apt_install(package: str) -> str:
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _apt_lock:
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600, check=False)
            _apt_updated = True
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    return proc.stdout[-2000:] + proc.stderr[-2000:]


def require_binary(name: str, debian_package: str, *, extra_globs: tuple[str, ...] = ()) -> Path:
    """The path of ``name``, installing ``debian_package`` if needed; fails the test if impossible."""
    found = _find(name, extra_globs)
    if found is None and shutil.which("apt-get"):
        log = _apt_install(debian_package)
        found = _find(name, extra_globs)
        if found is None:
            pytest.fail(f"{name} is missing and installing Debian package {debian_package} did not provide it:\n{log}")
    if found is None:
        pytest.fail(f"{name} is missing (Debian package {debian_package}) and apt-get is not available")
    return Path(found)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
