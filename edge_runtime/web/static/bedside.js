// ecgedge bedside view: live waveform on a 25 mm/s grid, beats, HR, alarms, technical state.
// The trace itself (grid, scale, decoding) is drawn by trace.js, shared with the station.
"use strict";
const KEEP_S = 12;
const S = {status: null, leads: [], wave: [], beats: [], tEnd: 0, lastMsg: 0,
           latency: [], shownIds: new Set(), canvases: [], seen: [], snapshotAt: null};
window.ecg = S;                             // for tests and the curious

const $ = (id) => document.getElementById(id);

function setupLeads(leads) {
  S.leads = leads; S.wave = leads.map(() => []); S.beats = [];
  const box = $("traces"); box.innerHTML = ""; S.canvases = [];
  leads.forEach((name) => {
    const d = document.createElement("div"); d.className = "lead";
    const c = document.createElement("canvas");
    const n = document.createElement("span"); n.className = "name"; n.textContent = name;
    d.appendChild(c); d.appendChild(n); box.appendChild(d); S.canvases.push(c);
  });
  resize();
}

function resize() {
  const w = $("traces").clientWidth;
  S.canvases.forEach((c) => sizeCanvas(c, w));
}
window.addEventListener("resize", resize);

function addSamples(m) {
  let n = 0;
  for (let j = 0; j < m.uv16.length && j < S.wave.length; j++) {
    const arr = S.wave[j], col = decode(m.uv16[j]);
    n = col.length;
    for (let i = 0; i < col.length; i++) arr.push([m.t0 + i * m.dt, col[i]]);
    const cut = arr.length && arr[arr.length - 1][0] - KEEP_S;
    let k = 0; while (k < arr.length && arr[k][0] < cut) k++;
    if (k) arr.splice(0, k);
  }
  if (n) S.tEnd = m.t0 + (n - 1) * m.dt;
}

function draw() {
  S.canvases.forEach((c, j) => drawTrace(c, S.wave[j] || [], S.tEnd, j === 0 ? S.beats : null));
  requestAnimationFrame(draw);
}

function fmtAlarm(a) {
  const ev = a.evidence || {};
  const extra = ev.leads ? " " + ev.leads.join(",") : (ev.hr_bpm ? ` ${Math.round(ev.hr_bpm)} bpm` : "");
  return a.type.replace(/_/g, " ").toUpperCase() + extra;
}

function renderStatus(st, wall) {
  S.status = st;
  $("device").textContent = st.device || "—";
  $("hr").textContent = st.hr_bpm == null ? "--" : Math.round(st.hr_bpm);
  $("clock").textContent = st.signal_time_s == null ? "t = —" : `t = ${st.signal_time_s.toFixed(0)} s`;
  $("classes").innerHTML = Object.entries(st.beats_per_class || {}).map(([k, v]) =>
    `<span class="cls" style="color:${CLASS_COLOUR[k] || "#ccc"}">${k} ${v}</span>`).join("");
  $("gaps").textContent = `${st.gaps} (${st.lost_samples} samples lost)`;
  const off = st.lead_off || [];
  $("leadoff").innerHTML = off.length ? `<span class="bad-lead">LEAD OFF ${off.join(", ")}</span>` : "ok";
  $("quality").innerHTML = (st.quality || []).map((q) => q.usable
    ? `${q.lead} ok` : `<span class="bad-lead">${q.lead} ${q.flags.join("+")}</span>`).join(" · ") || "—";
  const w = st.window;
  $("window").textContent = w && w.probs ? Object.entries(w.probs).sort((a, b) => b[1] - a[1])
    .slice(0, 3).map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(" · ") : "—";
  $("paused").textContent = st.audio_paused_s > 0 ? `audio paused ${st.audio_paused_s.toFixed(0)} s` : "";
  renderAlarms(st.active_alarms || [], wall);
}

