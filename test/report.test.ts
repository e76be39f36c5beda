/**
 * Training reports: the SVG line chart read back (one polyline vertex per input point, NaN gaps
 * splitting a line, single points as dots, constant series on a real range, long series
 * bucket-averaged to a cap with their mean kept, nice ticks enclosing the data, all text
 * escaped, bad arguments named), and the HTML report of a real Trainer run written atomically
 * with one chart per metric and the final epoch's metrics in its table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArgumentError, MLP, Rng, SGD, taskMetrics, Trainer } from '../lib';
import type { EpochRecord } from '../lib';
import { CHART_MAX_POINTS, downsample, escapeXml, formatTicks, lineChartSvg, niceTicks } from '../lib/train/chart';
import type { ChartSeries } from '../lib/train/chart';
import { trainingReportHtml, writeTrainingReport } from '../lib/train/report';
import { Batch, makeBatches } from './fixtures/two-task-batches';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatewise-report-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Shape = { polylines: [number, number][][]; circles: [number, number][] };

/** Each series group's polylines (as vertices) and dots, in order. */
function shapes(svg: string): Shape[] {
  const out: Shape[] = [];
  for (const g of svg.matchAll(/<g class="series" data-series="(\d+)">(.*?)<\/g>/g)) {
    expect(Number(g[1])).toBe(out.length);
    const polylines = [...g[2].matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number) as [number, number]));
    const circles = [...g[2].matchAll(/<circle cx="([^"]*)" cy="([^"]*)"/g)].map((m): [number, number] => [Number(m[1]), Number(m[2])]);
    out.push({ polylines, circles });
  }
  return out;
}

