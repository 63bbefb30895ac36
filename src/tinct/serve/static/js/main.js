// tinct web page: upload, colorize, hints (points, strokes, palette, grid, reference), unsure veil,
// suggestions, more options, download, help; and the wiring of every control. Plain JavaScript
// modules, no build step, no third-party code.

import { $, COLLAGE_MAX, GAP, HINT_NOTE, LIVE_DELAY_MS, MAX_PALETTE, MAX_RETRIES, VIEWS, clearMessage, el, mb, setStatus, showMessage, state } from "./state.js";
import { errorText, getJSON, shownForm, sideRequest } from "./api.js";
import { encodePng } from "./png.js";
import { emptyHistory, hintsJSON, recordEdit, redoStep, snapshot, undoStep } from "./hints.js";
import { applyFilters, filtersOff, scheduleFilters } from "./filters.js";
import { bitmapPixels, fitViewer, imagePoint, panePoint, paneSize, positionFromEvent, setPosition, setView, setZoom, showResult, zoomBy } from "./viewer.js";
import { cancelJob, chooseFiles } from "./jobs.js";

export async function loadServerInfo() {
  try {
    const [config, models] = await Promise.all([getJSON("/api/v1/config"), getJSON("/api/v1/models")]);
    state.config = config;
    state.models = models.models;
    el.model.replaceChildren(...models.models.map((m) => {
      const opt = new Option(`${m.name}: ${m.purpose || m.arch}${m.hints ? "" : " · no hints"}`, m.name);
      opt.title = m.summary;
      opt.selected = m.name === models.default;
      return opt;
    }));
    const rs = config.render_size;
    const sizes = [...new Set([256, 384, 512, 768, 1024, rs.default ?? 256])]
      .filter((s) => s >= rs.min && s <= rs.max).sort((a, b) => a - b);
    const options = sizes.map((s) => {
      const label = s === rs.default ? `${s} px (default)` : `${s} px`;
      const opt = new Option(label, String(s));
      opt.selected = s === rs.default;
      return opt;
    });
    if (rs.default == null) {  // each model works at its own size unless one is chosen
      options.unshift(new Option("the model's own (default)", "", true, true));
    }
    el.render.replaceChildren(...options);
    $("read-formats").textContent = config.read_formats;  // before the note below flattens to text
    $("drop-note").textContent += ` Up to ${mb(config.max_upload_bytes)} and ${config.max_pixels / 1e6} megapixels.` +
      (config.max_job_bytes ? ` Films and several photos at once run as a job: up to ${mb(config.max_job_bytes)}, ` +
        `${config.max_job_images} photos or ${Math.round(config.max_video_s / 60)} minutes of film; the result ` +
        `can be downloaded for ${Math.round(config.job_ttl_s / 60)} minutes.` : "");
    $("help-limits").textContent = `${config.read_formats}, up to ${mb(config.max_upload_bytes)} and ` +
      `${config.max_pixels / 1e6} megapixels. The result has the photo's full size; "Detail" sets the size the ` +
      `model works at (${rs.min}-${rs.max} px): larger is finer and slower.`;
    $("help-models").textContent = models.models.map((m) => `${m.name}: ${m.purpose || m.summary}.`).join(" ");
    updateHintControls();
    document.body.dataset.ready = "true";
  } catch (err) {
    showMessage(`could not reach the tinct server (${err.message}). Is it running?`);
  }
}

export function currentModel() { return state.models.find((m) => m.name === el.model.value); }

export function chooseFile(file) {
  if (!file) return;
  clearMessage();
  if (file.size === 0) { showMessage("that file is empty."); return; }
  if (state.config && file.size > state.config.max_upload_bytes) {
    showMessage(`that file is ${mb(file.size)}; the limit is ${mb(state.config.max_upload_bytes)}.`);
    return;
  }
  if (!state.result) {  // the first photo shows at once, in gray, while it is worked on
    if (el.previewImg.src) URL.revokeObjectURL(el.previewImg.src);
    el.previewImg.hidden = false;
    el.previewImg.src = URL.createObjectURL(file);
    el.previewImg.onerror = () => { el.previewImg.hidden = true; };  // e.g. a TIFF: the spinner alone
    el.preview.hidden = false;
    el.drop.classList.add("compact");
  }
  colorize(0, file);  // the photo (and its fresh, empty hint list) replaces the shown one on success only
}

$("job-cancel").addEventListener("click", cancelJob);

