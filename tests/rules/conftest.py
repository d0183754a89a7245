"""A real rules service per test (migrated, real gRPC) on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import pytest
from cashback.rules.v1 import rules_pb2_grpc

from cashback_services.rules.bootstrap import bootstrap
from cashback_services.rules.limits import RulesLimits
from tests.support.servers import ServiceHandle, running_service

# These scenarios place their orders on fixed dates (tests/rules/builders.py T0), so
# they widen the live-scoring window; tests/rules/test_hostile.py runs the defaults.
FIXED_DATES = RulesLimits(max_backdate=timedelta(days=3650), max_future=timedelta(days=3650))
FIXED_DATES_BOOTSTRAP = partial(bootstrap, limits=FIXED_DATES)


@pytest.fixture
async def rules(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("rules", database_url=pg_url, bootstrap=FIXED_DATES_BOOTSTRAP) as svc:
        yield svc


@pytest.fixture
def stub(rules: ServiceHandle) -> rules_pb2_grpc.RulesServiceStub:
    return rules_pb2_grpc.RulesServiceStub(rules.channel)
