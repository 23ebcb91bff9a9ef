"""Each worker freezes its start-up objects once (gc.freeze), so the cycle collector's full
collections during requests scan what requests made, not the whole process; the setting turns
it off. Run in a child process: the freeze is per process and this test process may have
frozen already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

CHILD = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from fastapi.testclient import TestClient
from support import make_settings
from service.db.migrate import upgrade
from service.main import create_app

freeze = sys.argv[3] == "on"
counts = []
for number in range(2):  # a second app in the same process freezes nothing more
    url = "sqlite:///" + sys.argv[2] + f"/{number}.db"
    upgrade(url)
    settings = make_settings(url, Path(sys.argv[2]), freeze_startup_objects=freeze)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        counts.append(gc.get_freeze_count())
from service.runtime.memory import freeze_startup_objects
again = freeze_startup_objects() if freeze else None
print(json.dumps({"frozen": counts, "scanned": len(gc.get_objects()), "again": again}))
"""


def _child(tmp_path: Path, freeze: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(TESTS), str(tmp_path), freeze],
                          capture_output=True, text=True, timeout=300, cwd=TESTS.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("freeze", ["on", "off"])
def test_a_worker_freezes_its_start_up_objects_once(tmp_path, freeze):
    result = _child(tmp_path, freeze)
    if freeze == "off":
        assert result["frozen"] == [0, 0]
        return
    first, second = result["frozen"]
    assert first > 50_000, result  # modules, the model, the app: the bulk of the process
    assert abs(second - first) < first / 20, result  # the second app froze nothing more
    assert result["again"] == 0, result             # nor does a later call
    assert result["scanned"] < first / 2, result  # what full collections still scan
