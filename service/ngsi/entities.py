"""City overview rows -> NGSI-LD entities (pure functions).

Each location becomes a `CrowdFlowObserved` entity (Smart Data Models, Transportation): the
standard `peopleCount`, `dateObservedFrom` / `dateObservedTo` and a GeoJSON `location`, plus
happiness properties defined in this service's own JSON-LD context. The observed period is the
location's latest local day with faces; without faces yet, the whole queried range with
`peopleCount` 0 and no index properties (NGSI-LD properties may not be null). A low-count day
read without a token (public read) keeps its `peopleCount` and `lowCount` only."""

from __future__ import annotations

from datetime import datetime

from service.index.schemas import CityLocation, Summary

ENTITY_TYPE = "CrowdFlowObserved"
ID_PREFIX = f"urn:ngsi-ld:{ENTITY_TYPE}:happiness-location-"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM_CONTEXT = "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/master/context.jsonld"
VOCABULARY = "https://happiness-index.invalid/ngsi-ld/vocab#"  # .invalid: a name, never fetched
HAPPINESS_TERMS = ("happinessIndex", "happinessIndexCi95", "adjustedHappinessIndex", "adjustedHappinessIndexCi95",
                   "happyCount", "notHappyCount", "emotionCounts", "sightingsCount", "unreadCount",
                   "happinessTrend", "lowCount", "happinessRatesSource", "modelName", "modelVersion")
UNITLESS = "C62"  # UN/CEFACT code for a plain number (the index is a fraction)


def context() -> list:
    """SDM terms first, ours next, the NGSI-LD core context last (as the specification asks)."""
    ours = {term: f"{VOCABULARY}{term}" for term in HAPPINESS_TERMS}
    return [SDM_CONTEXT, ours, CORE_CONTEXT]


def entity_id(location_id: int) -> str:
    return f"{ID_PREFIX}{location_id}"


def location_id_of(entity: str) -> int | None:
    suffix = entity.removeprefix(ID_PREFIX)
    return int(suffix) if suffix != entity and suffix.isdigit() else None


def to_entity(row: CityLocation, start: datetime, end: datetime, model) -> dict:
    observed = row.latest_day
    period = (observed.start, observed.end) if observed else (start, end)
    entity = {"id": entity_id(row.location_id), "type": ENTITY_TYPE,
              "name": _property(row.name),
              "dateObservedFrom": _date_property(period[0]), "dateObservedTo": _date_property(period[1]),
              "peopleCount": _property(observed.faces if observed else 0, period[1])}
    if row.latitude is not None and row.longitude is not None:
        entity["location"] = {"type": "GeoProperty",
                              "value": {"type": "Point", "coordinates": [row.longitude, row.latitude]}}
    if observed is not None:
        entity["lowCount"] = _property(observed.low_count, period[1])
        if observed.index is not None:  # withheld from public reads when low_count
            entity |= _happiness_properties(observed, period[1])
    entity["happinessTrend"] = _property(row.trend.direction)
    entity["happinessRatesSource"] = _property(row.rates.source)
    entity["happinessRatesApplied"] = _property(row.rates.applied)
    entity |= {"modelName": _property(model.name), "modelVersion": _property(model.version)}
    return entity


def _happiness_properties(observed: Summary, at: datetime) -> dict:
    """Index, interval and counts of the observed day (peopleCount is its faces; sightingsCount
    the faces detected in all analysed frames; unreadCount the faces seen but too small to read,
    never in peopleCount or the index). observedAt is the period's end: the moment the
    value describes up to."""
    properties = {"happyCount": _property(observed.happy, at), "notHappyCount": _property(observed.not_happy, at),
                  "sightingsCount": _property(observed.sightings, at),
                  "unreadCount": _property(observed.unread, at),
                  "happinessIndex": _property(observed.index, at, UNITLESS),
                  "happinessIndexCi95": _property(list(observed.ci95), at, UNITLESS),
                  "emotionCounts": _property(dict(getattr(observed, "emotions", {})), at)}
    if observed.adjusted_index is not None:
        properties["adjustedHappinessIndex"] = _property(observed.adjusted_index, at, UNITLESS)
        properties["adjustedHappinessIndexCi95"] = _property(list(observed.adjusted_ci95), at, UNITLESS)
    return properties


def _property(value, observed_at: datetime | None = None, unit: str | None = None) -> dict:
    prop = {"type": "Property", "value": value}
    if observed_at is not None:
        prop["observedAt"] = _iso(observed_at)
    if unit is not None:
        prop["unitCode"] = unit
    return prop


def _date_property(moment: datetime) -> dict:
    return {"type": "Property", "value": {"@type": "DateTime", "@value": _iso(moment)}}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def key_values(entity: dict) -> dict:
    """The simplified representation (options=keyValues): each attribute as its bare value."""
    simple = {key: value for key, value in entity.items() if key in ("id", "type", "@context")}
    for key, attribute in entity.items():
        if isinstance(attribute, dict) and "value" in attribute:
            value = attribute["value"]
            simple[key] = value["@value"] if isinstance(value, dict) and "@value" in value else value
    return simple
