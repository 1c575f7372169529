// A monitor trace on a 25 mm/s, 10 mm/mV paper grid: shared by the bedside page and the
// station's bed detail view (loaded before either). Plain <canvas> (no charting library): a
// monitor trace is a fixed-scale strip with a paper grid, not a chart with axes.
"use strict";
const PX_PER_MM = 96 / 25.4;               // CSS pixels are 1/96 inch
const MM_PER_S = 25, MM_PER_MV = 10;
const PX_PER_S = MM_PER_S * PX_PER_MM, PX_PER_MV = MM_PER_MV * PX_PER_MM;
const CLASS_COLOUR = {N: "#3c3", S: "#fc3", V: "#f33", F: "#f3f", Q: "#999"};

function sizeCanvas(c, w) {          // w CSS pixels wide, 42 mm high, sharp on HiDPI
  const h = Math.round(42 * PX_PER_MM);
  c.width = w * devicePixelRatio; c.height = h * devicePixelRatio;
  c.style.width = w + "px"; c.style.height = h + "px";
}

function decode(b64) {               // base64 little-endian int16 µV -> mV
  const bin = atob(b64), n = bin.length >> 1, out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    if (v & 0x8000) v -= 0x10000;
    out[i] = v / 1000;
  }
  return out;
}

function drawGrid(g, w, h) {
  g.fillStyle = "#000"; g.fillRect(0, 0, w, h);
  for (let mm = 0, x = 0; x < w; mm++, x = mm * PX_PER_MM) {
    g.strokeStyle = mm % 5 ? "#1a0d0d" : "#3a1a1a"; g.beginPath();
    g.moveTo(x, 0); g.lineTo(x, h); g.stroke();
  }
  for (let mm = 0, y = 0; y < h; mm++, y = mm * PX_PER_MM) {
    g.strokeStyle = mm % 5 ? "#1a0d0d" : "#3a1a1a"; g.beginPath();
    g.moveTo(0, y); g.lineTo(w, y); g.stroke();
  }
}

// arr: [[t_s, mV], ...] ending at tEnd (drawn at the right edge); beats: [{t, label}] or null
function drawTrace(c, arr, tEnd, beats) {
  const g = c.getContext("2d"), r = devicePixelRatio;
  g.setTransform(r, 0, 0, r, 0, 0);
  const w = c.width / r, h = c.height / r, mid = h / 2;
  drawGrid(g, w, h);
  if (arr.length) {               // centre on the median of what is shown (baseline)
    const vals = arr.map((p) => p[1]).sort((a, b) => a - b);
    const base = vals[vals.length >> 1];
    g.strokeStyle = "#3f3"; g.lineWidth = 1.4; g.beginPath();
    arr.forEach((p, i) => {
      const x = w - (tEnd - p[0]) * PX_PER_S, y = mid - (p[1] - base) * PX_PER_MV;
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  }
  if (beats) {
    g.font = "bold 12px sans-serif";
    beats.forEach((b) => {
      const x = w - (tEnd - b.t) * PX_PER_S;
      if (x < 0 || x > w) return;
      g.fillStyle = CLASS_COLOUR[b.label] || "#ccc";
      g.fillRect(x - 1, 2, 2, 8); g.fillText(b.label || "?", x + 3, 12);
    });
  }
  return arr.length;
}
