"""Holds on the service layer over a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cashback_kit.errors import (
    FailedPrecondition,
    HoldExpired,
    HoldNotActive,
    InsufficientCredit,
    InvalidArgument,
    NotFound,
)
from cashback_kit.money import Money
from cashback_services.wallet.service_layer.commands import Capture, Void
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.conftest import Clock
from tests.wallet.helpers import M, balance, credit, hold


async def test_authorize_moves_available_credit_to_held(wallet: WalletService) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400)
    assert h.status == "active"
    b = await balance(wallet)
    assert (b.available, b.held) == (600, 400)


async def test_authorize_above_available_is_refused_and_changes_nothing(wallet: WalletService) -> None:
    await credit(wallet, 100)
    with pytest.raises(InsufficientCredit):
        await hold(wallet, 101)
    b = await balance(wallet)
    assert (b.available, b.held) == (100, 0)


async def test_authorize_takes_the_earliest_expiring_lots_first(wallet: WalletService, clock: Clock) -> None:
    await credit(wallet, 500, expires_in=timedelta(days=30))
    await credit(wallet, 300, expires_in=timedelta(days=5))
    await credit(wallet, 200)  # never expires: used last
    h = await hold(wallet, 400)
    await wallet.capture(Capture(M, h.hold_id))
    clock.advance(days=6)  # the 5-day lot was spent first, so nothing is lost to expiry
    b = await balance(wallet)
    assert (b.available, b.held) == (400 + 200, 0)


async def test_partial_capture_spends_part_and_releases_the_rest(wallet: WalletService) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400)
    captured = (await wallet.capture(Capture(M, h.hold_id, Money("SAR", 250)))).hold
    assert (captured.status, captured.captured) == ("captured", 250)
    b = await balance(wallet)
    assert (b.available, b.held) == (750, 0)


async def test_capture_replay_with_the_same_amount_returns_the_hold(wallet: WalletService) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400)
    await wallet.capture(Capture(M, h.hold_id, Money("SAR", 300)))
    again = (await wallet.capture(Capture(M, h.hold_id, Money("SAR", 300)))).hold
    assert again.captured == 300
    with pytest.raises(HoldNotActive):
        await wallet.capture(Capture(M, h.hold_id, Money("SAR", 200)))
    assert (await balance(wallet)).available == 700


async def test_capture_above_the_hold_is_invalid_and_changes_nothing(wallet: WalletService) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400)
    with pytest.raises(InvalidArgument):
        await wallet.capture(Capture(M, h.hold_id, Money("SAR", 401)))
    with pytest.raises(InvalidArgument):
        await wallet.capture(Capture(M, h.hold_id, Money("USD", 100)))
    b = await balance(wallet)
    assert (b.available, b.held) == (600, 400)


async def test_capture_after_void_is_refused(wallet: WalletService) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400)
    voided = (await wallet.void(Void(M, h.hold_id))).hold
    assert voided.status == "voided"
    assert (await wallet.void(Void(M, h.hold_id))).hold.status == "voided"
    with pytest.raises(HoldNotActive):
        await wallet.capture(Capture(M, h.hold_id))
    assert (await balance(wallet)).available == 1000


async def test_capture_after_hold_expiry_is_refused(wallet: WalletService, clock: Clock) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400, ttl=timedelta(minutes=5))
    clock.advance(minutes=5)
    with pytest.raises(HoldExpired):
        await wallet.capture(Capture(M, h.hold_id))
    b = await balance(wallet)  # released by itself, lazily
    assert (b.available, b.held) == (1000, 0)


async def test_unknown_hold_is_not_found(wallet: WalletService) -> None:
    with pytest.raises(NotFound):
        await wallet.capture(Capture(M, "hold_nope"))
    with pytest.raises(NotFound):
        await wallet.void(Void(M, "hold_nope"))


async def test_void_after_capture_is_refused(wallet: WalletService) -> None:
    await credit(wallet, 1000)
    h = await hold(wallet, 400)
    await wallet.capture(Capture(M, h.hold_id))
    with pytest.raises(HoldNotActive):
        await wallet.void(Void(M, h.hold_id))


async def test_released_credit_of_an_expired_lot_expires_at_once(wallet: WalletService, clock: Clock) -> None:
    await credit(wallet, 300, expires_in=timedelta(minutes=10))
    h = await hold(wallet, 300, ttl=timedelta(minutes=30))
    clock.advance(minutes=20)  # the lot expired while held: nothing to expire yet
    assert (await balance(wallet)).held == 300
    await wallet.void(Void(M, h.hold_id))
    b = await balance(wallet)
    assert (b.available, b.held) == (0, 0)


async def test_authorize_replay_returns_the_same_hold_and_a_new_payload_is_refused(wallet: WalletService) -> None:
    from cashback_kit.errors import AlreadyExists
    from cashback_services.wallet.service_layer.commands import Authorize

    await credit(wallet, 1000)
    cmd = Authorize(M, "c1", "o1", Money("SAR", 100), timedelta(minutes=15), "k1", "fp1")
    first = await wallet.authorize(cmd)
    again = await wallet.authorize(cmd)
    assert again.hold.hold_id == first.hold.hold_id
    assert (await balance(wallet)).held == 100
    with pytest.raises(AlreadyExists, match="k1"):
        await wallet.authorize(Authorize(M, "c1", "o1", Money("SAR", 200), timedelta(minutes=15), "k1", "fp2"))


async def test_a_refused_authorize_replays_its_failure_with_the_same_reason(wallet: WalletService) -> None:
    from cashback_services.wallet.service_layer.commands import Authorize

    cmd = Authorize(M, "c1", "o1", Money("SAR", 100), timedelta(minutes=15), "k2", "fp")
    with pytest.raises(InsufficientCredit) as first:
        await wallet.authorize(cmd)
    await credit(wallet, 1000)
    with pytest.raises(FailedPrecondition, match="not enough available credit") as replayed:
        await wallet.authorize(cmd)
    assert replayed.value.reason == first.value.reason == "INSUFFICIENT_CREDIT"
    assert (await balance(wallet)).held == 0
