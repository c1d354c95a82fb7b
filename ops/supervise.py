"""The local stack's services under supervisord (the ``supervisor`` package): restarted when they die.

:class:`Supervisor` writes a supervisord configuration with one ``[program]`` per service (none
started on its own), runs ``supervisord`` in the foreground as a child, starts the services one by one
through its XML-RPC interface (a Unix socket with a password made for this run), and echoes each
service's log file and supervisord's own log with a prefix. What supervisord does from then on:

* a service that exits is started again at once; one that exits again within :data:`START_SECS` is
  retried after 1, 2, 3, ... seconds, and after :data:`START_RETRIES` such failures it is given up
  (``FATAL``) while the others keep running. supervisord logs each of these steps (prefix ``supervise``);
* a service that exits with :data:`EXIT_NO_RESTART` after it started is left stopped (``EXITED``): it
  said that starting it again cannot help (the local endpoint, for a model that cannot be loaded);
* on SIGTERM it stops the services in reverse start order with SIGTERM to each one's process group,
  then SIGKILL after :data:`STOP_WAIT_S` seconds.

``.venv/bin/supervisorctl -c <dir>/supervisord.conf status`` shows the services while it runs
(``restart endpoint`` and the other commands work too).
"""

from __future__ import annotations

import configparser
import getpass
import http.client
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from supervisor.xmlrpc import SupervisorTransport

from ops.errors import OpsError

#: Seconds a service must stay up to count as started; an earlier exit is retried with a growing delay.
START_SECS = 1
#: Quick failures in a row after which a service is given up (supervisord's ``startretries``).
START_RETRIES = 5
#: The exit code by which a service says that restarting it cannot help (supervisord's ``exitcodes``
#: with ``autorestart=unexpected``: every other code, 0 too, is restarted as before).
EXIT_NO_RESTART = 3
#: Seconds a service gets to stop after SIGTERM before its process group is killed.
STOP_WAIT_S = 20
#: supervisord's states of a service that will not run again unless asked to.
GIVEN_UP = ("FATAL", "EXITED")
_print_lock = threading.Lock()


def log(prefix: str, line: str) -> None:
    with _print_lock:
        print(f"{prefix:<9}| {line}", flush=True)


@dataclass
class Program:
    """One supervised command: its name, command line and folder (it inherits supervisord's environment)."""

    name: str
    argv: list[str]
    cwd: Path


def _value(value: object) -> str:
    """A configuration value: supervisord expands ``%(name)s`` in values, so a literal ``%`` is doubled."""
    return str(value).replace("%", "%%")


