from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack, pg_stack


@pytest.fixture(scope="module")
def stack(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # These scenarios seed last month's orders through ScoreOrder: a wider live-scoring
    # window than the default 24 h, until the import path (issue 16) can seed history.
    with pg_stack(pg_cluster, tmp_path_factory.mktemp("ctl"), RULES_MAX_BACKDATE_SECONDS=str(70 * 86_400)) as s:
        yield s
