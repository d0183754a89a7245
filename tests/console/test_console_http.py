"""The console over plain HTTP: sign-in, cookies, CSRF, rate limit, merchant scope,
and what reaches its log. A real console process, real services, PostgreSQL."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest
import requests

from tests.console.conftest import ConsoleStack
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.e2e


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def signed_in(console: ConsoleStack, key: str = "ops", merchant: str = "m1") -> requests.Session:
    http = requests.Session()
    form = http.get(f"{console.url}/login")
    r = http.post(f"{console.url}/login", data={"csrf": csrf_of(form.text), "api_key": TEST_KEYS[key],
                                                "merchant": merchant}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/campaigns", r.text[:300]
    return http


def test_the_login_page_has_a_form_posting_api_key_to_login(console):
    r = requests.get(f"{console.url}/login")
    assert r.status_code == 200
    assert re.search(r'<form method="post" action="/login"', r.text)
    assert 'name="api_key"' in r.text and 'type="password"' in r.text


def test_the_session_cookie_is_httponly_strict_and_holds_no_key(console):
    http = signed_in(console)
    cookie = next(c for c in http.cookies if c.name == "cb_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "strict"
    assert not cookie.secure  # plain http here; Secure when the request came over https
    assert TEST_KEYS["ops"] not in cookie.value
    page = http.get(f"{console.url}/campaigns")
    assert page.status_code == 200 and TEST_KEYS["ops"] not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_cookie_is_marked_secure_behind_a_tls_proxy(console):
    form = requests.get(f"{console.url}/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in form.headers["set-cookie"].lower()


def test_a_post_without_the_sessions_csrf_token_changes_nothing(console):
    http = signed_in(console)
    r = http.post(f"{console.url}/campaigns/new", data={"name": "sneaky", "percent": "5", "currency_code": "SAR",
                                                        "csrf": "forged"})
    assert r.status_code == 403
    assert "sneaky" not in http.get(f"{console.url}/campaigns").text


def test_a_key_for_m1_cannot_see_m3(console):
    http = requests.Session()
    form = http.get(f"{console.url}/login")
    r = http.post(f"{console.url}/login", data={"csrf": csrf_of(form.text), "api_key": TEST_KEYS["ops"],
                                                "merchant": "m3"})
    assert r.status_code == 401 and "may not act for merchant m3" in r.text
    assert http.get(f"{console.url}/campaigns", allow_redirects=False).status_code == 303


def test_without_a_merchant_the_key_gets_the_merchants_the_services_allow_it(console):
    http = requests.Session()
    form = http.get(f"{console.url}/login")
    r = http.post(f"{console.url}/login", data={"csrf": csrf_of(form.text), "api_key": TEST_KEYS["ops"]})
    assert r.status_code == 200
    options = re.findall(r'<option value="(m\d)"', r.text)
    assert options == ["m1", "m2"]  # the test ops key is for m1 and m2; m3 was refused by the services


def test_a_checkout_key_cannot_run_the_console(console):
    http = requests.Session()
    form = http.get(f"{console.url}/login")
    r = http.post(f"{console.url}/login", data={"csrf": csrf_of(form.text), "api_key": TEST_KEYS["checkout"]})
    assert r.status_code == 401 and "not an ops key" in r.text


def test_sign_out_ends_the_session(console):
    http = signed_in(console)
    page = http.get(f"{console.url}/campaigns")
    r = http.post(f"{console.url}/logout", data={"csrf": csrf_of(page.text)}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert http.get(f"{console.url}/campaigns", allow_redirects=False).headers["location"] == "/login"


def test_sign_in_is_rate_limited_per_client_and_the_key_never_reaches_the_log(console):
    # The client comes through the trusted local proxy, so each address is its own client.
    http = requests.Session()
    http.headers["X-Forwarded-For"] = "203.0.113.7"
    statuses = []
    for i in range(6):
        form = http.get(f"{console.url}/login")
        statuses.append(http.post(f"{console.url}/login", data={"csrf": csrf_of(form.text),
                                                                "api_key": f"wrong-key-{i}"}).status_code)
    assert statuses == [401] * 5 + [429]
    form = http.get(f"{console.url}/login")
    right = http.post(f"{console.url}/login", data={"csrf": csrf_of(form.text), "api_key": TEST_KEYS["ops"],
                                                    "merchant": "m1"}, allow_redirects=False)
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0  # even the right key waits
    signed_in(console)  # another client is not held up
    log = "\n".join(console.console.log_lines)
    assert "wrong-key" not in log and TEST_KEYS["ops"] not in log


def test_a_key_revoked_after_sign_in_ends_the_session(console):
    """Last in the module: it takes the ops key away from the services for a moment."""
    http = signed_in(console)
    keys_file = console.stack.root / "keys.json"
    original = keys_file.read_text()
    revoked = json.loads(original)
    revoked["keys"] = [k for k in revoked["keys"] if k["key"] != TEST_KEYS["ops"]]
    try:
        keys_file.write_text(json.dumps(revoked))
        for p in console.stack.procs.values():
            p.proc.send_signal(signal.SIGHUP)  # the services reload their keys on SIGHUP
        for _ in range(100):
            r = http.get(f"{console.url}/campaigns", allow_redirects=False)
            if r.status_code == 303:
                break
            time.sleep(0.1)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert "Your key is no longer accepted" in http.get(f"{console.url}/login").text
        assert http.get(f"{console.url}/campaigns", allow_redirects=False).status_code == 303
    finally:
        keys_file.write_text(original)
        for p in console.stack.procs.values():
            p.proc.send_signal(signal.SIGHUP)
