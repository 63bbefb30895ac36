// tinct web page: plain JavaScript, no build step, no third-party code.
// Upload -> POST /api/v1/colorize -> before/after slider; click to add color hints; client-side
// filters on a canvas; download the filtered result as PNG.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    message: $("message"), drop: $("drop-zone"), file: $("file-input"), viewer: $("viewer"),
    after: $("after-canvas"), beforeWrap: $("before-wrap"), before: $("before-canvas"), markers: $("markers"),
    handle: $("slider-handle"), status: $("status"), model: $("model-select"), render: $("render-size"),
    hintGroup: $("hint-group"), hintNote: $("hint-note"), hintColor: $("hint-color"), hintList: $("hint-list"),
    recolorize: $("recolorize"), clearHints: $("clear-hints"), download: $("download"),
    reference: $("reference-input"),
    saturation: $("f-saturation"), warmth: $("f-warmth"), sepia: $("f-sepia"), resetFilters: $("reset-filters"),
  };
  const HINT_NOTE = "Pick a color, then click the picture where it belongs.";
  const MAX_RETRIES = 3;

  const state = {
    config: null,          // GET /api/v1/config
    models: [],            // GET /api/v1/models
    file: null,            // the uploaded File
    result: null,          // {width, height, pixels: ImageData, model, millis}
    hints: [],             // [{x, y, color}] in the image's pixels
    reference: null,       // a File whose colors guide the result (palette / reference hint)
    position: 50,          // slider, percent of the width showing the original
    request: null,         // AbortController of the request in flight
    version: 0,            // counts results shown (tests read data-result-version)
    filterFrame: 0,
  };

  // ---------------------------------------------------------------- messages
  function showMessage(text, kind = "error") {
    el.message.textContent = text.charAt(0).toUpperCase() + text.slice(1);
    el.message.className = kind === "error" ? "message" : "message info";
    el.message.hidden = false;
  }
  function clearMessage() { el.message.hidden = true; el.message.textContent = ""; }
  function setStatus(text) { el.status.textContent = text; }
  function mb(bytes) { return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`; }

  // ---------------------------------------------------------------- server
  async function getJSON(url) {
    const res = await fetch(url, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(await errorText(res));
    return res.json();
  }

  async function errorText(res) {
    try {
      const body = await res.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (_) { /* not JSON */ }
    return `the server answered ${res.status} ${res.statusText}`.trim();
  }

  async function loadServerInfo() {
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
      $("drop-note").textContent += ` Up to ${mb(config.max_upload_bytes)} and ${config.max_pixels / 1e6} megapixels.`;
      updateHintControls();
      document.body.dataset.ready = "true";
    } catch (err) {
      showMessage(`could not reach the tinct server (${err.message}). Is it running?`);
    }
  }

  function currentModel() { return state.models.find((m) => m.name === el.model.value); }

  // ---------------------------------------------------------------- upload
  function chooseFile(file) {
    if (!file) return;
    clearMessage();
    if (file.size === 0) { showMessage("that file is empty."); return; }
    if (state.config && file.size > state.config.max_upload_bytes) {
      showMessage(`that file is ${mb(file.size)}; the limit is ${mb(state.config.max_upload_bytes)}.`);
      return;
    }
    state.file = file;
    state.hints = [];
    renderHints();
    colorize();
  }

  el.file.addEventListener("change", () => { chooseFile(el.file.files[0]); el.file.value = ""; });

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
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) chooseFile(file);
  });
  window.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.files : [])][0];
    if (item) chooseFile(item);
  });

  // ---------------------------------------------------------------- colorize
  function setBusy(busy) {
    el.viewer.classList.toggle("busy", busy);
    el.viewer.setAttribute("aria-busy", String(busy));
    updateButtons();
  }

  async function colorize(attempt = 0) {
    if (!state.file) return;
    if (state.request) state.request.abort();
    const controller = new AbortController();
    state.request = controller;
    const model = currentModel();
    const form = new FormData();
    form.append("image", state.file, state.file.name || "image");
    if (el.model.value) form.append("model", el.model.value);
    if (el.render.value) form.append("render_size", el.render.value);
    if (state.hints.length && model && model.hints) {
      form.append("hints", JSON.stringify({ points: state.hints.map((h) => ({ x: h.x, y: h.y, color: h.color })) }));
    }
    if (state.reference && model && model.hints) {
      form.append("reference", state.reference, state.reference.name || "reference");
    }
    setBusy(true);
    setStatus(attempt ? `The server is busy; trying again (${attempt} of ${MAX_RETRIES})…` : "Colorizing…");
    try {
      const res = await fetch("/api/v1/colorize", { method: "POST", body: form, signal: controller.signal });
      if (res.status === 503 && attempt < MAX_RETRIES) {
        const wait = Math.min(30, Number(res.headers.get("Retry-After")) || 2);
        showMessage(`the server is busy; trying again in ${wait} s.`, "info");
        await new Promise((r) => setTimeout(r, wait * 1000));
        if (state.request === controller) { state.request = null; return colorize(attempt + 1); }
        return;
      }
      if (!res.ok) throw new Error(await errorText(res));
      const blob = await res.blob();
      const bitmap = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
      if (state.request !== controller) return; // superseded
      await showResult(bitmap, res.headers.get("X-Tinct-Model"), res.headers.get("X-Tinct-Millis"));
      clearMessage();
    } catch (err) {
      if (err.name === "AbortError") return;
      const text = err instanceof TypeError ? "could not reach the tinct server. Is it still running?" : err.message;
      showMessage(text);
      setStatus("");
    } finally {
      if (state.request === controller) { state.request = null; setBusy(false); }
    }
  }

  async function showResult(bitmap, model, millis) {
    const { width, height } = bitmap;
    const sameImage = state.result && state.result.width === width && state.result.height === height;
    const scratch = document.createElement("canvas");
    scratch.width = width;
    scratch.height = height;
    const ctx = scratch.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    state.result = { width, height, pixels: ctx.getImageData(0, 0, width, height), model, millis };
    el.after.width = width;
    el.after.height = height;
    if (!sameImage) await drawBefore();
    el.drop.classList.add("compact");
    el.viewer.hidden = false;
    fitViewer();
    applyFilters();
    renderHints();
    state.version += 1;
    el.viewer.dataset.resultVersion = String(state.version);
    el.viewer.dataset.width = String(width);
    el.viewer.dataset.height = String(height);
    setStatus(`${width}×${height} · model ${model} · ${millis} ms`);
  }

  // The "before" side: the upload as the model sees it (its lightness), drawn in gray. When the
  // browser cannot decode the upload (TIFF, say), the result's own lightness stands in.
  async function drawBefore() {
    const { width, height, pixels } = state.result;
    el.before.width = width;
    el.before.height = height;
    const ctx = el.before.getContext("2d", { willReadFrequently: true });
    let data;
    try {
      const bitmap = await createImageBitmap(state.file, { imageOrientation: "from-image" });
      ctx.drawImage(bitmap, 0, 0, width, height);
      bitmap.close();
      data = ctx.getImageData(0, 0, width, height);
    } catch (_) {
      data = new ImageData(new Uint8ClampedArray(pixels.data), width, height);
    }
    const d = data.data;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
      d[i] = d[i + 1] = d[i + 2] = y;
    }
    ctx.putImageData(data, 0, 0);
  }

  function fitViewer() {
    if (!state.result) return;
    const { width, height } = state.result;
    const maxW = el.viewer.parentElement.clientWidth;
    const maxH = window.innerHeight * (window.innerWidth <= 760 ? 0.65 : 0.75);
    const scale = Math.min(2, maxW / width, maxH / height); // small images are shown up to 2x
    el.viewer.style.width = `${Math.max(1, Math.floor(width * scale))}px`;
    el.viewer.style.height = `${Math.max(1, Math.floor(height * scale))}px`;
  }
  window.addEventListener("resize", fitViewer);

  // ---------------------------------------------------------------- filters (client side)
  function filterValues() {
    return {
      saturation: Number(el.saturation.value) / 100,
      warmth: Number(el.warmth.value) / 100,
      sepia: Number(el.sepia.value) / 100,
    };
  }

  // Saturation around luma, warmth as a red/blue shift, sepia mixed in by amount; alpha kept.
  function filterPixels(src, { saturation, warmth, sepia }) {
    const out = new ImageData(new Uint8ClampedArray(src.data), src.width, src.height);
    if (saturation === 1 && warmth === 0 && sepia === 0) return out;
    const d = out.data;
    const shift = 30 * warmth;
    for (let i = 0; i < d.length; i += 4) {
      let r = d[i], g = d[i + 1], b = d[i + 2];
      const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      r = y + (r - y) * saturation; g = y + (g - y) * saturation; b = y + (b - y) * saturation;
      r += shift; b -= shift;
      if (sepia > 0) {
        const sr = 0.393 * r + 0.769 * g + 0.189 * b;
        const sg = 0.349 * r + 0.686 * g + 0.168 * b;
        const sb = 0.272 * r + 0.534 * g + 0.131 * b;
        r += (sr - r) * sepia; g += (sg - g) * sepia; b += (sb - b) * sepia;
      }
      d[i] = r; d[i + 1] = g; d[i + 2] = b; // Uint8ClampedArray rounds and clamps
    }
    return out;
  }

  function applyFilters() {
    const f = filterValues();
    $("f-saturation-out").textContent = `${el.saturation.value}%`;
    $("f-warmth-out").textContent = el.warmth.value;
    $("f-sepia-out").textContent = `${el.sepia.value}%`;
    if (!state.result) return;
    el.after.getContext("2d").putImageData(filterPixels(state.result.pixels, f), 0, 0);
    el.viewer.dataset.filters = `${el.saturation.value},${el.warmth.value},${el.sepia.value}`;
  }

  function scheduleFilters() {
    if (state.filterFrame) return;
    state.filterFrame = requestAnimationFrame(() => { state.filterFrame = 0; applyFilters(); });
  }
  for (const input of [el.saturation, el.warmth, el.sepia]) input.addEventListener("input", scheduleFilters);
  el.resetFilters.addEventListener("click", () => {
    el.saturation.value = 100; el.warmth.value = 0; el.sepia.value = 0;
    applyFilters();
  });

  // ---------------------------------------------------------------- before/after slider
  function setPosition(pct) {
    state.position = Math.max(0, Math.min(100, pct));
    const p = Math.round(state.position * 10) / 10;
    el.viewer.style.setProperty("--pos", `${p}%`);
    el.handle.setAttribute("aria-valuenow", String(Math.round(p)));
    el.handle.setAttribute("aria-valuetext", `${Math.round(p)}% original`);
    el.viewer.dataset.position = String(p);
  }

  function positionFromEvent(e) {
    const rect = el.viewer.getBoundingClientRect();
    return ((e.clientX - rect.left) / rect.width) * 100;
  }

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

  // ---------------------------------------------------------------- hints
  function updateHintControls() {
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

  function updateButtons() {
    const busy = el.viewer.classList.contains("busy");
    el.recolorize.disabled = !state.file || busy;
    el.clearHints.disabled = state.hints.length === 0 && !state.reference;
    el.download.disabled = !state.result;
  }

  el.viewer.addEventListener("click", (e) => {
    if (!state.result) return;
    const model = currentModel();
    if (model && !model.hints) {
      showMessage(`the model “${model.name}” takes no color hints; choose another model to add hints.`, "info");
      return;
    }
    const rect = el.viewer.getBoundingClientRect();
    const { width, height } = state.result;
    const x = Math.min(width - 1, Math.max(0, Math.floor(((e.clientX - rect.left) / rect.width) * width)));
    const y = Math.min(height - 1, Math.max(0, Math.floor(((e.clientY - rect.top) / rect.height) * height)));
    state.hints.push({ x, y, color: el.hintColor.value });
    renderHints();
    setStatus(`Hint added at ${x}, ${y}. Press “Recolorize” to use it.`);
  });

  function renderHints() {
    const { width, height } = state.result || { width: 1, height: 1 };
    el.markers.replaceChildren(...state.hints.map((h, i) => {
      const m = document.createElement("div");
      m.className = "hint-marker";
      m.dataset.testid = "hint-marker";
      m.style.left = `${((h.x + 0.5) / width) * 100}%`;
      m.style.top = `${((h.y + 0.5) / height) * 100}%`;
      m.style.background = h.color;
      const label = document.createElement("span");
      label.textContent = String(i + 1);
      m.append(label);
      return m;
    }));
    el.hintList.replaceChildren(...state.hints.map((h, i) => {
      const li = document.createElement("li");
      const color = document.createElement("input");
      color.type = "color";
      color.value = h.color;
      color.setAttribute("aria-label", `Color of hint ${i + 1}`);
      color.addEventListener("input", () => { h.color = color.value; renderMarkersOnly(); });
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = `${i + 1}. at ${h.x}, ${h.y}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.dataset.testid = "hint-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove hint ${i + 1}`);
      remove.addEventListener("click", () => { state.hints.splice(i, 1); renderHints(); });
      li.append(color, where, remove);
      return li;
    }));
    updateButtons();
  }

  function renderMarkersOnly() {
    [...el.markers.children].forEach((m, i) => { m.style.background = state.hints[i].color; });
  }

  el.clearHints.addEventListener("click", () => {
    const hadReference = Boolean(state.reference);
    state.hints = [];
    state.reference = null;
    el.reference.value = "";
    renderHints();
    if (hadReference) colorize();
  });
  el.reference.addEventListener("change", () => {
    state.reference = el.reference.files[0] || null;
    updateButtons();
    colorize();
  });
  el.recolorize.addEventListener("click", () => colorize());
  el.model.addEventListener("change", () => { updateHintControls(); clearMessage(); colorize(); });
  el.render.addEventListener("change", () => colorize());

  // ---------------------------------------------------------------- download
  el.download.addEventListener("click", () => {
    if (!state.result) return;
    el.after.toBlob((blob) => {
      if (!blob) { showMessage("the image could not be saved (out of memory?)."); return; }
      const a = document.createElement("a");
      const stem = (state.file && state.file.name ? state.file.name.replace(/\.[^.]*$/, "") : "") || "image";
      a.href = URL.createObjectURL(blob);
      a.download = `${stem}-color.png`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }, "image/png");
  });

  setPosition(50);
  updateButtons();
  loadServerInfo();
})();
