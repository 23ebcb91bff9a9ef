// Small hand-written SVG charts: a sparkline, the index over time with its ci95 band and the
// adjusted index, stacked bars and plain bars. Sized by viewBox, so they scale with the page.

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 720, HEIGHT = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };
const PLOT_W = WIDTH - PAD.left - PAD.right, PLOT_H = HEIGHT - PAD.top - PAD.bottom;
const MAX_MARKERS = 120; // beyond this many points, markers only clutter the line

export const EMOTION_COLOURS = {
  angry: "#c0392b", disgust: "#7d5a3c", fear: "#8e44ad", happy: "#27ae60",
  neutral: "#95a5a6", sad: "#2e86c1", surprise: "#e67e22",
};

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  node.append(...children);
  return node;
}

function titled(node, text) {
  node.append(svg("title", {}, text)); // the browser's own tooltip, also read by screen readers
  return node;
}

function xOf(i, n) {
  return PAD.left + (n <= 1 ? PLOT_W / 2 : (i * PLOT_W) / (n - 1));
}

function yOf(value, max = 1) {
  return PAD.top + PLOT_H - (max > 0 ? (value / max) * PLOT_H : 0);
}

function segments(values) {
  // Runs of consecutive non-null values: buckets without faces break the line instead of
  // being drawn as zero.
  const runs = [];
  values.forEach((value, i) => {
    if (value === null || value === undefined) return;
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] === i - 1) last.push(i); else runs.push([i]);
  });
  return runs;
}

function pathOf(run, values, n) {
  return run.map((i, k) => `${k ? "L" : "M"}${xOf(i, n).toFixed(1)},${yOf(values[i]).toFixed(1)}`).join("");
}

function frame(label, n) {
  return svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label,
                      class: "chart", "data-points": n, preserveAspectRatio: "xMidYMid meet" });
}

function yAxis(chart, max, format) {
  [0, 0.25, 0.5, 0.75, 1].forEach((fraction) => {
    const y = yOf(fraction * max, max);
    chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "grid" }),
                 svg("text", { x: PAD.left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, format(fraction * max)));
  });
}

function labelPicks(n) {
  // first, middle and last bucket: enough to read the range without overlapping labels
  return n <= 1 ? [0] : [...new Set([0, Math.floor((n - 1) / 2), n - 1])];
}

function xAxis(chart, labels, xAt) {
  // the outer labels are anchored inwards so that they are never cut off at the edges
  const picks = labelPicks(labels.length);
  picks.forEach((i, k) => {
    const anchor = picks.length === 1 ? "middle" : k === 0 ? "start" : k === picks.length - 1 ? "end" : "middle";
    chart.append(svg("text", { x: xAt(i), y: HEIGHT - 8, class: "axis", "text-anchor": anchor }, labels[i]));
  });
}

function niceMax(max) {
  // a round axis top (1, 2, 3 or 5 times a power of ten, times the 4 grid steps): whole-count ticks
  const step = Math.max(1, max / 4);
  const power = 10 ** Math.floor(Math.log10(step));
  const multiple = [1, 2, 3, 5, 10].find((m) => m * power >= step);
  return multiple * power * 4;
}

