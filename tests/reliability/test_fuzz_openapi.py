"""Fuzz every operation of the OpenAPI document with schemathesis (its CLI, against a live
server with the stub pipeline and a real database): no 5xx, every answer conforms to the
documented status codes, content types, headers and schemas, and schema-violating requests
are refused. Not checked: that every schema-valid request is accepted, because some rules are
not expressible in OpenAPI (`from` before `to`, bytes that decode as an image, at most 10,000
buckets)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.main import create_app
from support import ADMIN_TOKEN, LiveServer, ScriptedPipeline, make_settings

pytestmark = pytest.mark.slow
CHECKS = ",".join(["not_a_server_error", "status_code_conformance", "content_type_conformance",
                   "response_headers_conformance", "response_schema_conformance", "negative_data_rejection"])


def test_fuzzing_the_whole_api_finds_no_failure(sqlite_database, tmp_path):
    from service.db.migrate import upgrade

    upgrade(sqlite_database)
    app_settings = make_settings(sqlite_database, tmp_path, camera_rate_per_minute=0, auth_failures_per_minute=0)
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    with LiveServer(create_app(app_settings, pipeline=ScriptedPipeline())) as server:
        result = subprocess.run(
            [st, "run", f"{server.url}/openapi.json", "--checks", CHECKS, "--max-examples", "25",
             "--header", f"Authorization: Bearer {ADMIN_TOKEN}", "--no-color", "--seed", "1"],
            capture_output=True, text=True, timeout=1200, cwd=tmp_path)  # its state files go there
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
