"""A real OPA server as a child process, and the ``opa`` binary it runs.

:func:`ensure_opa_binary` finds ``opa`` (on ``PATH``, else in the cache), or
builds it once with ``go install`` into the cache. :class:`OPAServer` starts
``opa run --server`` on a loopback port, waits until ``/health`` answers and
stops it again; the supervisor, the tests and the benchmark use it when no
OPA server is given.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Final

import anyio
import anyio.abc

from autonomic.errors import AutonomicError

__all__ = ["DEFAULT_OPA_VERSION", "OPAServer", "OPAServerError", "ensure_opa_binary", "opa_cache_dir"]

#: the OPA release built when no ``opa`` is installed
DEFAULT_OPA_VERSION: Final = "v1.22.2"
_OPA_MODULE: Final = "github.com/open-policy-agent/opa"
#: building OPA from source on a small machine takes minutes, not hours
_BUILD_TIMEOUT_S: Final = 1800.0
#: how many fresh ports to try when the chosen one was taken in between
_PORT_ATTEMPTS: Final = 3
_LOG_TAIL: Final = 4000


class OPAServerError(AutonomicError):
    """The ``opa`` binary could not be found or built, or the server would not start."""


def opa_cache_dir(version: str = DEFAULT_OPA_VERSION) -> Path:
    """Where a built ``opa`` of ``version`` is kept: ``~/.cache/autonomic/opa-<version>``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autonomic" / f"opa-{version}"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _find_go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    # The official tarball's place, often not on PATH in non-login shells.
    fallback = Path("/usr/local/go/bin/go")
    return str(fallback) if _is_executable(fallback) else None


