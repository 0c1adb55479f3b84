// vmsim web visualiser: plain JS over the JSON API of `vmsim serve` (docs/serve-api.md).
"use strict";

// Errors the page itself hit, for the browser test (and for anyone looking in the console).
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));

const $ = (id) => document.getElementById(id);
const S = {
  session: null, load: null, step: 0, steps: 0, view: null, examples: [], text: "", name: "demo",
  pid: null, vma: null, address: null, timeline: null, frameLayout: null, busy: false, pending: null,
};
window.__vmsim = S;

// Frame uses (FrameUse in Sources/VMSim/Reports/FrameMap.swift) → colours.
const FREE_COLOURS = ["#e8f5e9", "#dcedc8", "#c5e1a5", "#aed581", "#9ccc65", "#8bc34a", "#7cb342", "#689f38", "#558b2f", "#33691e", "#1b5e20"];
const USE_COLOURS = ["#ffffff", "#455a64", ...FREE_COLOURS, "#c8e6c9", "#1e88e5", "#ab47bc", "#ff7043", "#fdd835", "#26a69a", "#8d6e63", "#e53935", "#6d4c41", "#b0bec5", "#78909c"];
const PAGE_COLOURS = ["#eeeeee", "#b0bec5", "#90caf9", "#1e88e5", "#ab47bc", "#ef6c00", "#424242"];
function rgba(hex) { const n = parseInt(hex.slice(1), 16); return (255 << 24) | ((n & 255) << 16) | (n & 0xff00) | (n >> 16); }
const USE_RGBA = USE_COLOURS.map(rgba);

function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }
function kb(n) { if (n >= 1048576) return (n / 1048576).toFixed(1) + " GiB"; if (n >= 1024) return (n / 1024).toFixed(1) + " MiB"; return n + " KiB"; }
function group(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["content-type"] = "application/json"; }
  const r = await fetch(path, opts);
  const data = r.status === 204 ? null : await r.json();
  if (!r.ok) { const e = new Error(data && data.error ? data.error : r.statusText); e.status = r.status; e.data = data; throw e; }
  return data;
}

// A request of the current session; a session dropped for idleness is made again.
async function sapi(path) {
  try { return await api("GET", `/api/sessions/${S.session}${path}`); }
  catch (e) {
    if (e.status === 404 && /no session/.test(e.message)) { await loadScenario(S.text, false); return await api("GET", `/api/sessions/${S.session}${path}`); }
    throw e;
  }
}

