// Shared by every page: the reader's token (kept for this browser session only), API calls
// that carry it, readable errors, small DOM and formatting helpers. No external requests.

const TOKEN_KEY = "happiness.token";
// The API lives one level above /dashboard/, so a path prefix added by a proxy still works.
const API_ROOT = new URL("../", document.baseURI);

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
  }
}

export async function api(path, params = {}, init = {}) {
  const url = new URL(path, API_ROOT);
  Object.entries(params).forEach(([key, value]) => url.searchParams.set(key, value));
  const headers = new Headers(init.headers || {});
  if (token()) headers.set("Authorization", `Bearer ${token()}`);
  let response;
  try {
    response = await fetch(url, { ...init, headers });
  } catch (error) {
    throw new ApiError(0, "The service cannot be reached", "check the connection and retry");
  }
  if (!response.ok) throw await problemOf(response);
  return response;
}

async function problemOf(response) {
  // Every error of the API is application/problem+json with a title and a readable detail.
  try {
    const problem = await response.json();
    return new ApiError(response.status, problem.title || response.statusText, problem.detail || "");
  } catch {
    return new ApiError(response.status, `HTTP ${response.status}`, response.statusText);
  }
}

export function explain(error) {
  if (error.status === 401) return `${error.message}. Enter a viewer or admin token above.`;
  if (error.status === 403) return `${error.message}. This token may not do that.`;
  return error.message || String(error);
}

export function el(tag, attributes = {}, ...children) {
  // Text goes in as text nodes, never as HTML: location names are user data.
  const element = document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value);
  });
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

export function showMessage(target, text, kind = "info") {
  target.replaceChildren(text ? el("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text) : "");
}

export function percent(value, digits = 0) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;
}

export function interval(ci95) {
  return ci95 ? `${percent(ci95[0])}–${percent(ci95[1])}` : "–";
}

export function ratesNote(rates) {
  // The adjusted index is only as good as the rates it divides by: say whose they are.
  if (rates.source === "location") {
    return `Adjusted with this location's own rates (tpr ${percent(rates.tpr, 1)}, fpr ${percent(rates.fpr, 1)}, `
      + `${count(rates.n_happy + rates.n_other)} labelled faces).`;
  }
  const stale = rates.stale_calibration_version
    ? ` Its calibration was made for model ${rates.stale_calibration_version} and is not used.` : "";
  if (rates.applied === false) {
    return `Not adjusted: the model's rates (measured on ${rates.measured_on}) are not applied by default. `
      + `${rates.note || ""}${stale}`;
  }
  return `Adjusted with the model's own rates, measured on ${rates.measured_on || "its validation faces"}, not on `
    + `this place's: away from those faces the adjustment can move the estimate away from the truth.${stale}`;
}

export function count(value) {
  return new Intl.NumberFormat().format(value || 0);
}

export const TREND_ARROWS = {
  rising: ["↑", "rising"], falling: ["↓", "falling"], stable: ["→", "stable"],
  insufficient_data: ["·", "not enough data for a trend"],
};

export function trendBadge(trend) {
  const [arrow, words] = TREND_ARROWS[trend.direction] || ["?", trend.direction];
  return el("span", { class: `trend ${trend.direction}`, title: words, "aria-label": `trend: ${words}`,
                      "data-field": "trend", "data-direction": trend.direction }, arrow);
}

export function isoDaysAgo(days) {
  return new Date(Date.now() - days * 86400000).toISOString();
}

const PAGES = [["index.html", "City overview"], ["analyze.html", "Test an image"], ["/limits", "What the figure means"],
               ["/docs", "API docs"]];

function tokenForm() {
  return el("form", { id: "token-form", class: "token" },
    el("label", { for: "token-input" }, "Access token"),
    el("input", { id: "token-input", type: "password", autocomplete: "off", placeholder: "viewer or admin token" }),
    el("button", { type: "submit" }, "Use token"),
    el("button", { type: "button", id: "token-forget", class: "secondary" }, "Forget"),
    el("span", { id: "token-state", role: "status" }));
}

export function renderHeader(currentPage, onTokenChange) {
  // One header for every page, built here so that its markup exists once.
  const links = PAGES.map(([href, text]) => el("a", { href, "aria-current": href === currentPage ? "page" : null }, text));
  document.getElementById("top").replaceChildren(
    el("h1", {}, "Happiness Index"), el("nav", { "aria-label": "pages" }, ...links), tokenForm());
  setupTokenForm(onTokenChange);
}

function setupTokenForm(onChange) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  const state = document.getElementById("token-state");
  const describe = () => { state.textContent = token() ? "token in use for this session" : "no token"; };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    describe();
    onChange();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    describe();
    onChange();
  });
  describe();
}

export async function downloadCsv(path, params, filename) {
  // A plain link could not carry the bearer token, so the CSV is fetched and handed over as a blob.
  const response = await api(path, { ...params, format: "csv" });
  const link = el("a", { href: URL.createObjectURL(await response.blob()), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
