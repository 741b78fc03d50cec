"""Postfix's ``smtp-sink`` (receiver) and ``smtp-source`` (reference sender) for benchmarks.

Only these two test programs are used; the Postfix MTA itself is never started. When they are
missing, :func:`ensure_postfix_tools` installs Debian's ``postfix`` package if it can (root and
apt-get present) and otherwise says why not, so the scenario is reported as skipped.

Usage::

    tools = ensure_postfix_tools()          # PostfixTools or raises ToolsMissing(reason)
    with SmtpSink(tools) as sink:           # 127.0.0.1:<free port>
        result = run_smtp_source(tools, sink.port, messages=20_000, sessions=16)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/lib/postfix")
MESSAGE_KB = 2  # smtp-source -l 2048 sends ~2.2 KB messages; the toolkit sends the same size


class ToolsMissing(RuntimeError):
    """smtp-sink/smtp-source are not available; the message says why."""


@dataclass(frozen=True)
class PostfixTools:
    sink: str
    source: str


def find_postfix_tools() -> PostfixTools | None:
    """The two binaries when both are installed, else None."""
    found = []
    for name in ("smtp-sink", "smtp-source"):
        path = shutil.which(name)
        if path is None:
            for directory in SEARCH_DIRS:
                candidate = Path(directory) / name
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    path = str(candidate)
                    break
        if path is None:
            return None
        found.append(path)
    return PostfixTools(sink=found[0], source=found[1])


def ensure_postfix_tools(install: bool = True, timeout: float = 600.0) -> PostfixTools:
    """Find smtp-sink/smtp-source, installing Debian's postfix package when allowed.

    Raises :class:`ToolsMissing` with a plain reason when they cannot be had.
    """
    tools = find_postfix_tools()
    if tools is not None:
        return tools
    if not install:
        raise ToolsMissing("smtp-sink/smtp-source not installed (install Debian's postfix)")
    apt = shutil.which("apt-get")
    if apt is None:
        raise ToolsMissing("smtp-sink/smtp-source not installed and apt-get is not available")
    if os.geteuid() != 0:
        raise ToolsMissing(
            "smtp-sink/smtp-source not installed; installing postfix needs root "
            "(run: sudo apt-get install postfix)"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in ([apt, "update"], [apt, "install", "-y", "postfix"]):
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise ToolsMissing(f"{' '.join(command)} timed out after {timeout:.0f} s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise ToolsMissing(f"{' '.join(command)} failed: {tail[0][:200]}")
    tools = find_postfix_tools()
    if tools is None:
        raise ToolsMissing("postfix installed but smtp-sink/smtp-source were not found")
    return tools


def free_port() -> int:
    """An unused loopback port (smtp-sink cannot report the port it got for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """``smtp-sink`` on 127.0.0.1, discarding every message; stopped by its own PID."""

    def __init__(self, tools: PostfixTools, backlog: int = 256) -> None:
        self.port = free_port()
        command = [tools.sink]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # required when started as root
        command += [f"127.0.0.1:{self.port}", str(backlog)]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self._proc.pid
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.recv(256)  # the 220 greeting
                break
            except OSError as exc:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise ToolsMissing(f"smtp-sink did not start on port {self.port}") from exc
                time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """User+system CPU the sink used so far (procfs), or None."""
        try:
            import psutil

            times = psutil.Process(self.pid).cpu_times()
            return float(times.user + times.system)
        except Exception:
            return None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class SourceRun:
    messages: int
    sessions: int
    reuse: bool
    seconds: float
    cpu_seconds: float
    returncode: int


def run_smtp_source(
    tools: PostfixTools,
    port: int,
    *,
    messages: int,
    sessions: int,
    reuse: bool = False,
    timeout: float = 300.0,
) -> SourceRun:
    """Run smtp-source to completion; wall time around the process, CPU from ``wait4``."""
    command = [tools.source, "-s", str(sessions), "-m", str(messages), "-l", str(MESSAGE_KB * 1024)]
    if reuse:
        command.append("-d")
    command += ["-f", "sender@example.com", "-t", "recipient@example.org", f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.002)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return SourceRun(
        messages=messages,
        sessions=sessions,
        reuse=reuse,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        returncode=proc.returncode,
    )
