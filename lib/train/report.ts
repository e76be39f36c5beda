/**
 * A training run as one self-contained HTML page: the training loss by step (raw and smoothed), the
 * mean loss per epoch, each eval metric per task across epochs, the final epoch's metrics per
 * task and domain, and throughput. Charts are inline SVG (./chart), styles inline, no script
 * and no external assets: the file can be mailed, archived beside a checkpoint, or opened offline.
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../checkpoint/atomic-write';
import { TaskMetric } from '../metrics/task-metrics';
import { checkInt, checkKnownKeys, checkOptions, invalid } from '../validate';
import { escapeXml, lineChartSvg } from './chart';
import { EpochRecord } from './trainer';

/**
 * What {@link trainingReportHtml} draws: the title, the loss curve, the epochs' metrics and the
 * test metrics.
 */
export interface TrainingReportInput {
  /** The page's heading and <title>. */
  title: string;
  /** A line under the title (model, data, configuration). */
  subtitle?: string;
  /** The training loss as read back: [step, mean loss of the steps since the previous point], by increasing step (JobResult.losses; NaN shows as a gap). */
  losses?: [number, number][];
  /** Trainer.fit's history (FitResult.history). */
  history: EpochRecord[];
  /** Free-text lines listed at the end. */
  notes?: string[];
}

/** Smoothing of the loss's "smoothed" series, per step: a point k steps after the previous one moves the average by 1 − (1 − alpha)^k of the gap, debiased. */
export const REPORT_SMOOTHING_ALPHA = 0.02;

const METRICS = ['auc', 'gauc', 'logloss', 'mse'] as const;
type MetricName = (typeof METRICS)[number];
const METRIC_TITLE: Record<MetricName, string> = { auc: 'AUC', gauc: 'GAUC', logloss: 'Log loss', mse: 'MSE' };

const CSS = [
  'body{font-family:system-ui,sans-serif;margin:2em auto;max-width:720px;padding:0 1em;color:#222}',
  'h1{margin-bottom:0.2em}',
  'h2{margin-top:1.6em;font-size:1.15em}',
  '.subtitle,.summary{color:#555;margin-top:0}',
  'svg.chart{display:block;max-width:100%;height:auto}',
  'table{border-collapse:collapse;font-size:0.9em}',
  'th,td{padding:0.25em 0.7em;border-bottom:1px solid #ddd;text-align:right}',
  'th:first-child,td:first-child,td.text{text-align:left}',
  'td{font-variant-numeric:tabular-nums}',
].join('\n');

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalid('a string', name, value);
  return value;
}

function checkMetric(value: unknown, name: string): TaskMetric {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('a TaskMetric { task, domain, n, … }', name, value);
  const m = value as TaskMetric;
  checkString(m.task, `${name}.task`);
  checkString(m.domain, `${name}.domain`);
  checkInt(m.n, `${name}.n`, 0);
  for (const k of METRICS) if (m[k] !== undefined && typeof m[k] !== 'number') throw invalid('a number or undefined', `${name}.${k}`, m[k]);
  return m;
}

function checkRecord(value: unknown, name: string): EpochRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('an EpochRecord { epoch, loss, samples, samplesPerSecond, metrics? }', name, value);
  const r = value as EpochRecord;
  checkInt(r.epoch, `${name}.epoch`, 0);
  if (typeof r.loss !== 'number') throw invalid('a number', `${name}.loss`, r.loss);
  checkInt(r.samples, `${name}.samples`, 0);
  if (typeof r.samplesPerSecond !== 'number' || r.samplesPerSecond < 0) throw invalid('a non-negative number', `${name}.samplesPerSecond`, r.samplesPerSecond);
  if (r.metrics !== undefined) {
    if (!Array.isArray(r.metrics)) throw invalid('an array of TaskMetric', `${name}.metrics`, r.metrics);
    r.metrics.forEach((m, i) => checkMetric(m, `${name}.metrics[${i}]`));
  }
  return r;
}

function checkInput(input: TrainingReportInput): Required<Omit<TrainingReportInput, 'subtitle' | 'losses'>> & Pick<TrainingReportInput, 'subtitle' | 'losses'> {
  const o = checkOptions(input, 'input');
  checkKnownKeys(o, 'input', ['title', 'subtitle', 'losses', 'history', 'notes']);
  const title = checkString(o.title, 'input.title');
  const subtitle = o.subtitle === undefined ? undefined : checkString(o.subtitle, 'input.subtitle');
  let losses: [number, number][] | undefined;
  if (o.losses !== undefined) {
    if (!Array.isArray(o.losses)) throw invalid('an array of [step, loss] pairs', 'input.losses', o.losses);
    let previous = 0;
    for (let i = 0; i < o.losses.length; ++i) {
      const p: unknown = o.losses[i];
      if (!Array.isArray(p) || p.length !== 2 || typeof p[1] !== 'number') throw invalid('a [step, loss] pair of numbers', `input.losses[${i}]`, p);
      previous = checkInt(p[0], `input.losses[${i}][0]`, previous + 1);
    }
    losses = o.losses;
  }
  if (!Array.isArray(o.history)) throw invalid('an array of EpochRecord (FitResult.history)', 'input.history', o.history);
  const history = o.history.map((r, i) => checkRecord(r, `input.history[${i}]`));
  if (o.notes !== undefined && !Array.isArray(o.notes)) throw invalid('an array of strings', 'input.notes', o.notes);
  const notes = (o.notes ?? []).map((n, i) => checkString(n, `input.notes[${i}]`));
  return { title, subtitle, losses, history, notes };
}