$("job-download").addEventListener("click", async () => {
  const job = state.job;
  if (!job || !job.result) return;
  try {
    const res = await fetch(job.result);
    if (!res.ok) throw new Error(await errorText(res));
    const name = (res.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name ? name[1] : (job.video ? "film-color.mp4" : "colorized.zip");
    document.body.append(a);
    a.click();
    a.remove();
    if (job.video) {  // the result stays playable here (the server has let it go)
      const v = $("job-video");
      v.src = a.href;
      v.hidden = false;
    } else {
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }
    $("job-download").hidden = true;
    $("job-text").textContent = `${job.label}: downloaded.`;
    state.job = null;
  } catch (err) {
    showMessage(err.message);
  }
});

el.file.addEventListener("change", () => { chooseFiles(el.file.files); el.file.value = ""; });

for (const type of ["dragenter", "dragover"]) {
  window.addEventListener(type, (e) => {
    e.preventDefault();
    el.drop.classList.add("dragging");
  });
}

window.addEventListener("dragleave", (e) => {
  if (e.relatedTarget === null) el.drop.classList.remove("dragging");
});

window.addEventListener("drop", (e) => {
  e.preventDefault();
  el.drop.classList.remove("dragging");
  if (e.dataTransfer && e.dataTransfer.files.length) chooseFiles(e.dataTransfer.files);
});

window.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.files : [])][0];
  if (item) chooseFile(item);
});

export function setBusy(busy) {
  el.viewer.classList.toggle("busy", busy);
  el.viewer.setAttribute("aria-busy", String(busy));
  updateButtons();
}

export function showProgress(on) {
  clearInterval(state.ticker);
  el.progress.hidden = !on;
  if (!on) return;
  const t0 = performance.now();
  el.progressText.textContent = "Colorizing…";
  state.ticker = setInterval(() => {
    el.progressText.textContent = `Colorizing… ${Math.round((performance.now() - t0) / 1000)} s`;
  }, 1000);
}

export function endPreview() {
  el.preview.hidden = true;
  if (!state.result) el.drop.classList.remove("compact");
}

el.cancel.addEventListener("click", () => {
  if (!state.request) return;
  state.request.abort();
  state.request = null;
  setBusy(false);
  showProgress(false);
  endPreview();
  setStatus(state.result ? "Cancelled; the picture shown is unchanged." : "Cancelled.");
});

export function hasHints() {
  return state.hints.length > 0 || state.strokes.length > 0 || state.palette.some((c) => c.weight > 0) ||
    state.grid !== null;
}

export const GRID = 14;

el.grid.addEventListener("change", async () => {
  const file = el.grid.files[0];
  el.grid.value = "";
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    const c = document.createElement("canvas");
    c.width = GRID;
    c.height = GRID;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, GRID, GRID);
    bitmap.close();
    const px = ctx.getImageData(0, 0, GRID, GRID).data;
    const hex = (i) => "#" + [px[i], px[i + 1], px[i + 2]].map((v) => v.toString(16).padStart(2, "0")).join("");
    state.grid = Array.from({ length: GRID }, (_, y) => Array.from({ length: GRID }, (_, x) => {
      const i = 4 * (y * GRID + x);
      return px[i + 3] < 128 ? null : hex(i);
    }));
    const used = state.grid.flat().filter((v) => v !== null).length;
    el.gridNote.textContent = `Color grid “${file.name}”: ${used} of ${GRID * GRID} cells give a hint. `;
    const clear = document.createElement("button");
    clear.type = "button";
    clear.textContent = "Remove the grid";
    clear.dataset.testid = "grid-remove";
    clear.addEventListener("click", () => { state.grid = null; el.gridNote.hidden = true; scheduleLive(); });
    el.gridNote.append(clear);
    el.gridNote.hidden = false;
    if (state.result) colorize();
  } catch (_) {
    showMessage(`could not read “${file.name}” as an image for the color grid.`);
  }
});

