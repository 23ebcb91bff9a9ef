"""The deployment files checked statically: they parse, and every command, path and setting
they name exists in this repository. `make image-test` (docker/image-test.sh) builds the image
and runs it for real."""

import re
from pathlib import Path

import pytest
import yaml

from service.cli import build_parser
from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def instructions(kind: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(kind + " ")]


def test_dockerfile_is_multi_stage_on_a_base_image_argument_and_compiles_nothing():
    """Prebuilt wheels only (dlib from dlib-bin): no compiler or system package is installed."""
    assert instructions("ARG")[0] == "BASE_IMAGE=python:3.11-slim-bookworm"
    assert instructions("FROM") == ["${BASE_IMAGE} AS builder", "${BASE_IMAGE} AS runtime"]
    assert "g++" not in DOCKERFILE and "apt-get install" not in DOCKERFILE
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    assert "COPY --from=builder /opt/happiness /opt/happiness" in runtime


def test_the_image_installs_the_serving_role_only():
    """No extras (TensorFlow is in [train]), and of the models only what the service loads."""
    assert re.search(r"pip install \.(\s|$)", DOCKERFILE) and "pip install .[" not in DOCKERFILE
    copied = " ".join(instructions("COPY"))
    assert "model.keras" not in copied and "models/default/model.tflite" in copied
    assert "models/detector/face_detection_full_range.tflite" in copied and "models/detector/LICENSE" in copied


def test_runtime_runs_as_a_non_root_user_with_a_healthcheck():
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    health = instructions("HEALTHCHECK")
    assert health and "/health" in health[0]


def test_copied_paths_exist_and_are_in_the_build_context():
    """Every COPY source is in the repository and let through by .dockerignore, which keeps
    the rest (a 2.5 GB .venv, data/, runs/) out of the build context."""
    allowed = [line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")]
    for source in instructions("COPY"):
        parts = [p for p in source.split() if not p.startswith("--")]
        if "--from=builder" in source:
            continue
        for path in parts[:-1]:
            assert (ROOT / path).exists(), f"COPY names {path}, which is not in the repository"
            assert any(path == entry or path.startswith(entry + "/") for entry in allowed), \
                f"COPY names {path}, which .dockerignore leaves out of the build context"


def test_entrypoint_and_compose_commands_are_real_cli_commands():
    entrypoint = yaml.safe_load(instructions("ENTRYPOINT")[0])
    assert entrypoint == ["python", "-m", "service.cli"]
    commands = [yaml.safe_load(instructions("CMD")[-1])]
    commands += [service["command"] for service in COMPOSE["services"].values() if "command" in service]
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(command)
        assert callable(args.func), command


def test_compose_wires_database_migration_and_api():
    services = COMPOSE["services"]
    assert set(services) == {"db", "migrate", "api"}
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert (ROOT / services["api"]["build"]["dockerfile"]).is_file()
    assert "pgdata" in COMPOSE["volumes"]
    # no fixed host port, so that `--scale api=N` can start several replicas
    assert all(":" not in str(port) for port in services["api"]["ports"])


def test_compose_environment_names_real_settings():
    fields = {f"HAPPINESS_{name.upper()}" for name in Settings.model_fields}
    for service in COMPOSE["services"].values():
        for name in service.get("environment", {}):
            if name.startswith("HAPPINESS_"):
                assert name in fields, f"{name} is not a setting"
    for name in re.findall(r"\b(HAPPINESS_[A-Z_]+)=", DOCKERFILE):
        assert name in fields, f"{name} is not a setting"


def test_compose_replicas_fit_postgres_default_connections(monkeypatch):
    """The replicas the compose file's comment suggests, each with the workers of its CPU limit
    and their default pools, stay under PostgreSQL's default 100 connections (3 reserved)."""
    monkeypatch.delenv("HAPPINESS_DB_POOL_SIZE", raising=False)
    api = COMPOSE["services"]["api"]
    workers = int(float(api["deploy"]["resources"]["limits"]["cpus"]))
    replicas = int(re.search(r"--scale api=(\d+)", (ROOT / "docker-compose.yml").read_text()).group(1))
    settings = Settings(_env_file=None, workers=workers)
    per_replica = workers * (settings.db_pool_size_per_worker + settings.db_max_overflow)
    assert per_replica <= 20
    assert (replicas + 1) * per_replica + 1 <= 97  # one more replica while rolling out, and the migration


def test_production_settings_of_compose_are_accepted_and_unsafe_ones_refused(monkeypatch):
    monkeypatch.delenv("HAPPINESS_ADMIN_TOKEN", raising=False)
    environment = COMPOSE["services"]["api"]["environment"]
    assert environment["HAPPINESS_ENVIRONMENT"] == "production"
    strong = "x" * 40
    Settings(environment="production", admin_token=strong, viewer_token="")
    with pytest.raises(ValueError, match="at least 32"):
        Settings(environment="production", admin_token="short")
    with pytest.raises(ValueError, match="required in production"):
        Settings(environment="production", _env_file=None)
