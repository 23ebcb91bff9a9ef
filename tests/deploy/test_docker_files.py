"""No Docker engine runs here, so the deployment files are checked statically: they parse,
and every command, path and setting they name exists in this repository."""

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


def test_dockerfile_is_multi_stage_and_builds_dlib_only_in_the_builder():
    stages = instructions("FROM")
    assert len(stages) == 2 and stages[0].endswith("AS builder") and stages[1].endswith("AS runtime")
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    assert "build-essential" not in runtime and "cmake" not in runtime
    assert "COPY --from=builder /wheels" in runtime


def test_runtime_runs_as_a_non_root_user_with_a_healthcheck():
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    health = instructions("HEALTHCHECK")
    assert health and "/health" in health[0]


def test_copied_paths_exist():
    for source in instructions("COPY"):
        parts = [p for p in source.split() if not p.startswith("--")]
        if "--from=builder" in source:
            continue
        for path in parts[:-1]:
            assert (ROOT / path).exists(), f"COPY names {path}, which is not in the repository"


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