export function renderPalette() {
  el.paletteList.replaceChildren(...state.palette.map((c, i) => {
    const li = document.createElement("li");
    const pick = document.createElement("input");
    pick.type = "color";
    pick.value = c.color;
    pick.setAttribute("aria-label", `Palette color ${i + 1}`);
    pick.addEventListener("change", () => { state.palette[i].color = pick.value; });
    const weight = document.createElement("input");
    weight.type = "number";
    weight.min = "0";
    weight.max = "100";
    weight.step = "0.5";
    weight.value = String(c.weight);
    weight.setAttribute("aria-label", `Weight of palette color ${i + 1}`);
    weight.addEventListener("change", () => {
      const v = Number(weight.value);
      state.palette[i].weight = Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : 1;
      weight.value = String(state.palette[i].weight);
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove palette color ${i + 1}`);
    remove.addEventListener("click", () => { state.palette.splice(i, 1); renderPalette(); });
    li.append(pick, weight, remove);
    return li;
  }));
  el.paletteAdd.disabled = state.palette.length >= MAX_PALETTE;
}

el.paletteAdd.addEventListener("click", () => {
  if (state.palette.length >= MAX_PALETTE) return;
  state.palette.push({ color: el.hintColor.value, weight: 1 });
  renderPalette();
  setStatus("Palette color added. Press “Recolorize” to use it.");
});

export async function updateUnsure() {
  el.unsure.hidden = !el.unsureToggle.checked || !state.result;
  if (el.unsure.hidden || state.unsureFor === state.version) return;
  const controller = sideRequest();
  const version = state.version;
  try {
    const res = await fetch("/api/v1/confidence", { method: "POST", body: shownForm(), signal: controller.signal });
    if (!res.ok) throw new Error(await errorText(res));
    const bitmap = await createImageBitmap(await res.blob());
    if (version !== state.version) return;  // a newer result came meanwhile
    const { width, height } = bitmap;
    const conf = bitmapPixels(bitmap).data;
    el.unsure.width = width;
    el.unsure.height = height;
    const ctx = el.unsure.getContext("2d");
    const veil = ctx.createImageData(width, height);
    let unsure = 0;
    for (let i = 0; i < conf.length; i += 4) {
      const doubt = 1 - conf[i] / 255;  // 0 sure .. 1 a pure guess
      veil.data[i] = 230; veil.data[i + 1] = 0; veil.data[i + 2] = 200;
      veil.data[i + 3] = doubt > 0.5 ? Math.round(200 * (doubt - 0.5) * 2) : 0;
      if (doubt > 0.5) unsure += 1;
    }
    ctx.putImageData(veil, 0, 0);
    state.unsureFor = version;
    el.viewer.dataset.unsureVersion = String(version);
    setStatus(`Tinted: the ${Math.round((100 * unsure) / (width * height))} % of the picture whose colors are ` +
      "guesses. Click there to see likely colors.");
  } catch (err) {
    if (err.name === "AbortError") return;
    el.unsureToggle.checked = false;
    el.unsure.hidden = true;
    showMessage(`could not show where tinct is unsure: ${err.message}`);
  }
}

el.unsureToggle.addEventListener("change", updateUnsure);

export async function showOptions() {
  if (!state.result || !state.file) return;
  const controller = sideRequest();
  const form = shownForm();
  form.append("n", "4");
  setStatus("Making other plausible colorizations…");
  try {
    const res = await fetch("/api/v1/variants", { method: "POST", body: form, signal: controller.signal });
    if (!res.ok) throw new Error(await errorText(res));
    const body = await res.json();
    el.options.replaceChildren(...body.variants.map((url, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.testid = "option";
      b.setAttribute("aria-pressed", String(i === 0));
      b.setAttribute("aria-label", i === 0 ? "The colorization shown" : `Option ${i + 1}`);
      const img = document.createElement("img");
      img.src = url;  // a preview (at most 1024 px)
      img.alt = i === 0 ? "the colorization shown" : `option ${i + 1}`;
      b.append(img);
      b.addEventListener("click", async () => {
        // the option at full size from the server; later recolorings (hints) start from it too
        state.variant = { index: i, model: el.model.value };
        el.options.querySelectorAll("button").forEach((o) => o.setAttribute("aria-pressed", String(o === b)));
        state.choosingOption = true;  // the options stay up while one of them is shown
        try { await colorize(); } finally { state.choosingOption = false; }
        setStatus(i === 0 ? "The first colorization is shown again." : `Option ${i + 1} is shown; hints now apply on top of it.`);
      });
      return b;
    }));
    el.options.hidden = false;
    setStatus("Other plausible colorizations: they differ where tinct is unsure. Click one to show it.");
  } catch (err) {
    if (err.name === "AbortError") return;
    showMessage(`could not make other options: ${err.message}`);
  }
}

el.moreOptions.addEventListener("click", showOptions);

export async function suggestAt(index) {
  const hint = state.hints[index];
  const model = currentModel();
  if (!hint || !state.file || (model && !model.hints)) return;
  const controller = sideRequest();
  const form = shownForm();
  form.delete("hints");  // the colors the model itself considers there, before this hint
  form.append("x", String(hint.x));
  form.append("y", String(hint.y));
  form.append("k", "5");
  try {
    const res = await fetch("/api/v1/suggest", { method: "POST", body: form, signal: controller.signal });
    if (!res.ok) throw new Error(await errorText(res));
    const body = await res.json();
    el.swatches.replaceChildren(...body.suggestions.map((s) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "swatch";
      b.style.background = s.hex;
      b.dataset.color = s.hex;
      b.title = `${s.hex} (${Math.round(100 * s.probability)} % likely)`;
      b.setAttribute("aria-label", `use ${s.hex}, ${Math.round(100 * s.probability)} % likely`);
      b.addEventListener("click", () => {
        const i = state.hints.indexOf(hint);
        if (i < 0) return;
        el.hintColor.value = s.hex;
        edit(() => { state.hints[i] = { ...state.hints[i], color: s.hex }; });
        setStatus(`Hint ${i + 1} set to ${s.hex}. Press “Recolorize” to use it.`);
      });
      return b;
    }));
    el.suggestions.hidden = body.suggestions.length === 0;
  } catch (err) {
    if (err.name === "AbortError") return;
    el.suggestions.hidden = true;
  }
}

export async function colorize(attempt = 0, file = null) {
  const fresh = file !== null && file !== state.file;  // a new photo: no hints of the old one
  const image = file || state.file;
  if (!image) return;
  if (state.request) state.request.abort();
  const controller = new AbortController();
  state.request = controller;
  const model = currentModel();
  const form = new FormData();
  form.append("image", image, image.name || "image");
  if (el.model.value) form.append("model", el.model.value);
  if (el.render.value) form.append("render_size", el.render.value);
  if (model && model.hints && (fresh ? state.palette.some((c) => c.weight > 0) : hasHints())) {
    form.append("hints", fresh ? JSON.stringify({ palette: state.palette.filter((c) => c.weight > 0) }) : hintsJSON(state));
  }
  if (state.reference && model && model.hints) {
    form.append("reference", state.reference, state.reference.name || "reference");
  }
  if (fresh || el.model.value !== state.variant.model) state.variant = { index: 0, model: el.model.value };
  if (state.variant.index > 0) form.append("variant", String(state.variant.index));  // hints go on top of it
  setBusy(true);
  showProgress(true);
  setStatus(attempt ? `The server is busy; trying again (${attempt} of ${MAX_RETRIES})…` : "");
  try {
    const res = await fetch("/api/v1/colorize", { method: "POST", body: form, signal: controller.signal });
    if (res.status === 503 && attempt < MAX_RETRIES) {
      const wait = Math.min(30, Number(res.headers.get("Retry-After")) || 2);
      showMessage(`the server is busy with other pictures; trying again in ${wait} s ` +
        `(attempt ${attempt + 1} of ${MAX_RETRIES}).`, "info");
      clearInterval(state.ticker);  // a countdown while waiting, not a colorizing clock
      const until = performance.now() + wait * 1000;
      const tick = () => {
        const left = Math.max(0, Math.ceil((until - performance.now()) / 1000));
        el.progressText.textContent = `Server busy: trying again in ${left} s (attempt ${attempt + 1} of ${MAX_RETRIES})`;
      };
      tick();
      state.ticker = setInterval(tick, 250);
      await new Promise((r) => setTimeout(r, wait * 1000));
      clearInterval(state.ticker);
      if (state.request === controller) { state.request = null; return colorize(attempt + 1, file); }
      return;
    }
    if (!res.ok) throw new Error(await errorText(res));
    const blob = await res.blob();
    const bitmap = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
    if (state.request !== controller) return; // superseded
    if (fresh) {
      state.file = image;
      state.hints = [];
      state.strokes = [];
      state.history = emptyHistory();
    }
    await showResult(bitmap, res.headers.get("X-Tinct-Model"), res.headers.get("X-Tinct-Millis"), fresh,
      blob.type === "image/png" ? blob : null);
    const note = res.headers.get("X-Tinct-Note"); // e.g. a line drawing given to a photo model
    if (note) showMessage(note + ".", "info"); else clearMessage();
  } catch (err) {
    if (err.name === "AbortError") return;
    let text = err instanceof TypeError ? "could not reach the tinct server. Is it still running?" : err.message;
    if (fresh) {
      text = `could not colorize “${image.name || "that file"}”: ${text}` +
        (state.result ? " The picture shown is still the previous one." : "");
    }
    showMessage(text);
    setStatus("");
  } finally {
    if (state.request === controller) {
      state.request = null;
      setBusy(false);
      showProgress(false);
      endPreview();
    }
  }
}

window.addEventListener("resize", fitViewer);

for (const input of [el.saturation, el.warmth, el.sepia]) input.addEventListener("input", scheduleFilters);

el.resetFilters.addEventListener("click", () => {
  el.saturation.value = 100; el.warmth.value = 0; el.sepia.value = 0;
  applyFilters();
});

el.handle.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  e.stopPropagation();
  el.handle.setPointerCapture(e.pointerId);
  el.handle.focus();
});

el.handle.addEventListener("pointermove", (e) => {
  if (el.handle.hasPointerCapture(e.pointerId)) setPosition(positionFromEvent(e));
});

el.handle.addEventListener("click", (e) => e.stopPropagation());

el.handle.addEventListener("keydown", (e) => {
  const step = e.shiftKey ? 10 : 2;
  const moves = { ArrowLeft: -step, ArrowDown: -step, ArrowRight: step, ArrowUp: step, PageDown: -10, PageUp: 10 };
  if (e.key in moves) setPosition(state.position + moves[e.key]);
  else if (e.key === "Home") setPosition(0);
  else if (e.key === "End") setPosition(100);
  else return;
  e.preventDefault();
});

export function updateHintControls() {
  const model = currentModel();
  const takesHints = !model || model.hints;
  el.hintGroup.disabled = !takesHints;
  el.hintGroup.dataset.enabled = String(takesHints);
  const lineArt = model && model.kind === "lab";
  el.hintNote.textContent = !takesHints
    ? `The model “${model.name}” takes no color hints; choose a hint model to use them.`
    : lineArt ? "Line art: add a palette or a reference image with the colors you want (else tinct guesses " +
      "them); points fix the color of one area." : HINT_NOTE;
  el.hintNote.dataset.lineart = String(Boolean(lineArt));
  el.hintNote.classList.toggle("warn", !takesHints);
  updateButtons();
}

export function updateButtons() {
  const busy = el.viewer.classList.contains("busy");
  el.recolorize.disabled = !state.file || busy;
  el.clearHints.disabled = state.hints.length === 0 && state.strokes.length === 0;
  el.download.disabled = !state.result;
  el.collage.disabled = !state.result;
  const model = currentModel();
  el.layers.hidden = !(model && model.kind === "lab" && state.result);  // line art comes apart into layers
  el.layers.disabled = !state.result || busy;
  el.tbRecolorize.disabled = el.recolorize.disabled;
  el.tbDownload.disabled = el.download.disabled;
  el.undo.disabled = state.history.past.length === 0;
  el.redo.disabled = state.history.future.length === 0;
}

export function hintsAllowed() {
  const model = currentModel();
  if (model && !model.hints) {
    showMessage(`the model “${model.name}” takes no color hints; choose another model to add hints.`, "info");
    return false;
  }
  return true;
}

export function addHint(x, y) {
  edit(() => state.hints.push({ x, y, color: el.hintColor.value }));
  setStatus(`Hint added at ${x}, ${y}. Press “Recolorize” to use it.`);
  suggestAt(state.hints.length - 1);
}

el.viewer.addEventListener("click", (e) => {
  if (!state.result) return;
  if (state.suppressClick) { state.suppressClick = false; return; }
  if (!hintsAllowed()) return;
  const p = imagePoint(e.clientX, e.clientY);
  if (p) addHint(p.x, p.y);
});

// the hint lists of a snapshot become the page's
function restore(snap) { state.hints = snap.hints; state.strokes = snap.strokes; }

export function edit(change) {  // every hint edit goes through here: one undo step each
  recordEdit(state.history, state);
  change();
  renderHints();
  scheduleLive();
}

// Live hints: a little after the last edit the picture is recolorized; a newer request cancels
// the one in flight (colorize aborts it), so the server never works for a picture nobody sees.
export let liveTimer = 0;

export function scheduleLive() {
  if (!el.live.checked || !state.result || !state.file) return;
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => colorize(), LIVE_DELAY_MS);
}

el.live.addEventListener("change", () => {
  try { localStorage.setItem("tinct.live", el.live.checked ? "on" : "off"); } catch (_) { /* private mode */ }
  if (el.live.checked) scheduleLive();
});

try { if (localStorage.getItem("tinct.live") === "off") el.live.checked = false; } catch (_) { /* private mode */ }

// one step back or forward in the hint history (hints.js), shown at once
function walk(step, done) {
  const snap = step(state.history, state);
  if (!snap) return;
  restore(snap);
  renderHints();
  setStatus(el.live.checked ? `${done}.` : `${done}. Press “Recolorize” to see it.`);
  scheduleLive();
}

export const undo = () => walk(undoStep, "Undone");
export const redo = () => walk(redoStep, "Redone");

el.undo.addEventListener("click", undo);

el.redo.addEventListener("click", redo);

for (const view of VIEWS) $(`view-${view}`).addEventListener("change", () => setView(view));

el.zoomIn.addEventListener("click", () => zoomBy(1.5));

el.zoomOut.addEventListener("click", () => zoomBy(1 / 1.5));

el.zoomReset.addEventListener("click", () => setZoom(1, 0, 0));

el.viewer.addEventListener("wheel", (e) => {
  if (!state.result) return;
  e.preventDefault();
  const p = panePoint(e.clientX, e.clientY);
  zoomBy(Math.exp(-e.deltaY * 0.002), p.x, p.y);
}, { passive: false });

el.brushWidth.addEventListener("input", () => { el.brushWidthOut.textContent = `${el.brushWidth.value} px`; });

el.brush.addEventListener("change", () => {
  el.viewer.classList.toggle("brushing", el.brush.checked);
  if (el.brush.checked) setStatus("Brush on: drag across an area to paint it the hint color.");
});

el.viewer.addEventListener("pointerdown", (e) => {
  if (!el.brush.checked || !state.result || e.button !== 0 || e.target.closest(".handle, .hint-marker")) return;
  if (!hintsAllowed()) return;
  const p = imagePoint(e.clientX, e.clientY);
  if (!p) return;
  e.preventDefault();
  e.stopImmediatePropagation();  // no pan, pinch or slide while painting
  el.viewer.setPointerCapture(e.pointerId);
  const { width, height } = state.result;
  const scale = width / el.after.getBoundingClientRect().width;  // screen to image pixels
  state.drawing = { id: e.pointerId, color: el.hintColor.value, points: [[p.x, p.y]],
    width: Math.max(1, Math.round(Number(el.brushWidth.value) * scale)), size: [width, height] };
}, true);

el.viewer.addEventListener("pointermove", (e) => {
  const d = state.drawing;
  if (!d || d.id !== e.pointerId) return;
  e.stopImmediatePropagation();
  const p = imagePoint(e.clientX, e.clientY);
  if (!p) return;
  const [lx, ly] = d.points[d.points.length - 1];
  if (Math.hypot(p.x - lx, p.y - ly) < 2 || d.points.length >= 5000) return;
  d.points.push([p.x, p.y]);
  const layer = el.markers.querySelector("svg.strokes");
  if (layer) layer.replaceWith(strokeLayer(d));
}, true);

export function endStroke(e) {
  const d = state.drawing;
  if (!d || d.id !== e.pointerId) return;
  e.stopImmediatePropagation();
  state.drawing = null;
  state.suppressClick = true;  // the click that ends a stroke adds no point
  if (e.type === "pointercancel") { renderHints(); return; }
  edit(() => state.strokes.push({ points: d.points, color: d.color, width: d.width }));
  setStatus(`Stroke ${state.strokes.length} painted (${d.points.length} points, ${d.width} px wide). ` +
    "Press “Recolorize” to use it.");
}

el.viewer.addEventListener("pointerup", endStroke, true);

el.viewer.addEventListener("pointercancel", endStroke, true);

el.viewer.addEventListener("pointerdown", (e) => {
  if (!state.result || e.target.closest(".handle, .hint-marker")) return;
  state.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  if (state.pointers.size === 2) {
    const [a, b] = [...state.pointers.values()];
    state.gesture = { kind: "pinch", dist: Math.hypot(a.x - b.x, a.y - b.y) || 1, z: state.zoom.z };
  } else if (state.pointers.size === 1 && state.zoom.z > 1) {
    state.gesture = { kind: "pan", x: e.clientX, y: e.clientY, tx: state.zoom.tx, ty: state.zoom.ty, moved: false };
  } else if (state.pointers.size === 1 && e.pointerType === "touch" && state.view === "slider") {
    state.gesture = { kind: "slide", x: e.clientX, moved: false };  // a finger sliding sideways moves the slider
  }
});

el.viewer.addEventListener("pointermove", (e) => {
  if (!state.pointers.has(e.pointerId)) return;
  state.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  const g = state.gesture;
  if (!g) return;
  if (g.kind === "pinch" && state.pointers.size === 2) {
    const [a, b] = [...state.pointers.values()];
    const mid = panePoint((a.x + b.x) / 2, (a.y + b.y) / 2);
    zoomBy((g.z * (Math.hypot(a.x - b.x, a.y - b.y) / g.dist)) / state.zoom.z, mid.x, mid.y);
    g.moved = true;
  } else if (g.kind === "slide") {
    if (!g.moved && Math.abs(e.clientX - g.x) < 8) return;
    g.moved = true;
    setPosition(positionFromEvent(e));
  } else if (g.kind === "pan") {
    const dx = e.clientX - g.x, dy = e.clientY - g.y;
    if (!g.moved && Math.hypot(dx, dy) < 5) return;
    if (!g.moved) { el.viewer.setPointerCapture(e.pointerId); el.viewer.classList.add("panning"); }
    g.moved = true;
    setZoom(state.zoom.z, g.tx + dx, g.ty + dy);
  }
});

export function endPointer(e) {
  if (!state.pointers.delete(e.pointerId)) return;
  if (state.gesture && state.gesture.moved) state.suppressClick = e.type === "pointerup";
  if (state.pointers.size === 0) { state.gesture = null; el.viewer.classList.remove("panning"); }
}

el.viewer.addEventListener("pointerup", endPointer);

el.viewer.addEventListener("pointercancel", endPointer);

el.viewer.addEventListener("keydown", (e) => {
  if (!state.result || e.target !== el.viewer || e.ctrlKey || e.metaKey || e.altKey) return;
  const { w, h } = paneSize();
  const pans = { ArrowLeft: [w / 10, 0], ArrowRight: [-w / 10, 0], ArrowUp: [0, h / 10], ArrowDown: [0, -h / 10] };
  if (e.key === "+" || e.key === "=") zoomBy(1.5);
  else if (e.key === "-" || e.key === "_") zoomBy(1 / 1.5);
  else if (e.key === "0") setZoom(1, 0, 0);
  else if (e.key === "u" || e.key === "U") { el.unsureToggle.checked = !el.unsureToggle.checked; updateUnsure(); }
  else if (e.key in pans) setZoom(state.zoom.z, state.zoom.tx + pans[e.key][0], state.zoom.ty + pans[e.key][1]);
  else if (e.key === "Enter") {  // a hint at the middle of what is shown
    if (!hintsAllowed()) return;
    const r = el.after.getBoundingClientRect(), pane = el.paneAfter.getBoundingClientRect();
    const { width, height } = state.result;
    const cx = (pane.left + pane.width / 2 - r.left) / r.width, cy = (pane.top + pane.height / 2 - r.top) / r.height;
    addHint(Math.min(width - 1, Math.floor(cx * width)), Math.min(height - 1, Math.floor(cy * height)));
  } else return;
  e.preventDefault();
});

export const SVG = "http://www.w3.org/2000/svg";

export function strokeLayer(extra = null) {  // the strokes (and the one being drawn) as SVG over the picture
  const { width, height } = state.result || { width: 1, height: 1 };
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "strokes");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  for (const s of extra ? [...state.strokes, extra] : state.strokes) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", s.points.map(([x, y]) => `${x + 0.5},${y + 0.5}`).join(" "));
    line.setAttribute("stroke", s.color);
    line.setAttribute("stroke-width", String(s.width));
    line.dataset.testid = "stroke";
    svg.append(line);
  }
  return svg;
}

export function renderHints() {
  const { width, height } = state.result || { width: 1, height: 1 };
  el.markers.replaceChildren(strokeLayer(), ...state.hints.map((h, i) => {
    const m = document.createElement("div");
    m.className = "hint-marker";
    m.dataset.testid = "hint-marker";
    m.style.left = `${((h.x + 0.5) / width) * 100}%`;
    m.style.top = `${((h.y + 0.5) / height) * 100}%`;
    m.style.background = h.color;
    m.title = `Hint ${i + 1}: drag to move`;
    const label = document.createElement("span");
    label.textContent = String(i + 1);
    m.append(label);
    dragMarker(m, i);
    return m;
  }));
  el.hintList.replaceChildren(...state.hints.map((h, i) => {
    const li = document.createElement("li");
    const color = document.createElement("input");
    color.type = "color";
    color.value = h.color;
    color.setAttribute("aria-label", `Color of hint ${i + 1}`);
    let recoloring = false;  // one undo step per color change, however many input events it fires
    color.addEventListener("input", () => {
      if (!recoloring) { recordEdit(state.history, state); recoloring = true; updateButtons(); }
      state.hints[i].color = color.value;
      renderMarkersOnly();
    });
    color.addEventListener("change", () => { recoloring = false; scheduleLive(); });
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = `${i + 1}. at ${h.x}, ${h.y}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.dataset.testid = "hint-remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove hint ${i + 1}`);
    remove.addEventListener("click", () => edit(() => state.hints.splice(i, 1)));
    li.append(color, where, remove);
    return li;
  }));
  updateButtons();
}

export function renderMarkersOnly() {
  [...el.markers.querySelectorAll(".hint-marker")].forEach((m, i) => { m.style.background = state.hints[i].color; });
}

// drag a hint's dot to move the hint (one undo step per drag)
export function dragMarker(m, i) {
  let start = null;
  m.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    e.stopPropagation();
    m.setPointerCapture(e.pointerId);
    start = { before: snapshot(state), moved: false };
  });
  m.addEventListener("pointermove", (e) => {
    if (!start || !m.hasPointerCapture(e.pointerId)) return;
    const r = el.after.getBoundingClientRect();
    const { width, height } = state.result;
    const x = Math.min(width - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * width)));
    const y = Math.min(height - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * height)));
    if (x === state.hints[i].x && y === state.hints[i].y) return;
    state.hints[i].x = x;
    state.hints[i].y = y;
    start.moved = true;
    m.style.left = `${((x + 0.5) / width) * 100}%`;
    m.style.top = `${((y + 0.5) / height) * 100}%`;
  });
  const finish = (e) => {
    if (!start) return;
    if (start.moved) {
      recordEdit(state.history, start.before);
      renderHints();
      setStatus(`Hint ${i + 1} moved to ${state.hints[i].x}, ${state.hints[i].y}.`);
      scheduleLive();
    }
    start = null;
    if (e.type === "pointerup") state.suppressClick = true;
  };
  m.addEventListener("pointerup", finish);
  m.addEventListener("pointercancel", finish);
  m.addEventListener("click", (e) => e.stopPropagation());
}

