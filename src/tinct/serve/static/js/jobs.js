// Jobs: a film or several photos at once, submitted, polled, cancelled and downloaded.

import { $, clearMessage, el, showMessage, state } from "./state.js";
import { errorText, getJSON } from "./api.js";
import { chooseFile, currentModel } from "./main.js";

export const VIDEO_EXT = /\.(mp4|mov|m4v|mkv|avi|webm)$/i;

export const isVideo = (f) => f.type.startsWith("video/") || VIDEO_EXT.test(f.name || "");

export function chooseFiles(files) {
  files = [...files].filter(Boolean);
  if (!files.length) return;
  if (files.length === 1 && !isVideo(files[0])) { chooseFile(files[0]); return; }
  if (files.some(isVideo) && files.length > 1) {
    showMessage("one film at a time, please (or several photos without a film).");
    return;
  }
  submitJob(files);
}

export async function submitJob(files) {
  clearMessage();
  if (state.job) await cancelJob();
  const video = isVideo(files[0]);
  const form = new FormData();
  for (const f of files) form.append(video ? "video" : "images", f, f.name || "file");
  if (el.model.value) form.append("model", el.model.value);
  if (el.render.value) form.append("render_size", el.render.value);
  const model = currentModel();
  if (!video && model && model.hints) {  // one look for the whole album: the palette and the reference
    const palette = state.palette.filter((c) => c.weight > 0);
    if (palette.length) form.append("hints", JSON.stringify({ palette }));
    if (state.reference) form.append("reference", state.reference, state.reference.name || "reference");
  }
  const label = video ? `“${files[0].name}”` : files.length === 1 ? "1 photo" : `${files.length} photos`;
  $("job-text").textContent = `Sending ${label}…`;
  $("job-progress").removeAttribute("value");
  $("job-download").hidden = true;
  $("job-cancel").hidden = false;
  $("job-video").hidden = true;
  $("job-preview").hidden = true;
  $("job").hidden = false;
  try {
    const res = await fetch("/api/v1/jobs", { method: "POST", body: form });
    if (!res.ok) throw new Error(await errorText(res));
    const job = await res.json();
    state.job = { id: job.id, url: job.status_url, label, video };
    pollJob();
  } catch (err) {
    $("job").hidden = true;
    showMessage(`could not start the job for ${label}: ${err.message}`);
  }
}

export async function pollJob() {
  const job = state.job;
  if (!job) return;
  let s;
  try {
    s = await getJSON(job.url);
  } catch (err) {
    if (state.job === job) { showMessage(err.message); $("job").hidden = true; state.job = null; }
    return;
  }
  if (state.job !== job) return;
  const bar = $("job-progress");
  if (s.progress != null) bar.value = s.progress; else bar.removeAttribute("value");
  const count = s.total ? ` (${s.done} of ${s.total} ${job.video ? "frames" : "photos"})` : "";
  if (s.status === "queued" || s.status === "running") {
    $("job-text").textContent = `${s.status === "queued" ? "Waiting to colorize" : "Colorizing"} ${job.label}` +
      `${s.progress != null ? `: ${Math.round(s.progress * 100)} %` : "…"}${count}`;
    job.timer = setTimeout(pollJob, 1000);
    return;
  }
  $("job-cancel").hidden = true;
  if (s.status === "done") {
    bar.value = 1;
    const verb = job.label.endsWith("photos") ? "are" : "is";
    $("job-text").textContent = `${job.label} ${verb} colorized${s.message ? ` (${s.message})` : ""}; ` +
      "the result can be downloaded again until it expires.";
    job.result = s.result_url;
    if (s.preview_url) {  // a look at the results before downloading them
      const img = $("job-preview");
      img.alt = job.video ? `Stills of the colorized ${job.label}` : `The first colorized photos of ${job.label}`;
      img.src = `${s.preview_url}?t=${Date.now()}`;
      img.hidden = false;
    }
    $("job-download").textContent = job.video ? "Download the film" : "Download the photos (zip)";
    $("job-download").hidden = false;
  } else {
    $("job-text").textContent = `${job.label}: ${s.status}${s.message ? ` (${s.message})` : ""}.`;
    state.job = null;
  }
}

export async function cancelJob() {
  const job = state.job;
  if (!job) return;
  state.job = null;
  clearTimeout(job.timer);
  try { await fetch(job.url, { method: "DELETE" }); } catch (_) { /* the server is gone: nothing to cancel */ }
  $("job-text").textContent = `${job.label}: cancelled.`;
  $("job-cancel").hidden = true;
  $("job-progress").value = 0;
}
