// Upload a test image to POST /analyze?annotate=true and show the annotated JPEG; the counts
// come in the answer's X-Faces, X-Happy, X-Not-Happy and X-Unread headers, so one call does both.
import { api, el, explain, renderHeader, showMessage } from "./api.js";

const $ = (id) => document.getElementById(id);
let shownUrl = null;

async function analyse(event) {
  event.preventDefault();
  const file = $("image").files[0];
  if (!file) return showMessage($("status"), "Choose an image first.", "error");
  showMessage($("status"), "Analysing…");
  try {
    const response = await api("analyze", { annotate: "true" },
      { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
    show(response.headers, await response.blob());
    showMessage($("status"), "");
  } catch (error) {
    $("result").hidden = true;
    showMessage($("status"), explain(error), "error");
  }
}

function show(headers, image) {
  const item = (label, name) => el("div", {}, el("dt", {}, label), el("dd", { "data-field": name }, headers.get(`X-${name}`) ?? "–"));
  $("counts").replaceChildren(item("faces read", "Faces"), item("happy", "Happy"), item("not happy", "Not-Happy"),
    item("too small to read (grey)", "Unread"));
  if (shownUrl) URL.revokeObjectURL(shownUrl); // the previous image is no longer shown
  shownUrl = URL.createObjectURL(image);
  $("annotated").src = shownUrl;
  $("result").hidden = false;
}

renderHeader("analyze.html", () => showMessage($("status"), ""));
$("analyze-form").addEventListener("submit", analyse);
