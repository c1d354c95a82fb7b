"""The UI started the documented way (``streamlit run ui/Home.py``) listens on loopback only.

The real ``streamlit`` command is started, from the repository root and from another folder, with a
``$HOME`` of its own (so no ``~/.streamlit/config.toml`` of this machine takes part) and only a port
flag; then the process's listening sockets are read from the kernel (psutil) and every non-loopback
IPv4 address of this machine is tried on that port. No Home page script runs: only the server starts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from ops.emulator import ROOT, free_port
from ops.stack import wait_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STREAMLIT = Path(sys.executable).with_name("streamlit")


@contextmanager
def streamlit_run(script: Path, cwd: Path, home: Path, *flags: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """``streamlit run <script> --server.port <free port> <flags>`` in ``cwd``; yields its pid once healthy."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    environ.update(HOME=str(home), **(env or {}))
    proc = subprocess.Popen(
        [str(STREAMLIT), "run", str(script), "--server.port", str(port), *flags],
        cwd=cwd,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        host = (env or {}).get("STREAMLIT_SERVER_ADDRESS", "127.0.0.1")
        wait_http(f"http://{host}:{port}/_stcore/health", timeout=90, proc=proc)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of ``pid`` and its children."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {
        (c.laddr.ip, c.laddr.port)
        for p in procs
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def other_addresses() -> list[str]:
    """This machine's own IPv4 addresses that are not loopback (none on a machine without a network)."""
    return [
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and not a.address.startswith("127.")
    ]


def assert_loopback_only(pid: int, address: str = "127.0.0.1") -> None:
    sockets = listening(pid)
    assert sockets, "the UI listens on nothing"
    assert {ip for ip, _ in sockets} == {address}, sockets
    for ip in other_addresses():
        for _, port in sockets:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                assert s.connect_ex((ip, port)) != 0, f"the UI answers on {ip}:{port}"


@pytest.mark.parametrize("where", ["repository root", "another folder"])
def test_the_documented_command_listens_on_loopback_only(where: str, tmp_path: Path) -> None:
    if where == "repository root":
        script, cwd = Path("ui/Home.py"), ROOT
    else:
        script, cwd = ROOT / "ui" / "Home.py", tmp_path
    with streamlit_run(script, cwd, tmp_path) as pid:
        assert_loopback_only(pid)


def test_the_documented_override_moves_the_address(tmp_path: Path) -> None:
    """``STREAMLIT_SERVER_ADDRESS`` wins over the file (tried with another loopback address, 127.0.0.2)."""
    with streamlit_run(ROOT / "ui" / "Home.py", ROOT, tmp_path, env={"STREAMLIT_SERVER_ADDRESS": "127.0.0.2"}) as pid:
        assert_loopback_only(pid, "127.0.0.2")
