// Talking to the server: JSON requests, error messages, and the form of the picture as shown.

import { el, state } from "./state.js";
import { hintsJSON } from "./hints.js";
import { currentModel, hasHints } from "./main.js";

export async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(await errorText(res));
  return res.json();
}

export async function errorText(res) {
  try {
    const body = await res.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (_) { /* not JSON */ }
  return `the server answered ${res.status} ${res.statusText}`.trim();
}

// The form fields of the picture as shown (image, model, working size, hints, reference): what
// /colorize made it from, and what /confidence and /suggest are asked about.
export function shownForm() {
  const model = currentModel();
  const form = new FormData();
  form.append("image", state.file, state.file.name || "image");
  if (el.model.value) form.append("model", el.model.value);
  if (el.render.value) form.append("render_size", el.render.value);
  if (hasHints() && model && model.hints) form.append("hints", hintsJSON(state));
  if (state.reference && model && model.hints) form.append("reference", state.reference, state.reference.name || "reference");
  return form;
}

export function sideRequest() {  // one confidence or suggestion request at a time: a newer one cancels the older
  if (state.side) state.side.abort();
  state.side = new AbortController();
  return state.side;
}