el.clearHints.addEventListener("click", () => {
  if (state.hints.length || state.strokes.length) edit(() => { state.hints = []; state.strokes = []; });
});

// the reference image: shown as a thumbnail, kept for the next photo until removed
export function setReference(file) {
  state.reference = file;
  el.reference.value = "";
  if (el.refThumb.src) URL.revokeObjectURL(el.refThumb.src);
  el.refChip.hidden = !file;
  el.refThumb.removeAttribute("src");
  if (file) {
    el.refThumb.src = URL.createObjectURL(file);
    el.refName.textContent = file.name || "reference";
  }
  updateButtons();
  colorize();
}

el.reference.addEventListener("change", () => { if (el.reference.files[0]) setReference(el.reference.files[0]); });

el.refRemove.addEventListener("click", () => setReference(null));

el.recolorize.addEventListener("click", () => colorize());

el.tbRecolorize.addEventListener("click", () => colorize());

el.tbDownload.addEventListener("click", () => el.download.click());

el.model.addEventListener("change", () => { updateHintControls(); updateButtons(); clearMessage(); colorize(); });

el.render.addEventListener("change", () => colorize());

el.download.addEventListener("click", () => {
  if (!state.result) return;
  const type = downloadType();
  const name = `${stem()}-color.${type === "jpeg" ? "jpg" : type}`;
  if (type === "png" && state.result.blob && filtersOff()) {
    saveBlob(state.result.blob, name);  // the server's own PNG: its depth (16-bit scans) and channels kept
    return;
  }
  let canvas = el.after;
  if (type === "jpeg") {  // JPEG has no alpha: flatten onto white, as image editors do
    canvas = document.createElement("canvas");
    canvas.width = el.after.width;
    canvas.height = el.after.height;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(el.after, 0, 0);
  }
  saveCanvas(canvas, name, type);
});

