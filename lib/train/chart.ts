/**
 * Line charts as self-contained SVG text: axes with nice ticks (1, 2 or 5 × 10^k apart),
 * one polyline per series in a fixed palette, a legend, a title and axis labels. Nothing
 * external and no script, so the result can be inlined in an HTML report and viewed anywhere.
 * Non-finite y values (a NaN loss) break a line into pieces; a piece of a single point is
 * drawn as a dot; a series longer than CHART_MAX_POINTS is bucket-averaged down to it.
 */
import { ArgumentError } from '../errors';
import { checkInt, checkKnownKeys, checkNumber, checkOptions, invalid } from '../validate';

/** One line of a chart: its legend name and its points. */
export interface ChartSeries {
  /** Shown in the legend. */
  name: string;
  /** [x, y] pairs, drawn in the given order; x finite, y may be NaN or ±Infinity (a gap). */
  points: [number, number][];
}

/** What {@link lineChartSvg} draws: the titles, the series and the image's size. */
export interface LineChartOptions {
  /** The chart's heading. */
  title: string;
  /** The x axis's label. */
  xLabel: string;
  /** The y axis's label. */
  yLabel: string;
  /** The lines, drawn in order, each in the next colour of the palette. */
  series: ChartSeries[];
  /** Width of the image in px (default 640). */
  width?: number;
  /** Height of the image in px (default 320; grows when a long legend needs more room). */
  height?: number;
  /** Log-scaled y axis: not supported yet, so only false (the default) is accepted. */
  logY?: false;
}

/** Points per series above which a series is bucket-averaged down to this many. */
export const CHART_MAX_POINTS = 1000;

/** Series colors, in order (category10); from the 11th series on they repeat, dashed. */
export const CHART_PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'] as const;

const MIN_WIDTH = 200;
const MIN_HEIGHT = 120;
const FONT = 12;
/** Margins around the plot area: title above, tick labels and axis labels left and below. */
const M = { top: 30, right: 16, bottom: 40, left: 62 };
const LEGEND_ROW = 18;
const MIN_PLOT_HEIGHT = 60;

/** Text made safe for XML and HTML, in element content and in quoted attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '\ufffd'); // not allowed in XML 1.0
}

export interface NiceTicks {
  /** The axis range: the first and the last tick, which enclose the data. */
  min: number;
  max: number;
  /** 1, 2 or 5 × 10^k. */
  step: number;
  ticks: number[];
}

/**
 * Ticks about `count` intervals apart, `step` apart, from the last multiple of `step` at or below `lo`
 * to the first at or above `hi`. With `integer`, the step is at least 1 (epochs, steps). Needs lo < hi.
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): NiceTicks {
  checkNumber(lo, 'lo');
  checkNumber(hi, 'hi');
  if (!(hi > lo)) throw new ArgumentError(`Expected hi > lo for niceTicks but received lo ${lo} and hi ${hi}`);
  checkInt(count, 'count', 1);
  const rough = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / mag;
  let step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  if (integer && step < 1) step = 1;
  step = clean(step);
  let first = Math.round(lo / step);
  while (clean(first * step) > lo) --first;
  let last = Math.round(hi / step);
  while (clean(last * step) < hi) ++last;
  const ticks: number[] = [];
  for (let k = first; k <= last; ++k) ticks.push(clean(k * step));
  return { min: ticks[0], max: ticks[ticks.length - 1], step, ticks };
}

/** k × step without the float noise (0.30000000000000004 → 0.3). */
function clean(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(15));
}

const SUFFIXES: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** Short labels for ticks `step` apart: 0.05, 1.5, 2500, 20k, 1.5M, 2e-5. */
export function formatTicks(ticks: readonly number[], step: number): string[] {
  const maxAbs = Math.max(...ticks.map(Math.abs));
  if (maxAbs >= 1e4) {
    const [scale, suffix] = SUFFIXES.find(([s]) => maxAbs >= s) ?? SUFFIXES[SUFFIXES.length - 1];
    return ticks.map((t) => (t === 0 ? '0' : fixed(t / scale, step / scale) + suffix));
  }
  if (maxAbs < 1e-3) {
    return ticks.map((t) => {
      if (t === 0) return '0';
      const digits = Math.max(0, Math.floor(Math.log10(Math.abs(t)) + 1e-9) - Math.floor(Math.log10(step) + 1e-9));
      return t.toExponential(digits).replace(/\.?0+e/, 'e').replace('e+', 'e');
    });
  }
  return ticks.map((t) => fixed(t, step));
}