/** The text of the y (or x) tick labels. */
const tickLabels = (svg: string, axis: 'x' | 'y') => [...(svg.match(new RegExp(`<g class="${axis}-ticks"[^>]*>(.*?)</g>`))?.[1] ?? '').matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

const chart = (series: ChartSeries[], extra: object = {}) => lineChartSvg({ title: 'T', xLabel: 'step', yLabel: 'loss', series, ...extra });
const line = (ys: number[], x0 = 0): [number, number][] => ys.map((y, i) => [x0 + i, y]);
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

describe('lineChartSvg', () => {
  it('draws one polyline per series with one vertex per point, in order, inside the plot', () => {
    const rng = new Rng(1);
    const a = line(Array.from({ length: 50 }, (_, i) => 2 - i / 50 + 0.1 * rng.normal()));
    const b = line([0.5, 0.9, 1.4, 1.7, 2.2, 2.6, 3.1], 10);
    const svg = chart([
      { name: 'a', points: a },
      { name: 'b', points: b },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    const s = shapes(svg);
    expect(s.map((g) => g.polylines.map((p) => p.length))).toEqual([[50], [7]]);
    expect(s[0].circles).toEqual([]);
    // Distinct colours; x increases left to right, larger y is higher up (smaller SVG y).
    const colours = [...svg.matchAll(/<polyline fill="none" stroke="([^"]*)"/g)].map((m) => m[1]);
    expect(new Set(colours).size).toBe(2);
    const v = s[1].polylines[0];
    for (let i = 1; i < v.length; ++i) expect(v[i][0]).toBeGreaterThan(v[i - 1][0]);
    for (let i = 1; i < v.length; ++i) expect(v[i][1]).toBeLessThan(v[i - 1][1]);
    for (const [x, y] of [...s[0].polylines[0], ...v]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(640);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(320);
    }
    // The legend names both series; the title and axis labels are there.
    expect(svg).toMatch(/<text [^>]*>a<\/text>/);
    expect(svg).toMatch(/<text [^>]*>b<\/text>/);
    expect(svg).toContain('>step</text>');
    expect(svg).toContain('>loss</text>');
    expect(svg).toContain('width="640" height="320"');
  });

  it('non-finite values break a line: NaN and Infinity leave gaps, a lone point is a dot', () => {
    const ys = [1, 2, 3, 4, NaN, 5, 6, 7, 8, 9];
    expect(shapes(chart([{ name: 's', points: line(ys) }]))[0].polylines.map((p) => p.length)).toEqual([4, 5]);
    const s = shapes(chart([{ name: 's', points: line([1, 2, Infinity, 3, NaN, 4, 5, -Infinity]) }]))[0];
    expect(s.polylines.map((p) => p.length)).toEqual([2, 2]);
    expect(s.circles).toHaveLength(1); // the 3 between Infinity and NaN
    // The gap is real: the pieces' x ranges do not meet.
    const [p, q] = shapes(chart([{ name: 's', points: line(ys) }]))[0].polylines;
    expect(q[0][0] - p[p.length - 1][0]).toBeGreaterThan(1.5 * (p[1][0] - p[0][0]));
  });

  it('a single point is a dot and a constant series sits on a padded range', () => {
    const one = chart([{ name: 'one', points: [[3, 0.25]] }]);
    const s = shapes(one)[0];
    expect(s.polylines).toEqual([]);
    expect(s.circles).toHaveLength(1);
    expect(tickLabels(one, 'y').length).toBeGreaterThanOrEqual(3);
    expect(tickLabels(one, 'x')).toContain('3');

    const flat = chart([{ name: 'flat', points: line([0.5, 0.5, 0.5, 0.5, 0.5]) }]);
    const v = shapes(flat)[0].polylines[0];
    expect(v).toHaveLength(5);
    expect(new Set(v.map((p) => p[1])).size).toBe(1);
    const ys = tickLabels(flat, 'y').map(Number);
    expect(Math.min(...ys)).toBeLessThan(0.5);
    expect(Math.max(...ys)).toBeGreaterThan(0.5);
    // Mid-plot, not on an edge: the plot spans from the first y tick line to the last.
    const grid = [...flat.matchAll(/<line x1="\d+" x2="\d+" y1="([^"]*)"/g)].map((m) => Number(m[1]));
    expect(v[0][1]).toBeGreaterThan(Math.min(...grid));
    expect(v[0][1]).toBeLessThan(Math.max(...grid));

    const zero = shapes(chart([{ name: 'zero', points: line([0, 0, 0]) }]))[0];
    expect(zero.polylines[0]).toHaveLength(3);
  });

  it('no series, or no finite point, draws "no data"', () => {
    for (const series of [[], [{ name: 'nan', points: line([NaN, NaN]) }], [{ name: 'empty', points: [] }]]) {
      const svg = chart(series);
      expect(svg).toContain('>no data</text>');
      expect(svg).not.toContain('<polyline');
      expect(svg).toContain('<title>T</title>');
    }
  });

  it('downsamples long series by bucket means: capped vertices, the mean kept, the file small', () => {
    const rng = new Rng(7);
    const n = 100_000;
    const ys = Array.from({ length: n }, (_, i) => 0.3 + 2 * Math.exp(-i / 20_000) + 0.2 * rng.normal());
    const pts = line(ys, 1);
    const d = downsample(pts);
    expect(d).toHaveLength(CHART_MAX_POINTS);
    expect(mean(d.map((p) => p[1]))).toBeCloseTo(mean(ys), 3);
    expect(mean(d.map((p) => p[0]))).toBeCloseTo(mean(pts.map((p) => p[0])), 3);
    // A bucket holding a NaN stays a gap; short series are left alone.
    const withNaN = ys.slice();
    withNaN[50_000] = NaN;
    expect(downsample(line(withNaN)).filter((p) => Number.isNaN(p[1]))).toHaveLength(1);
    expect(downsample(line([1, 2, 3]))).toEqual(line([1, 2, 3]));

    const svg = chart([{ name: 'loss', points: pts }]);
    const v = shapes(svg)[0].polylines;
    expect(v).toHaveLength(1);
    expect(v[0].length).toBeLessThanOrEqual(CHART_MAX_POINTS);
    expect(v[0].length).toBeGreaterThan(CHART_MAX_POINTS / 2);
    expect(svg.length).toBeLessThan(40_000);
    expect(tickLabels(svg, 'x')).toContain('100k');
  });

  it('ticks are 1, 2 or 5 × 10^k apart, about five, enclosing the data; labels are compact', () => {
    const rng = new Rng(3);
    const ranges: [number, number][] = [
      [0, 1],
      [0.693, 0.694],
      [-3, 17],
      [1, 100_000],
      [0.00012, 0.00031],
      [1e6, 3.7e6],
    ];
    for (let i = 0; i < 200; ++i) {
      const lo = (rng.uniform() - 0.5) * 10 ** (rng.uniform() * 12 - 6);
      ranges.push([lo, lo + 10 ** (rng.uniform() * 12 - 6)]);
    }
    for (const [lo, hi] of ranges) {
      const t = niceTicks(lo, hi);
      const mantissa = t.step / 10 ** Math.floor(Math.log10(t.step) + 1e-9);
      expect([1, 2, 5]).toContain(Math.round(mantissa * 1e9) / 1e9);
      expect(t.ticks[0]).toBeLessThanOrEqual(lo);
      expect(t.ticks[t.ticks.length - 1]).toBeGreaterThanOrEqual(hi);
      expect(t.ticks.length).toBeGreaterThanOrEqual(4);
      expect(t.ticks.length).toBeLessThanOrEqual(10);
      for (let k = 1; k < t.ticks.length; ++k) expect(Math.abs(t.ticks[k] - t.ticks[k - 1] - t.step)).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(t.ticks[k]), t.step));
      const labels = formatTicks(t.ticks, t.step);
      expect(new Set(labels).size).toBe(labels.length); // distinct labels
    }
    expect(niceTicks(0, 1).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.17, 0.93).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 3, 5, true).ticks).toEqual([1, 2, 3]); // integer axis (epochs): no 1.5
    const f = (lo: number, hi: number) => {
      const t = niceTicks(lo, hi);
      return formatTicks(t.ticks, t.step);
    };
    expect(f(0, 1)).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1']);
    expect(f(0, 100_000)).toEqual(['0', '20k', '40k', '60k', '80k', '100k']);
    expect(f(0, 2.5e6)).toEqual(['0', '0.5M', '1M', '1.5M', '2M', '2.5M']);
    expect(f(0.0001, 0.0003)).toEqual(['1e-4', '1.5e-4', '2e-4', '2.5e-4', '3e-4']);
    expect(f(-1, 1)).toEqual(['-1', '-0.5', '0', '0.5', '1']);
    for (const [lo, hi] of ranges.slice(0, 6)) for (const l of f(lo, hi)) expect(l.length).toBeLessThanOrEqual(6);
    // The chart's axes use exactly these ticks.
    const svg = chart([{ name: 's', points: [[1, 0.17], [2, 0.93]] }]);
    expect(tickLabels(svg, 'y')).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1']);
    expect(tickLabels(svg, 'x')).toEqual(['1', '2']);
  });

  it('escapes every piece of text', () => {
    const evil = `<b>&"x'`;
    const svg = lineChartSvg({ title: evil, xLabel: evil, yLabel: evil, series: [{ name: evil, points: line([1, 2]) }] });
    expect(svg).not.toContain(evil);
    expect(svg).not.toContain('<b>');
    expect(svg.split(escapeXml(evil)).length - 1).toBe(6); // aria-label, <title>, heading, x label, y label, legend
    expect(escapeXml(evil)).toBe('&lt;b&gt;&amp;&quot;x&#39;');
  });

  it('names bad arguments', () => {
    const ok = (extra: object) => () => lineChartSvg({ title: 'T', xLabel: 'x', yLabel: 'y', series: [], ...extra } as never);
    const bad: [object, string][] = [
      [{ series: [{ name: 'a', points: line([1, 2]) }, { name: 'b', points: [[0, 1], [1, 2], [2, 3], [3]] }] }, 'Expected an [x, y] pair for options.series[1].points[3] but received [3] of type array'],
      [{ series: [{ name: 'a', points: [[0, 1], [1, 2], [NaN, 3]] }] }, 'Expected a finite number for options.series[0].points[2][0] but received NaN of type number'],
      [{ series: [{ name: 'a', points: [[0, '1']] }] }, 'options.series[0].points[0][1]'],
      [{ series: [{ name: 3, points: [] }] }, 'Expected a string for options.series[0].name but received 3 of type number'],
      [{ series: [{ name: 'a' }] }, 'options.series[0].points'],
      [{ series: [null] }, 'options.series[0]'],
      [{ series: 'a' }, 'options.series'],
      [{ title: undefined }, 'Expected a string for options.title'],
      [{ width: 10 }, 'Expected an integer of at least 200 for options.width but received 10'],
      [{ height: 1.5 }, 'options.height'],
      [{ logY: true }, 'options.logY'],
      [{ colour: 'red' }, 'Unknown option options.colour'],
    ];
    for (const [extra, message] of bad) {
      expect(ok(extra)).toThrow(ArgumentError);
      expect(ok(extra)).toThrow(message);
    }
    expect(() => lineChartSvg(null as never)).toThrow('options');
    expect(() => niceTicks(1, 1)).toThrow(ArgumentError);
  });
});