def ensure_opa_binary(version: str = DEFAULT_OPA_VERSION) -> Path:
    """The ``opa`` to run: from ``PATH``, else the cached build, else built now with Go.

    The build runs ``GOBIN=<cache dir> go install github.com/open-policy-agent/opa@<version>``
    (minutes the first time) under a file lock, so concurrent callers build once.
    Blocking: call it through ``anyio.to_thread.run_sync`` from async code.
    Raises :class:`OPAServerError` saying what is missing when it cannot.
    """
    on_path = shutil.which("opa")
    if on_path:
        return Path(on_path)
    cache = opa_cache_dir(version)
    binary = cache / "opa"
    if _is_executable(binary):
        return binary
    go = _find_go()
    if go is None:
        raise OPAServerError(
            f"no opa binary: none on PATH, none cached at {binary}, and no Go toolchain to build "
            f"{_OPA_MODULE}@{version}; install opa (https://www.openpolicyagent.org/docs/) or Go"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same version
        if _is_executable(binary):
            return binary
        # Build into a scratch folder and rename, so an interrupted build never leaves a broken binary.
        with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as scratch:
            env = {**os.environ, "GOBIN": scratch, "CGO_ENABLED": os.environ.get("CGO_ENABLED", "0")}
            try:
                proc = subprocess.run(
                    [go, "install", f"{_OPA_MODULE}@{version}"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=_BUILD_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise OPAServerError(
                    f"building {_OPA_MODULE}@{version} with {go} took over {_BUILD_TIMEOUT_S:g} s"
                ) from None
            except OSError as exc:
                raise OPAServerError(f"cannot run {go} to build opa: {exc}") from None
            built = Path(scratch) / "opa"
            if proc.returncode != 0 or not _is_executable(built):
                tail = (proc.stdout + proc.stderr)[-_LOG_TAIL:]
                raise OPAServerError(
                    f"building {_OPA_MODULE}@{version} with `GOBIN={cache} go install` failed "
                    f"(exit {proc.returncode}):\n{tail}"
                )
            os.replace(built, binary)
    return binary


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_port_free(host: str, port: int) -> None:
    """Raise if something listens on ``host:port`` (it would answer our health checks instead of OPA)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As Go does: lingering TIME_WAIT connections of a stopped server do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise OPAServerError(f"cannot start OPA on {host}:{port}: {exc.strerror or exc}") from None


async def probe_health(host: str, port: int, *, within: float = 1.0) -> bool:
    """Whether ``GET /health`` on ``host:port`` answers 200 within ``within`` s (plain HTTP over anyio)."""
    try:
        with anyio.fail_after(within):
            async with await anyio.connect_tcp(host, port) as stream:
                await stream.send(b"GET /health HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
                head = b""
                while b"\r\n" not in head and len(head) < 4096:
                    head += await stream.receive()
    except (OSError, anyio.EndOfStream, anyio.BrokenResourceError):
        # TimeoutError is an OSError: no answer in time counts as not healthy.
        return False
    parts = head.split(b" ", 2)
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1] == b"200"


class OPAServer:
    """``opa run --server`` on ``127.0.0.1:<port>`` as a child process.

    Use it as an async context manager, or :meth:`start` and :meth:`stop`.
    Without a ``binary``, :func:`ensure_opa_binary` provides one. Without a
    ``port``, a free one is picked (and another if it was taken meanwhile),
    and kept for later restarts.
    The server's own log (errors only) goes to a file, read back in error
    messages; ``log_path`` keeps it somewhere known.
    """

    def __init__(
        self,
        binary: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_level: str = "error",
        disable_telemetry: bool = True,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        log_path: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._binary = Path(binary) if binary is not None else None
        self._host = host
        self._requested_port = port
        self._port: int | None = port
        self._log_level = log_level
        self._disable_telemetry = disable_telemetry
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._log_path = Path(log_path) if log_path is not None else None
        self._own_log = log_path is None
        self._extra_args = tuple(extra_args)
        self._process: anyio.abc.Process | None = None
        self._log_file: IO[bytes] | None = None
        self._current_log: Path | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:8181``."""
        if self._port is None:
            raise OPAServerError("the OPA server has no port yet: start it first")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int | None:
        """The port it listens on (once started, or as given)."""
        return self._port

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def log_text(self) -> str:
        """The server's log so far (its start and its end, when long)."""
        if self._current_log is None:
            return ""
        try:
            data = self._current_log.read_bytes()
        except OSError:
            return ""
        if len(data) > _LOG_TAIL:
            # The cause is usually first (a bad flag, then the usage text), the latest news last.
            data = data[: _LOG_TAIL // 2] + b"\n...\n" + data[-_LOG_TAIL // 2 :]
        return data.decode("utf-8", "replace")

    def command(self, binary: Path, port: int) -> list[str]:
        """The command line that starts the server."""
        cmd = [
            str(binary),
            "run",
            "--server",
            "--addr",
            f"{self._host}:{port}",
            "--log-level",
            self._log_level,
            # A stopped server should go at once, not wait 10 s for idle keep-alive clients.
            "--shutdown-grace-period",
            "1",
        ]
        if self._disable_telemetry:
            # --disable-telemetry is deprecated in OPA 1.x in favour of this flag (no version check call).
            cmd.append("--skip-version-check")
        cmd.extend(self._extra_args)
        return cmd

    async def start(self) -> None:
        """Start the server and return once ``/health`` answers 200."""
        if self.running:
            return
        binary = self._binary
        if binary is None:
            binary = self._binary = await anyio.to_thread.run_sync(ensure_opa_binary)
        last_error = ""
        for _ in range(1 if self._requested_port is not None else _PORT_ATTEMPTS):
            port = self._requested_port or _free_port(self._host)
            self._port = port
            try:
                _check_port_free(self._host, port)
            except OPAServerError as exc:
                if self._requested_port is not None:
                    raise
                last_error = str(exc)  # taken since it was picked: pick another
                continue
            await self._spawn(binary, port)
            outcome = await self._wait_healthy()
            if outcome is None:
                # A restart keeps the URL clients were given.
                self._requested_port = port
                return
            last_error = outcome
            await self._reap()
            if "address already in use" not in last_error.lower():
                break
        raise OPAServerError(last_error)

    def _open_log(self) -> IO[bytes]:
        if self._own_log:
            fd, name = tempfile.mkstemp(prefix="opa-", suffix=".log")
            os.close(fd)
            self._current_log = Path(name)
        else:
            assert self._log_path is not None
            self._current_log = self._log_path
        return open(self._current_log, "ab")  # closed in _close_log

    async def _spawn(self, binary: Path, port: int) -> None:
        # A file, not a pipe: nobody has to keep reading it for the server to go on.
        self._log_file = await anyio.to_thread.run_sync(self._open_log)
        try:
            self._process = await anyio.open_process(
                self.command(binary, port),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            self._close_log()
            raise OPAServerError(f"cannot start {binary}: {exc}") from None

    async def _wait_healthy(self) -> str | None:
        """None once healthy, else why not (exited, or no answer in time)."""
        process = self._process
        assert process is not None
        assert self._port is not None
        try:
            with anyio.fail_after(self._startup_timeout):
                while True:
                    if process.returncode is not None:
                        return f"opa exited with {process.returncode} while starting:\n{self.log_text()}"
                    if await probe_health(self._host, self._port, within=0.5) and process.returncode is None:
                        return None
                    # Nothing to wait on but the socket: OPA says nothing when ready at log level error.
                    await anyio.sleep(0.05)
        except TimeoutError:
            return f"OPA at {self.url} did not answer /health within {self._startup_timeout:g} s:\n{self.log_text()}"

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``stop_timeout``); safe to call twice."""
        with anyio.CancelScope(shield=True):
            await self._reap()

    async def _reap(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    with anyio.fail_after(self._stop_timeout):
                        await process.wait()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
            await process.aclose()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._own_log and self._current_log is not None:
            with contextlib.suppress(OSError):
                self._current_log.unlink()
            self._current_log = None

    async def __aenter__(self) -> OPAServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"OPAServer({self._host}:{self._port}, {state})"