export function stem() {
  return (state.file && state.file.name ? state.file.name.replace(/\.[^.]*$/, "") : "") || "image";
}

// the download's format: the upload's own (JPEG stays JPEG, WebP WebP, anything else PNG) or the one chosen
export function downloadType() {
  const chosen = el.format.value;
  if (chosen !== "same") return chosen;
  const type = (state.file && state.file.type) || "";
  return type === "image/jpeg" ? "jpeg" : type === "image/webp" ? "webp" : "png";
}

export function updateQuality() {
  const lossy = downloadType() !== "png";
  $("quality-field").hidden = !lossy;
  $("download-quality-out").textContent = el.quality.value;
  el.download.textContent = `Download ${downloadType().toUpperCase()}`;
}

// line art as layers (lines, flats, shading): the picture shown, asked again of /api/v1/layers
el.layers.addEventListener("click", async () => {
  if (!state.result || !state.file) return;
  setStatus("Painting the layers…");
  try {
    const res = await fetch("/api/v1/layers", { method: "POST", body: shownForm() });
    if (!res.ok) throw new Error(await errorText(res));
    const name = (res.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await res.blob());
    a.download = name ? name[1] : "drawing-layers.zip";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    setStatus("Layers downloaded: lines.png, flats.png and shading.png stack to result.png.");
  } catch (err) {
    showMessage(`could not make the layers: ${err.message}`);
  }
});

