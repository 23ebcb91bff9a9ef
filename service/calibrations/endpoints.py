"""A location's own happy-vs-rest rates (admin): read, set from counts measured elsewhere, remove.
`happiness calibrate` measures them on a folder of the location's labelled faces."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.security.auth import AdminDep
from service.calibrations import service
from service.calibrations.schemas import CalibrationIn, CalibrationOut
from service.api.deps import LocationId, ReadSessionDep, SessionDep
from service.api.errors import Forbidden, InvalidInput, NotFound, Unauthorized, problem_responses
from service.api.model import ModelInfoDep as ModelDep

router = APIRouter(prefix="/locations/{location_id}/calibration", tags=["locations"])
AUTH_ERRORS = (Unauthorized, Forbidden)


@router.get("", response_model=CalibrationOut, responses=problem_responses(*AUTH_ERRORS, NotFound))
def get_calibration(location_id: LocationId, session: ReadSessionDep, _: AdminDep, model: ModelDep):
    """The location's stored rates and whether they are in use (made with the served model version)."""
    return service.get_calibration(session, location_id, model)


@router.put("", response_model=CalibrationOut, responses=problem_responses(*AUTH_ERRORS, NotFound, InvalidInput))
def put_calibration(location_id: LocationId, counts: CalibrationIn, session: SessionDep, actor: AdminDep,
                    model: ModelDep):
    """Store rates measured on the location's own labelled faces with the served model version
    (e.g. `happiness calibrate --json` run elsewhere); from now on its adjusted index uses them."""
    if counts.model_version != model.version:
        raise InvalidInput(f"the rates were measured with model version {counts.model_version}, but "
                           f"{model.version} is served: measure them again with this model")
    return service.store(session, location_id, counts, model.name, actor)


@router.delete("", status_code=204, responses=problem_responses(*AUTH_ERRORS, NotFound))
def delete_calibration(location_id: LocationId, session: SessionDep, actor: AdminDep):
    """Forget the location's rates: its adjusted index goes back to the model's."""
    service.remove(session, location_id, actor)
    return Response(status_code=204)
