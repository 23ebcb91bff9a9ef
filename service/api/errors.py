"""Domain errors carry their HTTP status; one set of handlers renders every error as
application/problem+json (RFC 9457) with a readable title and detail."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ServiceError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class NotFound(ServiceError):
    status, title = 404, "Not found"


class Unauthorized(ServiceError):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ServiceError):
    status, title = 403, "Forbidden"


class Conflict(ServiceError):
    status, title = 409, "Conflict"


class Locked(ServiceError):
    status, title = 423, "Paused"


class PayloadTooLarge(ServiceError):
    status, title = 413, "Payload too large"


class UnsupportedMediaType(ServiceError):
    status, title = 415, "Unsupported media type"


class InvalidInput(ServiceError):
    status, title = 422, "Invalid input"


class UnprocessableImage(ServiceError):
    status, title = 422, "Unprocessable image"


class ProhibitedSetting(ServiceError):
    """A location setting the law forbids this use in (a 422: the request asks for it)."""
    status, title = 422, "Prohibited setting"


class ProhibitedLocation(ServiceError):
    """Counts for a location whose setting the law forbids this use in (a 403: refused)."""
    status, title = 403, "Prohibited setting"


class TooManyRequests(ServiceError):
    status, title = 429, "Too many requests"

    def __init__(self, detail: str, retry_after_seconds: int):
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class ServiceUnavailable(ServiceError):
    status, title = 503, "Service unavailable"

    def __init__(self, detail: str, retry_after_seconds: int = 5):
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


def problem_response(status: int, title: str, detail: str, *, instance: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_responses(*errors: type[ServiceError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the domain errors an endpoint can raise."""
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {error.status: {"description": error.title, "content": content} for error in errors}


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
        "rule": {"type": "string", "description": "The law or rule that refuses the request."},
    },
}


# answers any operation may give: the database gone; with a body: malformed, too large, too
# slow; with authentication: too many failed attempts from the client
COMMON_PROBLEMS = {503: "Service unavailable"}
BODY_PROBLEMS = {400: "Malformed request body", 408: "Request body too slow", 413: "Payload too large"}
AUTH_PROBLEMS = {429: "Too many failed authentications (or, for cameras, frames)"}


def _openapi_with_problem_schema(app: FastAPI):
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            for operation in _operations(schema):
                _document_problems(operation)
        return app.openapi_schema

    return openapi


def _operations(schema: dict[str, Any]):
    for path_item in schema.get("paths", {}).values():
        yield from (op for method, op in path_item.items() if method in {"get", "post", "patch", "delete", "put"})


def _document_problems(operation: dict[str, Any]) -> None:
    """Every error an operation answers is problem+json, FastAPI's own 422 included."""
    responses = operation.setdefault("responses", {})
    extra = {**COMMON_PROBLEMS, **(BODY_PROBLEMS if "requestBody" in operation else {}),
             **(AUTH_PROBLEMS if "401" in responses else {})}
    for status, title in extra.items():
        responses.setdefault(str(status), {"description": title})
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = content


def install_error_handlers(app: FastAPI) -> None:
    app.openapi = _openapi_with_problem_schema(app)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_conflict)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    return problem_response(exc.status, exc.title, exc.detail, instance=request.url.path,
                            headers=exc.headers, **exc.extra)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_describe_validation_error(error) for error in exc.errors()]
    return problem_response(422, "Invalid request", "; ".join(errors), instance=request.url.path,
                            errors=errors)


def _describe_validation_error(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}"


HTTP_TITLES = {404: "Not found", 405: "Method not allowed", 408: "Request timeout", 413: "Payload too large",
               499: "Client closed request"}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    title = HTTP_TITLES.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no endpoint at {request.url.path}"
    return problem_response(exc.status_code, title, detail, instance=request.url.path,
                            headers=getattr(exc, "headers", None))


async def _integrity_conflict(request: Request, exc: IntegrityError) -> JSONResponse:
    # a race the service's own checks could not see, e.g. two requests creating one name
    log.warning("integrity conflict on %s: %s", request.url.path, exc.orig)
    return problem_response(409, "Conflict", "the request conflicts with data stored meanwhile; "
                            "read the current state and retry", instance=request.url.path)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
    return problem_response(503, "Service unavailable", "the database cannot be reached; retry later",
                            instance=request.url.path, headers={"Retry-After": "5"})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "Internal error", "an unexpected error occurred; it has been logged",
                            instance=request.url.path)
