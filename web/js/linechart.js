/*
 * linechart.js: a small time-series line chart on <canvas>, no dependencies (the dashboard
 * must work offline: the pages are embedded in the node's binary).
 *
 *   const chart = new rtcdnLineChart.LineChart(canvas, {
 *     series: [{label: "in", color: "#1f6feb"}, {label: "out", color: "#d4740f"}],
 *     format: (v) => v + " bit/s",    // y-axis labels
 *     windowSeconds: 120,             // the x axis: at most the last two minutes, "now" at the right
 *     floor: 1000,                    // the y axis reaches at least this
 *     integer: false,                 // true: whole-number y steps (counts)
 *   });
 *   chart.push(Date.now(), [inBps, outBps]);   // null leaves a gap in that line
 *   chart.draw(Date.now());
 *
 * The x axis starts at 30 s and grows in 30 s steps with the data up to `windowSeconds`, so a
 * fresh page does not squeeze its first points into a corner. A series may be drawn dashed
 * (`dash: [4, 3]`), e.g. when it often lies on another one.
 *
 * The arithmetic (niceScale, Series, segments, timeTicks, visibleWindow) is separate from the drawing so
 * that node can test it (web/test/linechart.test.js). Loaded as a plain script it defines
 * `window.rtcdnLineChart`; under CommonJS it is `module.exports`.
 */
