"""A real mosquitto broker on loopback for the MQTT tests (they skip when it can't be had).

One place for finding the binary, writing its config (``user root`` when the tests run as
root: mosquitto would otherwise drop to a user that cannot read a private tmp dir), starting
it and waiting until it accepts connections.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
PASSWD = shutil.which("mosquitto_passwd") or (
    "/usr/bin/mosquitto_passwd" if os.path.exists("/usr/bin/mosquitto_passwd") else None)
MISSING = "mosquitto broker not installed (apt-get install -y mosquitto)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def write_conf(path: Path, port: int, settings: str) -> Path:
    """A config listening on 127.0.0.1:``port`` with ``settings`` (newline-ended lines)."""
    as_root = "user root\n" if os.geteuid() == 0 else ""
    path.write_text(f"{as_root}listener {port} 127.0.0.1\n{settings}")
    return path


def start(conf: Path, port: int, timeout_s: float = 10.0) -> subprocess.Popen:
    """Start mosquitto with ``conf`` and wait for ``port``; skip the test if it won't come."""
    if MOSQUITTO is None:
        pytest.skip(MISSING)
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while not port_open(port):
        if time.monotonic() > deadline:
            proc.kill()
            pytest.skip("mosquitto did not start")
        time.sleep(0.05)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