el.format.addEventListener("change", updateQuality);

el.quality.addEventListener("input", updateQuality);

export function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// A canvas saved as a file: PNG through png.js (RGB when opaque: canvas.toBlob writes RGBA always),
// JPEG and WebP through the browser's encoder at the chosen quality.
export async function saveCanvas(canvas, name, type = "png") {
  try {
    const blob = type === "png"
      ? await encodePng(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height))
      : await new Promise((resolve) => canvas.toBlob(resolve, `image/${type}`, Number(el.quality.value) / 100));
    if (!blob) throw new Error("no blob");
    saveBlob(blob, name);
  } catch (err) {
    showMessage("the image could not be saved (out of memory?).");
  }
}

// the original (as the model saw it) beside the filtered result; above it for wide pictures
export function collageCanvas() {
  const { width, height } = state.result;
  const above = width > 1.5 * height;
  const scale = Math.min(1, COLLAGE_MAX / ((above ? height : width) * 2 + GAP), COLLAGE_MAX / (above ? width : height));
  const w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
  const c = document.createElement("canvas");
  c.width = above ? w : 2 * w + GAP;
  c.height = above ? 2 * h + GAP : h;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(el.before, 0, 0, w, h);
  ctx.drawImage(el.after, above ? 0 : w + GAP, above ? h + GAP : 0, w, h);
  return c;
}

