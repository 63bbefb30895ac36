// The viewer: the result and the original on canvases, the before/after slider, views, zoom and pan.

import { $, MAX_ZOOM, VIEWS, el, setStatus, state } from "./state.js";
import { applyFilters } from "./filters.js";
import { currentModel, renderHints, updateQuality, updateUnsure } from "./main.js";

export function bitmapPixels(bitmap) {  // an ImageBitmap's pixels (ImageData); the bitmap is closed
  const scratch = document.createElement("canvas");
  scratch.width = bitmap.width;
  scratch.height = bitmap.height;
  const ctx = scratch.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, scratch.width, scratch.height);
}

// ``blob``: the server's PNG of the result, downloaded as it is when no filter is on (its 16 bits kept)
export async function showResult(bitmap, model, millis, fresh = false, blob = null) {
  const { width, height } = bitmap;
  const sameImage = !fresh && state.result && state.result.width === width && state.result.height === height;
  state.result = { width, height, pixels: bitmapPixels(bitmap), model, millis, blob };
  el.after.width = width;
  el.after.height = height;
  if (!sameImage) await drawBefore();
  el.drop.classList.add("compact");
  el.viewer.hidden = false;
  el.toolbar.hidden = false;
  if (!sameImage) setZoom(1, 0, 0);
  fitViewer();
  applyFilters();
  renderHints();
  state.version += 1;
  el.viewer.dataset.resultVersion = String(state.version);
  el.viewer.dataset.width = String(width);
  el.viewer.dataset.height = String(height);
  const ref = state.reference && currentModel() && currentModel().hints ? ` · colors of ${state.reference.name}` : "";
  setStatus(`${width}×${height} · model ${model} · ${millis} ms${ref}`);
  updateQuality();
  if (fresh) el.suggestions.hidden = true;
  if (!state.choosingOption) el.options.hidden = true;
  updateUnsure();
}

// The "before" side: the upload as the model sees it (its lightness), drawn in gray. When the
// browser cannot decode the upload (TIFF, say), the result's own lightness stands in.
export async function drawBefore() {
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

export function fitViewer() {
  if (!state.result) return;
  const { width, height } = state.result;
  const phone = window.innerWidth <= 760;
  const maxW = el.viewer.parentElement.clientWidth;
  const maxH = window.innerHeight * (phone ? 0.65 : 0.75);
  const side = state.view === "side";
  const cols = side && !phone ? 2 : 1, rows = side && phone ? 2 : 1;  // side by side, stacked on a phone
  const gap = side ? 6 : 0;
  const scale = Math.min(2, (maxW - gap * (cols - 1)) / (cols * width), (maxH - gap * (rows - 1)) / (rows * height));
  el.viewer.style.width = `${Math.max(1, Math.floor(width * scale * cols + gap * (cols - 1)))}px`;
  el.viewer.style.height = `${Math.max(1, Math.floor(height * scale * rows + gap * (rows - 1)))}px`;
  setZoom(state.zoom.z, state.zoom.tx, state.zoom.ty);  // keep the pan inside the new size
}

export function setPosition(pct) {
  state.position = Math.max(0, Math.min(100, pct));
  const p = Math.round(state.position * 10) / 10;
  el.viewer.style.setProperty("--pos", `${p}%`);
  el.handle.setAttribute("aria-valuenow", String(Math.round(p)));
  el.handle.setAttribute("aria-valuetext", `${Math.round(p)}% original`);
  el.viewer.dataset.position = String(p);
}

export function positionFromEvent(e) {
  const rect = el.viewer.getBoundingClientRect();
  return ((e.clientX - rect.left) / rect.width) * 100;
}

// The image pixel under a client point, through the pane it falls in (both show the same spot).
export function imagePoint(clientX, clientY) {
  const { width, height } = state.result;
  for (const canvas of [el.after, el.before]) {
    const r = canvas.getBoundingClientRect();
    const pane = canvas.closest(".pane").getBoundingClientRect();
    const inside = clientX >= pane.left && clientX <= pane.right && clientY >= pane.top && clientY <= pane.bottom;
    if (!inside || !canvas.offsetParent) continue;
    return {
      x: Math.min(width - 1, Math.max(0, Math.floor(((clientX - r.left) / r.width) * width))),
      y: Math.min(height - 1, Math.max(0, Math.floor(((clientY - r.top) / r.height) * height))),
    };
  }
  return null;
}

export function setView(view, keep = true) {
  if (!VIEWS.includes(view)) view = "slider";
  state.view = view;
  el.viewer.dataset.view = view;
  const radio = $(`view-${view}`);
  if (radio) radio.checked = true;
  if (keep) { try { localStorage.setItem("tinct.view", view); } catch (_) { /* private mode */ } }
  fitViewer();
}

export function paneSize() { return { w: el.paneAfter.clientWidth || 1, h: el.paneAfter.clientHeight || 1 }; }

export function setZoom(z, tx, ty) {
  z = Math.max(1, Math.min(MAX_ZOOM, z));
  const { w, h } = paneSize();
  tx = Math.min(0, Math.max(w * (1 - z), tx));  // the picture always covers its pane
  ty = Math.min(0, Math.max(h * (1 - z), ty));
  state.zoom = { z, tx, ty };
  el.viewer.style.setProperty("--zoom", String(z));
  el.viewer.style.setProperty("--tx", `${tx}px`);
  el.viewer.style.setProperty("--ty", `${ty}px`);
  el.viewer.classList.toggle("zoomed-in", z > 1);
  el.viewer.dataset.zoom = z.toFixed(2);
  el.zoomLevel.textContent = `${Math.round(z * 100)}%`;
  el.zoomOut.disabled = z <= 1;
  el.zoomIn.disabled = z >= MAX_ZOOM;
}

// zoom by ``factor`` keeping the pane point (px, py) where it is (default: the pane's center)
export function zoomBy(factor, px, py) {
  const { w, h } = paneSize();
  if (px === undefined) { px = w / 2; py = h / 2; }
  const { z, tx, ty } = state.zoom;
  const nz = Math.max(1, Math.min(MAX_ZOOM, z * factor));
  setZoom(nz, px - ((px - tx) / z) * nz, py - ((py - ty) / z) * nz);
}

export function panePoint(clientX, clientY) {  // a client point in the coordinates of the pane it is over
  for (const pane of [el.paneAfter, el.beforeWrap]) {
    const r = pane.getBoundingClientRect();
    if (pane.offsetParent && clientX >= r.left && clientX <= r.right && clientY >= r.top && clientY <= r.bottom) {
      return { x: clientX - r.left, y: clientY - r.top };
    }
  }
  const r = el.paneAfter.getBoundingClientRect();
  return { x: clientX - r.left, y: clientY - r.top };
}
