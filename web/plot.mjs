// Line plots of trajectories on a <canvas>, with no library (the page works offline):
// linear or logarithmic axes, ticks, a legend. One job: draw series of values over t.
//
//   plot(canvas, { t, series: [{ name, values, index }], logT, logY })
//
// `index` picks the colour (default: the position), so a series keeps its colour when
// others are hidden.
//
// On a log axis, points ≤ 0 are left out (the line breaks there): Robertson starts at
// t = 0 and its y2, y3 at 0, which a log axis cannot show.

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const MARGIN = { left: 72, right: 16, top: 16, bottom: 44 };

export function plot(canvas, { t, series, logT = false, logY = false }) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const fx = logT ? (x) => (x > 0 ? Math.log10(x) : NaN) : (x) => x;
  const fy = logY ? (y) => (y > 0 ? Math.log10(y) : NaN) : (y) => y;
  const xs = t.map(fx);
  const ys = series.map((s) => Array.from(s.values, fy));
  const xr = extent(xs);
  const yr = extent(ys.flat());
  if (!xr || !yr) return;
  if (logY) yr[0] = Math.max(yr[0], yr[1] - 15); // 15 decades are plenty
  pad(xr, 0);
  pad(yr, 0.04);

  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const px = (x) => MARGIN.left + ((x - xr[0]) / (xr[1] - xr[0])) * plotW;
  const py = (y) => MARGIN.top + (1 - (y - yr[0]) / (yr[1] - yr[0])) * plotH;

  // Axes, grid and tick labels.
  ctx.font = "12px system-ui, sans-serif";
  ctx.strokeStyle = "#e4e4e4";
  ctx.fillStyle = "#333";
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const x of ticks(xr, logT)) {
    ctx.beginPath(); ctx.moveTo(px(x), MARGIN.top); ctx.lineTo(px(x), MARGIN.top + plotH); ctx.stroke();
    ctx.fillText(label(x, logT), px(x), MARGIN.top + plotH + 6);
  }
  ctx.fillText(logT ? "t (log scale)" : "t", MARGIN.left + plotW / 2, height - 18);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const y of ticks(yr, logY)) {
    ctx.beginPath(); ctx.moveTo(MARGIN.left, py(y)); ctx.lineTo(MARGIN.left + plotW, py(y)); ctx.stroke();
    ctx.fillText(label(y, logY), MARGIN.left - 6, py(y));
  }
  ctx.strokeStyle = "#888";
  ctx.strokeRect(MARGIN.left, MARGIN.top, plotW, plotH);

  // The lines, clipped to the frame.
  ctx.save();
  ctx.beginPath();
  ctx.rect(MARGIN.left, MARGIN.top, plotW, plotH);
  ctx.clip();
  ctx.lineWidth = 1.8;
  ys.forEach((values, k) => {
    ctx.strokeStyle = COLORS[(series[k].index ?? k) % COLORS.length];
    ctx.beginPath();
    let pen = false;
    values.forEach((y, i) => {
      if (!Number.isFinite(y) || !Number.isFinite(xs[i])) { pen = false; return; }
      if (pen) ctx.lineTo(px(xs[i]), py(y)); else ctx.moveTo(px(xs[i]), py(y));
      pen = true;
    });
    ctx.stroke();
  });
  ctx.restore();

  // Legend, top right.
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const legendW = Math.max(...series.map((s) => ctx.measureText(s.name).width)) + 36;
  const lx = MARGIN.left + plotW - legendW - 8;
  ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
  ctx.fillRect(lx, MARGIN.top + 6, legendW, series.length * 18 + 8);
  series.forEach((s, k) => {
    const y = MARGIN.top + 18 + k * 18;
    ctx.strokeStyle = COLORS[(s.index ?? k) % COLORS.length];
    ctx.beginPath(); ctx.moveTo(lx + 8, y); ctx.lineTo(lx + 26, y); ctx.stroke();
    ctx.fillStyle = "#222";
    ctx.fillText(s.name, lx + 30, y);
  });
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo <= hi ? [lo, hi] : null;
}

function pad(range, fraction) {
  if (range[0] === range[1]) { range[0] -= 0.5; range[1] += 0.5; return; }
  const d = (range[1] - range[0]) * fraction;
  range[0] -= d;
  range[1] += d;
}

/** Tick positions (in axis units: log10 of the value on a log axis). */
function ticks([lo, hi], log) {
  if (log) {
    const first = Math.ceil(lo);
    const last = Math.floor(hi);
    const every = Math.max(1, Math.ceil((last - first + 1) / 8));
    const out = [];
    for (let k = first; k <= last; k += every) out.push(k);
    return out;
  }
  const raw = (hi - lo) / 6;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const out = [];
  for (let x = Math.ceil(lo / step) * step; x <= hi + step * 1e-9; x += step) out.push(Math.abs(x) < step * 1e-9 ? 0 : x);
  return out;
}

function label(x, log) {
  if (log) return x === 0 ? "1" : `1e${x}`;
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? x.toExponential(1) : String(Number(x.toPrecision(6)));
}
