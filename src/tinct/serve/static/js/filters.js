// Client-side filters (saturation, warmth, sepia) on the result's pixels.

import { $, el, state } from "./state.js";

export function filterValues() {
  return {
    saturation: Number(el.saturation.value) / 100,
    warmth: Number(el.warmth.value) / 100,
    sepia: Number(el.sepia.value) / 100,
  };
}

export function filtersOff() {
  const { saturation, warmth, sepia } = filterValues();
  return saturation === 1 && warmth === 0 && sepia === 0;
}

// Saturation around luma, warmth as a red/blue shift, sepia mixed in by amount; alpha kept.
export function filterPixels(src, { saturation, warmth, sepia }) {
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

export function applyFilters() {
  const f = filterValues();
  $("f-saturation-out").textContent = `${el.saturation.value}%`;
  $("f-warmth-out").textContent = el.warmth.value;
  $("f-sepia-out").textContent = `${el.sepia.value}%`;
  if (!state.result) return;
  el.after.getContext("2d").putImageData(filterPixels(state.result.pixels, f), 0, 0);
  el.viewer.dataset.filters = `${el.saturation.value},${el.warmth.value},${el.sepia.value}`;
}

export function scheduleFilters() {
  if (state.filterFrame) return;
  state.filterFrame = requestAnimationFrame(() => { state.filterFrame = 0; applyFilters(); });
}