// ---- URL: #ex=NAME or #src=BASE64URL, then &step=N&pid=P&addr=0x…
function b64url(text) { const bytes = new TextEncoder().encode(text); let s = ""; for (const b of bytes) s += String.fromCharCode(b); return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""); }
function unb64url(s) { const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/")); return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))); }
function writeURL() {
  const ex = S.examples.find((e) => e.text === S.text);
  let h = ex ? `ex=${encodeURIComponent(ex.name)}` : `src=${b64url(S.text)}`;
  h += `&step=${S.step}`;
  if (S.pid != null) h += `&pid=${S.pid}`;
  if (S.address) h += `&addr=${S.address}`;
  history.replaceState(null, "", "#" + h);
}
function readURL() {
  const p = new URLSearchParams(location.hash.slice(1));
  const out = { step: parseInt(p.get("step") || "0", 10) || 0, pid: p.get("pid") ? parseInt(p.get("pid"), 10) : null, addr: p.get("addr") };
  if (p.get("src")) { try { out.text = unb64url(p.get("src")); } catch (e) { out.text = null; } }
  if (p.get("ex")) out.example = p.get("ex");
  return out;
}

// ---- Editor
function renderEditor() {
  const lines = S.text.split("\n");
  const stmtLines = new Map();
  if (S.load) S.load.steps.forEach((s) => stmtLines.set(s.line, s.step));
  const cur = S.view && S.view.line;
  const doneUpTo = cur || 0;
  const err = S.error;
  $("gutter").innerHTML = lines.map((_, i) => `<div class="${stmtLines.has(i + 1) ? "stmt" : ""}" data-line="${i + 1}">${i + 1}</div>`).join("");
  $("hl").innerHTML = lines.map((t, i) => {
    const n = i + 1;
    let cls = n === cur ? "line current" : (stmtLines.has(n) && n < doneUpTo ? "line done" : "line");
    let body = esc(t) || " ";
    if (err && err.line === n) {
      cls += " errline";
      const c = Math.max(0, (err.column || 1) - 1);
      body = esc(t.slice(0, c)) + `<span class="err">${esc(t.slice(c)) || " "}</span>`;
    }
    return `<div class="${cls}" data-line="${n}">${body}</div>`;
  }).join("");
  $("src").style.height = (lines.length * 16 + 12) + "px";
}

let editTimer = null;
function onEdit() {
  S.text = $("src").value;
  renderEditor();
  clearTimeout(editTimer);
  editTimer = setTimeout(() => loadScenario(S.text, true), 500);
}

// ---- Loading and stepping
async function loadScenario(text, keepStep, example) {
  setStatus("running…");
  try {
    const body = example ? { example } : { text, name: "scenario" };
    const load = S.session ? await api("PUT", `/api/sessions/${S.session}`, body).catch(async (e) => {
      if (e.status === 404 && /no session/.test(e.message)) return await api("POST", "/api/sessions", body);
      throw e;
    }) : await api("POST", "/api/sessions", body);
    S.session = load.session; S.load = load; S.steps = load.steps.length; S.error = null;
    $("error").hidden = true;
    S.timeline = (await api("GET", `/api/sessions/${S.session}/timeline`)).points;
    drawLegend();
    setStatus(load.stopReason ? load.stopReason : `${load.expectationsPassed} expectations passed, ${load.expectationsFailed} failed`);
    await goto(keepStep ? Math.min(S.step, S.steps) : 0, true);
  } catch (e) {
    S.error = e.data && e.data.line ? { line: e.data.line, column: e.data.column } : null;
    $("error").hidden = false;
    $("error").textContent = (e.data && e.data.location ? `line ${e.data.location}: ` : "") + e.message;
    setStatus("error");
    renderEditor();
  }
}

function setStatus(t) { $("status").textContent = t; }

async function goto(step, force) {
  step = Math.max(0, Math.min(S.steps, step));
  if (!force && step === S.step && S.view) return;
  S.pending = step;
  if (S.busy) return;
  S.busy = true;
  try {
    while (S.pending !== null) {
      const target = S.pending; S.pending = null;
      const view = await sapi(`/steps/${target}`);
      S.step = target; S.view = view;
      render();
      loadEvents(target);
    }
  } catch (e) { setStatus(e.message); }
  finally { S.busy = false; }
}

async function loadEvents(step) {
  const ev = await sapi(`/steps/${step}/events`);
  if (S.step !== step) return;
  const types = Object.entries(ev.byType).map(([k, v]) => `${k} ×${group(v)}`).join(", ");
  $("eventssummary").textContent = ev.total ? `${group(ev.total)} events: ${types}${ev.truncated ? ` (first ${ev.events.length} listed)` : ""}` : "no events";
  $("events").textContent = ev.events.map((e) => {
    const { v, seq, line, category, ...rest } = e;
    return Object.entries(rest).map(([k, x]) => `${k}=${x}`).join(" ");
  }).join("\n");
}

// ---- Rendering the step
function render() {
  const v = S.view, m = v.machine;
  $("stepinfo").textContent = `step ${v.step} / ${v.steps}` + (v.line ? ` · line ${v.line}` : "");
  $("stepinfo").dataset.line = v.line || 0;
  $("stepline").textContent = v.line ? `${v.line}  ${v.text}` : "(machine booted; nothing run yet)";
  $("summary").textContent = v.summary || (v.step ? "no visible effect" : "");
  $("output").textContent = v.output.join("\n");
  renderEditor();
  scrollToCurrent();
  const procs = m.processes.filter((p) => p.vmas.length);
  if (S.pid == null || !procs.some((p) => p.pid === S.pid)) S.pid = procs.length ? procs[0].pid : null;
  $("process").innerHTML = procs.map((p) => `<option value="${p.pid}" ${p.pid === S.pid ? "selected" : ""}>${esc(p.name)} [${p.pid}]</option>`).join("");
  drawZones(m); drawFrames(m); drawTimeline(); drawAddressSpace(m); drawLRU(m); drawSwap(m); drawBuddy(m);
  drawCounters(m); drawTLB(m); drawFiles(m); drawSlab(m);
  refreshWalk();
  writeURL();
}

function scrollToCurrent() {
  const el = document.querySelector("#hl div.current");
  if (!el) return;
  const box = $("editor"), top = el.offsetTop;
  if (top < box.scrollTop + 20 || top > box.scrollTop + box.clientHeight - 40) box.scrollTop = Math.max(0, top - box.clientHeight / 3);
}

function drawLegend() {
  const names = S.load.legend;
  const shown = [1, 2, 6, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  $("legend").innerHTML = shown.map((i) => `<span><i style="background:${USE_COLOURS[i]}"></i>${esc(names[i])}</span>`).join("") + `<span><i style="background:#fff;border:2px solid #d50000"></i>changed this step</span>`;
}

function drawZones(m) {
  $("physinfo").textContent = `${m.arch}, ${kb(m.ramBytes / 1024)} RAM, ${group(m.frames.count)} frames of ${m.pageSize / 1024} KiB; ${group(m.frames.changedTotal)} changed this step`;
  $("zones").innerHTML = m.zones.map((z) => {
    const scale = (x) => Math.min(100, 100 * x / Math.max(1, z.managed));
    const cls = z.free < z.low ? "low" : (z.free < z.high ? "high" : "");
    const where = z.free < z.min ? "below min" : z.free < z.low ? "below low" : z.free < z.high ? "below high" : "above high";
    return `<div class="zone" data-zone="${z.name}" data-free="${z.free}" data-min="${z.min}" data-low="${z.low}" data-high="${z.high}">
      <span class="name">${z.name}</span>
      <span class="gauge"><span class="fill ${cls}" style="width:${scale(z.free)}%"></span>
        <span class="mark" title="min" style="left:${scale(z.min)}%"></span>
        <span class="mark" title="low" style="left:${scale(z.low)}%"></span>
        <span class="mark" title="high" style="left:${scale(z.high)}%"></span></span>
      <span class="nums">free ${group(z.free)} of ${group(z.managed)} · min ${group(z.min)} low ${group(z.low)} high ${group(z.high)} · <b class="where">${where}</b></span></div>`;
  }).join("");
}

// Frames decoded from the run-length encoding (FrameMap.encodedUses).
function decodeFrames(f) {
  const bin = atob(f.rle), uses = new Uint8Array(f.count);
  let i = 0, p = 0;
  while (i < bin.length) {
    const v = bin.charCodeAt(i++);
    let run = 0, shift = 0, b;
    do { b = bin.charCodeAt(i++); run += (b & 127) * Math.pow(2, shift); shift += 7; } while (b & 128);
    uses.fill(v, p, p + run); p += run;
  }
  return uses;
}

// The frame map: each zone starts on a new row; cells of `cell` pixels.
function frameLayout(m) {
  const width = Math.max(320, $("physpanel").clientWidth - 20);
  const n = m.frames.count;
  let cell = 4;
  while (cell > 1 && Math.ceil(n / Math.floor(width / cell)) * cell > 620) cell--;
  const cols = Math.floor(width / cell);
  const rows = [];
  let y = 0;
  const zones = m.zones.slice().sort((a, b) => a.startPFN - b.startPFN);
  let pfn = 0;
  const segs = [];
  for (const z of zones) {
    if (z.startPFN > pfn) { segs.push({ name: "hole", start: pfn, end: z.startPFN }); }
    segs.push({ name: z.name, start: z.startPFN, end: z.endPFN });
    pfn = z.endPFN;
  }
  for (const s of segs) {
    if (s.name === "hole" && s.end - s.start < cols) continue;
    const r = Math.ceil((s.end - s.start) / cols);
    rows.push({ ...s, y, rows: r });
    y += r * cell + 3;
  }
  return { cell, cols, width: cols * cell, height: y, segs: rows };
}

function drawFrames(m) {
  window.__frameDrawStart = performance.now();
  const uses = decodeFrames(m.frames);
  S.uses = uses;
  const L = frameLayout(m); S.frameLayout = L;
  const c = $("frames");
  c.width = L.width; c.height = L.height; c.style.width = L.width + "px"; c.style.height = L.height + "px";
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(L.width, L.height);
  const px = new Uint32Array(img.data.buffer);
  px.fill(0xffffffff);
  const cell = L.cell, W = L.width;
  const changed = new Set(m.frames.changed);
  for (const s of L.segs) {
    for (let pfn = s.start; pfn < s.end && pfn < uses.length; pfn++) {
      const k = pfn - s.start, x0 = (k % L.cols) * cell, y0 = s.y + Math.floor(k / L.cols) * cell;
      const colour = USE_RGBA[uses[pfn]] || 0xff000000;
      for (let dy = 0; dy < cell; dy++) { const row = (y0 + dy) * W + x0; for (let dx = 0; dx < cell; dx++) px[row + dx] = colour; }
    }
  }
  // Changed frames outlined in red (filled red when a cell is too small for an outline).
  const red = rgba("#d50000");
  for (const pfn of changed) {
    const s = L.segs.find((g) => pfn >= g.start && pfn < g.end);
    if (!s) continue;
    const k = pfn - s.start, x0 = (k % L.cols) * cell, y0 = s.y + Math.floor(k / L.cols) * cell;
    const xb = x0 + cell - 1, yb = y0 + cell - 1;
    for (let x = x0; x <= xb; x++) { px[y0 * W + x] = red; px[yb * W + x] = red; }
    for (let y = y0; y <= yb; y++) { px[y * W + x0] = red; px[y * W + xb] = red; }
  }
  ctx.putImageData(img, 0, 0);
    window.__frameDrawMs = performance.now() - window.__frameDrawStart;
}

let tipTimer = null;
function frameAt(ev) {
  const L = S.frameLayout; if (!L) return null;
  const r = $("frames").getBoundingClientRect();
  const x = ev.clientX - r.left, y = ev.clientY - r.top;
  for (const s of L.segs) {
    if (y >= s.y && y < s.y + s.rows * L.cell) {
      const pfn = s.start + Math.floor((y - s.y) / L.cell) * L.cols + Math.floor(x / L.cell);
      return pfn < s.end ? { pfn, x, y, zone: s.name } : null;
    }
  }
  return null;
}
function onFrameHover(ev) {
  const f = frameAt(ev), tip = $("tip");
  if (!f) { tip.hidden = true; return; }
  tip.hidden = false;
  tip.style.left = Math.min(f.x + 14, S.frameLayout.width - 260) + "px"; tip.style.top = (f.y + 14) + "px";
  tip.textContent = `pfn 0x${f.pfn.toString(16)} (${f.zone}) — ${S.load.legend[S.uses[f.pfn]]}`;
  clearTimeout(tipTimer);
  const step = S.step;
  tipTimer = setTimeout(async () => {
    const d = await sapi(`/steps/${step}/frames/${f.pfn}`);
    if (S.step !== step || tip.hidden) return;
    tip.textContent = `pfn ${d.pfn}  phys ${d.physical}  zone ${d.zone || "—"}\n${d.use}\nflags ${d.flags}\n_refcount ${d.refcount}  _mapcount ${d.mapcount}  order ${d.order}\nlru ${d.lru || "—"}\nmapping ${d.mapping || "—"}  index ${d.index}` +
      (d.mappedBy.length ? "\nmapped by " + d.mappedBy.map((x) => `${x.process}[${x.pid}] ${x.address}`).join(", ") : "");
  }, 60);
}

function drawTimeline() {
  const c = $("timeline"), pts = S.timeline || [];
  const W = c.clientWidth || 600, H = 90;
  c.width = W; c.height = H;
  const ctx = c.getContext("2d");
  ctx.clearRect(0, 0, W, H);
  if (!pts.length) return;
  const n = S.steps;
  const x = (step) => 4 + (W - 8) * step / Math.max(1, n);
  const max = Math.max(1, ...pts.map((p) => Math.max(p.rssKB, p.freeKB, p.swapUsedKB)));
  const series = [["rssKB", "#1e88e5", "RSS"], ["freeKB", "#43a047", "free"], ["swapUsedKB", "#ef6c00", "swap used"]];
  series.forEach(([key, colour, label], i) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    pts.forEach((p, j) => { const y = H - 14 - (H - 24) * p[key] / max; if (j) ctx.lineTo(x(p.step), y); else ctx.moveTo(x(p.step), y); });
    ctx.stroke();
    ctx.fillStyle = colour; ctx.font = "11px sans-serif"; ctx.fillText(label, 6 + i * 70, 11);
  });
  // Faults as ticks along the bottom.
  ctx.fillStyle = "#9e9e9e";
  for (let j = 1; j < pts.length; j++) { const d = pts[j].faults - pts[j - 1].faults; if (d > 0) ctx.fillRect(x(pts[j].step) - 1, H - 6 - Math.min(8, Math.log2(d + 1)), 2, Math.min(8, Math.log2(d + 1))); }
  ctx.strokeStyle = "#d50000"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x(S.step), 0); ctx.lineTo(x(S.step), H); ctx.stroke();
}

