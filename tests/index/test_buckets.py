from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.index.buckets import period_end, period_start, periods

JAKARTA = ZoneInfo("Asia/Jakarta")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_jakarta_day_runs_from_17h_utc_to_17h_utc():
    start = period_start(utc(2026, 3, 10, 18, 0), "day", JAKARTA)
    assert start == utc(2026, 3, 10, 17, 0)
    assert period_end(start, "day", JAKARTA) == utc(2026, 3, 11, 17, 0)
    # 16:59 UTC still belongs to the Jakarta day that started the previous evening
    assert period_start(utc(2026, 3, 10, 16, 59), "day", JAKARTA) == utc(2026, 3, 9, 17, 0)


def test_dst_days_last_23_and_25_hours():
    spring = period_start(utc(2026, 3, 29, 12), "day", AMSTERDAM)
    autumn = period_start(utc(2026, 10, 25, 12), "day", AMSTERDAM)
    assert period_end(spring, "day", AMSTERDAM) - spring == timedelta(hours=23)
    assert period_end(autumn, "day", AMSTERDAM) - autumn == timedelta(hours=25)


def test_repeated_hour_at_dst_end_is_two_hour_buckets():
    first = period_start(utc(2026, 10, 25, 0, 30), "hour", AMSTERDAM)   # 02:30 CEST
    second = period_start(utc(2026, 10, 25, 1, 30), "hour", AMSTERDAM)  # 02:30 CET
    assert first == utc(2026, 10, 25, 0, 0) and second == utc(2026, 10, 25, 1, 0)


def test_half_hour_zone_hours_start_at_half_past_utc():
    assert period_start(utc(2026, 1, 1, 10, 10), "hour", KOLKATA) == utc(2026, 1, 1, 9, 30)


def test_iso_week_starts_monday_local_and_month_boundaries():
    week = period_start(utc(2026, 11, 26, 12), "week", JAKARTA)  # a Thursday
    assert week == utc(2026, 11, 22, 17, 0)  # Monday 23 Nov 00:00 Jakarta
    december = period_start(utc(2026, 12, 15), "month", UTC)
    assert december == utc(2026, 12, 1) and period_end(december, "month", UTC) == utc(2027, 1, 1)


def test_periods_cover_the_range_contiguously():
    spans = periods(utc(2026, 5, 1, 3), utc(2026, 5, 4, 1), "day", JAKARTA)
    assert spans[0][0] <= utc(2026, 5, 1, 3) and spans[-1][1] >= utc(2026, 5, 4, 1)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert len(spans) == 4  # 1 to 4 May in Jakarta


def test_fifteen_minute_buckets_and_the_cap():
    spans = periods(utc(2026, 5, 1, 0, 7), utc(2026, 5, 1, 1, 0), "15min", UTC)
    assert [s[0].minute for s in spans] == [0, 15, 30, 45]
    with pytest.raises(ValueError, match="coarser"):
        periods(utc(2020, 1, 1), utc(2026, 1, 1), "15min", UTC)
