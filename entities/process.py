"""ProcessEntity: a local OS process, launched from a command line, watched, stopped, restarted.

Death is noticed at once, not by polling: a background task per launch waits
on the process, and when it exits without being asked to the entity publishes
``alive = False`` and the exit code, says why it is not up and goes
``on_fire`` (the failover policies' cue to restart it). The process runs in a
session (and process group) of its own, and a stop signals the whole group,
then SIGKILLs it after ``stop_timeout_s``: no orphan, and the watcher reaps
the process, so no zombie either.

POSIX only; the ``cpu`` and ``rss`` sensors read Linux's ``/proc``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.abc
import attrs

from autonomic.entities._probe import (
    HostedEntity,
    HttpProbe,
    ProbeSensors,
    ProbeSettings,
    check_probe_settings,
    check_url,
)
from autonomic.errors import ConfigError, PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["ProcessEntity", "describe_exit"]

#: seconds a SIGKILLed process gets to disappear before the stop fails
_KILL_WAIT_S = 5.0
#: seconds the output drains get, after the process exited, to read what it left in the pipes
_DRAIN_GRACE_S = 1.0
#: the readiness wait during start probes at most this far apart
_STARTUP_PROBE_PERIOD_S = 0.2
#: CPU utilisation needs a wall-time delta at least this long to mean anything (ticks are 10 ms)
_MIN_CPU_WINDOW_S = 0.05
_TAIL_LINES = 50
_MAX_LINE = 64 * 1024
_PORT = "{port}"


def describe_exit(returncode: int) -> str:
    """``exited with code N`` or ``killed by signal SIGNAME`` (a negative code is a signal, as in Python)."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = str(-returncode)
    return f"killed by signal {name}"


def _signal_of(name: str) -> signal.Signals | None:
    """The signal called ``name`` (``SIGTERM``, ``TERM``, ``sigint``), or None."""
    upper = name.strip().upper()
    try:
        return signal.Signals[upper if upper.startswith("SIG") else f"SIG{upper}"]
    except KeyError:
        return None


def _port_is_free(port: int) -> bool:
    """Whether a server could bind ``port`` now (as servers do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            return False
        return True


#: ports chosen for "auto" by the process entities of this supervisor (port to the holder's id):
#: two members starting at once must not be handed the same port before either binds it
_auto_ports: dict[int, int] = {}


def _free_port() -> int:
    """A TCP port free on every interface now, and not handed to another entity."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("", 0))
            port = int(s.getsockname()[1])
        if port not in _auto_ports:
            return port
    raise TemporaryEffectorError("no free TCP port found for port: auto")


