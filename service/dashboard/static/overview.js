// City overview: one card per location with its latest-day index, range index and ci95,
// faces, trend and a sparkline of the daily index; sorted and filtered in the page.
import { api, count, downloadCsv, el, explain, interval, isoDaysAgo, percent, ratesNote, renderHeader,
         showMessage, trendBadge } from "./api.js";
import { sparkline } from "./charts.js";

const TREND_ORDER = { rising: 0, stable: 1, falling: 2, insufficient_data: 3 };
const SORTS = {
  name: (a, b) => a.name.localeCompare(b.name),
  latest: (a, b) => (b.latest_day?.index ?? -1) - (a.latest_day?.index ?? -1),
  range: (a, b) => (b.range.index ?? -1) - (a.range.index ?? -1),
  faces: (a, b) => b.range.faces - a.range.faces,
  trend: (a, b) => TREND_ORDER[a.trend.direction] - TREND_ORDER[b.trend.direction],
};
const state = { locations: [], sparks: new Map() };
const $ = (id) => document.getElementById(id);

function rangeParams() {
  return { from: isoDaysAgo(Number($("range").value)), to: new Date().toISOString() };
}

let latestRequest = 0;

async function load() {
  const request = ++latestRequest; // a slow answer to an older range must not overwrite a newer one
  showMessage($("status"), "Loading…");
  try {
    const overview = await (await api("happiness-index", rangeParams())).json();
    const sparks = await dailySeries(overview.locations);
    if (request !== latestRequest) return;
    Object.assign(state, { locations: overview.locations, sparks });
    showMessage($("status"), "");
    render();
  } catch (error) {
    if (request !== latestRequest) return;
    $("cards").replaceChildren();
    showMessage($("status"), explain(error), "error");
  }
}

async function dailySeries(locations) {
  // one small request per location for its sparkline; they run in parallel
  const entries = await Promise.all(locations.map(async (location) => {
    const body = await (await api(`locations/${location.location_id}/happiness-index`, { ...rangeParams(), bucket: "day" })).json();
    return [location.location_id, body.series.map((point) => point.index)];
  }));
  return new Map(entries);
}

function render() {
  const query = $("search").value.trim().toLowerCase();
  const shown = state.locations.filter((l) => l.name.toLowerCase().includes(query)).sort(SORTS[$("sort").value]);
  $("cards").replaceChildren(...shown.map(card));
  const onModel = state.locations.filter((l) => l.rates.source === "model");
  const onModelRates = onModel.length;
  $("rates").replaceChildren(onModelRates ? el("p", { class: "rates-note", "data-field": "model-rates" },
    `${onModelRates} of ${state.locations.length} locations: ${ratesNote({ ...onModel[0].rates, stale_calibration_version: null })} `
    + "Calibrate a location (happiness calibrate) to use its own faces.") : "");
  if (!state.locations.length) showMessage($("status"), "No locations yet. An admin adds them with POST /locations.", "empty");
  else if (!shown.length) showMessage($("status"), `No location matches “${query}”.`, "empty");
  else showMessage($("status"), "");
}

function card(location) {
  const link = el("a", { href: `location.html?id=${location.location_id}` }, location.name);
  const body = location.range.faces ? facts(location) : [el("p", { class: "message empty" }, "no faces yet")];
  const low = location.range.low_count && location.range.faces > 0;
  return el("li", { class: low ? "card low-count" : "card", "data-location-id": location.location_id,
                    "data-name": location.name, "data-rates": location.rates.source },
            el("h2", {}, link), ...body, low ? el("p", { class: "muted" }, "few faces: values shaky or withheld") : null);
}

function facts(location) {
  const latest = location.latest_day;
  const day = latest ? new Date(latest.start).toLocaleDateString(undefined, { timeZone: location.timezone, day: "numeric", month: "short" }) : "";
  const values = state.sparks.get(location.location_id) || [];
  return [
    el("div", { class: "headline" },
       el("span", { class: "big", "data-field": "latest-index" }, percent(latest?.index)),
       el("span", { class: "muted" }, `happy-classified faces, latest day${day ? `, ${day}` : ""}`), trendBadge(location.trend)),
    el("dl", {},
       el("dt", {}, "range share"), el("dd", { "data-field": "range-index" }, `${percent(location.range.index)} (${interval(location.range.ci95)})`),
       el("dt", {}, "faces read"), el("dd", { "data-field": "faces" }, count(location.range.faces)),
       el("dt", {}, "too small to read"), el("dd", { "data-field": "unread" }, count(location.range.unread)),
       el("dt", {}, "sightings"), el("dd", { "data-field": "sightings" }, count(location.range.sightings))),
    sparkline(values, `daily index of ${location.name}`),
  ];
}

function start() {
  renderHeader("index.html", load);
  $("range").addEventListener("change", load);
  $("search").addEventListener("input", render);
  $("sort").addEventListener("change", render);
  $("overview-controls").addEventListener("submit", (event) => event.preventDefault());
  $("csv").addEventListener("click", () => downloadCsv("happiness-index", rangeParams(), "happiness-index-city.csv")
    .catch((error) => showMessage($("status"), explain(error), "error")));
  load();
}

start();
