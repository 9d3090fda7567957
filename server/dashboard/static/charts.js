// Small canvas charts for the rung dashboard: line/step/scatter plots and parallel
// coordinates. Written by hand so nothing is fetched at run time. Every chart sets
// data-points on its canvas to the number of points it drew (the browser tests read it).
"use strict";
const Charts = (() => {
  const PAD = { left: 62, right: 16, top: 12, bottom: 40 };

  function setup(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600, height = canvas.clientHeight || 280;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    return { ctx, width, height };
  }

  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) { return [lo]; }
    const step0 = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= step0) || step0;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) { ticks.push(+t.toPrecision(12)); }
    return ticks;
  }

  function format(v) {
    if (v === 0) { return "0"; }
    const a = Math.abs(v);
    return (a >= 1e4 || a < 1e-3) ? v.toExponential(1) : +v.toPrecision(4) + "";
  }

  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) { lo = v; } if (v > hi) { hi = v; } }
    if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 0.5; hi += Math.abs(hi) * 0.05 || 0.5; }
    return [lo, hi];
  }

  function scale(lo, hi, a, b, log) {
    if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    const k = (b - a) / (hi - lo);
    return v => a + ((log ? Math.log10(v) : v) - lo) * k;
  }

  function axes(ctx, width, height, xs, ys, xLabel, yLabel, xLog, xTicks) {
    const x0 = PAD.left, x1 = width - PAD.right, y0 = height - PAD.bottom, y1 = PAD.top;
    ctx.strokeStyle = "#dde2ea"; ctx.fillStyle = "#687385"; ctx.lineWidth = 1;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const t of niceTicks(ys.lo, ys.hi, 5)) {
      const y = ys.f(t);
      ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
      ctx.fillText(format(t), x0 - 6, y);
    }
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    const xt = xTicks || (xLog ? logTicks(xs.lo, xs.hi) : niceTicks(xs.lo, xs.hi, 6));
    for (const t of xt) { ctx.fillText(format(t), xs.f(t), y0 + 6); }
    ctx.strokeStyle = "#9aa5b5";
    ctx.beginPath(); ctx.moveTo(x0, y1); ctx.lineTo(x0, y0); ctx.lineTo(x1, y0); ctx.stroke();
    ctx.fillText(xLabel || "", (x0 + x1) / 2, height - 16);
    ctx.save(); ctx.translate(12, (y0 + y1) / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText(yLabel || "", 0, -4); ctx.restore();
  }

  function logTicks(lo, hi) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 3]) { const t = m * Math.pow(10, e); if (t >= lo && t <= hi) { out.push(t); } }
    }
    return out.length ? out : [lo, hi];
  }

  // series: [{points: [[x, y], ...], color, width, step, dots, radius, line}]; opts.xTicks: fixed x ticks
  function plot(canvas, opts) {
    const { ctx, width, height } = setup(canvas);
    const all = opts.series.flatMap(s => s.points);
    canvas.dataset.points = String(all.length);
    if (!all.length) {
      ctx.fillStyle = "#687385"; ctx.textAlign = "center";
      ctx.fillText(opts.empty || "no results yet", width / 2, height / 2);
      return;
    }
    const [xlo0, xhi0] = opts.xRange || extent(all.map(p => p[0]));
    const xMargin = opts.xFit ? (xhi0 - xlo0) * 0.04 : 0;  // xFit: the data's range, not from 0
    const xlo = opts.xLog ? Math.max(xlo0, 1e-12) : opts.xFit ? xlo0 - xMargin : Math.min(0, xlo0);
    const xhi = xhi0 + xMargin;
    const [ylo, yhi] = extent(all.map(p => p[1]));
    const margin = (yhi - ylo) * 0.04;
    const xs = { lo: xlo, hi: xhi, f: scale(xlo, xhi, PAD.left, width - PAD.right, opts.xLog) };
    const ys = { lo: ylo - margin, hi: yhi + margin, f: scale(ylo - margin, yhi + margin, height - PAD.bottom, PAD.top) };
    axes(ctx, width, height, xs, ys, opts.xLabel, opts.yLabel, opts.xLog, opts.xTicks);
    for (const s of opts.series) {
      if (!s.points.length) { continue; }
      ctx.strokeStyle = ctx.fillStyle = s.color || "#2f6fdb";
      ctx.globalAlpha = s.alpha || 1;
      ctx.lineWidth = s.width || 1.5;
      if (s.line !== false) {
        ctx.beginPath();
        s.points.forEach((p, i) => {
          const x = xs.f(p[0]), y = ys.f(p[1]);
          if (i === 0) { ctx.moveTo(x, y); return; }
          if (s.step) { ctx.lineTo(x, ys.f(s.points[i - 1][1])); }
          ctx.lineTo(x, y);
        });
        if (s.step && s.extendTo !== undefined) { ctx.lineTo(xs.f(s.extendTo), ys.f(s.points[s.points.length - 1][1])); }
        ctx.stroke();
      }
      if (s.dots) {
        const r = s.radius || 2.5;
        for (const p of s.points) {
          ctx.beginPath(); ctx.arc(xs.f(p[0]) + (p[2] || 0), ys.f(p[1]), r, 0, 2 * Math.PI); ctx.fill();
        }
      }
    }
    ctx.globalAlpha = 1;
  }

  // Viridis-like ramp, t in [0, 1] (0 = best).
  const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function ramp(t) {
    t = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(t)), f = t - i;
    const c = RAMP[i].map((a, k) => Math.round(a + (RAMP[i + 1][k] - a) * f));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  // axes: [{name, ticks: [[u, label]]}], lines: [{unit: [u per axis], color}]
  function parallel(canvas, opts) {
    const { ctx, width, height } = setup(canvas);
    canvas.dataset.points = String(opts.lines.length);
    if (!opts.lines.length) {
      ctx.fillStyle = "#687385"; ctx.textAlign = "center";
      ctx.fillText("no results yet", width / 2, height / 2);
      return;
    }
    const n = opts.axes.length, top = 24, bottom = height - 18;
    const x = i => PAD.left / 2 + i * (width - PAD.left / 2 - 60) / Math.max(1, n - 1);
    const y = u => bottom - u * (bottom - top);
    ctx.lineWidth = 1;
    for (const line of opts.lines) {
      ctx.strokeStyle = line.color; ctx.globalAlpha = 0.55;
      ctx.beginPath();
      line.unit.forEach((u, i) => (i ? ctx.lineTo(x(i), y(u)) : ctx.moveTo(x(i), y(u))));
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    opts.axes.forEach((axis, i) => {
      ctx.strokeStyle = "#687385";
      ctx.beginPath(); ctx.moveTo(x(i), top); ctx.lineTo(x(i), bottom); ctx.stroke();
      ctx.fillStyle = "#1d2430"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
      ctx.fillText(axis.name, x(i), top - 6);
      ctx.fillStyle = "#687385"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
      for (const [u, label] of axis.ticks) { ctx.fillText(label, x(i) + 4, y(u)); }
    });
  }

  return { plot, parallel, ramp, format };
})();
