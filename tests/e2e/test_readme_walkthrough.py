"""The README's curl walk-through, run as written against a live `happiness serve` with the real
detector and the committed model: what a new user copies first must work (a stale captured_at
once made its second frame answer 422)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import ADMIN_TOKEN, free_port, require_samples, serve_process, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    """The first bash block under the README's "Walk-through with curl" heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Walk-through with curl", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def answers(output: str) -> list[dict]:
    """The JSON documents the block printed, one after another, and the camera key it echoed."""
    decoder, found, position = json.JSONDecoder(), [], 0
    while position < len(output):
        if output[position].isspace():
            position += 1
            continue
        if output.startswith("hcam_", position):
            end = output.index("\n", position)
            found.append({"echoed_key": output[position:end]})
            position = end
            continue
        document, position = decoder.raw_decode(output, position)
        found.append(document)
    return found


def test_the_readme_walkthrough_runs_as_written(tmp_path):
    require_samples()
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    from service.db.migrate import upgrade

    database_url = f"sqlite:///{tmp_path / 'happiness.db'}"
    upgrade(database_url)
    port = free_port()
    server = serve_process(database_url, port, tmp_path, detector="blazeface")
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", server)
        script = walkthrough()
        # the two assignments a reader adapts to their own server; everything else runs as printed
        script = script.replace("TOKEN=$(cat data/admin-token)", f"TOKEN={ADMIN_TOKEN}", 1)
        script = script.replace("API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{port}", 1)
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert run.returncode == 0, run.stderr
    found = answers(run.stdout)
    problems = [answer for answer in found if "status" in answer and "detail" in answer]  # problem+json
    assert not problems, problems
    location, key, multipart, raw, series, city = found
    assert location["name"] == "Museum Square" and key["echoed_key"].startswith("hcam_")
    assert (multipart["faces"], multipart["frame_id"]) == (3, "cam1-000001")  # ../shared/samples/README.md
    assert (raw["faces"], raw["happy"], raw["not_happy"]) == (2, 0, 2)  # as the README's comment says
    assert series["location_id"] == 1 and series["overall"]["faces"] == 5
    assert city["overall"]["faces"] == 5
