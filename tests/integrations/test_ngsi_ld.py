"""The NGSI-LD view: entity shape, @context, GeoJSON location, and the latest day's index."""

from datetime import UTC, datetime, timedelta

from support import VIEWER, add_camera, add_location, bearer, jpeg_bytes

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def seeded(client) -> tuple[dict, dict]:
    counted = add_location(client, "Museum Square", "UTC", latitude=52.358, longitude=4.881)
    quiet = add_location(client, "Quiet Park", "UTC")
    key = add_camera(client, counted["id"])["api_key"]
    captured = datetime.now(UTC) - timedelta(minutes=10)
    response = client.post(f"/locations/{counted['id']}/frames", content=jpeg_bytes(),
                           params={"captured_at": captured.isoformat()},
                           headers={**bearer(key), "Content-Type": "image/jpeg"})
    assert response.status_code == 201
    return counted, quiet


def entities_by_name(client, **params) -> dict[str, dict]:
    response = client.get("/ngsi-ld/v1/entities", headers=VIEWER, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    return {entity["name"]["value"]: entity for entity in response.json()}


def test_each_location_is_a_crowd_flow_observed_entity_with_its_latest_day(client):
    counted, _ = seeded(client)
    entity = entities_by_name(client)["Museum Square"]
    assert entity["id"] == f"urn:ngsi-ld:CrowdFlowObserved:happiness-location-{counted['id']}"
    assert entity["type"] == "CrowdFlowObserved"
    assert entity["@context"][-1] == CORE_CONTEXT
    assert "happinessIndex" in entity["@context"][1]
    assert entity["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.881, 52.358]}}
    assert entity["happinessIndex"]["type"] == "Property" and entity["happinessIndex"]["value"] == 0.5
    assert entity["happinessIndex"]["observedAt"] == entity["dateObservedTo"]["value"]["@value"]
    assert len(entity["happinessIndexCi95"]["value"]) == 2
    assert (entity["peopleCount"]["value"], entity["happyCount"]["value"], entity["notHappyCount"]["value"]) == (2, 1, 1)
    assert entity["emotionCounts"]["value"]["sad"] == 1
    observed_from = datetime.fromisoformat(entity["dateObservedFrom"]["value"]["@value"])
    observed_to = datetime.fromisoformat(entity["dateObservedTo"]["value"]["@value"])
    assert observed_to - observed_from == timedelta(days=1)  # a UTC location's local day
    assert entity["dateObservedFrom"]["value"]["@type"] == "DateTime"


def test_a_location_without_faces_or_coordinates_has_no_null_properties(client):
    seeded(client)
    quiet = entities_by_name(client)["Quiet Park"]
    assert quiet["peopleCount"]["value"] == 0
    assert "location" not in quiet and "happinessIndex" not in quiet
    assert all(not isinstance(attribute, dict) or attribute.get("value") is not None for attribute in quiet.values())


def test_get_one_entity_key_values_and_plain_json(client):
    counted, _ = seeded(client)
    entity_id = f"urn:ngsi-ld:CrowdFlowObserved:happiness-location-{counted['id']}"
    simple = client.get(f"/ngsi-ld/v1/entities/{entity_id}", headers=VIEWER, params={"options": "keyValues"}).json()
    assert (simple["id"], simple["happinessIndex"], simple["peopleCount"]) == (entity_id, 0.5, 2)
    assert simple["location"] == {"type": "Point", "coordinates": [4.881, 52.358]}
    plain = client.get(f"/ngsi-ld/v1/entities/{entity_id}", headers={**VIEWER, "Accept": "application/json"})
    assert plain.headers["content-type"] == "application/json" and "@context" not in plain.json()
    context_url = plain.headers["link"].split(";")[0].strip("<>")
    assert context_url.endswith("/ngsi-ld/context.jsonld")
    assert client.get(context_url).json()["@context"][-1] == CORE_CONTEXT


def test_unknown_entity_and_type(client):
    seeded(client)
    missing = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:CrowdFlowObserved:happiness-location-999", headers=VIEWER)
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert client.get("/ngsi-ld/v1/entities/other", headers=VIEWER).status_code == 404
    assert entities_by_name(client, type="TrafficFlowObserved") == {}
    assert len(entities_by_name(client, type="CrowdFlowObserved")) == 2


def test_ngsi_needs_read_access(client):
    assert client.get("/ngsi-ld/v1/entities").status_code == 401
