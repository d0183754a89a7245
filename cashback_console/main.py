"""`cashback-console`: serve the console on CONSOLE_ADDR (default 127.0.0.1:8080).

Access lines are the console's own (method, path, status; never a query string,
form or cookie), so no key or customer detail reaches the log."""

from __future__ import annotations

import logging
import socket
import sys
import time

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from cashback_console.app import create_app
from cashback_console.config import ConsoleSettings
from cashback_kit.logs import configure_logging

log = logging.getLogger("cashback.console")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), [0]

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, receive, capture)
        path = scope["path"] if scope["path"].startswith(("/campaigns", "/static", "/login", "/report")) \
            else "/" + scope["path"].strip("/").split("/")[0]  # customer ids are not logged
        log.info("http", extra={"method": scope["method"], "path": path, "status": status[0],
                                "ms": round(1000 * (time.monotonic() - started), 1)})


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
    config = uvicorn.Config(AccessLog(create_app(settings)), access_log=False, proxy_headers=True,
                            forwarded_allow_ips=settings.forwarded_allow_ips, log_config=None, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
