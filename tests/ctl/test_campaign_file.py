from datetime import UTC, datetime

import pytest

from cashbackctl.campaign_file import CampaignFileError, campaign_from_doc, parse_money


def test_money_is_written_as_amount_and_currency():
    assert parse_money("50 SAR", "x") == {"currency_code": "SAR", "amount_minor": "5000"}
    assert parse_money("1,000,000 IRR", "x") == {"currency_code": "IRR", "amount_minor": "1000000"}
    with pytest.raises(CampaignFileError):
        parse_money("0.001 SAR", "x")


def test_local_dates_cover_midnight_to_midnight_after_the_last_day_in_the_zone():
    c = campaign_from_doc({"name": "launch", "percent": 15, "timezone": "Asia/Tehran",
                           "starts_on": "2026-03-01", "ends_on": "2026-03-03"}, "m1")
    assert c.percent_bps == 1500 and c.merchant_id == "m1"
    assert c.starts_at.ToDatetime(UTC) == datetime(2026, 2, 28, 20, 30, tzinfo=UTC)
    assert c.ends_at.ToDatetime(UTC) == datetime(2026, 3, 3, 20, 30, tzinfo=UTC)


def test_the_currency_is_taken_from_the_money_fields():
    c = campaign_from_doc({"name": "x", "fixed": "15 SAR", "min_order": "100 SAR"}, "m1")
    assert c.currency_code == "SAR" and c.fixed.amount_minor == 1500


def test_an_unknown_field_is_a_clear_error():
    with pytest.raises(CampaignFileError):
        campaign_from_doc({"name": "x", "percnt_bps": 5}, "m1")