def _living_in_group(pgid: int) -> bool | None:
    """Whether a process that is not a zombie is in group ``pgid``; None without /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        # After the command name: state, ppid, pgrp.
        state, _, pgrp = stat[stat.rfind(")") + 2 :].split(maxsplit=3)[:3]
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


@attrs.define(eq=False)
class _Run:
    """One launch of the process and what its watcher knows about it."""

    number: int
    process: anyio.abc.Process
    started: float
    started_mono: float
    probe: HttpProbe | None
    #: set once the process was asked to go (a stop): its exit is then expected
    stopping: bool = False
    returncode: int | None = None
    #: set when the exit is recorded (sensors and lifecycle already updated)
    exited: anyio.Event = attrs.field(factory=anyio.Event)
    #: set when the watcher task has finished (pipes closed, process reaped)
    done: anyio.Event = attrs.field(factory=anyio.Event)
    #: set when start no longer waits for readiness, so the health loop takes over
    startup_over: anyio.Event = attrs.field(factory=anyio.Event)
    health_scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    cpu_prev: tuple[float, float] | None = None
    #: the last lines of each output stream, when they are read (no log_dir)
    tails: dict[str, deque[str]] = attrs.field(
        factory=lambda: {"stdout": deque(maxlen=_TAIL_LINES), "stderr": deque(maxlen=_TAIL_LINES)}
    )

    @property
    def pid(self) -> int:
        """The process id (also its process group id: it leads a session of its own)."""
        return self.process.pid


class ProcessEntity(HostedEntity, ProbeSensors, type_name="process"):
    """A local OS process from a command line and an environment.

    ``start`` launches ``command`` (in a new session, so the process leads its
    own process group); ``stop`` sends ``stop_signal`` to the group and SIGKILLs
    it after ``stop_timeout_s``; ``restart`` does both. ``restarts`` counts every
    launch after the first. A process that keeps dying is launched again only
    after a backoff: ``restart_backoff_s``, doubling with each unexpected exit
    in a row, at most ``restart_backoff_max_s``; a process that ran longer than
    that maximum starts the count afresh, and so does stopping a running process.

    ``port``: an integer, or ``"auto"`` for a port free at the first start
    (kept across restarts while it stays free); it fills ``{port}`` in the
    command, the env values and ``health_url``, and is published as ``port``.

    ``health_url`` makes readiness come from HTTP probes (the same probe as
    ``http-service``, tuned by ``health``): the entity is ``ready`` only while the
    endpoint answers, and ``start`` waits up to ``ready_timeout_s`` for the first
    healthy answer (None: do not wait). Health never makes the process "not up":
    that is for its death.

    Output goes to ``<log_dir>/<id>.stdout.log`` and ``.stderr.log`` when
    ``log_dir`` is set; otherwise it is read as it comes (so the pipes never
    fill) and its last lines are kept (:meth:`output_tail`; the last stderr
    lines are logged when the process dies).

    Background tasks need a home: attach the entity to a runtime, or use it
    inside ``async with entity.hosted():``.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """Command, environment, stopping, restarts, port, output and health check."""

        command: list[str]
        #: merged over the supervisor's own environment
        env: dict[str, str] = attrs.field(factory=dict)
        cwd: str | None = None
        stop_signal: str = "SIGTERM"
        stop_timeout_s: float = 10.0
        restart_backoff_s: float = 1.0
        restart_backoff_max_s: float = 60.0
        log_dir: str | None = None
        #: an integer, "auto" (a free port chosen at start) or None
        port: Any = None
        health_url: str | None = None
        health: ProbeSettings = attrs.field(factory=ProbeSettings)
        ready_timeout_s: float | None = 30.0

    pid = Sensor(int, nullable=True, description="the running process's id (null when none runs)")
    alive = Sensor(bool, description="the process is running")
    exit_code = Sensor(int, nullable=True, description="the last exit status; negative: killed by that signal")
    restarts = Sensor(int, description="launches after the first")
    cpu = Sensor(float, unit="1", nullable=True, description="CPU seconds used per second since the last poll")
    rss = Sensor(int, unit="B", nullable=True, description="resident memory of the process")
    uptime = Sensor(float, unit="s", nullable=True, description="seconds since the process was launched")
    port = Sensor(int, nullable=True, description="the port filled into {port}")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        problems = self._config_problems()
        if problems:
            raise ConfigError(f"{self.type_name}: " + "; ".join(problems))
        sig = _signal_of(self.config.stop_signal)
        assert sig is not None  # checked above
        self._stop_signal = sig
        self._run: _Run | None = None
        self._launches = 0
        self._crash_streak = 0
        self._chosen_port: int | None = None
        # Definite values from the outset: no process runs, none was restarted.
        self.alive.publish(False)
        self.restarts.publish(0)

    def _config_problems(self) -> list[str]:
        c = self.config
        problems = []
        if not c.command or not c.command[0]:
            problems.append("config.command must name a program")
        if _signal_of(c.stop_signal) is None:
            problems.append(f"config.stop_signal: unknown signal {c.stop_signal!r}")
        if c.stop_timeout_s < 0:
            problems.append(f"config.stop_timeout_s must be >= 0, got {c.stop_timeout_s:g}")
        if c.restart_backoff_s < 0 or c.restart_backoff_max_s < c.restart_backoff_s:
            problems.append("config: need 0 <= restart_backoff_s <= restart_backoff_max_s")
        port = c.port
        if not (
            port is None or port == "auto" or (isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536)
        ):
            problems.append(f'config.port must be an integer 1-65535, "auto" or null, got {port!r}')
        if c.health_url is not None:
            problems.extend(check_url(c.health_url, "config.health_url"))
        problems.extend(check_probe_settings(c.health, "config.health."))
        if c.ready_timeout_s is not None and c.ready_timeout_s <= 0:
            problems.append(f"config.ready_timeout_s must be > 0 or null, got {c.ready_timeout_s:g}")
        return problems

    # -- reading ------------------------------------------------------------------------------
    def output_tail(self, stream: str = "stderr") -> list[str]:
        """The last lines the current (or last) process wrote on ``stream`` (when not sent to log files)."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', got {stream!r}")
        return list(self._run.tails[stream]) if self._run is not None else []

    async def wait_exit(self) -> int:
        """Wait until the current process has exited and its exit is recorded; return its exit code."""
        run = self._run
        if run is None:
            raise RuntimeError(f"{self.id}: no process was started")
        await run.exited.wait()
        if run.returncode is None:
            raise RuntimeError(f"{self.id}: exit recorded without an exit code")
        return run.returncode

    async def poll(self) -> None:
        """Publish ``cpu``, ``rss`` and ``uptime`` from /proc, and probe health if configured."""
        run = self._run
        if run is None or run.returncode is not None:
            return
        self._read_proc(run)
        self.uptime.publish(self.now() - run.started)
        if run.probe is not None and not run.stopping:
            await self._check_health(run)

    def _read_proc(self, run: _Run) -> None:
        # /proc lives in memory: reading it never blocks, so no thread is needed.
        try:
            stat = Path(f"/proc/{run.pid}/stat").read_text()
            statm = Path(f"/proc/{run.pid}/statm").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return  # it just died; the watcher records that
        except OSError as exc:
            self.cpu.mark_stale(f"cannot read /proc: {exc}")
            self.rss.mark_stale(f"cannot read /proc: {exc}")
            return
        # Fields after the command name (which may hold spaces and parentheses): state is
        # field 3, utime and stime (in clock ticks) are fields 14 and 15.
        fields = stat[stat.rfind(")") + 2 :].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        mono = time.monotonic()
        prev_mono, prev_cpu = run.cpu_prev or (run.started_mono, 0.0)
        if mono - prev_mono >= _MIN_CPU_WINDOW_S:
            self.cpu.publish(max(0.0, cpu_s - prev_cpu) / (mono - prev_mono))
            run.cpu_prev = (mono, cpu_s)
        self.rss.publish(int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE"))

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start as :meth:`Entity.start` does; a process that died during start leaves the entity on fire."""
        await super().start()
        run = self._run
        # The watcher leaves the lifecycle alone while starting (start sets it last), so an exit
        # in that window is applied here, after start has said "running".
        if (
            run is not None
            and run.returncode is not None
            and not run.stopping
            and self.lifecycle.actual is Lifecycle.RUNNING
        ):
            self.set_lifecycle(Lifecycle.ON_FIRE)

    async def on_start(self) -> None:
        """Launch the process (after the crash backoff), watch it, and wait for readiness if asked."""
        if not self.can_run_background:
            raise PermanentEffectorError(
                f"{self.id}: a process entity watches its process in a background task, so it needs a home for "
                f"it: attach it to a Runtime (Runtime.running()), or use it inside `async with entity.hosted():`"
            )
        old = self._run
        if old is not None and old.returncode is None:
            await self._terminate(old)  # e.g. left by a start that failed or was cancelled
        delay = self._backoff_delay()
        if delay > 0:
            self.log.info("process_backoff", delay_s=delay, unexpected_exits_in_a_row=self._crash_streak)
            await self.clock.sleep(delay)
        run = await self._launch(self._choose_port())
        self.start_background(self._watch, run, name=f"process-{run.number}")
        if run.probe is not None and self.config.ready_timeout_s is not None:
            try:
                await self._await_ready(run, self.config.ready_timeout_s)
            finally:
                run.startup_over.set()
        else:
            run.startup_over.set()

    async def on_stop(self) -> None:
        """Terminate the process group (signal, then SIGKILL) and wait for the watcher to finish."""
        run = self._run
        if run is None:
            return
        if self._chosen_port is not None and _auto_ports.get(self._chosen_port) == id(self):
            del _auto_ports[self._chosen_port]  # a stopped entity may be gone for good
        if run.returncode is None:
            self._record_exit(run, await self._terminate(run))
            self._crash_streak = 0  # asked to stop: whatever came before is forgiven
        # Let the watcher close the pipes and release the probe before saying "stopped".
        with anyio.move_on_after(_DRAIN_GRACE_S + 1.0):
            await run.done.wait()

    def _backoff_delay(self) -> float:
        if self._crash_streak == 0:
            return 0.0
        c = self.config
        return float(min(c.restart_backoff_s * 2 ** (self._crash_streak - 1), c.restart_backoff_max_s))

    def _choose_port(self) -> int | None:
        port = self.config.port
        if port is None:
            return None
        if isinstance(port, int):
            return port
        # "auto": keep the port across restarts (clients and balancers know it) while it is free.
        # (A stop released it; another entity may have been handed it since.)
        kept = self._chosen_port
        if kept is None or _auto_ports.get(kept, id(self)) != id(self) or not _port_is_free(kept):
            kept = self._chosen_port = _free_port()
        _auto_ports[kept] = id(self)
        return kept

    def _fill(self, text: str, port: int | None) -> str:
        if _PORT not in text:
            return text
        if port is None:
            raise PermanentEffectorError(f"{self.id}: {text!r} uses {{port}} but config.port is not set")
        return text.replace(_PORT, str(port))

    async def _launch(self, port: int | None) -> _Run:
        c = self.config
        command = [self._fill(a, port) for a in c.command]
        env = {**os.environ, **{k: self._fill(v, port) for k, v in c.env.items()}}
        health_url = self._fill(c.health_url, port) if c.health_url is not None else None
        files: tuple[IO[bytes], ...] = ()
        stdout: int | IO[bytes] = subprocess.PIPE
        stderr: int | IO[bytes] = subprocess.PIPE
        if c.log_dir is not None:
            files = stdout, stderr = self._open_logs(Path(c.log_dir), command)
        try:
            process = await anyio.open_process(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                cwd=c.cwd,
                env=env,
                start_new_session=True,  # its own process group, so a stop reaches its children too
            )
        except OSError as exc:
            raise PermanentEffectorError(f"{self.id}: cannot launch {command[0]!r}: {exc}") from exc
        finally:
            for f in files:
                f.close()  # the child holds its own descriptors
        self._launches += 1
        run = _Run(
            number=self._launches,
            process=process,
            started=self.now(),
            started_mono=time.monotonic(),
            probe=HttpProbe(url=health_url, settings=c.health) if health_url is not None else None,
        )
        self._run = run
        self.log.info("process_started", pid=run.pid, command=command, launch=run.number)
        self.pid.publish(run.pid)
        self.alive.publish(True)
        self.exit_code.publish(None)
        self.restarts.publish(self._launches - 1)
        self.uptime.publish(0.0)
        self.port.publish(port)
        self.clear_not_up("process")
        self.set_ready(run.probe is None)
        return run

    def _open_logs(self, log_dir: Path, command: list[str]) -> tuple[IO[bytes], IO[bytes]]:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            stem = self.id.replace("/", "__")
            out = (log_dir / f"{stem}.stdout.log").open("ab")
            err = (log_dir / f"{stem}.stderr.log").open("ab")
        except OSError as exc:
            raise PermanentEffectorError(f"{self.id}: cannot open log files in {log_dir}: {exc}") from exc
        banner = f"=== launch {self._launches + 1} at {time.strftime('%Y-%m-%dT%H:%M:%S')}: {command} ===\n".encode()
        for f in (out, err):
            f.write(banner)
            f.flush()
        return out, err

    async def _await_ready(self, run: _Run, timeout_s: float) -> None:
        """Probe until healthy; fail the start if the process exits or stays unready too long."""
        assert run.probe is not None
        # Real time: the process boots in real time whatever clock the runtime uses.
        deadline = time.monotonic() + timeout_s
        period = min(self.config.health.interval_s or _STARTUP_PROBE_PERIOD_S, _STARTUP_PROBE_PERIOD_S)
        while True:
            if run.returncode is not None:
                raise TemporaryEffectorError(
                    f"{self.id}: the process {describe_exit(run.returncode)} before it became ready"
                )
            await self._check_health(run)
            if run.probe.tracker.healthy:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                why = f"not ready within {timeout_s:g} s ({run.probe.tracker.reason})"
                await self._terminate(run)
                self._crash_streak += 1  # a start that never gets ready is a crash too
                self.set_not_up("process", why)
                raise TemporaryEffectorError(f"{self.id}: {run.probe.url} {why}; process stopped")
            # Sleep until the next probe, but wake at once if the process dies.
            with anyio.move_on_after(min(period, remaining)):
                await run.exited.wait()

    async def _check_health(self, run: _Run) -> None:
        assert run.probe is not None
        result = await run.probe.check()
        if run is not self._run or run.returncode is not None:
            return  # an answer about a process that is gone
        run.probe.publish(self, result)
        self.set_ready(run.probe.tracker.healthy)

    async def _health_loop(self, run: _Run) -> None:
        interval = self.config.health.interval_s
        with run.health_scope:
            await run.startup_over.wait()
            if interval <= 0:
                return  # probes only when polled
            while True:
                await self.clock.sleep(interval)
                await self._check_health(run)

    # -- watching -----------------------------------------------------------------------------
    async def _watch(self, run: _Run) -> None:
        """Wait on the process: its exit is recorded the moment it happens. Reaps and closes it."""
        try:
            async with anyio.create_task_group() as tg:
                if run.process.stdout is not None:
                    tg.start_soon(self._drain, run, run.process.stdout, "stdout")
                if run.process.stderr is not None:
                    tg.start_soon(self._drain, run, run.process.stderr, "stderr")
                if run.probe is not None:
                    tg.start_soon(self._health_loop, run)
                code = await run.process.wait()
                if not run.stopping:
                    # Whatever it started in its group goes with it: no orphans. (A stop gives
                    # the group its grace period first, see _terminate.)
                    self._signal_group(run, signal.SIGKILL)
                self._record_exit(run, code)
                run.health_scope.cancel()
                # The drains may still read what the process left in the pipes, for a moment.
                tg.cancel_scope.deadline = anyio.current_time() + _DRAIN_GRACE_S
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    if run.process.returncode is None:
                        # The host is going away (runtime shutdown) with the process still running:
                        # take it along rather than leave an orphan behind.
                        self._record_exit(run, await self._terminate(run))
                        if run is self._run:
                            self.set_lifecycle(Lifecycle.STOPPED, expected=Lifecycle.STOPPED)
                except Exception as exc:  # a background task must never take the runtime down
                    self.report_problem(f"could not stop pid {run.pid}: {exc}")
                finally:
                    if run.probe is not None:
                        await run.probe.aclose()
                    await run.process.aclose()
                    run.done.set()

    async def _drain(self, run: _Run, stream: anyio.abc.ByteReceiveStream, name: str) -> None:
        """Read a pipe to its end so the process never blocks writing; keep and log the lines."""
        pending = b""
        try:
            async for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > _MAX_LINE:
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    self._keep_line(run, name, line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        if pending:
            self._keep_line(run, name, pending)

    def _keep_line(self, run: _Run, name: str, raw: bytes) -> None:
        # Kept, not logged line by line: the tail goes into the log when the process dies,
        # and log_dir is there for whoever wants everything.
        run.tails[name].append(raw.decode(errors="replace").rstrip("\r"))

    def _record_exit(self, run: _Run, code: int) -> None:
        """Publish the exit; an unexpected one makes the entity not up and on fire. Idempotent."""
        if run.returncode is not None:
            return
        run.returncode = code
        uptime = self.now() - run.started
        reason = describe_exit(code)
        if run is self._run:
            self.alive.publish(False)
            self.exit_code.publish(code)
            self.pid.publish(None)
            self.uptime.publish(None)
            self.cpu.publish(None)
            self.rss.publish(None)
            # A stop on its way counts even before it reached the process (its exit is expected).
            if run.stopping or self.lifecycle.expected is Lifecycle.STOPPED:
                self.log.info("process_stopped", pid=run.pid, reason=reason, uptime_s=round(uptime, 3))
            else:
                ran_long = uptime >= self.config.restart_backoff_max_s
                self._crash_streak = 1 if ran_long else self._crash_streak + 1
                self.log.warning(
                    "process_died", pid=run.pid, reason=reason, uptime_s=round(uptime, 3), stderr=list(run.tails["stderr"])[-5:]
                )
                self.set_not_up("process", reason)
                # While starting, start itself decides the lifecycle (see start).
                if self.lifecycle.actual is not Lifecycle.STARTING:
                    self.set_lifecycle(Lifecycle.ON_FIRE)
        run.exited.set()

    def _signal_group(self, run: _Run, sig: signal.Signals) -> None:
        try:
            os.killpg(run.pid, sig)
        except ProcessLookupError:
            pass  # the whole group is gone already
        except PermissionError:
            pass  # some systems refuse killpg on a group left with only its zombie leader

    def _group_alive(self, run: _Run) -> bool:
        try:
            os.killpg(run.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        # Signals reach zombies too, and an orphan stays a zombie until init reaps it (some
        # container inits never do): only living members count.
        living = _living_in_group(run.pid)
        return True if living is None else living

    async def _terminate(self, run: _Run) -> int:
        """``stop_signal`` to the group, SIGKILL after ``stop_timeout_s``; returns the exit code once reaped."""
        run.stopping = True
        self._signal_group(run, self._stop_signal)
        # Real time: the process takes real time to go, whatever clock the runtime uses.
        with anyio.move_on_after(self.config.stop_timeout_s) as graceful:
            await run.process.wait()
            # The leader is gone; its children get the same time to finish. No process can tell
            # us when a whole group is gone, so look, briefly and only while stopping.
            while self._group_alive(run):  # noqa: ASYNC110 - no event exists for "group empty"
                await anyio.sleep(0.02)
        if graceful.cancelled_caught:
            self.log.warning(
                "process_stop_timeout", pid=run.pid, signal=self._stop_signal.name, after_s=self.config.stop_timeout_s
            )
        # SIGKILL whatever is left in the group: the leader if it ignored the signal, and its children.
        self._signal_group(run, signal.SIGKILL)
        with anyio.move_on_after(_KILL_WAIT_S):
            return await run.process.wait()
        raise TemporaryEffectorError(f"{self.id}: pid {run.pid} survived SIGKILL for {_KILL_WAIT_S:g} s")
