from __future__ import annotations

from fastapi import APIRouter

from service.security.auth import AdminDep
from service.cameras import service
from service.cameras.schemas import CameraCreate, CameraOut, CameraWithKey
from service.api.deps import CameraId, LocationId, ReadSessionDep, SessionDep
from service.api.errors import Conflict, Forbidden, NotFound, Unauthorized, problem_responses

router = APIRouter(prefix="/locations/{location_id}/cameras", tags=["cameras"])
ERRORS = problem_responses(Unauthorized, Forbidden, NotFound)


def _with_key(issued: service.IssuedKey) -> CameraWithKey:
    return CameraWithKey(**CameraOut.model_validate(issued.camera).model_dump(), api_key=issued.api_key)


@router.post("", status_code=201, response_model=CameraWithKey, responses=ERRORS)
def create_camera(location_id: LocationId, data: CameraCreate, session: SessionDep, actor: AdminDep):
    """Register a camera (admin). The response holds its `api_key`, shown this once only."""
    return _with_key(service.create_camera(session, location_id, data.name, actor))


@router.get("", response_model=list[CameraOut], responses=ERRORS)
def list_cameras(location_id: LocationId, session: ReadSessionDep, _: AdminDep):
    return service.list_cameras(session, location_id)


@router.post("/{camera_id}/revoke", response_model=CameraOut, responses=ERRORS)
def revoke_camera(location_id: LocationId, camera_id: CameraId, session: SessionDep, actor: AdminDep):
    """Revoke a camera's key at once (admin); its counts stay."""
    return service.revoke_camera(session, location_id, camera_id, actor)


@router.post("/{camera_id}/rotate", response_model=CameraWithKey,
             responses={**ERRORS, **problem_responses(Conflict)})
def rotate_camera_key(location_id: LocationId, camera_id: CameraId, session: SessionDep, actor: AdminDep):
    """Issue a new key for a camera (admin); the old key stops working at once."""
    return _with_key(service.rotate_key(session, location_id, camera_id, actor))
