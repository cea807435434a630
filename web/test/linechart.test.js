// Tests of js/linechart.js: axis scales, the time ticks, the point buffer, and how points
// become line segments (gaps included). Drawing itself is checked in the browser test.
// Run: node --test web/test/
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const {niceScale, Series, segments, timeTicks, visibleWindow} = require("../js/linechart.js");

test("niceScale: steps of 1, 2, 2.5 or 5 times a power of ten, covering the maximum", () => {
  assert.deepStrictEqual(niceScale(100, 4), {max: 100, step: 25});
  assert.deepStrictEqual(niceScale(101, 4), {max: 150, step: 50});
  assert.deepStrictEqual(niceScale(1.3e6, 4), {max: 1.5e6, step: 5e5});
  assert.deepStrictEqual(niceScale(7, 4), {max: 8, step: 2});
  assert.deepStrictEqual(niceScale(0.3, 4), {max: 0.3, step: 0.1});
  for (const max of [0.07, 3, 999, 12345, 8.8e8]) {
    const s = niceScale(max, 4);
    assert.ok(s.max >= max, `${max}: ${JSON.stringify(s)}`);
    assert.ok(s.max / s.step <= 5, `${max}: at most five steps, ${JSON.stringify(s)}`);
  }
});

test("niceScale: nothing to show falls back to the floor", () => {
  assert.deepStrictEqual(niceScale(0, 4, 1000), {max: 1000, step: 250});
  assert.deepStrictEqual(niceScale(NaN, 4, 10), {max: 10, step: 2.5});
  assert.deepStrictEqual(niceScale(-5, 4), {max: 1, step: 0.25});
  assert.deepStrictEqual(niceScale(500, 4, 1000), {max: 1000, step: 250}, "the floor is a minimum");
});

test("niceScale: whole-number steps for counts", () => {
  assert.deepStrictEqual(niceScale(2, 4, 2, true), {max: 2, step: 1});
  assert.deepStrictEqual(niceScale(3, 4, 2, true), {max: 3, step: 1});
  assert.deepStrictEqual(niceScale(9, 4, 2, true), {max: 10, step: 5});
  assert.deepStrictEqual(niceScale(17, 4, 2, true), {max: 20, step: 5});
  assert.deepStrictEqual(niceScale(0, 4, 2, true), {max: 2, step: 1}, "never half a viewer");
});

test("visibleWindow: grows in 30 s steps with the data, within its bounds", () => {
  assert.strictEqual(visibleWindow(0, 30, 120), 30);
  assert.strictEqual(visibleWindow(12, 30, 120), 30);
  assert.strictEqual(visibleWindow(31, 30, 120), 60);
  assert.strictEqual(visibleWindow(95, 30, 120), 120);
  assert.strictEqual(visibleWindow(4000, 30, 120), 120);
  assert.strictEqual(visibleWindow(NaN, 30, 120), 30);
});

test("Series keeps the newest points and reads gaps as null", () => {
  const s = new Series(3);
  assert.strictEqual(s.latest(), null);
  s.push(1, 10);
  s.push(2, "x");
  s.push(3, 30);
  s.push(4, 5);
  assert.deepStrictEqual(s.points, [{t: 2, v: null}, {t: 3, v: 30}, {t: 4, v: 5}]);
  assert.strictEqual(s.latest(), 5);
  assert.strictEqual(s.maxSince(0), 30);
  assert.strictEqual(s.maxSince(4), 5);
  assert.strictEqual(s.maxSince(10), 0);
});

test("segments: a gap splits the line; points before the window are left out", () => {
  const pts = [
    {t: 0, v: 1},
    {t: 10, v: 2},
    {t: 20, v: 3},
    {t: 30, v: null},
    {t: 40, v: 4},
    {t: 50, v: 5},
  ];
  const runs = segments(pts, 10, (t) => t * 2, (v) => 100 - v);
  assert.deepStrictEqual(runs, [
    [[20, 98], [40, 97]],
    [[80, 96], [100, 95]],
  ]);
  assert.deepStrictEqual(segments([{t: 1, v: null}], 0, (t) => t, (v) => v), []);
});

test("timeTicks: labels back from now", () => {
  assert.deepStrictEqual(
    timeTicks(120).map((t) => t.label),
    ["-2 min", "-90 s", "-60 s", "-30 s", "now"],
  );
  assert.deepStrictEqual(timeTicks(30).map((t) => t.secondsAgo), [30, 20, 10, 0]);
});
