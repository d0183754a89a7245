"""A local Kavenegar-compatible HTTP server on 127.0.0.1 for tests, following
Kavenegar's REST documentation (https://kavenegar.com/rest.html):

  POST /v1/{API-KEY}/sms/send.json                  receptor, sender, message, localid
  POST /v1/{API-KEY}/sms/statuslocalmessageid.json  localid

Every answer is {"return": {"status", "message"}, "entries": [...]}, with the
HTTP status equal to return.status. A send's entry carries messageid, message,
status (1 queued), statustext, sender, receptor, date
and cost. A localid already seen sends nothing and answers the first message
again. statuslocalmessageid answers the message's status, or status 100 for a
localid it never received.

Knobs: `failing` (a status such as 500 or 418 answered to every send while set,
for outages), `lose_answers` (the next N sends are recorded, then the connection
is dropped before the answer), `drop_requests` (the next N sends are dropped
before being recorded). Receptors must be Iranian mobiles (09…) or 00…: others
are status 411."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.notify.local_http import LocalServer

API_KEY = "4F6B61766E656761722D746573742D6B6579"
SENDER = "10004346"
STATUS_TEXT = {200: "تایید شد", 403: "کد شناسائی API-Key معتبر نمی‌باشد", 411: "دریافت کننده نامعتبر است",
               413: "پیام خالی است و یا طول پیام بیش از حد مجاز می‌باشد", 418: "اعتبار حساب شما کافی نیست",
               500: "خطای داخلی سرور"}


@dataclass
class FakeKavenegar(LocalServer):
    api_key: str = API_KEY
    messages: list[dict[str, str]] = field(default_factory=list)  # what reached "phones"
    requests: int = 0
    failing: int | None = None
    lose_answers: int = 0
    drop_requests: int = 0
    port: int = 0
    _by_localid: dict[str, dict[str, object]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(8_792_343))
    _runner: web.AppRunner | None = None

    def to(self, receptor: str) -> list[dict[str, str]]:
        return [m for m in self.messages if m["receptor"] == receptor]

    @staticmethod
    def answer(status: int, entries: list[dict[str, object]] | None = None) -> web.Response:
        return web.json_response({"return": {"status": status, "message": STATUS_TEXT.get(status, "")},
                                  "entries": entries}, status=status)

    async def send(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests += 1
        if request.match_info["key"] != self.api_key:
            return self.answer(403)
        if self.drop_requests:
            self.drop_requests -= 1
            request.transport.close()  # type: ignore[union-attr]
            return web.Response(status=500)
        if self.failing is not None:
            return self.answer(self.failing)
        receptor, message, localid = form.get("receptor", ""), form.get("message", ""), form.get("localid", "")
        if not ((receptor.startswith("09") and len(receptor) == 11) or receptor.startswith("00")):
            return self.answer(411)
        if not message:
            return self.answer(413)
        entry = self._by_localid.get(localid) if localid else None
        if entry is None:
            entry = {"messageid": next(self._ids), "message": message, "status": 1, "statustext": "در صف ارسال",
                     "sender": form.get("sender", SENDER), "receptor": receptor, "date": int(time.time()),
                     "cost": 120}
            if localid:
                self._by_localid[localid] = entry
            self.messages.append({**form, "messageid": str(entry["messageid"])})
        if self.lose_answers:
            self.lose_answers -= 1
            request.transport.close()  # type: ignore[union-attr]
            return web.Response(status=500)
        return self.answer(200, [entry])

    async def status_by_localid(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if request.match_info["key"] != self.api_key:
            return self.answer(403)
        entries = []
        for localid in form.get("localid", "").split(","):
            entry = self._by_localid.get(localid)
            entries.append({"messageid": entry["messageid"], "localid": localid, "status": entry["status"],
                            "statustext": entry["statustext"]} if entry else
                           {"messageid": 0, "localid": localid, "status": 100, "statustext": "نامعتبر"})
        return self.answer(200, entries)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/{key}/sms/send.json", self.send)
        app.router.add_post("/v1/{key}/sms/statuslocalmessageid.json", self.status_by_localid)