/**
 * The debiased exponential moving average of the finite values (as TensorBoard smooths: the
 * average starts from zero and is divided by 1 − (1 − alpha)^n, so the first steps are not
 * dragged towards the first loss); NaN where the value is not finite (a gap).
 */
function smoothed(points: [number, number][], alpha: number): [number, number][] {
  const out: [number, number][] = [];
  let ema = 0;
  let weight = 0;
  let step = 0;
  for (const [s, v] of points) {
    if (!Number.isFinite(v)) {
      out.push([s, NaN]);
      continue;
    }
    const a = 1 - (1 - alpha) ** (s - step);
    step = s;
    ema += a * (v - ema);
    weight += a * (1 - weight);
    out.push([s, ema / weight]);
  }
  return out;
}

const cell = (v: number | undefined) => (v === undefined ? '' : Number.isNaN(v) ? 'n/a' : v.toFixed(4));

function table(head: string[], rows: string[][], textColumns = 1): string {
  const td = (c: string, j: number) => (j < textColumns ? `<td class="text">${c}</td>` : `<td>${c}</td>`);
  return [
    '<table>',
    `<thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((r) => `<tr>${r.map((c, j) => td(escapeXml(c), j)).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

/** The report as an HTML5 document (see TrainingReportInput). */
export function trainingReportHtml(input: TrainingReportInput): string {
  const { title, subtitle, losses, history, notes } = checkInput(input);
  const body: string[] = [`<h1>${escapeXml(title)}</h1>`];
  if (subtitle !== undefined) body.push(`<p class="subtitle">${escapeXml(subtitle)}</p>`);
  const last = history[history.length - 1];
  const facts = [`${history.length} epoch${history.length === 1 ? '' : 's'}`];
  const steps = losses?.length ? losses[losses.length - 1][0] : 0;
  if (losses) facts.push(`${steps} step${steps === 1 ? '' : 's'}`);
  if (last) facts.push(`final mean training loss ${cell(last.loss)}`);
  body.push(`<p class="summary">${escapeXml(facts.join(' · '))}</p>`);

  if (losses && losses.length > 0) {
    const series = [
      { name: 'loss', points: losses },
      { name: 'smoothed', points: smoothed(losses, REPORT_SMOOTHING_ALPHA) },
    ];
    body.push('<h2>Training loss per step</h2>', lineChartSvg({ title: 'Training loss per step', xLabel: 'step', yLabel: 'loss', series }));
  }

  if (history.length > 0) {
    const points = history.map((r): [number, number] => [r.epoch, r.loss]);
    body.push('<h2>Training loss per epoch</h2>', lineChartSvg({ title: 'Mean training loss per epoch', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'train loss', points }] }));
  }

  // One chart per metric on the eval data's 'all' rows, one series per task.
  const overall = history.flatMap((r) => (r.metrics ?? []).filter((m) => m.domain === 'all').map((m) => ({ epoch: r.epoch, m })));
  const tasks = [...new Set(overall.map(({ m }) => m.task))];
  for (const metric of METRICS) {
    if (!overall.some(({ m }) => m[metric] !== undefined)) continue;
    const series = tasks
      .map((task) => ({ name: task, points: overall.filter(({ m }) => m.task === task && m[metric] !== undefined).map(({ epoch, m }): [number, number] => [epoch, m[metric] as number]) }))
      .filter((s) => s.points.length > 0);
    const name = METRIC_TITLE[metric];
    body.push(`<h2>Eval ${escapeXml(name)}</h2>`, lineChartSvg({ title: `Eval ${name} per epoch (all rows)`, xLabel: 'epoch', yLabel: name, series }));
  }

  if (last?.metrics && last.metrics.length > 0) {
    const cols = METRICS.filter((c) => last.metrics!.some((m) => m[c] !== undefined));
    const rows = last.metrics.map((m) => [m.task, m.domain, String(m.n), ...cols.map((c) => cell(m[c]))]);
    body.push(`<h2>Final metrics (epoch ${last.epoch})</h2>`, table(['task', 'domain', 'n', ...cols], rows, 2));
  }

  if (history.length > 0) {
    const rows = history.map((r) => [String(r.epoch), String(r.samples), Number.isFinite(r.samplesPerSecond) ? r.samplesPerSecond.toFixed(0) : 'n/a', cell(r.loss)]);
    body.push('<h2>Throughput</h2>', table(['epoch', 'samples', 'samples/s', 'mean loss'], rows));
  } else {
    body.push('<p>No epochs recorded.</p>');
  }

  if (notes.length > 0) body.push('<h2>Notes</h2>', `<ul>\n${notes.map((n) => `<li>${escapeXml(n)}</li>`).join('\n')}\n</ul>`);

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes the report to `file` atomically (see writeFileAtomic); returns `file`. */
export function writeTrainingReport(file: string, input: TrainingReportInput): string {
  if (typeof file !== 'string' || file.length === 0) throw invalid('a file path', 'file', file);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw invalid('a file path (not a directory)', 'file', file);
  const html = trainingReportHtml(input);
  writeFileAtomic(file, [Buffer.from(html, 'utf8')]);
  return file;
}
