// ecgedge central station: a tile per bed, one alarm list across beds, acknowledge.
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

function connect() {
  const es = new EventSource("/api/events");
  es.onopen = () => { $("conn").textContent = "connected"; $("conn").className = "conn ok"; };
  es.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").className = "conn bad"; };
  es.addEventListener("state", (e) => { render(JSON.parse(e.data)); S.first = false; });
}
connect();
