"""`happiness agent` as a user meets it: a --help that explains, and clear refusals before any
model is loaded or server asked."""

import pytest

from service.cli import main


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["agent", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--source", "--server", "--location", "--key", "--mode", "--fps", "--min-track-frames",
                   "--track-patience", "--queue", "--frame-interval", "--drain-timeout", "HAPPINESS_CAMERA_KEY"):
        assert option in text
    assert "counted ONCE" in text and "less often than people linger" in text


def test_a_missing_video_file_is_refused_at_once(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv("HAPPINESS_CAMERA_KEY", raising=False)
    missing = tmp_path / "nowhere.avi"
    code = main(["agent", "--source", str(missing), "--server", "http://127.0.0.1:9", "--location", "1",
                 "--key", "hcam_x", "--queue", str(tmp_path / "q.db")])
    assert code == 2 and f"no such video file: {missing}" in caplog.text
    assert not (tmp_path / "q.db").exists()


def test_a_camera_key_is_required(tmp_path, monkeypatch):
    monkeypatch.delenv("HAPPINESS_CAMERA_KEY", raising=False)
    with pytest.raises(SystemExit, match="HAPPINESS_CAMERA_KEY"):
        main(["agent", "--source", "0", "--server", "http://127.0.0.1:9", "--location", "1"])