(function (global) {
  "use strict";

  /**
   * A y axis from 0 covering `maxValue` in about `ticks` steps of 1, 2, 2.5 or 5 times a power
   * of ten: `{max, step}`. Non-positive or non-finite values give the axis of `floor` (or 1).
   */
  function niceScale(maxValue, ticks, floor, integer) {
    const n = ticks > 0 ? ticks : 4;
    const top = Math.max(Number.isFinite(maxValue) ? maxValue : 0, floor > 0 ? floor : 0) || 1;
    const raw = integer ? Math.max(1, top / n) : top / n;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = 10 * magnitude;
    for (const m of integer && magnitude < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]) {
      // A little tolerance against 0.30000000000000004-style floats.
      if (m * magnitude >= raw * (1 - 1e-9)) {
        step = m * magnitude;
        break;
      }
    }
    const steps = Math.max(1, Math.ceil(top / step - 1e-9));
    return {max: tidy(steps * step), step: tidy(step)};
  }

  /** `x` without binary noise (3 * 0.1 → 0.3). */
  function tidy(x) {
    return Number(x.toPrecision(12));
  }

  /** The last `capacity` points `{t, v}` of one line (`v` null for a gap), oldest first. */
  class Series {
    constructor(capacity) {
      this.capacity = capacity > 0 ? capacity : 120;
      this.points = [];
    }

    push(t, v) {
      const value = typeof v === "number" && Number.isFinite(v) ? v : null;
      this.points.push({t, v: value});
      if (this.points.length > this.capacity) {
        this.points.splice(0, this.points.length - this.capacity);
      }
    }

    /** The newest value (null for a gap or an empty series). */
    latest() {
      return this.points.length ? this.points[this.points.length - 1].v : null;
    }

    /** The largest value at or after time `since` (0 if none). */
    maxSince(since) {
      let max = 0;
      for (const p of this.points) {
        if (p.t >= since && p.v !== null && p.v > max) {
          max = p.v;
        }
      }
      return max;
    }
  }

  /**
   * The runs of consecutive known points at or after `since`, mapped through `xOf(t)` and
   * `yOf(v)`: an array of `[[x, y], ...]` lines (a null value ends a run).
   */
  function segments(points, since, xOf, yOf) {
    const runs = [];
    let run = null;
    for (const p of points) {
      if (p.t < since || p.v === null) {
        run = null;
        continue;
      }
      if (!run) {
        run = [];
        runs.push(run);
      }
      run.push([xOf(p.t), yOf(p.v)]);
    }
    return runs;
  }

  /**
   * The seconds the x axis spans when the oldest point is `spanSeconds` old: a multiple of 30
   * covering it, at least `minSeconds` and at most `maxSeconds`.
   */
  function visibleWindow(spanSeconds, minSeconds, maxSeconds) {
    const span = Number.isFinite(spanSeconds) && spanSeconds > 0 ? spanSeconds : 0;
    return Math.min(maxSeconds, Math.max(minSeconds, Math.ceil(span / 30) * 30));
  }

  /** The x-axis labels of a `windowSeconds` window: `[{secondsAgo, label}]`, "now" last. */
  function timeTicks(windowSeconds) {
    const step = windowSeconds > 180 ? 60 : windowSeconds > 60 ? 30 : 10;
    const ticks = [];
    for (let ago = Math.floor(windowSeconds / step) * step; ago > 0; ago -= step) {
      ticks.push({secondsAgo: ago, label: ago % 60 === 0 && ago >= 120 ? "-" + ago / 60 + " min" : "-" + ago + " s"});
    }
    ticks.push({secondsAgo: 0, label: "now"});
    return ticks;
  }

  const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  const GRID = "#e6e9ef";
  const AXIS_TEXT = "#5d6878";

  /** A line chart of several series over a sliding time window (see the file comment). */
  class LineChart {
    constructor(canvas, options) {
      const o = options || {};
      this.canvas = canvas;
      this.windowSeconds = o.windowSeconds || 120;
      this.format = o.format || ((v) => String(v));
      this.floor = o.floor || 1;
      this.integer = Boolean(o.integer);
      this.lines = (o.series || []).map((s) => ({
        label: s.label,
        color: s.color,
        dash: s.dash || [],
        data: new Series(Math.ceil(this.windowSeconds * 1.5) + 10),
      }));
      /** Points of the longest series drawn by the last draw(), for tests and the page. */
      this.drawnPoints = 0;
    }

    /** Adds one point per series at time `t` (ms); `values[i]` null leaves a gap. */
    push(t, values) {
      this.lines.forEach((line, i) => line.data.push(t, values ? values[i] : null));
    }

    /** The newest value of each series. */
    latest() {
      return this.lines.map((l) => l.data.latest());
    }

    /** Redraws the chart for the window ending at `now` (ms), at the canvas' CSS size. */
    draw(now) {
      const canvas = this.canvas;
      const ctx = canvas.getContext("2d");
      if (!ctx) {
        return;
      }
      const dpr = global.devicePixelRatio || 1;
      const width = canvas.clientWidth || 300;
      const height = canvas.clientHeight || 160;
      if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
        canvas.width = Math.round(width * dpr);
        canvas.height = Math.round(height * dpr);
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      ctx.font = FONT;

      const oldest = Math.min(...this.lines.map((l) => (l.data.points.length ? l.data.points[0].t : now)));
      const windowSeconds = visibleWindow((now - oldest) / 1000, Math.min(30, this.windowSeconds), this.windowSeconds);
      const since = now - windowSeconds * 1000;
      const top = Math.max(...this.lines.map((l) => l.data.maxSince(since)), 0);
      const scale = niceScale(top, 4, this.floor, this.integer);
      const labels = [];
      for (let i = 0; i * scale.step <= scale.max * (1 + 1e-9); i++) {
        const v = tidy(i * scale.step);
        labels.push({v, text: this.format(v)});
      }
      const labelWidth = Math.max(...labels.map((l) => ctx.measureText(l.text).width));
      const box = {left: Math.ceil(labelWidth) + 12, right: width - 10, top: 8, bottom: height - 22};
      const xOf = (t) => box.left + ((t - since) / (now - since)) * (box.right - box.left);
      const yOf = (v) => box.bottom - (v / scale.max) * (box.bottom - box.top);

      // Horizontal grid with the y labels.
      ctx.lineWidth = 1;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const l of labels) {
        const y = Math.round(yOf(l.v)) + 0.5;
        ctx.strokeStyle = GRID;
        ctx.beginPath();
        ctx.moveTo(box.left, y);
        ctx.lineTo(box.right, y);
        ctx.stroke();
        ctx.fillStyle = AXIS_TEXT;
        ctx.fillText(l.text, box.left - 6, y);
      }
      // Time ticks along the bottom.
      ctx.textBaseline = "top";
      for (const tick of timeTicks(windowSeconds)) {
        const x = Math.round(xOf(now - tick.secondsAgo * 1000)) + 0.5;
        ctx.strokeStyle = GRID;
        ctx.beginPath();
        ctx.moveTo(x, box.top);
        ctx.lineTo(x, box.bottom);
        ctx.stroke();
        ctx.fillStyle = AXIS_TEXT;
        ctx.textAlign = tick.secondsAgo === 0 ? "right" : "center";
        ctx.fillText(tick.label, tick.secondsAgo === 0 ? box.right : x, box.bottom + 6);
      }

      // The lines, each with a faint area under it.
      let drawn = 0;
      ctx.save();
      ctx.beginPath();
      ctx.rect(box.left, box.top - 2, box.right - box.left, box.bottom - box.top + 4);
      ctx.clip();
      // The first series last, on top (a dashed one shows through where they meet).
      for (const line of this.lines.slice().reverse()) {
        let points = 0;
        for (const run of segments(line.data.points, since, xOf, yOf)) {
          points += run.length;
          ctx.globalAlpha = 0.08;
          ctx.fillStyle = line.color;
          ctx.beginPath();
          ctx.moveTo(run[0][0], box.bottom);
          for (const [x, y] of run) {
            ctx.lineTo(x, y);
          }
          ctx.lineTo(run[run.length - 1][0], box.bottom);
          ctx.closePath();
          ctx.fill();
          ctx.globalAlpha = 1;
          ctx.strokeStyle = line.color;
          ctx.lineWidth = 2;
          ctx.lineJoin = "round";
          ctx.setLineDash(line.dash);
          ctx.beginPath();
          run.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
          if (run.length === 1) {
            ctx.arc(run[0][0], run[0][1], 1.5, 0, 2 * Math.PI);
          }
          ctx.stroke();
          ctx.setLineDash([]);
        }
        drawn = Math.max(drawn, points);
      }
      ctx.restore();
      // The axes.
      ctx.strokeStyle = "#b8c0cc";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(box.left + 0.5, box.top);
      ctx.lineTo(box.left + 0.5, box.bottom + 0.5);
      ctx.lineTo(box.right, box.bottom + 0.5);
      ctx.stroke();
      this.drawnPoints = drawn;
      canvas.dataset.points = String(drawn);
    }
  }

  const api = {niceScale, Series, segments, timeTicks, visibleWindow, LineChart};
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    global.rtcdnLineChart = api;
  }
})(typeof window !== "undefined" ? window : this);
