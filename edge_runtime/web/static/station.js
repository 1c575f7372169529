// ecgedge central station: a tile per bed, one alarm list across beds, acknowledge, and a
// bed detail view (click a tile): live waveform (drawn by trace.js, as on the bedside page),
// HR, active alarms, last event strip; polled from /api/bed once a second while open.
"use strict";
const S = {state: null, latency: [], seen: new Set(), first: true};
window.station = S;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

function operator() { return localStorage.getItem("ecgedge-operator") || "station"; }

function render(st) {
  S.state = st;
  $("broker").textContent = st.broker;
  $("broker").className = st.broker === "connected" ? "conn ok" : "conn bad";
  const on = st.beds.filter((b) => b.connection === "online").length;
  $("counts").textContent = `${st.beds.length} beds, ${on} online, ${st.alarms.length} alarms`;
  $("bad").textContent = st.bad_messages ? `malformed messages: ${st.bad_messages} (${st.last_bad})` : "";
  $("bad").className = st.bad_messages ? "bad-lead" : "";
  $("tiles").innerHTML = st.beds.map((b) => {
    const w = b.worst;
    return `<div class="tile ${b.connection} ${w ? "sev-" + w.severity : ""}" data-bed="${esc(b.bed)}">
      <div class="bed">${esc(b.bed)}</div>
      <div class="conn-state">${b.connection}${b.reason ? " — " + esc(b.reason) : ""}</div>
      <div class="hr">${b.hr_bpm == null ? "--" : Math.round(b.hr_bpm)}</div>
      <div class="worst ${w ? w.severity : ""}">${w ? esc(w.type.replace(/_/g, " ").toUpperCase()) : ""}</div>
    </div>`;
  }).join("");
  const box = $("alarms"), keep = new Set(st.alarms.map((a) => a.id));
  [...box.children].forEach((d) => { if (!keep.has(d.dataset.id)) d.remove(); });
  st.alarms.forEach((a, i) => {
    let d = box.querySelector(`[data-id="${CSS.escape(a.id)}"]`);
    if (!d) {
      d = document.createElement("div"); d.dataset.id = a.id; d.dataset.bed = a.bed;
      const t = document.createElement("span"); t.className = "what"; d.appendChild(t);
      const b = document.createElement("button"); b.className = "ack"; b.textContent = "ack";
      b.onclick = () => fetch("/api/ack", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({id: a.id, by: operator()})});
      d.appendChild(b);
    }
    d.className = `alarm ${a.severity}` + (a.acknowledged ? " acked" : "");
    d.dataset.severity = a.severity;
    d.querySelector(".what").textContent = `${a.bed}: ${a.type.replace(/_/g, " ").toUpperCase()}` +
      (a.acknowledged ? ` (ack ${a.acknowledged.by})` : "");
    const btn = d.querySelector("button.ack"); if (a.acknowledged && btn) btn.remove();
    if (box.children[i] !== d) box.insertBefore(d, box.children[i] || null);
    if (!S.seen.has(a.id)) {   // alarm received by the station -> shown on the page
      S.seen.add(a.id);
      if (S.first) return;     // already there when the page opened: no latency to tell
      const rec = a.received;
      requestAnimationFrame(() => S.latency.push(Date.now() / 1000 - rec));
    }
  });
}

const D = {bed: null, wave: [], tEnd: 0, drawn: 0, lead: "", strip: undefined};
S.detail = D;                              // for tests: D.drawn = samples on the canvas

$("tiles").addEventListener("click", (e) => {
  const t = e.target.closest(".tile"); if (t) openBed(t.dataset.bed);
});
$("d-close").onclick = () => { D.bed = null; $("detail").hidden = true; };

function openBed(name) {
  Object.assign(D, {bed: name, wave: [], tEnd: 0, drawn: 0, strip: undefined});
  $("detail").hidden = false; $("d-bed").textContent = name;
  sizeCanvas($("d-trace"), $("detail").clientWidth - 12);
  pollBed();
}

async function pollBed() {
  const name = D.bed; if (!name) return;
  try {
    const r = await fetch("/api/bed?bed=" + encodeURIComponent(name));
    if (r.ok && D.bed === name) renderBed(await r.json());
  } catch (e) { /* the station is away: the next poll tries again */ }
}
setInterval(pollBed, 1000);

function renderBed(b) {
  $("d-conn").textContent = b.connection + (b.reason ? " — " + b.reason : "");
  $("d-hr").textContent = b.hr_bpm == null ? "--" : Math.round(b.hr_bpm);
  $("d-alarms").innerHTML = b.alarms.length ? b.alarms.map((a) => `<div class="worst ${a.severity}">` +
    esc(a.type.replace(/_/g, " ").toUpperCase()) + (a.acknowledged ? ` (ack ${esc(a.acknowledged.by)})` : "") +
    "</div>").join("") : "none";
  const wave = [];
  b.wave.forEach((m) => { decode(m.uv16).forEach((v, i) => wave.push([m.t0 + i / m.fs, v])); });
  D.wave = wave; D.tEnd = wave.length ? wave[wave.length - 1][0] : 0;
  D.lead = b.wave.length ? b.wave[b.wave.length - 1].lead : "";
  $("d-lead").textContent = D.lead || "no waveform (runtime without --mqtt-wave)";
  const key = JSON.stringify(b.strip);
  if (key === D.strip) return;             // the picture is not fetched again every second
  D.strip = key;
  const s = b.strip;
  $("d-strip").innerHTML = !s ? "no strip" : !s.path ? `strip of ${esc(s.alert_id)} not written` :
    `<div>${esc(s.alert_id)}: <code>${esc(s.path)}</code> (on the bedside box)</div>` + (s.png
      ? `<a href="/api/strip.png?bed=${encodeURIComponent(D.bed)}" target="_blank">` +
        `<img src="/api/strip.png?bed=${encodeURIComponent(D.bed)}&a=${encodeURIComponent(s.alert_id)}"></a>` : "");
}

function drawDetail() {
  if (D.bed) D.drawn = drawTrace($("d-trace"), D.wave, D.tEnd, null);
  requestAnimationFrame(drawDetail);
}
requestAnimationFrame(drawDetail);

function connect() {
  const es = new EventSource("/api/events");
  es.onopen = () => { $("conn").textContent = "connected"; $("conn").className = "conn ok"; };
  es.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").className = "conn bad"; };
  es.addEventListener("state", (e) => { render(JSON.parse(e.data)); S.first = false; });
}
connect();
