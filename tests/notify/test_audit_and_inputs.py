"""Notify's ops mutations leave an audit trail naming the key by its id (issue 15,
point 10), and what notify stores is one address per field, free of control
characters, bounded, with reminder ids per merchant (point 9). Real gRPC, PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import logging

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N

from cashback_services.notify.adapters.providers.logsink import LogSmsSink
from cashback_services.notify.domain.outcomes import OutboundSms
from tests.notify.stack import notify_stack
from tests.support.keys import TEST_KEYS
from tests.support.servers import auth

OPS_KEY_ID = hashlib.sha256(TEST_KEYS["ops"].encode()).hexdigest()[:8]


def _contact(**fields: object) -> N.UpsertContactRequest:
    base = {"merchant_id": "m1", "customer_id": "c1", "phone_e164": "+966501234567", "locale": "en",
            "timezone": "Asia/Riyadh", "sms_opt_in": True, "email_opt_in": True}
    return N.UpsertContactRequest(contact=N.Contact(**{**base, **fields}))


def _campaign(merchant: str) -> N.CreateReminderCampaignRequest:
    return N.CreateReminderCampaignRequest(campaign=N.ReminderCampaign(
        merchant_id=merchant, campaign_id="spring", name="come back", cron="0 10 * * 6", timezone="Asia/Riyadh",
        min_available=common_pb2.Money(currency_code="SAR", amount_minor=100), channels=[N.CHANNEL_SMS]))


async def _violations(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


async def test_every_ops_change_is_recorded_with_the_key_id_and_what_changed(pg_url):
    ops = auth("ops")
    async with notify_stack(pg_url) as s:
        await s.n.SetTemplate(N.SetTemplateRequest(template=N.Template(
            merchant_id="m1", kind=N.MESSAGE_KIND_CREDITED, channel=N.CHANNEL_SMS, locale="en",
            body="Hi {{ amount }}")), metadata=ops)
        await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
            merchant_id="m1", expiry_warning_days=[7], shop_name="Shop")), metadata=ops)
        await s.n.UpsertContact(_contact(email="a@example.com"), metadata=ops)
        await s.n.CreateReminderCampaign(_campaign("m1"), metadata=ops)
        await s.n.SetReminderCampaignActive(N.SetReminderCampaignActiveRequest(
            merchant_id="m1", campaign_id="spring", active=False), metadata=ops)
        await s.n.RequeueDeliveries(N.RequeueDeliveriesRequest(merchant_id="m1", delivery_ids=["dl_x"]), metadata=ops)
        await s.n.RetryParkedEvents(N.RetryParkedEventsRequest(merchant_id="m1"), metadata=ops)
        page = await s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m1", page_size=5), metadata=ops)
        rest = await s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m1", page_token=page.next_page_token),
                                         metadata=ops)
        only = await s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m1", action="SetTemplate"),
                                         metadata=ops)
        other = await s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m2"), metadata=ops)
        denied, _ = await _violations(s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m1"),
                                                          metadata=auth("app")))
    events = [*page.events, *rest.events]
    assert [e.action for e in events] == ["RetryParkedEvents", "RequeueDeliveries", "SetReminderCampaignActive",
                                          "CreateReminderCampaign", "UpsertContact", "SetNotifyPolicy",
                                          "SetTemplate"]
    assert {(e.key_id, e.role) for e in events} == {(OPS_KEY_ID, "ops")}
    assert all(TEST_KEYS["ops"] not in e.SerializeToString().decode("utf-8", "replace") for e in events)
    template = json.loads(only.events[0].change_json)
    assert (only.events[0].target, template["body"]) == ("credited/sms/en", "Hi {{ amount }}")
    contact = json.loads(events[4].change_json)
    assert contact["created"] is True and "email" in contact["fields"]
    assert "a@example.com" not in events[4].change_json and "+96650" not in events[4].change_json
    assert json.loads(events[2].change_json) == {"active": False, "was": True}
    assert list(other.events) == [] and denied == grpc.StatusCode.PERMISSION_DENIED


async def test_an_email_field_holds_one_address_and_stored_text_has_no_control_characters(pg_url):
    async with notify_stack(pg_url) as s:
        many = await _violations(s.n.UpsertContact(_contact(email="a@x.com,b@y.com"), metadata=auth("ops")))
        named = await _violations(s.n.UpsertContact(_contact(email="A <a@x.com>"), metadata=auth("ops")))
        crlf = await _violations(s.n.UpsertContact(_contact(locale="en\r\nBcc: x"), metadata=auth("ops")))
        long_id = await _violations(s.n.UpsertContact(_contact(customer_id="c" * 1000), metadata=auth("ops")))
        shop = await _violations(s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
            merchant_id="m1", shop_name="Shop\x00")), metadata=auth("ops")))
        subject = await _violations(s.n.SetTemplate(N.SetTemplateRequest(template=N.Template(
            merchant_id="m1", kind=N.MESSAGE_KIND_CREDITED, channel=N.CHANNEL_EMAIL, locale="en",
            subject="Hi\r\nBcc: x", body="Hi {{ amount }}")), metadata=auth("ops")))
        stored = await s.n.ListAuditEvents(N.ListAuditEventsRequest(merchant_id="m1"), metadata=auth("ops"))
    for code, details in (many, named):
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "exactly one email address" in details
    assert "contact.locale" in crlf[1] and "control characters" in crlf[1]
    assert "contact.customer_id" in long_id[1] and "c" * 100 not in long_id[1]
    assert "policy.shop_name" in shop[1] and "template.subject" in subject[1]
    assert list(stored.events) == []  # nothing was changed


async def test_two_merchants_may_use_the_same_reminder_campaign_id(pg_url):
    async with notify_stack(pg_url) as s:
        one = (await s.n.CreateReminderCampaign(_campaign("m1"), metadata=auth("ops"))).campaign
        two = (await s.n.CreateReminderCampaign(_campaign("m2"), metadata=auth("ops"))).campaign
        await s.n.SetReminderCampaignActive(N.SetReminderCampaignActiveRequest(
            merchant_id="m2", campaign_id="spring", active=False), metadata=auth("ops"))
        listed = {m: [c.active for c in (await s.n.ListReminderCampaigns(
            N.ListReminderCampaignsRequest(merchant_id=m), metadata=auth("ops"))).campaigns] for m in ("m1", "m2")}
    assert (one.merchant_id, one.campaign_id, two.merchant_id, two.campaign_id) == ("m1", "spring", "m2", "spring")
    assert listed == {"m1": [True], "m2": [False]}  # pausing m2's left m1's alone


async def test_a_merchant_id_that_cannot_be_stored_is_refused_by_name_in_every_merchant_rpc(pg_url):
    """Found by the soak's fuzzing: a NUL in merchant_id (which PostgreSQL text cannot hold) reached the
    database from the three RPCs that did not check it, and came back INTERNAL (to a key of every
    merchant; a key of some merchants is refused before, by the merchant check)."""
    async with notify_stack(pg_url) as s:
        await s.n.CreateReminderCampaign(_campaign("m1"), metadata=auth("ops"))
        calls = {
            "GetContact": s.n.GetContact(N.GetContactRequest(merchant_id="\x00", customer_id="c1"),
                                         metadata=auth("ops_all")),
            "SetReminderCampaignActive": s.n.SetReminderCampaignActive(N.SetReminderCampaignActiveRequest(
                merchant_id="\x00", campaign_id="spring", active=False), metadata=auth("ops_all")),
            "RunReminderCampaign": s.n.RunReminderCampaign(N.RunReminderCampaignRequest(
                merchant_id="\x00", campaign_id="spring"), metadata=auth("ops_all")),
            "SetReminderCampaignActive, none": s.n.SetReminderCampaignActive(N.SetReminderCampaignActiveRequest(
                campaign_id="spring", active=False), metadata=auth("ops_all")),
        }
        refused = {name: await _violations(call) for name, call in calls.items()}
        listed = await s.n.ListReminderCampaigns(N.ListReminderCampaignsRequest(merchant_id="m1"),
                                                 metadata=auth("ops"))
    for name, (code, details) in refused.items():
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "merchant_id" in details, (name, code, details)
    assert [c.active for c in listed.campaigns] == [True]  # nothing was changed


async def test_the_log_sink_fingerprints_a_recipient_with_a_keyed_hash(caplog):
    caplog.set_level(logging.INFO, logger="cashback.notify.sink")
    phone = "+989121234567"
    for secret in (b"k" * 32, b"j" * 32):
        await LogSmsSink(secret).send(OutboundSms("dl_1", phone, "hello"))
    first, second = (r.recipient_ref for r in caplog.records)
    assert first != second and len(first) == 20  # keyed: another secret, another reference; 80 bits
    assert first != hashlib.sha256(phone.encode()).hexdigest()[:10]
    assert phone not in caplog.text and "hello" not in caplog.text
