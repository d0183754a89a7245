"""Start the console scripts as real OS processes: `make run`, end-to-end and
crash tests.

Each prints "<service> listening on host:port" once it serves; we read the port
from that line, so tests can ask for port 0 and never race for a port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
_LISTEN = re.compile(r"^(\w+) listening on ([\d.]+):(\d+)$")
# Every process started here, so a test session can read all their output (the PII scan does).
STARTED: list[ServiceProcess] = []


@dataclass
class ServiceProcess:
    name: str
    proc: subprocess.Popen[str]
    port: int
    log_lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def terminate(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._drain()
        return code

    def _drain(self) -> None:
        if self.reader is not None:
            self.reader.join(5)

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._drain()


def start_process(
    service: str,
    env: Mapping[str, str],
    *,
    timeout: float = 60,
    log_path: Path | None = None,
    echo: bool = False,
    argv: list[str] | None = None,
) -> ServiceProcess:
    """Start `cashback-<service>` (or `argv`, a program serving as that service) and wait until it listens."""
    full_env = {**os.environ, **env, f"{service.upper()}_ADDR": env.get(f"{service.upper()}_ADDR", "127.0.0.1:0")}
    proc = subprocess.Popen(
        argv or [str(VENV_BIN / f"cashback-{service}")],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    port_box: list[int] = []
    ready = threading.Event()
    sink = log_path.open("a") if log_path else None

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if sink:
                sink.write(line)
                sink.flush()
            if echo:
                sys.stdout.write(f"[{service}] {line}")
                sys.stdout.flush()
            m = _LISTEN.match(line.strip())
            if m and m.group(1) == service:
                port_box.append(int(m.group(3)))
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{service} did not start in {timeout}s:\n" + "\n".join(lines[-30:]))
    if not port_box:
        proc.wait(5)
        raise RuntimeError(f"{service} exited ({proc.returncode}) before listening:\n" + "\n".join(lines[-30:]))
    started = ServiceProcess(service, proc, port_box[0], lines, reader)
    STARTED.append(started)
    return started
