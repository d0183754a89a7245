import pytest
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2

from cashback_kit.auth import KeyRing, authorize, merchant_of
from cashback_kit.errors import PermissionDenied, Unauthenticated
from tests.support.keys import _ENTRIES, TEST_KEYS

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