function drawAddressSpace(m) {
  const p = m.processes.find((q) => q.pid === S.pid);
  const svg = $("vmas");
  if (!p) { svg.innerHTML = ""; $("asinfo").textContent = ""; $("vmainfo").textContent = ""; return; }
  $("asinfo").textContent = `${p.state}${p.exit ? " (" + p.exit + ")" : ""} · RSS ${kb(p.rssKB)} · minflt ${group(p.minflt)} majflt ${group(p.majflt)} · CR3 ${p.cr3 || "—"}`;
  const W = svg.clientWidth || 800;
  // Segmented scale: every VMA gets a width that grows with the log of its size; gaps are a small break.
  const weights = p.vmas.map((v) => 1 + Math.log2(Math.max(1, v.pages)));
  const gap = 6, total = weights.reduce((a, b) => a + b, 0), usable = W - gap * p.vmas.length;
  let x = 0, out = "";
  const colours = { anon: "#1e88e5", file: "#fdd835", shmem: "#26a69a", special: "#90a4ae" };
  if (!S.vma || !p.vmas.some((v) => v.start === S.vma)) S.vma = (p.vmas.find((v) => v.region) || p.vmas[0] || {}).start || null;
  p.vmas.forEach((v, i) => {
    const w = Math.max(4, usable * weights[i] / total);
    const label = v.region || v.name || v.backing;
    const fillFrac = Math.min(1, v.rssKB / Math.max(1, v.pages * m.pageSize / 1024));
    const swapFrac = Math.min(1, v.swapKB / Math.max(1, v.pages * m.pageSize / 1024));
    out += `<g data-start="${v.start}"><rect class="${v.start === S.vma ? "sel" : ""}" x="${x}" y="16" width="${w}" height="26" fill="${colours[v.backing]}" fill-opacity="0.25"><title>${esc(`${v.start}-${v.end} ${v.perms} ${v.backing} ${v.name || ""}\nRSS ${kb(v.rssKB)}, swap ${kb(v.swapKB)}`)}</title></rect>`;
    out += `<rect x="${x}" y="34" width="${w * fillFrac}" height="8" fill="${colours[v.backing]}" pointer-events="none"/>`;
    if (swapFrac > 0) out += `<rect x="${x}" y="42" width="${w * swapFrac}" height="5" fill="#ef6c00" pointer-events="none"/>`;
    if (w > 30) out += `<text x="${x + 2}" y="12" font-size="10">${esc(label.slice(0, Math.floor(w / 6)))}</text><text x="${x + 2}" y="30" font-size="9">${v.perms}</text><text x="${x + 2}" y="60" font-size="9" fill="#555">${esc(kb(v.rssKB))}</text>`;
    out += `</g>`;
    x += w + gap;
  });
  out += `<text x="0" y="74" font-size="9" fill="#777">${p.vmas.length ? p.vmas[0].start : ""} … ${p.vmas.length ? p.vmas[p.vmas.length - 1].end : ""} (segmented log scale; bar: resident, orange: swapped)</text>`;
  svg.innerHTML = out;
  drawPageStrip(m);
}

