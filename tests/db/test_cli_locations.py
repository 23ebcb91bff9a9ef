"""`happiness locations add|list` against a real database; listing only reads."""

import sqlite3
import threading

from service.cli import main


def test_added_location_is_listed(database_url, monkeypatch, capsys):
    monkeypatch.setenv("HAPPINESS_DATABASE_URL", database_url)
    assert main(["locations", "add", "Cli Square", "--timezone", "Europe/Amsterdam"]) == 0
    capsys.readouterr()
    assert main(["locations", "list"]) == 0
    assert "Cli Square  (Europe/Amsterdam, other)" in capsys.readouterr().out


def test_listing_does_not_wait_for_sqlite_write_lock(tmp_path, monkeypatch, capsys):
    path = tmp_path / "happiness.db"
    monkeypatch.setenv("HAPPINESS_DATABASE_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    assert main(["locations", "add", "Harbour"]) == 0
    capsys.readouterr()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a server's frame write in progress holds the write lock
    try:
        listed = threading.Thread(target=main, args=(["locations", "list"],))
        listed.start()
        listed.join(timeout=3)  # a write session would wait out the busy timeout instead
        assert not listed.is_alive(), "listing waited for the writer"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert "Harbour  (UTC, other)" in capsys.readouterr().out
