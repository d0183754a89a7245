"""The kit's shared ideas, each held once: page tokens and sizes, idempotent
replays, the amount limit."""

from __future__ import annotations

import pytest

from cashback_kit import paging
from cashback_kit.amounts import MAX_MINOR, check_amount
from cashback_kit.errors import AlreadyExists, FailedPrecondition, InsufficientCredit, InvalidArgument
from cashback_kit.idempotency import Outcome, StoredFailure, replay


def _before(raw: object) -> int:
    if not isinstance(raw, dict) or not isinstance(raw.get("before"), int):
        raise ValueError("bad cursor")
    return int(raw["before"])


def test_a_page_token_round_trips_for_its_query_only_and_anything_else_is_invalid_page_token() -> None:
    query = paging.scope("ListTransactions", "m1", "c1")
    assert paging.read(paging.issue(query, {"before": 42}), query, _before) == 42
    assert paging.read("", query, _before) is None
    other_merchant = paging.scope("ListTransactions", "m2", "c1")
    for bad, where in (("not base64!", query), (paging.issue(query, ["x"]), query),
                       (paging.issue(query, {"before": "1"}), query),
                       (paging.issue(query, {"before": 1}), other_merchant)):
        with pytest.raises(InvalidArgument) as err:
            paging.read(bad, where, _before)
        assert [v.field for v in err.value.violations] == ["page_token"]
        assert err.value.reason == "INVALID_PAGE_TOKEN"


def test_page_size_defaults_caps_and_refuses_negative() -> None:
    assert (paging.page_size(0), paging.page_size(10), paging.page_size(10_000)) == (50, 10, 500)
    with pytest.raises(InvalidArgument):
        paging.page_size(-1)


def test_a_replay_returns_the_stored_result_or_refusal_and_other_content_is_refused() -> None:
    assert replay(None, "fp", "key 'k'") is None
    assert replay(Outcome("fp", "result-1"), "fp", "key 'k'") == "result-1"
    with pytest.raises(AlreadyExists, match="key 'k'") as reused:
        replay(Outcome("fp", "result-1"), "other", "key 'k'")
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    refused = Outcome.failed("fp", InsufficientCredit("not enough available credit"))
    with pytest.raises(StoredFailure, match="not enough") as err:
        replay(refused, "fp", "key 'k'")
    assert isinstance(err.value, FailedPrecondition)
    assert err.value.reason == "INSUFFICIENT_CREDIT"  # a replayed refusal is told apart as the first was


def test_an_amount_above_the_limit_is_invalid_on_its_field() -> None:
    assert check_amount(MAX_MINOR, "amount") == MAX_MINOR
    assert check_amount(-MAX_MINOR, "amount") == -MAX_MINOR
    with pytest.raises(InvalidArgument) as err:
        check_amount(MAX_MINOR + 1, "amount.amount_minor")
    assert [v.field for v in err.value.violations] == ["amount.amount_minor"]