async function drawPageStrip(m) {
  const p = m.processes.find((q) => q.pid === S.pid);
  const v = p && p.vmas.find((q) => q.start === S.vma);
  const c = $("pagestrip"), ctx = c.getContext("2d");
  if (!v) { ctx.clearRect(0, 0, c.width, c.height); return; }
  $("vmainfo").textContent = `${v.start}-${v.end} ${v.perms} ${v.flags} · ${v.backing}${v.name ? " " + v.name : ""}${v.region ? " (" + v.region + ")" : ""} · ${group(v.pages)} pages, RSS ${kb(v.rssKB)}, swap ${kb(v.swapKB)}`;
  const step = S.step;
  const strip = await sapi(`/steps/${step}/pages?pid=${p.pid}&vma=${v.start}`);
  if (S.step !== step) return;
  S.strip = strip;
  const W = c.clientWidth || 800, cells = strip.cells.length;
  const perRow = Math.min(cells, Math.max(1, Math.floor(W / 3)));
  const cw = W / perRow, rows = Math.ceil(cells / perRow), ch = Math.max(2, Math.min(12, Math.floor(120 / rows)));
  c.width = W; c.height = rows * ch;
  for (let i = 0; i < cells; i++) { ctx.fillStyle = PAGE_COLOURS[strip.cells[i]]; ctx.fillRect((i % perRow) * cw, Math.floor(i / perRow) * ch, Math.max(1, cw - (cw > 3 ? 1 : 0)), ch - (ch > 3 ? 1 : 0)); }
  S.stripGeom = { perRow, cw, ch };
}

