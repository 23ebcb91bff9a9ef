"""A tiny run of bench/frame_writes.py: it reports both parts of a frame's database work on
SQLite. No timing is asserted."""

import pytest

pytestmark = pytest.mark.slow


def test_frame_writes_bench_reports_the_check_and_the_write(capsys):
    from bench.frame_writes import main

    assert main(["--databases", "sqlite", "--frames", "5", "--rounds", "1"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("sqlite: check before analysis ") and " us per frame" in output
    assert "check before analysis none" not in output
