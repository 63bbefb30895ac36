// The page's shared state: its elements, constants, the state object, and the message line.

export const $ = (id) => document.getElementById(id);

export const el = {
  message: $("message"), drop: $("drop-zone"), file: $("file-input"), viewer: $("viewer"),
  after: $("after-canvas"), beforeWrap: $("before-wrap"), before: $("before-canvas"), markers: $("markers"),
  handle: $("slider-handle"), status: $("status"), model: $("model-select"), render: $("render-size"),
  hintGroup: $("hint-group"), hintNote: $("hint-note"), hintColor: $("hint-color"), hintList: $("hint-list"),
  recolorize: $("recolorize"), clearHints: $("clear-hints"), download: $("download"),
  reference: $("reference-input"),
  saturation: $("f-saturation"), warmth: $("f-warmth"), sepia: $("f-sepia"), resetFilters: $("reset-filters"),
  toolbar: $("toolbar"), paneAfter: $("pane-after"), zoomIn: $("zoom-in"), zoomOut: $("zoom-out"),
  zoomReset: $("zoom-reset"), zoomLevel: $("zoom-level"), undo: $("undo"), redo: $("redo"),
  collage: $("download-collage"), layers: $("download-layers"), help: $("help"), helpLink: $("help-link"),
  preview: $("preview"), previewImg: $("preview-img"), progress: $("progress"), progressText: $("progress-text"),
  cancel: $("cancel"), tbRecolorize: $("tb-recolorize"), tbDownload: $("tb-download"),
  refChip: $("reference-chip"), refThumb: $("reference-thumb"), refName: $("reference-name"),
  refRemove: $("reference-remove"), format: $("download-format"), quality: $("download-quality"),
  unsure: $("unsure-canvas"), unsureToggle: $("unsure-toggle"), suggestions: $("suggestions"),
  swatches: $("suggestion-swatches"), brush: $("brush-toggle"), brushWidth: $("brush-width"),
  brushWidthOut: $("brush-width-out"), live: $("live-toggle"), grid: $("grid-input"), gridNote: $("grid-note"), moreOptions: $("more-options"), options: $("options"), paletteList: $("palette-list"), paletteAdd: $("palette-add"),
};

export const MAX_PALETTE = 8;

export const LIVE_DELAY_MS = 450;  // hint edits this close together make one request

export const VIEWS = ["slider", "side", "after"];

export const MAX_ZOOM = 8;

export const COLLAGE_MAX = 4096;  // the collage's longer side, at most

export const GAP = 16;  // white between the two halves of the collage

export const HINT_NOTE = "Pick a color, then click the picture where it belongs.";

export const MAX_RETRIES = 3;

export const state = {
  config: null,          // GET /api/v1/config
  models: [],            // GET /api/v1/models
  file: null,            // the uploaded File
  result: null,          // {width, height, pixels: ImageData, model, millis}
  hints: [],             // [{x, y, color}] in the image's pixels
  strokes: [],           // [{points: [[x, y], ...], color, width}] brush strokes, in the image's pixels
  palette: [],           // [{color, weight}]: colors the whole picture should use, kept for the next photo
  grid: null,            // 14x14 rows of "#rrggbb" or null: a coarse color layout (the art model's hint)
  reference: null,       // a File whose colors guide the result (palette / reference hint)
  position: 50,          // slider, percent of the width showing the original
  request: null,         // AbortController of the request in flight
  version: 0,            // counts results shown (tests read data-result-version)
  filterFrame: 0,
  view: "slider",        // slider | side | after, kept in localStorage for the next photo
  zoom: { z: 1, tx: 0, ty: 0 },  // scale and translation (pane pixels) of both panes
  history: { past: [], future: [] },
  variant: { index: 0, model: "" },  // the alternative of "More options" the picture starts from  // undo and redo stacks of hint snapshots (hints.js)
  pointers: new Map(),   // pointers down on the viewer: id -> {x, y}
  gesture: null,         // a pan or pinch in progress
  suppressClick: false,  // the click that ends a pan or a drag adds no hint
  unsureFor: -1,         // the result version whose confidence overlay is drawn
  drawing: null,         // the brush stroke being drawn: {id, color, points, width}
  side: null,            // AbortController of the confidence or suggestion request in flight
};

export function showMessage(text, kind = "error") {
  el.message.textContent = text.charAt(0).toUpperCase() + text.slice(1);
  el.message.className = kind === "error" ? "message" : "message info";
  el.message.hidden = false;
}

export function clearMessage() { el.message.hidden = true; el.message.textContent = ""; }

export function setStatus(text) { el.status.textContent = text; }

export function mb(bytes) { return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`; }
