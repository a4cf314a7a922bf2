"""Real PostgreSQL servers for tests, built with PostgresEntity (a pytest plugin: see tests/conftest.py).

The servers run as an unprivileged OS user (``postgres`` when the tests run as
root), so their data directories live in a folder that user can reach: pytest's
``tmp_path`` sits under ``/tmp/pytest-of-<user>``, mode 0700, closed to it.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from autonomic.entities.postgres import PostgresEntity
from tests.support.binaries import free_port, require_binary

__all__ = ["Make", "base_dir", "make", "os_user", "pg_bin", "pg_dsn", "server_pids"]

Make = Callable[..., PostgresEntity]


@pytest.fixture
def pg_bin() -> Path:
    """The PostgreSQL server programs (installed with Debian's postgresql package if missing)."""
    # PATH may hold links to a few of them (initdb, postgres): the folder they point into has them all.
    initdb = require_binary("initdb", "postgresql", extra_globs=("/usr/lib/postgresql/*/bin",)).resolve()
    for program in ("postgres", "pg_basebackup", "pg_rewind"):
        assert (initdb.parent / program).exists(), f"{program} missing beside {initdb}"
    return initdb.parent


@pytest.fixture
def os_user() -> str:
    """The user the servers run as: ``postgres`` (created if missing) under root, else ourselves."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/postgresql", "postgres"], check=True
        )
    return "postgres"


def server_pids(base: Path) -> list[int]:
    """Processes of servers under ``base``: the postmaster by its command line, every child by its cwd."""
    found = subprocess.run(["pgrep", "-f", str(base)], capture_output=True, text=True, check=False)
    pids = {int(p) for p in found.stdout.split()}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(base):
                    pids.add(int(entry.name))
            except OSError:
                continue
    pids.discard(os.getpid())
    return sorted(pids)


@pytest.fixture
def base_dir() -> Iterator[Path]:
    """A folder for data directories, open to the servers' OS user; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="autonomic-pg-")).resolve()
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def make(anyio_backend: str, base_dir: Path, pg_bin: Path, os_user: str) -> AsyncIterator[Make]:
    """Build PostgresEntity servers in ``base_dir``; every one is stopped afterwards, and no process is left."""
    made: list[PostgresEntity] = []

    def build(name: str, **config: Any) -> PostgresEntity:
        e = PostgresEntity(
            name,
            {
                "data_dir": str(base_dir / name),
                "port": free_port(),
                "bin_dir": str(pg_bin),
                "os_user": os_user,
                "durable": False,  # no fsync: the tests kill processes, never the machine
                "start_timeout": 30.0,
                **config,
            },
        )
        made.append(e)
        return e

    try:
        yield build
    finally:
        with anyio.CancelScope(shield=True):
            for e in made:
                try:
                    await e.stop()
                except Exception as exc:
                    print(f"stopping {e.id}: {exc}")
            left = server_pids(base_dir)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        assert not left, f"server processes outlived the test: {left}"


@pytest.fixture
async def pg_dsn(make: Make) -> str:
    """A running PostgreSQL server (primary; ``make`` stops it) and a DSN for its ``postgres`` database."""
    server = make("store")
    await server.start()
    return f"host=127.0.0.1 port={server.config.port} user={server.config.superuser} dbname=postgres"