// banners are kept per alarm id and changed in place (a button must not vanish under a click)
function renderAlarms(alarms, wall) {
  const box = $("banners"), keep = new Set(alarms.map((a) => a.id));
  [...box.children].forEach((d) => { if (!keep.has(d.dataset.id)) d.remove(); });
  alarms.forEach((a, i) => {
    let d = box.querySelector(`[data-id="${CSS.escape(a.id)}"]`);
    if (!d) {
      d = document.createElement("div"); d.dataset.id = a.id;
      d.dataset.severity = a.severity; d.dataset.type = a.type;
      const t = document.createElement("span"); t.className = "what"; d.appendChild(t);
      const b = document.createElement("button"); b.className = "ack"; b.textContent = "acknowledge";
      b.onclick = () => post("/api/ack", {id: a.id, by: operator()});
      d.appendChild(b);
    }
    d.className = `alarm ${a.severity}` + (a.acknowledged ? " acked" : "");
    d.querySelector(".what").textContent = fmtAlarm(a);
    if (a.acknowledged && !d.querySelector(".ackinfo")) {
      d.querySelector("button.ack").remove();
      const s = document.createElement("span"); s.className = "ackinfo";
      s.textContent = `acknowledged by ${a.acknowledged.by} at ${a.acknowledged.wall_time}`;
      d.appendChild(s);
    }
    if (box.children[i] !== d) box.insertBefore(d, box.children[i] || null);
    if (!S.seen.some((x) => x.id === a.id)) {
      S.seen.push({id: a.id, type: a.type, severity: a.severity, cls: d.className,
                   colour: getComputedStyle(d).backgroundColor});
    }
    if (!S.shownIds.has(a.id)) {     // alarm raised -> banner painted: measured per alarm
      S.shownIds.add(a.id);
      if (wall) requestAnimationFrame(() => S.latency.push(Date.now() / 1000 - wall));
    }
  });
}

function operator() { return localStorage.getItem("ecgedge-operator") || "bedside"; }
function post(url, body) {
  return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                     body: JSON.stringify(body)});
}
$("pause-btn").onclick = () => post("/api/pause", {seconds: 120, by: operator()});

// audio: a short tone every 2 s while an unacknowledged crisis/warning alarm is active
let audio = null;
setInterval(() => {
  const st = S.status; if (!st || st.audio_paused_s > 0) return;
  const loud = (st.active_alarms || []).some((a) => !a.acknowledged &&
    (a.severity === "crisis" || a.severity === "warning"));
  if (!loud) return;
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), gn = audio.createGain();
    gn.gain.value = 0.05; o.frequency.value = 880; o.connect(gn); gn.connect(audio.destination);
    o.start(); o.stop(audio.currentTime + 0.15);
  } catch (e) { /* no audio device: the banner is the alarm */ }
}, 2000);

function connect() {
  const es = new EventSource("/api/events");
  const conn = $("conn");
  es.onopen = () => { conn.textContent = "connected"; conn.className = "conn ok"; };
  es.onerror = () => { conn.textContent = "reconnecting"; conn.className = "conn bad"; };
  const on = (k, f) => es.addEventListener(k, (e) => { S.lastMsg = Date.now(); f(JSON.parse(e.data)); });
  on("snapshot", (m) => {
    if (S.snapshotAt === null) S.snapshotAt = performance.now();
    setupLeads(m.status.leads || []);
    m.wave.forEach(addSamples); S.beats = m.beats; renderStatus(m.status, null);
    (m.status.active_alarms || []).forEach((a) => S.shownIds.add(a.id));
  });
  on("samples", addSamples);
  on("beats", (m) => { S.beats.push(...m.beats); if (S.beats.length > 64) S.beats.splice(0, S.beats.length - 64); });
  on("status", (m) => renderStatus(m, null));
  on("alert", (m) => renderStatus(m.status, m.wall));
}
setInterval(() => {   // data stale: the stream is up but the device sends nothing
  const st = $("stream");
  const age = (Date.now() - S.lastMsg) / 1000;
  st.textContent = S.lastMsg ? (age > 3 ? `no data for ${age.toFixed(0)} s` : "live") : "—";
  st.className = age > 3 ? "bad-lead" : "";
}, 500);
$("legend").innerHTML = Object.entries(CLASS_COLOUR).map(([k, c]) =>
  `<span style="color:${c}">${k}</span>`).join(" ");
connect();
requestAnimationFrame(draw);
