"""The bound on a year of hour buckets (the query whose trend took every pair of 8,760 hours,
1.6 GB and seconds of CPU before): the trend gets one point per local day, and the whole answer
stays under 100 MB of traced memory, on SQLite and PostgreSQL."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from bench.history import generate
from service.db.engine import make_engine, make_read_session_factory
from service.index import service
from service.index.schemas import ModelInfo

END = datetime(2026, 11, 25, tzinfo=UTC)
MODEL = ModelInfo(name="scripted", version="test", tpr=0.9, fpr=0.1, n_happy=900, n_other=2700, detector="stub")


def test_a_year_of_hour_buckets_is_bounded(database_url):
    engine = make_engine(database_url)
    generate(engine, locations=1, days=365, end=END)  # every 15-minute bucket of a year
    query = service.make_query(END - timedelta(days=365), END, "hour", MODEL, 5, END)
    with make_read_session_factory(engine)() as session:
        tracemalloc.start()
        answer = service.location_index(session, 1, query)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    engine.dispose()
    assert len(answer.series) == 365 * 24
    assert answer.trend.unit == "day" and 360 <= answer.trend.buckets <= 366
    assert answer.series_spread.unit == "hour" and answer.spread.unit == "day"
    assert peak < 100e6
