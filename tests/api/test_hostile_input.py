"""Regression tests of the hardening probe (issue 18): every hostile input is a clean 4xx that
stores nothing, on SQLite and PostgreSQL. Each case names the answer it got before the fix."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bench.hostile import hostile_bodies
from support import ADMIN, add_camera, add_location, bearer, jpeg_bytes

HOSTILE = hostile_bodies()


@pytest.fixture
def camera(client):
    location = add_location(client)
    return {"location_id": location["id"], **add_camera(client, location["id"])}


def post_raw(client, camera, body: bytes, content_type: str = "image/jpeg", **params):
    return client.post(f"/locations/{camera['location_id']}/frames", content=body, params=params,
                       headers={"Content-Type": content_type, **bearer(camera["api_key"])})


def post_form(client, camera, files, data=None):
    return client.post(f"/locations/{camera['location_id']}/frames", files=files, data=data or {},
                       headers=bearer(camera["api_key"]))


def counted_frames(client, location_id: int) -> int:
    body = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN).json()
    return body["overall"]["frames"]


def assert_problem(response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


# --- the decoder: JPEG and PNG only, complete pixel data only (before: 201 for every one) ---

@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_and_unsupported_images_are_refused_and_not_counted(client, camera, name):
    body, status = HOSTILE[name]
    assert_problem(post_raw(client, camera, body), status)
    assert counted_frames(client, camera["location_id"]) == 0


def test_a_jpeg_declaring_36_megapixels_without_pixel_data_is_422(client, camera):
    """Before: 201, a grey 6000 x 6000 frame decoded from 625 bytes and counted."""
    body, _ = HOSTILE["JPEG with no pixel data"]
    assert_problem(post_raw(client, camera, body), 422, "pixel data is missing")
    assert counted_frames(client, camera["location_id"]) == 0


# --- one date window for every date input (before: 500) -----------------------------------------

@pytest.mark.parametrize("path", ["/locations/{id}/happiness-index", "/happiness-index"])
@pytest.mark.parametrize("name, value", [("from", "0001-01-01T00:00:00Z"), ("to", "9999-12-31T23:59:59Z"),
                                         ("from", "0001-01-01T00:00:00+14:00"), ("to", "1969-12-31T23:00:00Z")])
def test_index_dates_outside_the_window_are_422(client, camera, path, name, value):
    response = client.get(path.format(id=camera["location_id"]), params={name: value}, headers=ADMIN)
    assert_problem(response, 422, name, "1970-01-01", "2100-01-01")


@pytest.mark.parametrize("captured_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                         "0001-01-01T00:00:00"])
def test_captured_at_outside_the_window_is_422(client, camera, captured_at):
    assert_problem(post_raw(client, camera, jpeg_bytes(), captured_at=captured_at), 422, "captured_at", "1970")
    assert_problem(post_form(client, camera, {"image": ("f.jpg", jpeg_bytes(), "image/jpeg")},
                             {"captured_at": captured_at}), 422, "captured_at")
    assert counted_frames(client, camera["location_id"]) == 0


# --- free text: no control characters, bidi overrides or blank names (before: stored, or a
# --- PostgreSQL 500 for NUL) ----------------------------------------------------------------------

BAD_TEXT = {"NUL": "Dam\x00Square", "control": "Dam\x07Square", "escape": "Dam\x1b[31mSquare",
            "bidi override": "Dam \u202eerauqS", "bidi isolate": "Dam \u2066x\u2069", "blank": " \t ",
            "lone surrogate": "Dam \ud800"}


def send_json(client, method: str, path: str, payload: dict):
    """JSON as a client may send it: escapes such as a lone surrogate's \ud800 included."""
    return client.request(method, path, content=json.dumps(payload),
                          headers={**ADMIN, "Content-Type": "application/json"})


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_bad_text_is_422_naming_the_field_and_stores_nothing(client, kind):
    text = BAD_TEXT[kind]
    for field, payload in (("name", {"name": text}), ("description", {"name": "Dam", "description": text})):
        assert_problem(send_json(client, "POST", "/locations", payload), 422, field)
    assert client.get("/locations", headers=ADMIN).json() == []
    location = add_location(client, "Dam")
    assert_problem(send_json(client, "PATCH", f"/locations/{location['id']}", {"name": text}), 422, "name")
    response = send_json(client, "POST", f"/locations/{location['id']}/cameras", {"name": text})
    assert_problem(response, 422, "name")
    assert client.get(f"/locations/{location['id']}/cameras", headers=ADMIN).json() == []
    assert client.get(f"/locations/{location['id']}", headers=ADMIN).json()["name"] == "Dam"


def test_text_is_stripped_and_descriptions_may_span_lines(client):
    location = add_location(client, "  Dam Square ", description="North side\n\tby the palace")
    assert location["name"] == "Dam Square" and location["description"] == "North side\n\tby the palace"
    assert_problem(client.post("/locations", json={"name": "a\nb"}, headers=ADMIN), 422, "name", "U+000A")


