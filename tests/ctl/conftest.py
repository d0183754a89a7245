from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack, pg_stack


@pytest.fixture(scope="module")
def stack(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with pg_stack(pg_cluster, tmp_path_factory.mktemp("ctl")) as s:
        yield s