class Supervisor:
    """supervisord running ``programs``; its files (configuration, socket) in ``run_dir``, their logs in
    ``log_dir`` (``<name>.log``, rotated at 10 MB). ``env`` is the environment every program inherits."""

    def __init__(self, run_dir: Path, log_dir: Path, env: dict[str, str], echo: bool = True) -> None:
        self.run_dir, self.log_dir, self.env, self.echo = run_dir, log_dir, env, echo
        self.config_path = run_dir / "supervisord.conf"
        self._password = secrets.token_urlsafe(16)
        self._proc: subprocess.Popen | None = None
        self._rpc: Any = None
        self._stopped = threading.Event()
        self._followers: list[threading.Thread] = []

    # -- configuration ------------------------------------------------------------------------------

    def _write_config(self, programs: Iterable[Program]) -> None:
        socket = self.run_dir / "supervisor.sock"
        parser = configparser.RawConfigParser()
        parser.optionxform = str  # type: ignore[assignment, method-assign]  # keep names as written
        parser["supervisord"] = {
            "nodaemon": "true",
            "logfile": _value(self.log_dir / "supervisord.log"),
            "logfile_maxbytes": "1MB",
            "logfile_backups": "1",
            "pidfile": _value(self.run_dir / "supervisord.pid"),
            "childlogdir": _value(self.log_dir),
            # The current user: supervisord warns about running as root unless the config names the user.
            "user": getpass.getuser(),
        }
        parser["unix_http_server"] = {
            "file": _value(socket),
            "chmod": "0700",
            "username": "stack",
            "password": self._password,
        }
        parser["supervisorctl"] = {
            "serverurl": _value(f"unix://{socket}"),
            "username": "stack",
            "password": self._password,
        }
        parser["rpcinterface:supervisor"] = {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        }
        for priority, program in enumerate(programs, start=1):
            section = {
                "command": _value(shlex.join(program.argv)),
                "directory": _value(program.cwd),
                "priority": str(priority * 10),  # start order; supervisord stops in the reverse order
                "autostart": "false",
                "autorestart": "unexpected",
                "exitcodes": str(EXIT_NO_RESTART),
                "startsecs": str(START_SECS),
                "startretries": str(START_RETRIES),
                "stopsignal": "TERM",
                "stopwaitsecs": str(STOP_WAIT_S),
                "stopasgroup": "true",
                "killasgroup": "true",
                "redirect_stderr": "true",
                "stdout_logfile": _value(self.log_path(program.name)),
                "stdout_logfile_maxbytes": "10MB",
                "stdout_logfile_backups": "1",
            }
            parser[f"program:{program.name}"] = section
        self.config_path.touch(mode=0o600)  # it holds the socket's password
        with self.config_path.open("w") as out:
            parser.write(out)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    # -- running ------------------------------------------------------------------------------------

    def start(self, programs: list[Program], timeout: float = 20.0) -> None:
        """Start supervisord with ``programs`` configured (none running yet) and wait for its socket."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for old in self.log_dir.glob("*.log*"):  # one run's output per file
            old.unlink()
        self._write_config(programs)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config_path)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._echo_stream("supervise", self._proc.stdout)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise OpsError(f"supervisord exited with code {self._proc.returncode} (see above)")
            self._rpc = self._connect()  # anew each time: a failed attempt leaves the connection unusable
            try:
                if self._rpc.supervisor.getState()["statename"] == "RUNNING":
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise OpsError(f"supervisord did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def _connect(self) -> Any:
        transport = SupervisorTransport("stack", self._password, f"unix://{self.run_dir / 'supervisor.sock'}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def start_program(self, name: str) -> None:
        """Ask supervisord to start ``name`` (no waiting) and echo its log."""
        self._echo_file(name, self.log_path(name))
        try:
            self._rpc.supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as exc:
            raise OpsError(f"{name} could not be started: {exc.faultString}") from None

    def reason(self, name: str) -> str | None:
        """Why ``name`` stopped, as it said so: its log's last ``CRITICAL`` line of JSON (the endpoint's
        format, :class:`ops.endpoint.JsonFormatter`) as ``message: error``, or None without one."""
        try:
            lines = self.log_path(name).read_text(errors="replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") == "CRITICAL":
                return ": ".join(str(entry[key]) for key in ("message", "error") if entry.get(key))
        return None

    def state(self, name: str) -> str:
        """supervisord's state of ``name``: ``STARTING``, ``RUNNING``, ``BACKOFF``, ``FATAL``, ``EXITED``, ..."""
        return self._rpc.supervisor.getProcessInfo(name)["statename"]

    def wait_running(self, name: str, timeout: float) -> None:
        """Wait until ``name`` has stayed up :data:`START_SECS`; OpsError when it is given up or times out
        (its message names neither the service nor its log: the caller's does)."""
        deadline = time.monotonic() + timeout
        while (state := self.state(name)) != "RUNNING":
            if state in GIVEN_UP or time.monotonic() > deadline:
                raise OpsError(f"did not start ({state})")
            time.sleep(0.1)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 120.0) -> None:
        """SIGTERM to supervisord, which stops every program in reverse order; wait for it to exit."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("stack", f"supervisord did not stop within {timeout:.0f} s: killing it")
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._stopped.set()
        for follower in self._followers:
            follower.join(5)
        self._followers.clear()

    # -- the one log stream -------------------------------------------------------------------------

    def _echo_stream(self, prefix: str, stream: IO[bytes] | None) -> None:
        def pump() -> None:
            for raw in iter(stream.readline, b""):
                self._print(prefix, raw)

        self._start_follower(pump)

    def _echo_file(self, prefix: str, path: Path) -> None:
        """Print the lines appended to ``path`` (reopened when supervisord rotates it) until stopped."""

        def follow() -> None:
            handle = None
            while True:
                stopping = self._stopped.is_set()
                if handle is None:
                    handle = _open(path)
                for raw in _complete_lines(handle):
                    self._print(prefix, raw)
                if stopping:
                    break
                if handle is not None and _rotated(path, handle):
                    handle.close()
                    handle = None
                    continue
                self._stopped.wait(0.1)
            if handle is not None:
                handle.close()

        self._start_follower(follow)

    def _start_follower(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._followers.append(thread)

    def _print(self, prefix: str, raw: bytes) -> None:
        if self.echo:
            log(prefix, raw.decode("utf-8", "replace").rstrip())


def _open(path: Path) -> IO[bytes] | None:
    try:
        return path.open("rb")
    except FileNotFoundError:
        return None


def _complete_lines(handle: IO[bytes] | None) -> Iterable[bytes]:
    """The whole lines written so far; a partial last line is left for the next read."""
    if handle is None:
        return
    while line := handle.readline():
        if not line.endswith(b"\n"):
            handle.seek(-len(line), os.SEEK_CUR)
            return
        yield line


def _rotated(path: Path, handle: IO[bytes]) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return True