/** `v` with as many decimals as `step` needs, trailing zeros dropped. */
function fixed(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const s = v.toFixed(Math.min(decimals, 20));
  const t = s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  return t === '-0' ? '0' : t;
}

/**
 * At most `max` points: runs of ⌈n/max⌉ or ⌊n/max⌋ consecutive points replaced by their mean x and
 * mean y (non-finite when any y in the run is, so a NaN still shows as a gap).
 */
export function downsample(points: readonly (readonly [number, number])[], max = CHART_MAX_POINTS): [number, number][] {
  const n = points.length;
  if (n <= max) return points.map(([x, y]) => [x, y]);
  const out: [number, number][] = [];
  for (let b = 0; b < max; ++b) {
    const from = Math.floor((b * n) / max);
    const to = Math.floor(((b + 1) * n) / max);
    let sx = 0;
    let sy = 0;
    for (let i = from; i < to; ++i) {
      sx += points[i][0];
      sy += points[i][1];
    }
    out.push([sx / (to - from), Number.isFinite(sy) ? sy / (to - from) : NaN]);
  }
  return out;
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalid('a string', name, value);
  return value;
}

function checkSeries(value: unknown, name: string): ChartSeries {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('a series { name, points }', name, value);
  const s = value as Partial<ChartSeries>;
  checkKnownKeys(s, name, ['name', 'points']);
  checkString(s.name, `${name}.name`);
  if (!Array.isArray(s.points)) throw invalid('an array of [x, y] pairs', `${name}.points`, s.points);
  s.points.forEach((p, i) => {
    const at = `${name}.points[${i}]`;
    if (!Array.isArray(p) || p.length !== 2) throw invalid('an [x, y] pair', at, p);
    checkNumber(p[0], `${at}[0]`);
    if (typeof p[1] !== 'number') throw invalid('a number (NaN or ±Infinity for a gap)', `${at}[1]`, p[1]);
  });
  return s as ChartSeries;
}

/** Pads a degenerate range [v, v] to one around v. */
function padded(lo: number, hi: number, integer: boolean): [number, number] {
  if (hi > lo) return [lo, hi];
  const pad = integer ? 1 : Math.abs(lo) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

/** Runs of consecutive finite points. */
function pieces(points: readonly [number, number][]): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const p of points) {
    if (Number.isFinite(p[1])) cur.push(p);
    else if (cur.length) (out.push(cur), (cur = []));
  }
  if (cur.length) out.push(cur);
  return out;
}

const f1 = (v: number) => (Math.round(v * 10) / 10).toString();
/** Rough width of `text` at the chart's font size (no layout engine here). */
const textWidth = (text: string) => text.length * FONT * 0.6;

