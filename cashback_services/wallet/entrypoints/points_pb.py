"""SetPointsRate's and ConvertCredit's messages: shape checks in, results out."""

from __future__ import annotations

from datetime import datetime

from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2 as pb

from cashback_kit.amounts import check_amount
from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_kit.pb import fingerprint, require_id, ts_to_pb
from cashback_services.wallet.domain.points import Conversion, Rate
from cashback_services.wallet.service_layer.points import ConvertCredit


def rate_from_pb(request: pb.SetPointsRateRequest, per: Money) -> Rate:
    if request.points <= 0:
        raise InvalidArgument("points must be positive", field="points")
    return Rate(per.currency, request.points, per.minor)


def rate_to_pb(merchant_id: str, rate: Rate, updated_at: datetime | None = None) -> pb.PointsRate:
    return pb.PointsRate(merchant_id=merchant_id, points=rate.points,
                         per=common_pb2.Money(currency_code=rate.currency, amount_minor=rate.per_minor),
                         updated_at=ts_to_pb(updated_at))


def convert_command(request: pb.ConvertCreditRequest, credit: Money | None) -> ConvertCredit:
    for name in ("merchant_id", "customer_id", "idempotency_key"):
        require_id(getattr(request, name), name)
    if credit is not None:
        return ConvertCredit(request.merchant_id, request.customer_id, True, credit.currency, credit.minor,
                             request.idempotency_key, fingerprint(request))
    if request.WhichOneof("from") is None:
        raise InvalidArgument("credit or points is required", field="credit")
    if request.points <= 0:
        raise InvalidArgument("points must be positive", field="points")
    check_amount(request.points, "points", "points")
    return ConvertCredit(request.merchant_id, request.customer_id, False, None, request.points,
                         request.idempotency_key, fingerprint(request))


def conversion_to_pb(c: Conversion) -> pb.ConvertCreditResponse:
    return pb.ConvertCreditResponse(
        transaction_id=c.transaction_id, credit=common_pb2.Money(currency_code=c.rate.currency, amount_minor=c.credit),
        points=c.points, rate=rate_to_pb(c.merchant_id, c.rate))