export function sparkline(values, label) {
  const chart = svg("svg", { viewBox: "0 0 120 32", class: "sparkline", role: "img", "aria-label": label,
                             "data-points": values.length });
  const x = (i) => (values.length <= 1 ? 60 : 2 + (i * 116) / (values.length - 1));
  const y = (v) => 30 - v * 28;
  chart.append(svg("line", { x1: 2, x2: 118, y1: 30, y2: 30, class: "spark-base" })); // 0%, so one dot still reads
  segments(values).forEach((run) => {
    const d = run.map((i, k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(values[i]).toFixed(1)}`).join("");
    chart.append(svg("path", { d, class: "spark-line" }));
    if (run.length === 1) chart.append(svg("circle", { cx: x(run[0]), cy: y(values[run[0]]), r: 2, class: "spark-dot" }));
  });
  return chart;
}

function band(chart, run, lows, highs, n) {
  if (run.length === 1) return whisker(chart, run[0], lows, highs, n);
  const upper = run.map((i) => `${xOf(i, n).toFixed(1)},${yOf(highs[i]).toFixed(1)}`);
  const lower = run.slice().reverse().map((i) => `${xOf(i, n).toFixed(1)},${yOf(lows[i]).toFixed(1)}`);
  chart.append(svg("polygon", { points: [...upper, ...lower].join(" "), class: "ci-band" }));
}

function whisker(chart, i, lows, highs, n) {
  // a bucket between two empty ones has no neighbours to make a band with: draw its interval as a bar
  const x = xOf(i, n), top = yOf(highs[i]), bottom = yOf(lows[i]);
  chart.append(svg("rect", { x: x - 5, width: 10, y: top, height: Math.max(bottom - top, 1), class: "ci-band" }));
}

function adjustedLine(chart, run, adjusted, n) {
  if (run.length > 1) return chart.append(svg("path", { d: pathOf(run, adjusted, n), class: "adjusted-line" }));
  chart.append(svg("circle", { cx: xOf(run[0], n), cy: yOf(adjusted[run[0]]), r: 4, class: "adjusted-dot" }));
}

function markers(chart, values, labels, n, lowCounts) {
  // a bucket with fewer faces than the publishing minimum is drawn hollow and grey: its value is shaky
  if (n > MAX_MARKERS) return;
  values.forEach((value, i) => {
    if (value === null) return;
    const low = lowCounts[i];
    const dot = svg("circle", { cx: xOf(i, n), cy: yOf(value), r: 3.5, class: low ? "index-dot low-count" : "index-dot",
                                "data-value": value });
    chart.append(titled(dot, `${labels[i]}: ${(value * 100).toFixed(1)}%${low ? " (few faces)" : ""}`));
  });
}

export function indexChart(series, labels, label) {
  // series: [{index, ci95, adjusted_index}] per bucket; labels: one text per bucket.
  const n = series.length;
  const chart = frame(label, n);
  yAxis(chart, 1, (v) => `${Math.round(v * 100)}%`);
  pausedBands(chart, series, labels, n);
  const index = series.map((p) => p.index);
  const lows = series.map((p) => (p.ci95 ? p.ci95[0] : null));
  const highs = series.map((p) => (p.ci95 ? p.ci95[1] : null));
  segments(index).forEach((run) => band(chart, run, lows, highs, n));
  const adjusted = series.map((p) => p.adjusted_index);
  segments(adjusted).forEach((run) => adjustedLine(chart, run, adjusted, n));
  segments(index).forEach((run) => chart.append(svg("path", { d: pathOf(run, index, n), class: "index-line" })));
  markers(chart, index, labels, n, series.map((p) => p.low_count));
  xAxis(chart, labels, (i) => xOf(i, n));
  return chart;
}

function pausedBands(chart, series, labels, n) {
  // a paused bucket was not measured: a grey band marks the gap, so it never reads as zero
  const half = n <= 1 ? PLOT_W / 2 : PLOT_W / (n - 1) / 2;
  series.forEach((point, i) => {
    if (!point.paused) return;
    const left = Math.max(PAD.left, xOf(i, n) - half), right = Math.min(WIDTH - PAD.right, xOf(i, n) + half);
    const rect = svg("rect", { x: left, width: right - left, y: PAD.top, height: PLOT_H, class: "paused-band" });
    chart.append(titled(rect, `${labels[i]}: paused, not measured`));
  });
}

function barGeometry(i, n) {
  const slot = PLOT_W / Math.max(n, 1);
  const width = Math.max(slot * 0.8, Math.min(slot, 1.5)); // thin bars stay visible, never overlap
  return { x: PAD.left + i * slot + (slot - width) / 2, width };
}

function barCentre(i, n) {
  const { x, width } = barGeometry(i, n);
  return x + width / 2;
}

export function stackedBars(rows, keys, labels, label) {
  // rows: [{key: count}] per bucket, stacked in the order of `keys`.
  const n = rows.length;
  const max = niceMax(Math.max(...rows.map((row) => keys.reduce((sum, key) => sum + (row[key] || 0), 0))));
  const chart = frame(label, n);
  yAxis(chart, max, String);
  rows.forEach((row, i) => {
    const { x, width } = barGeometry(i, n);
    let base = 0;
    keys.filter((key) => row[key] > 0).forEach((key) => {
      const rect = svg("rect", { x, width, y: yOf(base + row[key], max), height: yOf(base, max) - yOf(base + row[key], max),
                                 fill: EMOTION_COLOURS[key] || "#888", class: "bar", "data-key": key, "data-value": row[key] });
      chart.append(titled(rect, `${labels[i]}: ${key} ${row[key]}`));
      base += row[key];
    });
  });
  xAxis(chart, labels, (i) => barCentre(i, n));
  return chart;
}

export function barChart(values, labels, label) {
  const n = values.length;
  const max = niceMax(Math.max(...values));
  const chart = frame(label, n);
  yAxis(chart, max, String);
  values.forEach((value, i) => {
    if (!value) return;
    const { x, width } = barGeometry(i, n);
    const rect = svg("rect", { x, width, y: yOf(value, max), height: yOf(0, max) - yOf(value, max),
                               class: "bar faces-bar", "data-value": value });
    chart.append(titled(rect, `${labels[i]}: ${value} faces`));
  });
  xAxis(chart, labels, (i) => barCentre(i, n));
  return chart;
}

export function legend(entries) {
  // entries: [[text, class or colour]]
  const list = document.createElement("ul");
  list.className = "legend";
  entries.forEach(([text, swatch]) => {
    const item = document.createElement("li");
    const mark = document.createElement("span");
    mark.className = "swatch";
    if (swatch.startsWith("#")) mark.style.background = swatch; else mark.classList.add(swatch);
    item.append(mark, text);
    list.append(item);
  });
  return list;
}