# --- CSV cells neutralised (before: a name starting with = was a live formula) ------------------

FORMULAS = ["=HYPERLINK(\"http://x.invalid\",\"click\")", "+1+2", "-3+4", "@SUM(A1)"]


def test_csv_cells_starting_a_formula_are_neutralised_on_both_endpoints(client):
    ids = {name: add_location(client, name)["id"] for name in FORMULAS}
    city = client.get("/happiness-index", params={"format": "csv"}, headers=ADMIN)
    assert {row["location"] for row in csv.DictReader(io.StringIO(city.text))} == {"'" + n for n in FORMULAS}
    for name, location_id in ids.items():
        series = client.get(f"/locations/{location_id}/happiness-index", headers=ADMIN,
                            params={"format": "csv", "bucket": "day"})
        rows = list(csv.DictReader(io.StringIO(series.text)))
        assert rows and all(row["location"] == "'" + name for row in rows)
        assert f'"\'{name[0]}' in series.text  # quoted, with the quote mark before the trigger


def test_the_csv_writer_neutralises_tab_and_carriage_return_and_leaves_numbers():
    from service.api.csv_export import csv_response

    response = csv_response([["a", "b", "c", "d"], ["\tx", "\ry", -0.5, "plain"]], "t.csv")
    text = response.body.decode()
    assert text.split("\r\n")[1] == "\"'\tx\",\"'\ry\",-0.5,\"plain\""


# --- frame_id: a full match (before: a trailing newline was accepted) ---------------------------

@pytest.mark.parametrize("frame_id", ["cam-1\n", "cam-1\r\n", "\ncam-1"])
def test_frame_id_with_a_line_break_is_422(client, camera, frame_id):
    assert_problem(post_raw(client, camera, jpeg_bytes(), frame_id=frame_id), 422, "frame_id")
    assert counted_frames(client, camera["location_id"]) == 0


# --- multipart: one image, the named fields, nothing else (before: the last image won, unknown
# --- fields of 9 MB were accepted, 140,000 parts were parsed on the event loop) ------------------

def image_part(name="image"):
    return (name, ("f.jpg", jpeg_bytes(), "image/jpeg"))


@pytest.mark.parametrize("parts, status, fragment", [
    ([image_part(), image_part()], 422, "appears twice"),
    ([image_part(), ("comment", (None, "hello"))], 422, "unexpected form field `comment`"),
    ([image_part(), ("frame_id", (None, "a" * 2000))], 413, "frame_id"),
    ([image_part(), ("captured_at", (None, "")), *[("frame_id", (None, "x"))] * 500], 422, "more than 3 parts"),
])
def test_forms_breaking_the_rules_are_refused_and_not_counted(client, camera, parts, status, fragment):
    assert_problem(post_form(client, camera, parts), status, fragment)
    assert counted_frames(client, camera["location_id"]) == 0


def test_a_form_with_the_image_and_its_fields_is_counted(client, camera):
    response = post_form(client, camera, [image_part(), ("frame_id", (None, "f-1")),
                                          ("captured_at", (None, datetime.now(UTC).isoformat()))])
    assert response.status_code == 201, response.text
    assert response.json()["frame_id"] == "f-1"


def test_a_multipart_form_is_parsed_off_the_event_loop(client, camera, monkeypatch):
    import threading

    from service.api import upload

    threads = []
    original = upload.parse_multipart
    monkeypatch.setattr(upload, "parse_multipart",
                        lambda *args: threads.append(threading.current_thread().name) or original(*args))
    assert post_form(client, camera, [image_part()]).status_code == 201
    loop_thread = client.portal.call(lambda: threading.current_thread().name)
    assert threads and threads[0] != loop_thread


# --- JSON bodies capped before they are read (before: 20 MB parsed, then refused) -------------

def test_an_oversized_json_body_is_413_after_reading_at_most_the_cap(client, settings):
    """Straight through the app's ASGI interface, so that the chunks it pulls can be counted: a
    20 MB chunked JSON body (no Content-Length to refuse it by) is refused after the cap."""
    chunk, pulled, sent = 65536, [], []

    async def receive():
        pulled.append(chunk)
        return {"type": "http.request", "body": b" " * chunk, "more_body": len(pulled) < 320}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/locations", "raw_path": b"/locations", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "headers": [(b"authorization", ADMIN["Authorization"].encode()),
                         (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]}
    client.portal.call(client.app, scope, receive, send)
    assert sent[0]["status"] == 413
    assert sum(pulled) <= settings.max_json_bytes + chunk
    declared = client.post("/locations", content=b"{}", headers={**ADMIN, "Content-Type": "application/json",
                                                                "Content-Length": str(20 * 2**20)})
    assert_problem(declared, 413, f"{settings.max_json_bytes:,}")


# --- /ready without a token says nothing about the database (before: driver text, host, port) --

