"""The fake Twilio matches Twilio's own OpenAPI description of the Messages API
(vendored in third_party/twilio/, with its licence): what the real SDK sends is what the spec
accepts, and what the fake answers validates against the spec's schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cashback_services.notify.adapters.providers.base import OutboundSms, Outcome
from cashback_services.notify.adapters.providers.twilio_sms import TwilioSms
from tests.notify.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

SPEC_PATH = Path(__file__).resolve().parents[2] / "third_party" / "twilio" / "twilio_api_v2010.json"
OPERATION = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


@pytest.fixture(scope="module")
def spec() -> dict:
    assert SPEC_PATH.exists(), f"Twilio's OpenAPI description is expected at {SPEC_PATH}"
    return json.loads(SPEC_PATH.read_text())


def _validator(spec: dict, schema: dict) -> jsonschema.Validator:
    # OpenAPI 3.0 "nullable" -> JSON Schema type unions, so the validator understands it.
    def convert(node: object) -> object:
        if isinstance(node, dict):
            out = {k: convert(v) for k, v in node.items() if k != "nullable"}
            if node.get("nullable") and "type" in out:
                out["type"] = [out["type"], "null"]
            if node.get("nullable") and "$ref" in out:
                out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
            return out
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    resource = Resource.from_contents(convert(spec), default_specification=DRAFT202012)
    registry = Registry().with_resource("spec", resource)
    root = {"$ref": "spec" + schema["$ref"]} if "$ref" in schema else convert(schema)
    return jsonschema.Draft202012Validator(root, registry=registry)


async def test_what_the_sdk_sends_is_what_twilios_spec_accepts(spec):
    form_schema = spec["paths"][OPERATION]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["schema"]
    async with FakeTwilio() as fake:
        sms = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, base_url=fake.base_url)
        result = await sms.send(OutboundSms("d1", "+966501234567", "hello"))
        await sms.close()
    assert result.outcome is Outcome.SENT
    sent = fake.requests[-1]
    assert set(form_schema["required"]) <= set(sent)
    assert set(sent) <= set(form_schema["properties"]), set(sent) - set(form_schema["properties"])


async def test_the_fakes_answer_validates_against_twilios_message_schema(spec):
    import aiohttp

    schema = spec["paths"][OPERATION]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    validator = _validator(spec, schema)
    async with FakeTwilio() as fake, aiohttp.ClientSession() as session:
        resp = await session.post(f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                                  data={"To": "+966501234567", "From": FROM_NUMBER, "Body": "hi"},
                                  auth=aiohttp.BasicAuth(ACCOUNT_SID, AUTH_TOKEN))
        body = await resp.json()
    assert resp.status == 201
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, [e.message for e in errors]
    bad = dict(body, sid="not-a-sid")
    assert list(validator.iter_errors(bad)), "the schema check must be able to fail"


async def test_the_fake_refuses_a_request_twilio_would_refuse():
    import aiohttp

    async with FakeTwilio() as fake, aiohttp.ClientSession() as session:
        no_auth = await session.post(f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                                     data={"To": "+966501234567", "From": FROM_NUMBER, "Body": "hi"})
        no_to = await session.post(f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                                   data={"From": FROM_NUMBER, "Body": "hi"},
                                   auth=aiohttp.BasicAuth(ACCOUNT_SID, AUTH_TOKEN))
        assert no_auth.status == 401 and (await no_auth.json())["code"] == 20003
        assert no_to.status == 400 and (await no_to.json())["code"] == 21604
    assert fake.messages == []