function onStripClick(ev) {
  if (!S.strip || !S.stripGeom) return;
  const r = $("pagestrip").getBoundingClientRect(), g = S.stripGeom;
  const i = Math.floor((ev.clientY - r.top) / g.ch) * g.perRow + Math.floor((ev.clientX - r.left) / g.cw);
  if (i < 0 || i >= S.strip.cells.length) return;
  const addr = BigInt(S.strip.start) + BigInt(i * S.strip.pagesPerCell) * BigInt(S.view.machine.pageSize);
  S.address = "0x" + addr.toString(16);
  $("address").value = S.address;
  refreshWalk(); writeURL();
}

async function refreshWalk() {
  if (S.pid == null) { $("walk").innerHTML = ""; return; }
  if (!S.address) {
    const p = S.view.machine.processes.find((q) => q.pid === S.pid);
    const v = p && (p.vmas.find((q) => q.start === S.vma) || p.vmas[0]);
    if (!v) return;
    S.address = v.start;
  }
  $("address").value = S.address;
  const step = S.step, pid = S.pid, address = S.address;
  let w;
  try { w = await sapi(`/steps/${step}/walk?pid=${pid}&address=${encodeURIComponent(address)}&access=${$("access").value}`); }
  catch (e) { $("walk").textContent = e.message; return; }
  // A later selection (or step) sent its own request: this answer is stale, whichever lands last.
  if (S.step !== step || S.pid !== pid || S.address !== address) return;
  let html = `<div class="wstep"><b>CR3</b>${w.cr3}</div>`;
  for (const l of w.levels) {
    html += `<span class="warrow">→</span><div class="wstep ${l.state === "present" ? "" : l.state === "swap" ? "swap" : "empty"}" data-level="${l.level}" data-state="${l.state}"><b>${l.level}[${l.index}]</b>table ${l.table}<br>entry @ ${l.entryAddress}<br>= ${l.entry}<br>${l.state === "present" ? esc(l.flags.join(" ")) : l.state}${l.next ? "<br>→ " + esc(l.next) : ""}</div>`;
  }
  html += `<span class="warrow">→</span>`;
  html += w.frame ? `<div class="wstep frame" id="walk-frame" data-frame="${w.frame}" data-pid="${w.pid}" data-address="${w.address}"><b>frame ${w.frame}</b>phys ${w.physical}${w.zeroPage ? "<br>the shared zero page" : ""}</div>`
    : `<div class="wstep empty" id="walk-fault" data-pid="${w.pid}" data-address="${w.address}"><b>page fault</b>${esc(w.fault)}</div>`;
  $("walk").innerHTML = html;
  $("walktext").textContent = w.text;
}

