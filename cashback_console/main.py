"""`cashback-console`: serve the console on CONSOLE_ADDR (default 127.0.0.1:8080)
and print the address. uvicorn's own access log is off: the app writes its own
(app.Edge), which never carries a query string, form or cookie."""

from __future__ import annotations

import socket
import sys

import uvicorn

from cashback_console.app import create_app
from cashback_console.config import ConsoleSettings
from cashback_kit.logs import configure_logging


def main() -> None:
    settings = ConsoleSettings.from_env()
    configure_logging("console", "INFO")
    host, port = settings.host_port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sys.exit(f"console: cannot listen on {host}:{port}: {exc.strerror} (set CONSOLE_ADDR)")
    sock.listen(128)
    bound = sock.getsockname()[1]
    # The first line is what cashback_kit.procs waits for; the second is for people.
    print(f"console listening on {host}:{bound}", flush=True)
    print(f"console: open http://{host}:{bound}/login", flush=True)
    config = uvicorn.Config(create_app(settings), access_log=False, proxy_headers=True,
                            forwarded_allow_ips=settings.forwarded_allow_ips, log_config=None, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
