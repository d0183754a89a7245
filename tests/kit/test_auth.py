import json
from pathlib import Path

import pytest
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2

from cashback_kit.auth import KeyFileError, KeyRing, authorize, merchant_of
from cashback_kit.errors import PermissionDenied, Unauthenticated
from tests.support.keys import _ENTRIES, TEST_KEYS

ROOT = Path(__file__).resolve().parents[2]
RING = KeyRing(_ENTRIES)
GET_BALANCE = "/cashback.wallet.v1.WalletService/GetBalance"
CREATE_CAMPAIGN = "/cashback.rules.v1.RulesService/CreateCampaign"


def test_a_missing_or_unknown_key_is_unauthenticated():
    with pytest.raises(Unauthenticated):
        RING.authenticate(None)
    with pytest.raises(Unauthenticated):
        RING.authenticate("Bearer not-a-key-we-know-of")
    with pytest.raises(Unauthenticated):
        RING.authenticate(f"Basic {TEST_KEYS['ops']}")


def test_the_merchant_is_found_in_nested_request_messages():
    req = rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m9"))
    assert merchant_of(req) == "m9"
    assert merchant_of(wallet_pb2.GetBalanceRequest(merchant_id="m1")) == "m1"


def test_a_checkout_key_may_not_act_for_another_merchant():
    p = RING.authenticate(f"Bearer {TEST_KEYS['checkout']}")
    authorize(p, GET_BALANCE, wallet_pb2.GetBalanceRequest(merchant_id="m1"))
    with pytest.raises(PermissionDenied):
        authorize(p, GET_BALANCE, wallet_pb2.GetBalanceRequest(merchant_id="m2"))


def test_an_app_key_may_not_call_an_ops_rpc():
    p = RING.authenticate(f"Bearer {TEST_KEYS['app']}")
    req = rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m1"))
    with pytest.raises(PermissionDenied):
        authorize(p, CREATE_CAMPAIGN, req)


def test_an_ops_key_may_call_everything_for_its_merchants_only():
    p = RING.authenticate(f"Bearer {TEST_KEYS['ops']}")
    authorize(p, CREATE_CAMPAIGN, rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m2")))
    with pytest.raises(PermissionDenied):
        authorize(p, CREATE_CAMPAIGN, rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m3")))


def test_the_service_key_acts_for_every_merchant_but_only_on_its_rpcs():
    p = RING.authenticate(f"Bearer {TEST_KEYS['service']}")
    authorize(p, "/cashback.rules.v1.RulesService/ScoreOrder", rules_pb2.ScoreOrderRequest(
        order=rules_pb2.Order(merchant_id="any")))
    with pytest.raises(PermissionDenied):
        authorize(p, CREATE_CAMPAIGN, rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m1")))


def test_a_short_key_in_the_keys_file_is_refused():
    with pytest.raises(ValueError):
        KeyRing([{"key": "short", "role": "ops", "merchants": ["*"]}])


SCORE_ORDER = "/cashback.rules.v1.RulesService/ScoreOrder"
REVERSE_ORDER = "/cashback.rules.v1.RulesService/ReverseOrder"
STREAM_EVENTS = "/cashback.wallet.v1.WalletService/StreamEvents"
ADJUST = "/cashback.wallet.v1.WalletService/AdjustBalance"


def test_the_wallet_service_key_may_score_and_reverse_but_not_read_the_wallet():
    p = RING.authenticate(f"Bearer {TEST_KEYS['wallet_service']}")
    assert p.may_call(SCORE_ORDER) and p.may_call(REVERSE_ORDER) and p.may_act_for("any-merchant")
    assert not p.may_call(STREAM_EVENTS) and not p.may_call(CREATE_CAMPAIGN)
    assert p.name == "wallet"


def test_the_notify_service_key_reads_the_wallet_and_only_the_customer_list_in_rules():
    p = RING.authenticate(f"Bearer {TEST_KEYS['notify_service']}")
    assert p.may_call(STREAM_EVENTS) and p.may_call(GET_BALANCE)
    assert p.may_call("/cashback.rules.v1.RulesService/ListCustomers")
    assert not p.may_call("/cashback.rules.v1.RulesService/GetCustomerProfile")
    assert not any(p.may_call(m) for m in (REVERSE_ORDER, SCORE_ORDER, ADJUST, CREATE_CAMPAIGN))
    with pytest.raises(PermissionDenied):
        authorize(p, REVERSE_ORDER, rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id="o1"))


def test_the_deprecated_service_role_keeps_both_services_rights():
    p = RING.authenticate(f"Bearer {TEST_KEYS['service']}")
    assert p.may_call(REVERSE_ORDER) and p.may_call(STREAM_EVENTS) and not p.may_call(ADJUST)


def _refusal(entries) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(KeyFileError) as caught:
        KeyRing(entries)
    return str(caught.value)


def test_a_key_listed_twice_is_refused_naming_both_places_but_not_the_key():
    key = "a-real-looking-key-0123456789"
    text = _refusal([{"key": key, "role": "ops", "merchants": ["m1"]},
                     {"key": key, "role": "checkout", "merchants": ["m2"]}])
    assert "keys[1]: the same key as keys[0]" in text and key not in text


def test_every_malformed_entry_is_reported_at_once():
    text = _refusal([
        {"key": "k" * 20, "role": "admin", "merchants": ["m1"]},
        {"key": "k" * 21, "role": "ops", "merchant": ["m1"]},
        {"key": "k" * 22, "role": "ops", "merchants": []},
        {"key": "k" * 23, "role": "checkout", "merchants": "m1"},
        "not-an-object",
    ])
    assert "keys[0]: role must be one of" in text
    assert "keys[1]: unknown field(s) merchant" in text and "keys[1]: a ops key must name its merchants" in text
    assert "keys[2]: a ops key must name its merchants" in text
    assert "keys[3]: merchants must be a list" in text
    assert "keys[4]: expected an object" in text


def test_example_and_placeholder_keys_are_refused():
    published = _refusal([{"key": "change-me-service-key-000000", "role": "service"}])
    assert "published example key" in published and "change-me-service" not in published
    assert "contains 'changeme'" in _refusal([{"key": "prod-CHANGEME-0123456789abcdef", "role": "ops",
                                                "merchants": ["*"]}])


def test_the_shipped_example_keys_file_is_refused():
    text = _refusal(json.loads((ROOT / "deploy/k8s/api-keys.example.json").read_text())["keys"])
    assert "placeholder" in text or "published example" in text


def test_a_reload_drops_a_removed_key_and_a_bad_file_keeps_the_keys_in_force(tmp_path):
    path = tmp_path / "keys.json"
    a, b = "first-key-0123456789abcdef", "second-key-0123456789abcdef"
    path.write_text(json.dumps({"keys": [{"key": a, "role": "ops", "merchants": ["m1"]},
                                         {"key": b, "role": "app", "merchants": ["m1"]}]}))
    ring = KeyRing.from_file(path)
    ring.authenticate(f"Bearer {b}")
    path.write_text(json.dumps({"keys": [{"key": a, "role": "ops", "merchants": ["m1"]}]}))
    assert ring.reload() == 1
    with pytest.raises(Unauthenticated):
        ring.authenticate(f"Bearer {b}")
    path.write_text('{"keys": [')
    with pytest.raises(KeyFileError, match="not valid JSON"):
        ring.reload()
    assert ring.authenticate(f"Bearer {a}").role == "ops"