function bars(items) {
  return items.map(([label, value, max, colour, extra]) => `<div class="lruname">${esc(label)} <b>${group(value)}</b>${extra ? " " + extra : ""}</div><div class="bar"><div style="width:${Math.min(100, 100 * value / Math.max(1, max))}%;background:${colour}"></div></div>`).join("");
}
function drawLRU(m) {
  const max = Math.max(1, ...m.lru.map((l) => l.pages));
  $("lru").innerHTML = m.lru.map((l) => bars([[l.name, l.pages, max, l.name.includes("anon") ? "#1e88e5" : l.name.includes("file") ? "#fdd835" : "#9e9e9e"]]) + (l.head.length ? `<div class="heads">head → ${l.head.map((p) => "0x" + p.toString(16)).join(" ")}${l.pages > l.head.length ? " …" : ""}</div>` : "")).join("");
}
function drawSwap(m) {
  const used = m.swap.reduce((a, s) => a + s.used, 0);
  $("swap").innerHTML = (m.swap.length ? m.swap.map((s) => bars([[`${s.path} (${s.kind}, prio ${s.priority})`, s.used, s.pages, "#ef6c00", `of ${group(s.pages)} slots`]])).join("") : "no swap") +
    `<div id="swap-used" data-used="${used}">slots in use: <b>${group(used)}</b> · swap cache ${kb(m.swapCacheKB)} · SwapFree ${kb(m.meminfo.SwapFree || 0)}</div>`;
}
function drawBuddy(m) {
  let h = "<table><tr><th>zone</th>" + [...Array(11).keys()].map((o) => `<th>${o}</th>`).join("") + "</tr>";
  for (const z of m.zones) h += `<tr><td>${z.name}</td>` + z.freeBlocks.map((n) => `<td>${group(n)}</td>`).join("") + "</tr>";
  $("buddy").innerHTML = h + "</table>";
}
function drawCounters(m) {
  const rows = m.counters.filter((c) => c.value !== 0 || c.delta !== 0).sort((a, b) => (b.delta !== 0) - (a.delta !== 0));
  $("counters").innerHTML = "<table><tr><th>counter</th><th>value</th><th>Δ this step</th></tr>" + rows.map((c) => `<tr class="${c.delta ? "changed" : ""}"><td>${c.name}</td><td>${group(c.value)}</td><td class="delta ${c.delta < 0 ? "neg" : ""}">${c.delta ? (c.delta > 0 ? "+" : "") + group(c.delta) : ""}</td></tr>`).join("") + "</table>";
}
function drawTLB(m) {
  const t = m.tlb;
  $("tlbinfo").innerHTML = `L1 ${t.l1Entries} entries ${t.l1Ways}-way${t.l2Entries ? `, L2 ${t.l2Entries} ${t.l2Ways}-way` : ""} · PCID ${t.pcid ? "on, current " + t.currentPCID : "off"}<br>lookups ${group(t.lookups)} · hits ${group(t.hits)} · misses ${group(t.misses)} · flushes ${group(t.flushes)} · valid ${t.entries.length}`;
  const c = $("tlb"), ctx = c.getContext("2d");
  const sets = Math.max(1, t.l1Entries / t.l1Ways), W = c.clientWidth || 300, cw = W / sets, ch = 14;
  c.width = W; c.height = t.l1Ways * ch + 14;
  ctx.clearRect(0, 0, c.width, c.height);
  const filled = Array.from({ length: sets }, () => []);
  for (const e of t.entries) if (e.level === 1 && filled[e.set]) filled[e.set].push(e);
  const pcidColour = (p) => p == null ? "#78909c" : ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00acc1"][p % 6];
  for (let s = 0; s < sets; s++) for (let w = 0; w < t.l1Ways; w++) {
    const e = filled[s][w];
    ctx.fillStyle = e ? pcidColour(e.pcid) : "#eeeeee";
    ctx.fillRect(s * cw + 1, w * ch + 1, cw - 2, ch - 2);
  }
  ctx.fillStyle = "#777"; ctx.font = "10px sans-serif"; ctx.fillText(`L1: ${sets} sets × ${t.l1Ways} ways, coloured by PCID (grey: global)`, 0, t.l1Ways * ch + 11);
}
function drawFiles(m) {
  $("files").innerHTML = m.files.length ? "<table><tr><th>file</th><th>size</th><th>cached</th><th>dirty</th><th>wb</th><th>maps</th></tr>" + m.files.map((f) => `<tr><td>${esc(f.path)}</td><td>${kb(Math.round(f.sizeBytes / 1024))}</td><td>${group(f.cachedPages)}</td><td>${group(f.dirtyPages)}</td><td>${group(f.writebackPages)}</td><td>${f.mappings}</td></tr>`).join("") + "</table>" : "no files in the page cache";
}
function drawSlab(m) {
  $("slab").innerHTML = "<table><tr><th>cache</th><th>active</th><th>objs</th><th>size</th><th>slabs</th></tr>" + m.slab.filter((s) => s.objects > 0).map((s) => `<tr><td>${esc(s.name)}</td><td>${group(s.activeObjects)}</td><td>${group(s.objects)}</td><td>${s.objectSize}</td><td>${s.slabs}</td></tr>`).join("") + "</table>";
}

