"""The location setting: workplace and education are refused (EU AI Act Art. 5(1)(f)) when a
location is created or changed, and counts for such a location are refused too; the CLI takes
--setting and `locations check` lists what needs review. SQLite and PostgreSQL."""

import pytest

from responsible_helpers import overall, post_frame, set_setting_in_database
from service.cli import main
from support import ADMIN, add_camera, add_location

RULE = "EU AI Act Art. 5(1)(f)"


def assert_names_the_rule(response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["rule"] == RULE and "Art. 5(1)(f)" in body["detail"] and body["title"] == "Prohibited setting"


@pytest.mark.parametrize("setting", ["workplace", "education"])
def test_creating_a_location_in_a_prohibited_setting_is_refused(client, setting):
    response = client.post("/locations", json={"name": "Office", "setting": setting}, headers=ADMIN)
    assert_names_the_rule(response, 422)
    assert client.get("/locations", headers=ADMIN).json() == []


@pytest.mark.parametrize("setting", ["workplace", "education"])
def test_changing_a_location_to_a_prohibited_setting_is_refused(client, setting):
    location = add_location(client, setting="park")
    response = client.patch(f"/locations/{location['id']}", json={"setting": setting, "name": "Renamed"},
                            headers=ADMIN)
    assert_names_the_rule(response, 422)
    stored = client.get(f"/locations/{location['id']}", headers=ADMIN).json()
    assert (stored["setting"], stored["name"]) == ("park", location["name"])  # nothing of the request applied


def test_permitted_settings_are_stored_and_default_to_other(client):
    assert add_location(client, "Square")["setting"] == "other"
    station = add_location(client, "Station", setting="station")
    changed = client.patch(f"/locations/{station['id']}", json={"setting": "transit"}, headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["setting"] == "transit"
    assert client.patch(f"/locations/{station['id']}", json={"setting": None}, headers=ADMIN).status_code == 422
    assert client.post("/locations", json={"name": "X", "setting": "prison"}, headers=ADMIN).status_code == 422


def test_frames_to_a_location_in_a_prohibited_setting_are_refused(client, settings, pipeline):
    location = add_location(client)
    camera = {"location_id": location["id"], **add_camera(client, location["id"])}
    assert post_frame(client, camera).status_code == 201
    set_setting_in_database(settings.database_url, location["id"], "education")
    calls = pipeline.calls
    assert_names_the_rule(post_frame(client, camera), 403)
    assert_names_the_rule(post_frame(client, camera, frame_id="f-1"), 403)
    assert pipeline.calls == calls  # refused before the image was analysed
    assert overall(client, location["id"])["frames"] == 1


def test_cli_refuses_a_prohibited_setting_and_check_lists_what_needs_review(database_url, monkeypatch, capsys):
    monkeypatch.setenv("HAPPINESS_DATABASE_URL", database_url)
    assert main(["locations", "add", "Town Hall", "--setting", "workplace"]) == 1
    assert "Art. 5(1)(f)" in capsys.readouterr().err
    assert main(["locations", "add", "Museum Square", "--setting", "public_square"]) == 0
    assert main(["locations", "check"]) == 0
    assert "every location has a reviewed setting" in capsys.readouterr().out
    assert main(["locations", "add", "Old Location"]) == 0  # default: other
    capsys.readouterr()
    assert main(["locations", "check"]) == 1
    out = capsys.readouterr().out
    assert "Old Location  setting other: review the setting" in out and "Museum Square" not in out
