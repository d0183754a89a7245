"""Keys reloaded without a restart: on SIGHUP and when the keys file changes (a
Kubernetes Secret update swaps the mounted file). A bad file keeps the keys in force."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from cashback_kit.auth import KeyFileError, KeyRing

log = logging.getLogger("cashback.keys")


def reload_keys(keys: KeyRing, why: str) -> bool:
    try:
        count = keys.reload()
    except KeyFileError as exc:
        log.error("api keys NOT reloaded: the previous keys stay in force", extra={"why": why, "error": str(exc)})
        return False
    log.info("api keys reloaded", extra={"why": why, "keys": count})
    return True


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)  # follows the Secret mount's symlink to the current file
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


async def watch_key_file(keys: KeyRing, interval: float) -> None:
    assert keys.path is not None
    last = _signature(keys.path)
    while True:
        await asyncio.sleep(interval)
        now = _signature(keys.path)
        if now != last:
            last = now
            reload_keys(keys, "file changed")