// ---- Translate exercise: the student answers each address; each answer checked, the worked steps revealed.
async function newExercise() {
  let ex;
  try { ex = await api("GET", `/api/translate?arch=${$("tarch").value}&seed=${encodeURIComponent($("tseed").value)}&count=4`); }
  catch (e) { $("tproblem").textContent = e.message; return; }
  $("tproblem").textContent = ex.problem;
  const answers = ex.exercise.answers;
  $("tquestions").innerHTML = answers.map((a, i) => `<div class="q" data-i="${i}">${i + 1}. ${a.question.mode} ${a.question.access} 0x${a.question.offset.toString(16)}:
    indices <input class="ti" size="18" placeholder="e.g. 1,0x2a"> physical <input class="tp" size="14" placeholder="0x… or fault"> <button class="tc">check</button> <span class="res"></span><pre hidden></pre></div>`).join("");
  document.querySelectorAll("#tquestions .q").forEach((q) => {
    q.querySelector(".tc").onclick = () => {
      const a = answers[+q.dataset.i];
      const idx = q.querySelector(".ti").value.split(/[ ,]+/).filter(Boolean).map((s) => parseInt(s));
      const phys = q.querySelector(".tp").value.trim().toLowerCase();
      const wantIdx = a.steps.map((s) => s.index);
      const idxOK = !idx.length || (idx.length === wantIdx.length && idx.every((x, k) => x === wantIdx[k]));
      const physOK = a.physical != null ? parseInt(phys, 16) === a.physical || parseInt(phys) === a.physical : /fault/.test(phys);
      q.querySelector(".res").innerHTML = (idxOK && physOK) ? `<span class="ok">✓ right</span>` : `<span class="bad">✗ ${!idxOK ? "indices " : ""}${!physOK ? "physical address" : ""} wrong</span>`;
      const pre = q.querySelector("pre");
      pre.hidden = false;
      pre.textContent = (a.linear != null ? `linear 0x${a.linear.toString(16)} (${a.segmentation})\n` : "") + (a.tlb ? `TLB: ${a.tlb}\n` : "") +
        a.steps.map((s) => `${s.name}[${s.index}] @ 0x${s.entryAddress.toString(16)} = 0x${s.entry.toString(16)} ${s.flags} — ${s.meaning}`).join("\n") +
        "\n→ " + (a.physical != null ? `physical 0x${a.physical.toString(16)}` : `fault: ${a.fault} (error code ${a.errorCode})`);
    };
  });
}

