"""RFM segments: the eleven segments with their customers and spend (rules'
ListSegments), named and explained in the console's language."""

from __future__ import annotations

from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2 as R
from starlette.requests import Request
from starlette.responses import Response

from cashback_console.i18n_segments import SEGMENT_WORDS
from cashback_console.sessions import Session
from cashback_console.web import console_of, page, render


@page()
async def segments_page(request: Request, s: Session) -> Response:
    got = await console_of(request).call(s, "rules", "ListSegments", R.ListSegmentsRequest(merchant_id=s.merchant))
    rows = [(x, *SEGMENT_WORDS.get(x.segment, (x.segment, ""))) for x in got.segments]
    total = common_pb2.Money(currency_code=got.currency_code, amount_minor=sum(x.spend.amount_minor
                                                                              for x in got.segments))
    return render(request, s, "segments.html", title_key="Customer segments", listed=got, rows=rows,
                  customers=sum(x.customers for x in got.segments), total=total)
