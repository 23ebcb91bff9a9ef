from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from service.db.engine import make_engine, make_session_factory
from service.retention.pruning import prune, retention_cutoff
from service.db.tables import BucketCount, FrameReceipt
from service.frames.repository import add_counts, claim_frame
from service.observations.repository import claim_batch
from support import add_location_with_camera

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def seed(session_factory) -> None:
    with session_factory.begin() as session:
        location_id, camera_id = add_location_with_camera(session)
        for age_days in (400, 366, 364, 1):
            at = NOW - timedelta(days=age_days)
            add_counts(session, location_id, camera_id, at, {"frames": 1, "faces": 1})
            claim_frame(session, camera_id, f"f{age_days}", at, at + timedelta(hours=48))
            claim_batch(session, camera_id, f"b{age_days}", at, at + timedelta(hours=48), {})


def test_prune_deletes_only_what_is_older_than_the_window(database_url):
    session_factory = make_session_factory(make_engine(database_url))
    seed(session_factory)
    with session_factory.begin() as session:
        pruned = prune(session, retention_cutoff(365, NOW), NOW)
    # receipts go when their 48 hours have passed
    assert (pruned.buckets, pruned.receipts, pruned.batch_receipts) == (2, 3, 3)
    with session_factory() as session:
        kept = sorted(session.scalars(select(BucketCount.bucket_start)))
        assert [NOW - start for start in kept] == [timedelta(days=364), timedelta(days=1)]
        assert session.scalar(select(func.count()).select_from(FrameReceipt)) == 1


def test_prune_command_reports_what_it_deleted(database_url, monkeypatch, capsys):
    from service.cli import main

    session_factory = make_session_factory(make_engine(database_url))
    seed(session_factory)
    monkeypatch.setenv("HAPPINESS_DATABASE_URL", database_url)
    # the seeded rows lie 1 to 400 days before 2026-06-01: a century keeps their counts, a day
    # none; their receipts' 48 hours have all passed
    assert main(["db", "prune", "--days", "36500"]) == 0
    assert ("deleted 0 bucket rows, 4 expired frame receipts, 4 expired observation batch receipts"
            in capsys.readouterr().out)
    assert main(["db", "prune", "--days", "1"]) == 0
    assert "deleted 4 bucket rows, 0 expired frame receipts, 0 expired observation" in capsys.readouterr().out