// ---- Wiring
function stepLine(n) { const s = S.load && S.load.steps.find((x) => x.line >= n); if (s) goto(s.step); }

async function main() {
  S.examples = (await api("GET", "/api/examples")).examples;
  $("example").innerHTML = S.examples.map((e) => `<option ${e.name === "demo" ? "selected" : ""}>${esc(e.name)}</option>`).join("") + `<option value="">(edited)</option>`;
  const u = readURL();
  let text = u.text;
  const ex = S.examples.find((e) => e.name === (u.example || "demo")) || S.examples[0];
  if (text == null) text = ex.text;
  S.text = text; $("src").value = text;
  $("example").value = S.examples.some((e) => e.text === text) ? S.examples.find((e) => e.text === text).name : "";
  S.pid = u.pid; S.address = u.addr;
  S.step = u.step;
  await loadScenario(text, true);
  $("src").addEventListener("input", () => { $("example").value = S.examples.some((e) => e.text === $("src").value) ? $("example").value : ""; onEdit(); });
  $("example").onchange = () => { const e = S.examples.find((x) => x.name === $("example").value); if (!e) return; S.text = e.text; $("src").value = e.text; S.step = 0; S.pid = null; S.address = null; loadScenario(e.text, false, e.name); };
  $("first").onclick = () => goto(0);
  $("back").onclick = () => goto(S.step - 1);
  $("fwd").onclick = () => goto(S.step + 1);
  $("last").onclick = () => goto(S.steps);
  $("gutter").onclick = (e) => { const n = e.target.dataset && e.target.dataset.line; if (n) stepLine(+n); };
  $("timeline").onclick = (e) => { const r = $("timeline").getBoundingClientRect(); goto(Math.round((e.clientX - r.left - 4) / (r.width - 8) * S.steps)); };
  $("frames").onmousemove = onFrameHover;
  $("frames").onmouseleave = () => { $("tip").hidden = true; };
  $("process").onchange = () => { S.pid = +$("process").value; S.vma = null; S.address = null; drawAddressSpace(S.view.machine); refreshWalk(); writeURL(); };
  $("vmas").onclick = (e) => { const g = e.target.closest("g"); if (!g) return; S.vma = g.dataset.start; S.address = g.dataset.start; drawAddressSpace(S.view.machine); refreshWalk(); writeURL(); };
  $("pagestrip").onclick = onStripClick;
  $("address").onchange = () => { S.address = $("address").value.trim(); refreshWalk(); writeURL(); };
  $("access").onchange = refreshWalk;
  $("tnew").onclick = newExercise;
  document.addEventListener("keydown", (e) => {
    if (e.target === $("src") || e.target.tagName === "INPUT") return;
    if (e.key === "ArrowRight" || e.key === "j") { goto(S.step + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft" || e.key === "k") { goto(S.step - 1); e.preventDefault(); }
    else if (e.key === "Home") goto(0);
    else if (e.key === "End") goto(S.steps);
  });
  window.addEventListener("resize", () => { if (S.view) render(); });
  newExercise();
}
main().catch((e) => { window.__errors.push(String(e)); setStatus(String(e)); });
