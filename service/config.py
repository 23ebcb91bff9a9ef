"""All configuration, read once from the environment (prefix HAPPINESS_) or a .env file."""

from __future__ import annotations

import os
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.runtime.cpus import usable_cpus

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "default"
MIN_TOKEN_LENGTH = 32
# EU AI Act Art. 26(6): deployers keep the system's logs for at least six months
MIN_AUDIT_RETENTION_DAYS = 183
BUCKET_MINUTES_ALLOWED = (1, 5, 10, 15, 30, 60)
# PostgreSQL connections one `happiness serve` (all its workers) opens by default: 4 replicas
# stay under PostgreSQL's default max_connections of 100 (97 for non-superusers)
DB_CONNECTIONS_PER_REPLICA = 20
MIN_DB_POOL_PER_WORKER = 2


class Settings(BaseSettings):
    """Service settings. Unsafe defaults are refused when `environment` is `production`."""

    model_config = SettingsConfigDict(env_prefix="HAPPINESS_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(Path("data"), description="Folder of the embedded SQLite database.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    admin_token: SecretStr | None = Field(None, description="Bearer token for admin endpoints.")
    viewer_token: SecretStr | None = Field(None, description="Bearer token for read endpoints.")
    public_read: bool = Field(False, description="Serve read endpoints without a token.")
    model_dir: Path = Field(DEFAULT_MODEL_DIR, description="Model folder: model.tflite + metadata.json.")
    detector: Literal["blazeface", "hog", "stub"] = Field("blazeface", description="Face detector: blazeface (a CNN, the default), hog (the paper's dlib HOG) or stub (benchmarks only).")
    min_face_px: int | None = Field(None, ge=8, le=1000, description="Smallest face (pixels) to look for; default: the detector's own (blazeface 12, hog 48).")
    min_readable_face_px: int = Field(24, ge=0, le=1000, description="Smaller faces are counted as seen (`unread`) but never classified: their expression cannot be read reliably (docs/LIMITS.md).")
    max_working_width: int | None = Field(None, ge=160, description="Frames are searched at most this large (blazeface: the longer side; hog: the width), which bounds a frame's cost and the smallest face found; default: the detector's own (blazeface 576, hog 1280).")
    bucket_minutes: int = Field(15, description="Width of the stored time buckets (UTC).")
    analysis_threads: int = Field(2, ge=1, le=64, description="Frames analysed at once per worker process.")
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=10_000)
    max_json_bytes: int = Field(1024 * 1024, ge=1024, description="Largest JSON (non-upload) request body.")
    body_idle_timeout_seconds: float = Field(15, gt=0, description="Longest wait for the next chunk of a request body.")
    body_timeout_seconds: float = Field(60, gt=0, description="Longest time to receive a whole request body.")
    auth_failures_per_minute: int = Field(20, ge=0, description="Failed authentications a client address may make per minute (per worker) before 429; 0 = no limit.")
    keep_alive_seconds: int = Field(5, ge=1, description="An idle keep-alive connection is closed after this long.")
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="Largest request line and headers.")
    header_timeout_seconds: float = Field(10, gt=0, description="Longest time to receive a request's line and headers.")
    tune_allocator: bool = Field(True, description="Cap glibc's arenas, fix its mmap threshold and hand free pages back after each analysed frame, in each worker (service/runtime/memory.py).")
    freeze_startup_objects: bool = Field(True, description="Freeze the objects loaded at start-up out of the garbage collector's full collections, once per worker (gc.freeze; service/runtime/memory.py).")
    worker_healthcheck_seconds: int = Field(60, ge=1, description="A worker that does not answer the supervisor's ping for this long is killed and replaced.")
    graceful_shutdown_seconds: float = Field(10, gt=0, le=300, description="On SIGTERM or SIGINT: requests in flight get this long to finish, then connections are closed and the server exits (the parent kills a worker still running 5 s later).")
    max_connections: int | None = Field(None, ge=1, description="Connections and requests a worker serves at once; more get 503. Default: no limit.")
    retention_days: int = Field(365, ge=1, description="Oldest captured_at accepted (and kept).")
    future_tolerance_seconds: int = Field(300, ge=0)
    camera_rate_per_minute: float = Field(120, ge=0, description="Frames a camera may post per minute (per worker); 0 = no limit.")
    camera_burst: int = Field(20, ge=1, description="Frames a camera may post at once above its rate.")
    trend_min_faces: int = Field(5, ge=1, description="Faces a day needs to count for the trend.")
    min_published_faces: int = Field(10, ge=1, description="Fewer faces in a bucket or range: low_count, and its values withheld from public answers.")
    prune_interval_hours: float = Field(1, ge=0, description="Run the prune (expired receipts, counts past retention, old audit entries) this often in the server, once across all workers and replicas; 0 = never (use `happiness db prune`).")
    dedup_window_hours: float = Field(48, gt=0, description="How long a frame_id is remembered to refuse its repeats; frames with a frame_id captured longer ago are refused.")
    audit_retention_days: int = Field(MIN_AUDIT_RETENTION_DAYS, description="Audit entries are kept this long (at least 183 days).")
    operator_name: str | None = Field(None, max_length=200, description="Who runs the cameras, as the public notice names them.")
    operator_contact: str | None = Field(None, max_length=300, description="How the public reaches the operator (e-mail, phone or web address), on the notice.")
    public_base_url: str | None = Field(None, description="The service's public address (https://...), for the notice's QR code; default: the address the request came to.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Comma-separated origins allowed to call the API from a browser.")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default_factory=usable_cpus, ge=1, description="Worker processes; default: the CPUs this process may use.")
    db_pool_size: int | None = Field(None, ge=1, description="PostgreSQL connections each worker keeps; default: a share of DB_CONNECTIONS_PER_REPLICA.")
    db_max_overflow: int = Field(0, ge=0, description="PostgreSQL connections a worker may open beyond its pool under load.")
    log_level: str = "info"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value):
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("audit_retention_days")
    @classmethod
    def _keep_audit_six_months(cls, value: int) -> int:
        if value < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(f"HAPPINESS_AUDIT_RETENTION_DAYS is {value}; it must be at least "
                             f"{MIN_AUDIT_RETENTION_DAYS} days: the EU AI Act (Art. 26(6)) requires "
                             "deployers to keep logs for at least six months")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"HAPPINESS_PUBLIC_BASE_URL {value!r} must be an http(s) address such as "
                             "https://happiness.city.example")
        return value.rstrip("/")

    @field_validator("admin_token", "viewer_token", "database_url", "operator_name", "operator_contact",
                     "public_base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        # compose and shells pass unset variables as "": treat them as absent
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.bucket_minutes not in BUCKET_MINUTES_ALLOWED:
            raise ValueError(f"bucket_minutes must be one of {BUCKET_MINUTES_ALLOWED}")
        if self.environment == "production":
            for name in ("admin_token", "viewer_token"):
                _require_strong(name, getattr(self, name), required=name == "admin_token")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'happiness.db').resolve()}"

    @property
    def db_pool_size_per_worker(self) -> int:
        """The set pool size, else DB_CONNECTIONS_PER_REPLICA shared by the workers (at least
        MIN_DB_POOL_PER_WORKER each: a frame's key lookup and its write may overlap)."""
        if self.db_pool_size is not None:
            return self.db_pool_size
        return max(MIN_DB_POOL_PER_WORKER, DB_CONNECTIONS_PER_REPLICA // self.workers)

    @property
    def uses_embedded_sqlite(self) -> bool:
        return self.database_url is None

    @cached_property
    def admin_secret(self) -> str:
        """The admin token; in development without one, a random one kept in data_dir/admin-token
        so that every worker process and the CLI agree on it."""
        if self.admin_token is not None:
            return self.admin_token.get_secret_value()
        return _development_token(self.data_dir / "admin-token")


def _require_strong(name: str, value: SecretStr | None, *, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"HAPPINESS_{name.upper()} is required in production")
        return
    if len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
        raise ValueError(f"HAPPINESS_{name.upper()} must be at least {MIN_TOKEN_LENGTH} characters")


def _development_token(path: Path) -> str:
    """Create the token file once, atomically (link of a finished temp file), then read it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        temp.write_text(secrets.token_urlsafe(32))
        temp.chmod(0o600)
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another worker won the race; use its token
        finally:
            temp.unlink()
    return path.read_text().strip()
