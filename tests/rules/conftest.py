"""A real rules service per test (migrated, real gRPC) on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cashback.rules.v1 import rules_pb2_grpc

from tests.support.servers import ServiceHandle, running_service


@pytest.fixture
async def rules(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("rules", database_url=pg_url) as svc:
        yield svc


@pytest.fixture
def stub(rules: ServiceHandle) -> rules_pb2_grpc.RulesServiceStub:
    return rules_pb2_grpc.RulesServiceStub(rules.channel)
