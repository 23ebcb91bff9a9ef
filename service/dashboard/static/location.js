// One location over time: the index with its ci95 band and the adjusted index, faces per
// emotion as stacked bars, faces per bucket; bucket and date pickers; refreshed every minute.
import { TREND_ARROWS, api, count, downloadCsv, el, explain, interval, percent, ratesNote, renderHeader,
         showMessage, trendBadge } from "./api.js";
import { EMOTION_COLOURS, barChart, indexChart, legend, stackedBars } from "./charts.js";

const REFRESH_MS = 60000;
const LABEL_FORMATS = {
  "15min": { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" },
  hour: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" },
  day: { day: "numeric", month: "short" }, week: { day: "numeric", month: "short", year: "numeric" },
  month: { month: "short", year: "numeric" },
};
const $ = (id) => document.getElementById(id);
const locationId = new URLSearchParams(location.search).get("id");
let timer = null;

function dateInput(daysFromToday) {
  return new Date(Date.now() + daysFromToday * 86400000).toISOString().slice(0, 10);
}

function queryParams() {
  // dates are whole UTC days; `to` is inclusive in the form and exclusive in the API
  const end = new Date(`${$("to").value}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1);
  return { bucket: $("bucket").value, from: `${$("from").value}T00:00:00Z`, to: end.toISOString() };
}

let latestRequest = 0;

async function load() {
  if (!locationId) return showMessage($("status"), "No location chosen: open one from the city overview.", "error");
  const request = ++latestRequest; // a slow answer to an older choice must not overwrite a newer one
  try {
    const body = await (await api(`locations/${locationId}/happiness-index`, queryParams())).json();
    if (request !== latestRequest) return;
    showMessage($("status"), "");
    render(body);
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (request !== latestRequest) return;
    $("content").hidden = true;
    showMessage($("status"), explain(error), "error");
  }
}

function render(body) {
  $("title").textContent = `${body.name} (${body.timezone})`;
  document.title = `${body.name} · Happiness Index`;
  renderSummary(body);
  $("content").hidden = false;
  const empty = body.overall.faces === 0;
  if (empty) showMessage($("status"), emptyMessage(body.overall), "empty");
  ["index-chart", "emotions-chart", "faces-chart"].forEach((id) => { $(id).closest("section").hidden = empty; });
  if (!empty) renderCharts(body);
  renderTable(body);
}

function emptyMessage(overall) {
  if (!overall.unread) return "No faces yet in this range: try a longer range or check the cameras.";
  return `No faces read yet in this range: ${count(overall.unread)} seen were too small to read. `
    + "Try a longer range, or move the camera closer to where people pass.";
}

// faces read and faces seen too small to read, side by side: the share counts the read ones only
function readNote(overall) {
  return `${count(overall.faces)} faces read, ${count(overall.unread)} too small to read `
    + "(seen and counted as sightings, never in the share of happy-classified faces).";
}

function renderSummary(body) {
  const o = body.overall;
  const item = (label, value, field) => el("div", {}, el("dt", {}, label), el("dd", { "data-field": field }, value));
  const slope = body.trend.slope_per_day;
  $("summary").replaceChildren(
    item("share of happy-classified faces", percent(o.index, 1), "index"), item("95% interval", interval(o.ci95), "ci95"),
    item("adjusted for the model's errors", `${percent(o.adjusted_index, 1)} (${interval(o.adjusted_ci95)})`, "adjusted"),
    item("faces read", count(o.faces), "faces"), item("too small to read", count(o.unread), "unread"),
    item("sightings", count(o.sightings), "sightings"),
    item("frames", count(o.frames), "frames"),
    el("div", {}, el("dt", {}, "trend"), el("dd", {}, trendBadge(body.trend), ` ${TREND_ARROWS[body.trend.direction]?.[1] ?? ""}`,
       slope === null ? "" : `, ${(slope * 100).toFixed(2)} points/day`)));
  $("summary").classList.toggle("low-count", o.low_count);
  const notes = [  // [field, text]
    ...(o.low_count ? [["low-count", "Fewer faces in this range than the publishing minimum: read it as a rough sign."]] : []),
    ...(o.unread ? [["unread-note", readNote(o)]] : []),
    ["rates", ratesNote(body.rates)]];
  $("notes").replaceChildren(...notes.map(([field, text]) => el("p", { class: "rates-note", "data-field": field }, text)));
}

function labelsOf(body) {
  const format = new Intl.DateTimeFormat(undefined, { ...LABEL_FORMATS[body.bucket], timeZone: body.timezone });
  return body.series.map((point) => format.format(new Date(point.start)));
}

function renderCharts(body) {
  const labels = labelsOf(body);
  const emotions = Object.keys(EMOTION_COLOURS);
  $("index-chart").replaceChildren(
    indexChart(body.series, labels, `share of happy-classified faces per ${body.bucket} with 95% interval`),
    legend([["share of happy-classified faces", "index-line"], ["95% interval", "ci-band"], ["adjusted index", "adjusted-line"],
            ...(body.series.some((p) => p.paused) ? [["paused: not measured", "paused-band"]] : [])]));
  $("emotions-chart").replaceChildren(
    stackedBars(body.series.map((p) => p.emotions || {}), emotions, labels, `faces per emotion per ${body.bucket}`),
    legend(emotions.map((e) => [e, EMOTION_COLOURS[e]])));
  $("faces-chart").replaceChildren(barChart(body.series.map((p) => p.faces), labels, `faces per ${body.bucket}`));
}

function renderTable(body) {
  const labels = labelsOf(body);
  const head = el("tr", {}, ...["start", "faces read", "too small to read", "sightings", "happy", "happy share", "95% interval", "adjusted", "note"].map((h) => el("th", { scope: "col" }, h)));
  const rowClass = (p) => [p.low_count && p.faces ? "low-count" : "", p.paused ? "paused" : ""].join(" ").trim() || null;
  const rows = body.series.map((p, i) => el("tr", { class: rowClass(p) },
    el("td", {}, labels[i]), el("td", {}, count(p.faces)), el("td", {}, count(p.unread)), el("td", {}, count(p.sightings)),
    el("td", {}, p.happy === null ? "–" : count(p.happy)), el("td", {}, percent(p.index, 1)), el("td", {}, interval(p.ci95)),
    el("td", {}, percent(p.adjusted_index, 1)), el("td", {}, p.paused ? "paused" : "")));
  $("table").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

function scheduleRefresh() {
  clearInterval(timer);
  timer = $("auto-refresh").checked ? setInterval(load, REFRESH_MS) : null;
}

function start() {
  renderHeader("location.html", load);
  $("from").value = dateInput(-29);
  $("to").value = dateInput(0);
  if (locationId) $("notice-link").href = `/locations/${encodeURIComponent(locationId)}/notice`;
  ["bucket", "from", "to"].forEach((id) => $(id).addEventListener("change", load));
  $("auto-refresh").addEventListener("change", scheduleRefresh);
  $("location-controls").addEventListener("submit", (event) => event.preventDefault());
  $("csv").addEventListener("click", () => downloadCsv(`locations/${locationId}/happiness-index`, queryParams(),
    `happiness-index-location-${locationId}.csv`).catch((error) => showMessage($("status"), explain(error), "error")));
  scheduleRefresh();
  load();
}

start();
