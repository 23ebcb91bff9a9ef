"""NGSI-LD read endpoints (the subset a context broker or city platform needs to pull the
index): list the entities, get one. Answers are application/ld+json with the @context inside,
or plain application/json with the context in a Link header when the client asks for JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from service.security.auth import Reader, ReaderDep
from service.db.tables import utc_now
from service.api.deps import ReadSessionDep, SettingsDep
from service.api.errors import Forbidden, NotFound, Unauthorized, problem_responses
from service.index import service as index
from service.api.model import ModelInfo, ModelInfoDep as ModelDep
from service.ngsi import entities

router = APIRouter(prefix="/ngsi-ld", tags=["integrations"])
LD_JSON = "application/ld+json"
NGSI_NOT_FOUND = "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
Options = Annotated[Literal["normalized", "keyValues"] | None,
                    Query(description="keyValues: each attribute as its bare value.")]


@router.get("/v1/entities", responses={200: {"content": {LD_JSON: {}}}, **problem_responses(Unauthorized, Forbidden)})
def list_entities(request: Request, reader: ReaderDep, session: ReadSessionDep, settings: SettingsDep, model: ModelDep,
                  entity_type: Annotated[str | None, Query(alias="type", description="Only CrowdFlowObserved exists here.")] = None,
                  options: Options = None):
    """Every location as a CrowdFlowObserved entity with its latest day's happiness index."""
    if entity_type not in (None, entities.ENTITY_TYPE):
        return _answer(request, [], options)
    return _answer(request, _all_entities(session, settings, model, reader), options)


@router.get("/v1/entities/{entity_id}", responses={200: {"content": {LD_JSON: {}}},
                                                   **problem_responses(Unauthorized, Forbidden, NotFound)})
def get_entity(entity_id: str, request: Request, reader: ReaderDep, session: ReadSessionDep, settings: SettingsDep,
               model: ModelDep, options: Options = None):
    """One location's entity, by id `urn:ngsi-ld:CrowdFlowObserved:happiness-location-{location id}`."""
    found = []
    if entities.location_id_of(entity_id) is not None:  # don't query for ids that cannot exist
        found = [e for e in _all_entities(session, settings, model, reader) if e["id"] == entity_id]
    if not found:
        raise NotFound(f"no entity {entity_id}", type=NGSI_NOT_FOUND)
    return _answer(request, found[0], options)


@router.get("/context.jsonld", name="ngsi_context", response_class=JSONResponse,
            responses={200: {"content": {LD_JSON: {}}, "description": "The JSON-LD context"}})
def context_document() -> JSONResponse:
    """The JSON-LD @context of these entities (public: it holds no data)."""
    return JSONResponse({"@context": entities.context()}, media_type=LD_JSON)


def _all_entities(session, settings, model: ModelInfo, reader: Reader) -> list[dict]:
    query = index.make_query(None, None, "day", model, settings.trend_min_faces, utc_now(),
                             settings.min_published_faces, public=not reader.token)
    overview = index.city_overview(session, query)
    return [entities.to_entity(row, overview.start, overview.end, model) for row in overview.locations]


def _answer(request: Request, body: dict | list[dict], options: str | None) -> JSONResponse:
    """ld+json unless the client accepts only plain JSON (then the context goes in a Link header)."""
    items = body if isinstance(body, list) else [body]
    if options == "keyValues":
        items = [entities.key_values(item) for item in items]
    if _wants_plain_json(request.headers.get("accept", "")):
        link = f'<{request.url_for("ngsi_context")}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD_JSON}"'
        return JSONResponse(items if isinstance(body, list) else items[0], headers={"Link": link})
    items = [{**item, "@context": entities.context()} for item in items]
    return JSONResponse(items if isinstance(body, list) else items[0], media_type=LD_JSON)


def _wants_plain_json(accept: str) -> bool:
    return "application/json" in accept and LD_JSON not in accept
