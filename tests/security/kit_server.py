"""The kit's real server (interceptor, health, reflection, key reload) around a small
WalletService, so the kit's defences are tested apart from the services' rewrites.

Run as a process: `python -m tests.security.kit_server` (the environment of a wallet:
WALLET_ADDR, CASHBACK_API_KEYS_FILE, …); it serves until SIGTERM, like a service."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import grpc
from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_kit import errors
from cashback_kit.auth import WALLET
from cashback_kit.config import Settings
from cashback_kit.logs import configure_logging
from cashback_kit.server import ServiceParts, serve_forever
from cashback_kit.tokens import PageTokens

# Not in the wallet's proto: a client-streaming RPC registered by hand, to show such
# handlers are authenticated and authorised per message too.
IMPORT_METHOD = "ImportBalances"


class SmallWallet(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self) -> None:
        self.imported: list[str] = []
        self.tokens = PageTokens(secrets.token_bytes(32))
        self.fail_with: BaseException | None = None  # the next GetBalance raises this (a test's real error)

    async def ListTransactions(
        self, request: wallet_pb2.ListTransactionsRequest, context: Any
    ) -> wallet_pb2.ListTransactionsResponse:
        """Five transactions t5..t1, newest first, paged with the kit's signed tokens."""
        scope = f"ListTransactions:{request.merchant_id}:{request.customer_id}"
        before = self.tokens.read(request.page_token, scope) or 6
        ids = list(range(before - 1, 0, -1))[: request.page_size or 2]
        token = self.tokens.issue(scope, ids[-1]) if ids and ids[-1] > 1 else ""
        return wallet_pb2.ListTransactionsResponse(
            transactions=[wallet_pb2.Transaction(transaction_id=f"t{i}") for i in ids], next_page_token=token)

    async def GetBalance(self, request: wallet_pb2.GetBalanceRequest, context: Any) -> wallet_pb2.GetBalanceResponse:
        if self.fail_with is not None:
            raise self.fail_with
        if request.customer_id == "broke":
            raise errors.InsufficientCredit("not enough credit", metadata={"customer_id": request.customer_id})
        if request.customer_id == "bug":
            raise KeyError("a bug")
        if request.customer_id == "bad":
            v = errors.Violations()
            v.add("customer_id", "must not be 'bad'")
            v.add("currency_code", "must be an ISO 4217 code")
            v.raise_if_any()
        money = common_pb2.Money(currency_code=request.currency_code or "EUR", amount_minor=100)
        return wallet_pb2.GetBalanceResponse(balance=wallet_pb2.Balance(available=money))

    async def StreamEvents(self, request: wallet_pb2.StreamEventsRequest, context: Any):  # type: ignore[no-untyped-def]
        yield wallet_pb2.StreamEventsResponse(event=wallet_pb2.WalletEvent(cursor=1, event_id="e1"))
        await asyncio.Event().wait()  # an idle follower: holds the stream open

    async def import_balances(self, requests: Any, context: Any) -> wallet_pb2.GetBalanceResponse:
        async for request in requests:
            self.imported.append(request.customer_id)
        return wallet_pb2.GetBalanceResponse()


def register(servicer: SmallWallet, server: grpc.aio.Server) -> None:
    wallet_pb2_grpc.add_WalletServiceServicer_to_server(servicer, server)
    handler = grpc.stream_unary_rpc_method_handler(
        servicer.import_balances,
        request_deserializer=wallet_pb2.GetBalanceRequest.FromString,
        response_serializer=wallet_pb2.GetBalanceResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(WALLET, {IMPORT_METHOD: handler}),))


def parts() -> ServiceParts:
    return ServiceParts(WALLET, SmallWallet(), register)


def main() -> None:
    settings = Settings.from_env("wallet")
    configure_logging("wallet", settings.log_level)
    asyncio.run(serve_forever(settings, parts()))


if __name__ == "__main__":
    main()