el.collage.addEventListener("click", () => {
  if (state.result) saveCanvas(collageCanvas(), `${stem()}-before-after.png`);
});

export function openHelp() { if (!el.help.open) el.help.showModal(); }

el.helpLink.addEventListener("click", (e) => { e.preventDefault(); openHelp(); });

document.addEventListener("keydown", (e) => {
  const typing = e.target instanceof HTMLInputElement && e.target.type !== "color" && e.target.type !== "radio";
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !typing) {
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) { undo(); e.preventDefault(); }
    else if (key === "y" || (key === "z" && e.shiftKey)) { redo(); e.preventDefault(); }
  } else if (e.key === "?" && !typing) {
    openHelp();
    e.preventDefault();
  }
});

export let savedView = "slider";

try { savedView = localStorage.getItem("tinct.view") || "slider"; } catch (_) { /* private mode */ }

setView(savedView, false);

setZoom(1, 0, 0);

setPosition(50);

// On a phone the hint color sits right under the picture, beside Recolorize (the same control, moved)
const phone = window.matchMedia("(max-width: 760px)");
const colorField = el.hintColor.closest("label");
const colorHome = { parent: colorField.parentNode, next: colorField.nextSibling };
function placeColorField() {
  if (phone.matches) document.querySelector(".quick-tools").append(colorField);
  else colorHome.parent.insertBefore(colorField, colorHome.next);
}
phone.addEventListener("change", placeColorField);
placeColorField();

updateButtons();

loadServerInfo();