/** The chart as an `<svg>` element (see LineChartOptions). */
export function lineChartSvg(options: LineChartOptions): string {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['title', 'xLabel', 'yLabel', 'series', 'width', 'height', 'logY']);
  const title = checkString(o.title, 'options.title');
  const xLabel = checkString(o.xLabel, 'options.xLabel');
  const yLabel = checkString(o.yLabel, 'options.yLabel');
  if (!Array.isArray(o.series)) throw invalid('an array of series { name, points }', 'options.series', o.series);
  const series = o.series.map((s, i) => checkSeries(s, `options.series[${i}]`));
  const width = checkInt(o.width ?? 640, 'options.width', MIN_WIDTH);
  let height = checkInt(o.height ?? 320, 'options.height', MIN_HEIGHT);
  if (o.logY !== undefined && o.logY !== false) throw invalid('false (a log-scaled y axis is not supported yet)', 'options.logY', o.logY);

  const data = series.map((s) => downsample(s.points));
  let xLo = Infinity;
  let xHi = -Infinity;
  let yLo = Infinity;
  let yHi = -Infinity;
  let xInteger = true;
  for (const pts of data) {
    for (const [x, y] of pts) {
      if (!Number.isFinite(y)) continue;
      xLo = Math.min(xLo, x);
      xHi = Math.max(xHi, x);
      yLo = Math.min(yLo, y);
      yHi = Math.max(yHi, y);
      xInteger &&= Number.isInteger(x);
    }
  }
  const open = (h: number) =>
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="${FONT}">` +
    `<title>${escapeXml(title)}</title>` +
    `<text x="${width / 2}" y="${M.top - 12}" text-anchor="middle" font-size="${FONT + 2}" font-weight="bold">${escapeXml(title)}</text>`;
  if (xLo > xHi) {
    return `${open(height)}<text class="no-data" x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#888">no data</text></svg>`;
  }

  // Legend rows below the x label, items laid left to right.
  const legend: { x: number; row: number }[] = [];
  let lx = M.left;
  let row = 0;
  for (const s of series) {
    const w = 22 + textWidth(s.name) + 16;
    if (lx > M.left && lx + w > width - M.right) (lx = M.left), ++row;
    legend.push({ x: lx, row });
    lx += w;
  }
  const legendHeight = series.length ? (row + 1) * LEGEND_ROW : 0;
  height = Math.max(height, M.top + MIN_PLOT_HEIGHT + M.bottom + legendHeight);
  const plotW = width - M.left - M.right;
  const plotH = height - M.top - M.bottom - legendHeight;

  const xt = niceTicks(...padded(xLo, xHi, xInteger), 5, xInteger);
  const yt = niceTicks(...padded(yLo, yHi, false), 5);
  const px = (x: number) => M.left + ((x - xt.min) / (xt.max - xt.min)) * plotW;
  const py = (y: number) => M.top + plotH - ((y - yt.min) / (yt.max - yt.min)) * plotH;
  const bottom = M.top + plotH;

  const parts: string[] = [open(height)];
  parts.push('<g class="grid" stroke="#e5e5e5">');
  for (const t of yt.ticks) parts.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${f1(py(t))}" y2="${f1(py(t))}"/>`);
  parts.push('</g>');
  parts.push(`<g class="axes" stroke="#333"><line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${bottom}"/><line x1="${M.left}" x2="${M.left + plotW}" y1="${bottom}" y2="${bottom}"/></g>`);
  parts.push('<g class="y-ticks" text-anchor="end">');
  formatTicks(yt.ticks, yt.step).forEach((label, i) => {
    const y = f1(py(yt.ticks[i]));
    parts.push(`<line x1="${M.left - 4}" x2="${M.left}" y1="${y}" y2="${y}" stroke="#333"/><text x="${M.left - 6}" y="${y}" dy="0.32em">${escapeXml(label)}</text>`);
  });
  parts.push('</g><g class="x-ticks" text-anchor="middle">');
  formatTicks(xt.ticks, xt.step).forEach((label, i) => {
    const x = f1(px(xt.ticks[i]));
    parts.push(`<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/><text x="${x}" y="${bottom + 16}">${escapeXml(label)}</text>`);
  });
  parts.push('</g>');
  parts.push(`<text class="x-label" x="${M.left + plotW / 2}" y="${bottom + 34}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  parts.push(`<text class="y-label" transform="translate(14 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);

  data.forEach((pts, i) => {
    const color = CHART_PALETTE[i % CHART_PALETTE.length];
    const dash = i >= CHART_PALETTE.length ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<g class="series" data-series="${i}">`);
    for (const piece of pieces(pts)) {
      if (piece.length === 1) parts.push(`<circle cx="${f1(px(piece[0][0]))}" cy="${f1(py(piece[0][1]))}" r="3" fill="${color}"/>`);
      else parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash} stroke-linejoin="round" points="${piece.map(([x, y]) => `${f1(px(x))},${f1(py(y))}`).join(' ')}"/>`);
    }
    parts.push('</g>');
  });

  parts.push('<g class="legend">');
  series.forEach((s, i) => {
    const color = CHART_PALETTE[i % CHART_PALETTE.length];
    const dash = i >= CHART_PALETTE.length ? ' stroke-dasharray="6 3"' : '';
    const y = bottom + M.bottom + legend[i].row * LEGEND_ROW + LEGEND_ROW / 2;
    const x = legend[i].x;
    parts.push(`<line x1="${x}" x2="${x + 16}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${dash}/><text x="${x + 22}" y="${y}" dy="0.32em">${escapeXml(s.name)}</text>`);
  });
  parts.push('</g></svg>');
  return parts.join('');
}