def test_ready_gives_a_generic_detail_and_logs_the_cause(client, caplog):
    from service.db.engine import make_engine

    secret = "postgresql+psycopg://someone@127.0.0.1:1/secret_city_db"
    client.app.state.engine = make_engine(secret)
    try:
        response = client.get("/ready")
    finally:
        client.app.state.engine.dispose()
    body = assert_problem(response, 503)
    for leak in ("127.0.0.1", "secret_city_db", "someone", "psycopg", "port"):
        assert leak not in response.text, body
    assert "not ready" in caplog.text and 'at "127.0.0.1", port 1 failed' in caplog.text  # the cause is logged


# --- failed-auth throttling per client (before: 500 invalid keys in 0.56 s, each a lookup) ------

def test_failed_authentication_is_throttled_per_client_but_good_credentials_pass(client, camera, settings):
    limit = settings.auth_failures_per_minute
    assert post_raw(client, camera, jpeg_bytes()).status_code == 201  # the camera's key is now cached
    statuses = [client.get("/locations", headers=bearer(f"wrong-{n}")).status_code for n in range(limit + 5)]
    assert statuses == [401] * limit + [429] * 5
    refused = client.get("/locations", headers=bearer("wrong"))
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["content-type"] == "application/problem+json"
    assert client.get("/locations", headers=ADMIN).status_code == 200  # a good token still works
    assert post_raw(client, camera, jpeg_bytes()).status_code == 201  # a cached camera key too
    unknown = post_raw(client, {**camera, "api_key": "hcam_guessed"}, jpeg_bytes())
    assert unknown.status_code == 429  # an unknown key is not even looked up


def test_the_throttle_forgets_a_client_after_a_minute_and_stays_bounded():
    from service.security.throttle import FailedAuthThrottle

    now = [0.0]
    throttle = FailedAuthThrottle(limit=3, max_clients=100, clock=lambda: now[0])
    for _ in range(3):
        throttle.record_failure("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 60 and throttle.retry_after("10.0.0.2") == 0
    now[0] = 45.5
    assert throttle.retry_after("10.0.0.1") == 15
    now[0] = 60.0
    assert throttle.retry_after("10.0.0.1") == 0
    for number in range(10_000):
        throttle.record_failure(f"client-{number}")
    assert len(throttle) == 100


# --- security headers on every answer (before: none on API and CSV answers) ---------------------

@pytest.mark.parametrize("path, cache", [
    ("/health", "no-store"), ("/locations", "no-store"), ("/happiness-index?format=csv", "no-store"),
    ("/nope", "no-store"), ("/openapi.json", "no-store"), ("/dashboard/", "no-cache"), ("/docs", "no-cache"),
    ("/redoc", "no-cache"), ("/docs/assets/swagger-ui-bundle.js", "public, max-age=86400"),
])
def test_security_headers_on_every_answer(client, path, cache):
    response = client.get(path, headers=ADMIN)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == cache
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"] or path.endswith(".js")


def test_the_docs_pages_load_nothing_from_another_origin(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and "http" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/docs/assets/redoc.standalone.js").status_code == 200


# --- observations from edge agents: the same date window, batch_id rule and key check ----------

def observation_batch(start: str, batch_id: str = "b-1") -> dict:
    observation = {"start": start, "end": start, "people": 1, "happy": 1, "sightings": 1, "frames": 1,
                   "emotions": {"happy": 1}}
    return {"batch_id": batch_id, "observations": [observation]}


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", 1700000000])
def test_observation_times_outside_the_window_or_numeric_are_422(client, camera, start):
    response = client.post(f"/locations/{camera['location_id']}/observations", json=observation_batch(start),
                           headers=bearer(camera["api_key"]))
    assert_problem(response, 422, "observations.0.start")
    assert counted_frames(client, camera["location_id"]) == 0


def test_a_batch_id_with_a_trailing_newline_is_422(client, camera):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).isoformat()
    response = client.post(f"/locations/{camera['location_id']}/observations",
                           json=observation_batch(start, "b-1\n"), headers=bearer(camera["api_key"]))
    assert_problem(response, 422, "batch_id")


def test_a_key_revoked_behind_this_process_counts_no_batch(client, camera):
    from sqlalchemy import update

    from service.db.tables import Camera, utc_now

    assert post_raw(client, camera, jpeg_bytes()).status_code == 201  # the key is cached here
    with client.app.state.engine.begin() as connection:  # as another worker would
        connection.execute(update(Camera).where(Camera.id == camera["id"]).values(revoked_at=utc_now()))
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    batch = observation_batch(start.isoformat())
    batch["observations"][0]["end"] = (start + timedelta(minutes=10)).isoformat()
    response = client.post(f"/locations/{camera['location_id']}/observations", json=batch,
                           headers=bearer(camera["api_key"]))
    assert_problem(response, 401, "revoked")
    assert counted_frames(client, camera["location_id"]) == 1
