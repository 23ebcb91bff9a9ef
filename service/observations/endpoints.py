from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.security.auth import CameraDep
from service.db.tables import utc_now
from service.api.deps import LocationId, SessionDep, SettingsDep
from service.api.errors import (Forbidden, InvalidInput, Locked, NotFound, ProhibitedLocation, TooManyRequests,
                            Unauthorized, problem_responses)
from service.observations import service
from service.observations.schemas import MAX_OBSERVATIONS, BatchResult, ObservationBatch

router = APIRouter(tags=["observations"])

DESCRIPTION = f"""Count people seen by an edge device (camera key of this location). For devices
that analyse video themselves, such as `happiness agent`: each person is counted once however
many frames showed them, and no image ever leaves the device.

Each observation covers a span `[start, end)` inside ONE of the server's buckets (their width
in minutes is `bucket_minutes` in `GET /health`; buckets start at whole multiples of it in UTC)
and adds its counts to that bucket: `people` as the index's faces, `happy`, `not_happy` =
people - happy, `emotions`, `unread` (people seen whose face was never large enough to read:
counted as seen, never in the index; optional, default 0), `sightings` and `frames`. Several
observations may fall in one bucket; each adds.

The whole batch is checked first and stored in one transaction, or not at all: any
inconsistent observation (happy > people, emotions not adding up to people or naming an unknown
class, negative counts, sightings < people + unread, end not after start, a span across
buckets, a time in the future, or starting before the retention, `HAPPINESS_RETENTION_DAYS`, 365
days by default) answers 422 naming each `observations.INDEX.FIELD` at fault. At most {MAX_OBSERVATIONS} observations per batch.
A paused location or camera, or an observation that overlaps an earlier pause, answers 423; a
location whose setting the law prohibits (workplace, education) 403.

Send the same `batch_id` again when no answer came back, even days later (a device whose link
was down sends its backlog when it returns): a batch this camera sent within the retention is
answered 200 with the first result and `duplicate: true`, and not counted again."""


@router.post(
    "/locations/{location_id}/observations", status_code=201, response_model=BatchResult,
    summary="Count people seen by an edge device", description=DESCRIPTION,
    responses={200: {"description": "This batch_id was counted before: the first result, not counted "
                                    "again", "model": BatchResult},
               **problem_responses(Unauthorized, Forbidden, NotFound, InvalidInput, TooManyRequests, Locked,
                                   ProhibitedLocation)},
)
def post_observations(location_id: LocationId, batch: ObservationBatch, camera: CameraDep,
                      settings: SettingsDep, session: SessionDep, request: Request) -> Response:
    target = service.Target(location_id=location_id, camera_id=camera.id, key_hash=camera.key_hash)
    result = service.record_batch(session, target, batch, settings, utc_now())
    session.commit()  # before the counters move and the answer goes out: a failed commit is a 503
    request.app.state.metrics.record_observations(location_id, result)
    return Response(result.model_dump_json(), status_code=200 if result.duplicate else 201,
                    media_type="application/json")