function makeTrainer(seed: number) {
  const model = new MLP(5, { hidden: [16], outFeatures: 2, rng: new Rng(seed) });
  return new Trainer<Batch>({
    model,
    forward: (b) => ({ outputs: model.forward(b.x), labels: b.y }),
    tasks: ['click', 'watch'],
    kinds: ['binary', 'regression'],
    optimizers: [new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 })],
    batchInfo: (b) => ({ domains: b.domain }),
    domainNames: ['left', 'right'],
    progress: { mode: 'none' },
  });
}

const svgCount = (html: string) => html.split('<svg ').length - 1;
/** The table after the heading that starts with `heading`, as rows of cell texts. */
function tableAfter(html: string, heading: string): string[][] {
  const at = html.indexOf(`<h2>${heading}`);
  expect(at).toBeGreaterThan(0);
  const t = html.slice(at, html.indexOf('</table>', at));
  return [...t.matchAll(/<tr>(.*?)<\/tr>/g)].map((r) => [...r[1].matchAll(/<t[hd][^>]*>([^<]*)<\/t[hd]>/g)].map((c) => c[1]));
}

describe('training report', () => {
  it('a real run: one chart per metric, the final metrics table, throughput; written atomically', async () => {
    const train = makeBatches(1, 2048, 128);
    const test = makeBatches(2, 512, 256);
    const t = makeTrainer(3);
    const r = await t.fit(train, { epochs: 3, eval: test, seed: 5 });
    const stepLosses = new Float32Array(3 * train.length);
    const u = makeTrainer(3);
    for (let i = 0; i < stepLosses.length; ++i) stepLosses[i] = u.trainStep(train[i % train.length]);

    const file = path.join(fs.mkdtempSync(path.join(dir, 'run-')), 'report.html');
    fs.writeFileSync(file, 'old');
    const losses = Array.from(stepLosses, (v, i): [number, number] => [i + 1, v]);
    const input = { title: 'MLP on synthetic', subtitle: 'two tasks, two domains', losses, history: r.history, notes: ['lr 0.05', 'a < b & c'] };
    expect(writeTrainingReport(file, input)).toBe(file);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['report.html']); // replaced; no temp file left
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toBe(trainingReportHtml(input));

    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<title>MLP on synthetic</title>');
    expect(html).not.toMatch(/<script|<link|src=|href=/);
    // Step loss, epoch loss, then AUC, log loss (click) and MSE (watch): no GAUC without users.
    expect(svgCount(html)).toBe(5);
    for (const h of ['Training loss per step', 'Training loss per epoch', 'Eval AUC', 'Eval Log loss', 'Eval MSE']) expect(html).toContain(`<h2>${h}</h2>`);
    expect(html).not.toContain('GAUC');
    // The step chart: the raw loss and its smoothed twin, each one polyline of every step.
    const stepSvg = html.slice(html.indexOf('<svg '), html.indexOf('</svg>') + 6);
    expect(shapes(stepSvg).map((g) => g.polylines.map((p) => p.length))).toEqual([[48], [48]]);
    expect(stepSvg).toContain('>smoothed</text>');
    // The AUC chart: one series, for click, one point per epoch.
    const aucAt = html.indexOf('<h2>Eval AUC</h2>');
    const aucSvg = html.slice(aucAt, html.indexOf('</svg>', aucAt));
    expect(shapes(aucSvg).map((g) => g.polylines.map((p) => p.length))).toEqual([[3]]);

    const last = r.history[2].metrics!;
    const rows = tableAfter(html, 'Final metrics (epoch 3)');
    expect(rows[0]).toEqual(['task', 'domain', 'n', 'auc', 'logloss', 'mse']);
    expect(rows.slice(1)).toEqual(last.map((m) => [m.task, m.domain, String(m.n), m.auc?.toFixed(4) ?? '', m.logloss?.toFixed(4) ?? '', m.mse?.toFixed(4) ?? '']));
    expect(rows.map((x) => `${x[0]} ${x[1]}`).slice(1)).toEqual(['click all', 'click left', 'click right', 'watch all', 'watch left', 'watch right']);

    const tp = tableAfter(html, 'Throughput');
    expect(tp.slice(1).map((x) => x.slice(0, 3))).toEqual(r.history.map((h) => [String(h.epoch), String(h.samples), h.samplesPerSecond.toFixed(0)]));
    expect(html).toContain('<li>a &lt; b &amp; c</li>');
  });

  it('escapes task names and titles; gaps and GAUC from hand-made history', () => {
    const evil = `<b>&"x'`;
    const metricsAt = (shift: number) =>
      taskMetrics({ outputs: [0.1 + shift, -0.3, 2, 0.4 - shift], labels: [1, 0, 1, 0], tasks: [evil], domains: { ids: [0, 0, 1, 1], names: ['d'] }, users: ['u', 'u', 'v', 'v'] });
    const history: EpochRecord[] = [1, 2].map((epoch) => ({ epoch, loss: 0.7 / epoch, samples: 4, samplesPerSecond: 1000 * epoch, metrics: metricsAt(epoch) }));
    const html = trainingReportHtml({ title: evil, subtitle: evil, losses: [[16, 0.9], [32, 0.8], [48, NaN], [64, 0.6], [70, 0.5]], history });
    expect(html).not.toContain(evil);
    expect(html).not.toContain('<b>');
    expect(html).toContain(`<title>${escapeXml(evil)}</title>`);
    expect(html).toContain(`<h1>${escapeXml(evil)}</h1>`);
    expect(html).toContain(`<td class="text">${escapeXml(evil)}</td>`);
    // Charts: steps, epochs, AUC, GAUC, log loss.
    expect(svgCount(html)).toBe(5);
    expect(html).toContain('<h2>Eval GAUC</h2>');
    const stepSvg = html.slice(html.indexOf('<svg '), html.indexOf('</svg>') + 6);
    expect(shapes(stepSvg).map((g) => g.polylines.map((p) => p.length))).toEqual([
      [2, 2],
      [2, 2],
    ]);
    // The final table lists the 'all' row and the domain's row.
    const rows = tableAfter(html, 'Final metrics (epoch 2)');
    expect(rows[0]).toEqual(['task', 'domain', 'n', 'auc', 'gauc', 'logloss']);
    expect(rows.slice(1).map((x) => x.slice(1, 3))).toEqual([
      ['all', '4'],
      ['d', '2'],
    ]);
  });

  it('a report without eval or step losses, and bad input named', () => {
    const html = trainingReportHtml({ title: 'plain', history: [{ epoch: 1, loss: 0.5, samples: 10, samplesPerSecond: 20 }] });
    expect(svgCount(html)).toBe(1);
    expect(html).not.toContain('Final metrics');
    expect(trainingReportHtml({ title: 'empty', history: [] })).toContain('No epochs recorded.');
    const rec = { epoch: 1, loss: 0.5, samples: 10, samplesPerSecond: 20 };
    const bad: [unknown, string][] = [
      [{ title: 'x' }, 'Expected an array of EpochRecord (FitResult.history) for input.history'],
      [{ title: 1, history: [] }, 'Expected a string for input.title but received 1 of type number'],
      [{ title: 'x', history: [rec, { ...rec, loss: '0.5' }] }, 'Expected a number for input.history[1].loss'],
      [{ title: 'x', history: [{ ...rec, epoch: 1.5 }] }, 'input.history[0].epoch'],
      [{ title: 'x', history: [{ ...rec, metrics: [{ task: 'a', domain: 'all', n: 3, auc: '1' }] }] }, 'input.history[0].metrics[0].auc'],
      [{ title: 'x', history: [], losses: [[1, 1], [2, 2], [3, '3']] }, 'Expected a [step, loss] pair of numbers for input.losses[2]'],
      [{ title: 'x', history: [], losses: [[4, 1], [4, 2]] }, 'input.losses[1][0]'],
      [{ title: 'x', history: [], losses: [[0.5, 1]] }, 'input.losses[0][0]'],
      [{ title: 'x', history: [], losses: 5 }, 'input.losses'],
      [{ title: 'x', history: [], notes: [1] }, 'input.notes[0]'],
      [{ title: 'x', history: [], stepLoss: [1] }, 'Unknown option input.stepLoss'],
    ];
    for (const [input, message] of bad) {
      expect(() => trainingReportHtml(input as never)).toThrow(ArgumentError);
      expect(() => trainingReportHtml(input as never)).toThrow(message);
    }
    expect(() => writeTrainingReport('', { title: 'x', history: [] })).toThrow('Expected a file path for file');
    expect(() => writeTrainingReport(dir, { title: 'x', history: [] })).toThrow('not a directory');
    // A failed render writes nothing.
    const file = path.join(dir, 'never.html');
    expect(() => writeTrainingReport(file, { title: 1 } as never)).toThrow(ArgumentError);
    expect(fs.existsSync(file)).toBe(false);
  });
});
