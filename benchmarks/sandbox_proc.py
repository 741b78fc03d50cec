"""The embedded sandbox in a child process, so a benchmark's client and server do not share
one interpreter (one GIL) and the client's CPU is measured on its own.

Parent side::

    with SandboxProcess(rate=1_000_000, throttle_rate=0.05, seed=1) as sandbox:
        target = sandbox.aws_target()            # toolkit.targets.AwsTarget
        smtp = sandbox.smtp_target()             # STARTTLS + AUTH
        sandbox.count(); sandbox.message_ids(); sandbox.accepted_at()

Child side (``python -m benchmarks.sandbox_proc '<json kwargs>'``): starts
``toolkit.sandbox.Sandbox(**kwargs)``, prints one JSON line describing how to reach it, then
answers one-line commands on stdin (``count``, ``ids``, ``recipients``, ``accepted``) until
stdin closes.
The loopback credentials cross the pipe; they are never printed to the results.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
from types import SimpleNamespace
from typing import Any

START_TIMEOUT_S = 60.0


class SandboxProcess:
    """A sandbox running in a child process; stop it with :meth:`close` (by its own PID)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in close()
            prefix="bench-sandbox-", suffix=".log", delete=False
        )
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox_proc", json.dumps(kwargs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line:
            self.close()
            raise RuntimeError(f"sandbox child did not start: {self._tail_log()}")
        data = json.loads(line)
        if "error" in data:
            self.close()
            raise RuntimeError(f"sandbox child failed: {data['error']}")
        self.info = SimpleNamespace(**data)
        self.pid = self._proc.pid

    # -- targets ---------------------------------------------------------------------------

    def aws_target(self, **overrides: Any) -> Any:
        """An ``AwsTarget`` for the child's SES v2 / Pinpoint HTTP endpoint."""
        from toolkit.targets import AwsTarget

        values = {
            "region": self.info.region,
            "endpoint_url": self.info.endpoint_url,
            "access_key_id": self.info.access_key_id,
            "secret_access_key": self.info.secret_access_key,
            "pinpoint_app_id": self.info.pinpoint_app_id,
        }
        values.update(overrides)
        return AwsTarget(**values)

    def smtp_target(self, **overrides: Any) -> Any:
        """A ``SmtpTarget`` for the child's SMTP server (STARTTLS + AUTH)."""
        from toolkit.targets import SmtpTarget

        values = {
            "host": self.info.smtp_host,
            "port": self.info.smtp_port,
            "username": self.info.smtp_username,
            "password": self.info.smtp_password,
            "tls": "starttls",
            "ca_pem": self.info.cert_pem,
        }
        values.update(overrides)
        return SmtpTarget(**values)

    # -- queries ---------------------------------------------------------------------------

    def _ask(self, command: str) -> Any:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sandbox child exited: {self._tail_log()}")
        return json.loads(line)[command]

    def count(self) -> int:
        """Messages the sandbox accepted so far."""
        return int(self._ask("count"))

    def message_ids(self) -> list[str]:
        """Ids of every accepted message."""
        return list(self._ask("ids"))

    def recipients(self) -> list[str]:
        """The recipients of every accepted message, one entry per recipient per message."""
        return [str(r) for r in self._ask("recipients")]

    def accepted_at(self) -> list[float]:
        """Epoch seconds at which each message was accepted (for rate checks)."""
        return [float(t) for t in self._ask("accepted")]

    def cpu_seconds(self) -> float:
        """User + system CPU the sandbox process has used so far."""
        return float(self._ask("cpu"))

    def clear(self) -> None:
        """Forget accepted messages (between runs sharing one sandbox)."""
        self._ask("clear")

    # -- lifecycle -------------------------------------------------------------------------

    def _tail_log(self) -> str:
        try:
            with open(self._log.name, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        """Close stdin (the child stops its servers and exits); kill it after 10 s."""
        proc = self._proc
        if proc.poll() is None:
            try:
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdout,):
            if stream:
                stream.close()
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe(sandbox: Any) -> dict[str, Any]:
    from toolkit.sandbox.target import sandbox_cert_pem

    info = sandbox.info() if hasattr(sandbox, "info") and callable(sandbox.info) else {}
    return {
        "region": sandbox.region,
        "endpoint_url": sandbox.endpoint_url,
        "access_key_id": sandbox.access_key_id,
        "secret_access_key": sandbox.secret_access_key,
        "pinpoint_app_id": info.get("pinpoint_app_id"),
        "smtp_host": sandbox.smtp_host,
        "smtp_port": sandbox.smtp_port,
        "smtp_username": sandbox.smtp_username,
        "smtp_password": sandbox.smtp_password,
        "cert_pem": sandbox_cert_pem(sandbox),
        "pid": os.getpid(),
    }


def _accepted_epochs(mailbox: Any) -> list[float]:
    frame = mailbox.messages()
    if frame.empty:
        return []
    stamps = frame["accepted_at"]
    return [t.timestamp() for t in stamps]


def main(argv: list[str]) -> int:
    """Child entry point (see module docstring)."""
    kwargs = json.loads(argv[0]) if argv else {}
    try:
        from toolkit.sandbox import Sandbox

        sandbox = Sandbox(**kwargs)
        if hasattr(sandbox, "start"):
            sandbox.start()
        gc.freeze()  # as ``python -m toolkit sandbox`` does once started (toolkit.cli.serve)
        print(json.dumps(_describe(sandbox)), flush=True)
    except Exception as exc:  # report any start failure to the parent, then exit
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                answer: Any = sandbox.mailbox.count()
            elif command == "ids":
                answer = list(sandbox.mailbox.messages()["message_id"])
            elif command == "recipients":
                answer = [r for rs in sandbox.mailbox.messages()["recipients"] for r in rs]
            elif command == "accepted":
                answer = _accepted_epochs(sandbox.mailbox)
            elif command == "cpu":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                answer = usage.ru_utime + usage.ru_stime
            elif command == "clear":
                sandbox.mailbox.clear()
                answer = True
            else:
                answer = None
            print(json.dumps({command: answer}), flush=True)
    finally:
        for name in ("stop", "close"):
            if hasattr(sandbox, name):
                getattr(sandbox, name)()
                break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
