#!/usr/bin/env node
// gpu-report.js WORK OUT.md — turns the raw results gpu-check.sh left in WORK into ONE
// Markdown report: device and driver; every native parity case and TS parity test with
// pass/fail and its max error; every bench case with its time, rate, share of the ceiling
// measured on the same machine (STREAM triad for GB/s, the FMA probe for GFLOP/s on a GPU)
// and its speed against PyTorch eager and torch.compile on the same shapes; and for whatever
// did not run, "skipped: <reason>". Prints a short summary (the device tool shows the tail).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [work, outFile] = process.argv.slice(2);
if (!work || !outFile) {
  console.error('usage: gpu-report.js WORK OUT.md');
  process.exit(2);
}
const root = path.resolve(__dirname, '..', '..');

// ---- reading WORK (every file may be missing: a phase skipped, failed or ran out of time)
const read = (f) => {
  try {
    return fs.readFileSync(path.join(work, f), 'utf8');
  } catch {
    return null;
  }
};
const readJson = (f) => {
  try {
    return JSON.parse(read(f));
  } catch {
    return null;
  }
};
const readJsonLines = (f) => (read(f) ?? '').split('\n').filter(Boolean).flatMap((l) => {
  try {
    return [JSON.parse(l)];
  } catch {
    return []; // a line cut off by a kill
  }
});

const phases = (read('phases.tsv') ?? '').split('\n').slice(1).filter(Boolean).map((l) => {
  const [name, status, seconds] = l.split('\t');
  return { name, status, seconds: Number(seconds) };
});
const phase = (name) => phases.find((p) => p.name === name);
const probe = readJson('probe.json');
const info = probe?.backendInfo;
const fma = readJson('fma-peak.json');
const manifest = readJson('manifest.json');
const sourcesHash = (read('sources-hash.txt') ?? '').trim();

/** Why CUDA work skipped here, from the addon's own words. */
const noCudaReason = probe?.error ? `the addon did not load: ${probe.error}` : info && info.cudaDeviceCount === 0 ? info.cudaUnavailableReason : null;

// ---- formatting
const fmtMs = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
const fmtErr = (e) => (e === null || e === undefined ? '—' : e === 0 ? '0' : e.toExponential(2));
const fmtUsed = (u) => (u === null || u === undefined ? '∞' : u.toFixed(2));
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (head, rows) => (rows.length ? [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- |').join('')}`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n') : '');
const skipLine = (p, fallback) => `skipped: ${p?.status?.startsWith('skipped: ') ? p.status.slice(9) : fallback}`;
/** rows' result column (index col) as "skipped" where it repeats one reason, said once above the table instead. */
function hoistSkips(rows, col) {
  const reasons = new Set(rows.map((r) => r[col]).filter((r) => r.startsWith('skipped: ')));
  if (reasons.size !== 1) return '';
  const [reason] = reasons;
  for (const r of rows) if (r[col] === reason) r[col] = 'skipped';
  return `${rows.filter((r) => r[col] === 'skipped').length} of ${rows.length} ${reason}`;
}

const md = [];
const summary = [];
const failures = [];

// ---- header and device
const device = info?.deviceName ?? 'no device';
md.push(`# gatewise GPU check — ${info?.cudaDeviceCount ? device : 'no CUDA device'}`, '');
md.push(`Generated ${new Date().toISOString()} by native/scripts/gpu-report.js from native/scripts/gpu-check.sh's results.`, '');
if (manifest && sourcesHash && manifest.sourcesHash !== sourcesHash) {
  md.push(`**Warning: the packed binaries are stale**: native sources hash ${sourcesHash} here, ${manifest.sourcesHash} when \`npm run gpu:pack\` built them. Results below are of the packed build.`, '');
}

md.push('## Device', '');
const smi = (read('nvidia-smi.log') ?? '').split('\n');
const smiHead = smi.findIndex((l) => l.startsWith('name, driver_version'));
const dev = [];
if (smiHead >= 0 && smi[smiHead + 1]) {
  const keys = smi[smiHead].split(', ');
  const vals = smi[smiHead + 1].split(', ');
  dev.push(...keys.map((k, i) => [`nvidia-smi ${k}`, vals[i]]));
} else dev.push(['nvidia-smi', skipLine(phase('nvidia-smi'), 'no output')]);
if (info) {
  dev.push(['addon sees', info.cudaDeviceCount ? `${info.deviceName}, cc ${info.computeCapability}, ${(info.totalMemory / 2 ** 30).toFixed(1)} GiB` : info.cudaUnavailableReason]);
  dev.push(['addon', `${probe.addonPath} (CUDA kernels ${info.cudaBuilt ? 'built' : 'NOT built'}); CPU ${info.cpuIsa}, ${info.numThreads} threads`]);
} else dev.push(['addon', probe?.error ? `did not load: ${probe.error}` : skipLine(phase('probe'), 'no probe')]);
if (fma && !fma.error) dev.push(['FMA peak (fp32)', `${fma.measuredGflops.toFixed(0)} GFLOP/s measured (bench/fma_peak.cu), data sheet ${fma.sheetGflops.toFixed(0)} at ${fma.clockMHz} MHz × ${fma.sms} SMs`]);
else dev.push(['FMA peak (fp32)', fma?.error ? `not measured: ${fma.error}` : skipLine(phase('fma-peak'), 'not measured')]);
const torchHead = (m) => (read(`torch-${m}.log`) ?? '').split('\n').find((l) => l.startsWith('torch '));
const host = (read('paths.txt') ?? '').split('\n').find((l) => l.startsWith('host='));
if (host) dev.push(['host', host.slice(5)]);
dev.push(['node', probe?.node ?? '—'], ['PyTorch', torchHead('eager') ?? torchHead('compile') ?? skipLine(phase('torch-eager'), 'did not run')]);
if (manifest) dev.push(['pack', `commit ${manifest.commit.slice(0, 10)} (+${manifest.dirtyFiles} changed files), built ${manifest.created}, node ${manifest.node}, CUDA archs ${manifest.cudaArchitectures}, ${manifest.nvcc}`]);
md.push(table(['', ''], dev), '');

md.push('## Phases', '');
md.push(table(['phase', 'status', 'seconds'], phases.map((p) => [p.name, p.status, p.seconds])), '');
md.push(`Total: ${phases.reduce((s, p) => s + p.seconds, 0)} s (the report and archive not counted).`, '');
const cut = phases.filter((p) => p.status.startsWith('timed out') || p.status.includes('budget'));
if (cut.length) summary.push(`cut by time: ${cut.map((p) => p.name).join(', ')}`);

// ---- native parity
md.push('## Native parity (gw_native_tests, CUDA kernels against their CPU twins)', '');
const nativeLog = read('native.log');
if (nativeLog === null) {
  md.push(skipLine(phase('native'), 'did not run'), '');
  summary.push(`native parity: ${skipLine(phase('native'), 'did not run')}`);
} else {
  const cases = new Map();
  let note = null;
  for (const line of nativeLog.split('\n')) {
    let m;
    if ((m = /^(ok|FAIL|skip)\s+(\S+?)(?::\s(.*)|\s\((.*)\))?$/.exec(line))) cases.set(m[2], { result: m[1], detail: m[3] ?? m[4] ?? '' });
    else if ((m = /^maxerr (\S+) (\S+) (\S+) (.*) \((\d+) checks\)$/.exec(line))) Object.assign(cases.get(m[1]) ?? {}, { err: Number(m[2]), used: Number(m[3]), what: m[4], checks: m[5] });
    else if ((m = /^note: (.*)$/.exec(line))) note = m[1];
  }
  const rows = [...cases].map(([name, c]) => [name, c.result === 'skip' ? `skipped: ${c.detail}` : c.result === 'FAIL' ? `**FAIL**: ${c.detail}` : 'ok', c.err === undefined ? '—' : fmtErr(c.err), c.used === undefined ? '—' : fmtUsed(Number.isFinite(c.used) ? c.used : null), c.what ?? '']);
  const n = (r) => [...cases.values()].filter((c) => c.result === r).length;
  const p = phase('native');
  if (note) md.push(`Note from the program: ${note}`, '');
  const skipped = hoistSkips(rows, 1);
  if (skipped) md.push(`${skipped}.`, '');
  if (p && p.status !== 'ok' && !(p.status === 'exit 1' && n('FAIL'))) md.push(`**The program ended early (${p.status})**: cases after the last one listed did not run.`, '');
  md.push(table(['case', 'result', 'max abs err', 'tol used', 'worst check'], rows), '');
  md.push('tol used: the largest |got − want| / (atol + rtol·|want|) over the case\'s checks (1 = at the tolerance).', '');
  summary.push(`native parity: ${n('ok')} ok, ${n('FAIL')} FAIL, ${n('skip')} skipped${p && p.status !== 'ok' && p.status !== 'exit 1' ? ` (${p.status})` : ''}`);
  for (const [name, c] of cases) if (c.result === 'FAIL') failures.push(`native ${name}: ${c.detail}`);
}

// ---- TS parity: one vitest run per file (parity-<file> phases), max errors from GATEWISE_PARITY_LOG
md.push('## TS parity (vitest: the CUDA-vs-CPU blocks)', '');
const pattern = new RegExp((read('parity-pattern.txt') ?? 'against').trim());
const errs = new Map(); // file|test → the largest error over its comparisons, and the one closest to its tolerance
for (const e of readJsonLines('parity.jsonl')) {
  const k = `${e.file}|${e.test}`;
  const t = errs.get(k) ?? { err: 0, used: 0, what: '', n: 0, file: e.file, test: e.test, seen: false };
  t.err = Math.max(t.err, e.maxAbsErr);
  if (t.n++ === 0 || e.tolUsed === null || (t.used !== null && e.tolUsed > t.used)) Object.assign(t, { used: e.tolUsed, what: e.what });
  errs.set(k, t);
}
const parityPhases = phases.filter((p) => p.name.startsWith('parity-'));
const rows = [];
const count = { passed: 0, failed: 0, skipped: 0, 'no verdict': 0 };
const errCells = (e) => [e ? fmtErr(e.err) : '—', e ? fmtUsed(e.used) : '—', e?.what ?? ''];
for (const p of parityPhases) {
  const rel = `test/${p.name.slice(7)}.test.ts`;
  const vitest = readJson(`${p.name}.json`);
  if (!vitest) {
    // killed or never started: what the parity log saw, without verdicts
    const seen = [...errs.values()].filter((e) => e.file === rel);
    const why = p.status.startsWith('skipped') ? p.status : `no verdict: vitest ${p.status}, see ${p.name}.log`;
    if (!seen.length) rows.push([rel.slice(5), '(file)', why, '—', '—', '', '']);
    for (const e of seen) rows.push([rel.slice(5), e.test, why, ...errCells(e), '']);
    count[p.status.startsWith('skipped') ? 'skipped' : 'no verdict'] += Math.max(seen.length, 1);
    if (!p.status.startsWith('skipped')) failures.push(`${rel}: ${why}`);
    continue;
  }
  for (const file of vitest.testResults) {
    const tests = file.assertionResults.filter((t) => pattern.test([...t.ancestorTitles, t.title].join(' ')));
    if (!tests.length && file.status === 'failed') {
      rows.push([rel.slice(5), '(file)', `**FAIL**: ${(file.message ?? '').split('\n')[0]}`, '—', '—', '', '']);
      failures.push(`${rel}: ${(file.message ?? '').split('\n')[0]}`);
      count.failed++;
    }
    for (const t of tests) {
      const name = [...t.ancestorTitles, t.title].join(' > ');
      const status = t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'failed' : 'skipped';
      count[status]++;
      const message = (t.failureMessages[0] ?? '').split('\n')[0];
      const result = status === 'passed' ? 'ok' : status === 'failed' ? `**FAIL**: ${message}` : `skipped: ${noCudaReason ?? 'skipped by the suite'}`;
      if (status === 'failed') failures.push(`${rel} ${name}: ${message}`);
      rows.push([rel.slice(5), name, result, ...errCells(errs.get(`${rel}|${name}`)), t.duration === undefined || t.duration === null ? '' : Math.round(t.duration)]);
    }
  }
}
if (!parityPhases.length) md.push('skipped: no parity file ran', '');
const skippedAll = hoistSkips(rows, 2);
if (skippedAll) md.push(`${skippedAll}.`, '');
md.push(table(['file', 'test', 'result', 'max abs err', 'tol used', 'closest check', 'ms'], rows), '');
md.push('max abs err / tol used: over every comparison in the test (GATEWISE_PARITY_LOG); "—": it compared nothing numeric or did not run.', '');
summary.push(`TS parity: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped${count['no verdict'] ? `, ${count['no verdict']} without a verdict (vitest cut off)` : ''}`);

// ---- benches
md.push('## Benches', '');
const split = (r) => {
  const t = r.case.split(' ');
  const stage = ['fwd', 'fwd+bwd'].includes(t[t.length - 1]) ? t.pop() : '';
  const variant = stage ? t.pop() : '';
  const cfg = Object.keys(r.config ?? {}).sort().map((k) => `${k}=${r.config[k]}`).join(' ');
  return { key: [r.bench, [...t, stage].join(' '), cfg].join('|'), variant };
};
const torch = {};
const torchVariants = new Set(); // bench|variant names PyTorch has (naive, loop, decomposed, …)
for (const mode of ['eager', 'compile']) {
  torch[mode] = new Map();
  for (const r of readJsonLines(`torch-${mode}.jsonl`)) {
    if (r.error) {
      failures.push(`torch ${mode} ${r.bench}: ${r.error}`);
      continue;
    }
    const s = split(r);
    torch[mode].set(s.key, [...(torch[mode].get(s.key) ?? []), { ...r, variant: s.variant, used: false }]);
    torchVariants.add(`${r.bench}|${s.variant}`);
  }
}
/**
 * The torch case to compare with: its namesake where PyTorch has a variant of that name (naive,
 * loop, decomposed, …; none if that one did not run), else PyTorch's fastest on the shape.
 */
const against = (mode, r) => {
  const s = split(r);
  const cands = torch[mode].get(s.key) ?? [];
  const named = torchVariants.has(`${r.bench}|${s.variant}`);
  const same = cands.find((c) => c.variant === s.variant);
  if (!cands.length || (named && !same)) return null;
  const best = same ?? cands.reduce((a, b) => (b.medianMs < a.medianMs ? b : a));
  cands.forEach((c) => (c.used = true));
  return { ms: best.medianMs, label: cands.length > 1 || (best.variant && best.variant !== 'torch') ? ` (${same ? '' : 'best: '}${best.variant})` : '' };
};
const benchPhases = phases.filter((p) => p.name.startsWith('bench-'));
const triads = new Set();
let benchCases = 0;
for (const p of benchPhases) {
  const results = readJsonLines(`${p.name}.jsonl`);
  md.push(`### ${p.name.slice(6)}`, '');
  if (p.status !== 'ok') md.push(p.status.startsWith('skipped') ? p.status : `**${p.status}** (${p.seconds} s)${results.length ? ': the cases below finished' : ''}; see ${p.name}.log`, '');
  if (!results.length) continue;
  const cpu = results.find((r) => r.device.startsWith('CPU'));
  if (cpu) md.push(`Backend: **${cpu.device}**, not CUDA.`, '');
  const rows = results.map((r) => {
    let share = '';
    if (r.ceiling > 0) share = `${((100 * r.rate) / r.ceiling).toFixed(0)}% of ${r.ceiling.toFixed(0)} (${r.ceilingSource})`;
    else if (r.unit === 'GFLOP/s' && fma?.measuredGflops) share = `${((100 * r.rate) / fma.measuredGflops).toFixed(1)}% of ${fma.measuredGflops.toFixed(0)} (measured FMA peak)`;
    if (r.unit === 'GB/s' && /STREAM/.test(r.ceilingSource)) triads.add(r.ceiling.toFixed(0));
    const vs = ['eager', 'compile'].map((m) => {
      const t = against(m, r);
      return t ? [`${fmtMs(t.ms)}${t.label}`, `${(t.ms / r.medianMs).toFixed(2)}×`] : ['—', '—'];
    });
    return [r.case, Object.entries(r.config).map(([k, v]) => `${k}=${v}`).join(' '), fmtMs(r.medianMs), `${r.rate.toFixed(1)} ${r.unit}`, share, ...vs.flat(), r.note ?? ''];
  });
  benchCases += rows.length;
  md.push(table(['case', 'config', 'ms', 'rate', 'of ceiling', 'torch eager ms', 'vs eager', 'torch compile ms', 'vs compile', 'note'], rows), '');
}
if (!benchPhases.length) md.push('skipped: no bench ran', '');
md.push('vs eager / vs compile: PyTorch\'s time over gatewise\'s on the same shapes (> 1: gatewise faster); "best:" the faster of PyTorch\'s variants where gatewise\'s has no namesake.', '');
if (triads.size) md.push(`STREAM triad measured by each bench process: ${[...triads].join(', ')} GB/s.`, '');
const okBenches = benchPhases.filter((p) => p.status === 'ok').length;
summary.push(benchPhases.every((p) => p.status.startsWith('skipped')) ? `benches: ${benchPhases[0]?.status ?? 'none'}` : `benches: ${benchCases} cases from ${okBenches}/${benchPhases.length} bench processes ok`);

// PyTorch results nothing matched (e.g. the gatewise bench did not run)
for (const mode of ['eager', 'compile']) {
  const p = phase(`torch-${mode}`);
  const rows = [...torch[mode].values()].flat();
  summary.push(`torch ${mode}: ${p ? (p.status === 'ok' ? `${rows.length} cases` : `${p.status}${rows.length ? `, ${rows.length} cases` : ''}`) : 'did not run'}`);
  const unmatched = rows.filter((r) => !r.used);
  if (!rows.length) md.push(`### PyTorch ${mode}`, '', p ? (p.status.startsWith('skipped') ? p.status : `no results (${p.status}); see torch-${mode}.log`) : 'skipped: not asked for', '');
  else if (unmatched.length) {
    md.push(`### PyTorch ${mode}: cases without a gatewise result`, '');
    md.push(table(['bench', 'case', 'config', 'ms', 'rate'], unmatched.map((r) => [r.bench, r.case, Object.entries(r.config).map(([k, v]) => `${k}=${v}`).join(' '), fmtMs(r.medianMs), `${r.rate.toFixed(1)} ${r.unit}`])), '');
  }
}

const top = ['## Summary', '', ...summary.map((s) => `- ${s}`), ''];
if (failures.length) top.push('## Failures', '', ...failures.map((f) => `- ${cell(f)}`), '');
md.splice(md.indexOf('## Device'), 0, ...top);
fs.writeFileSync(outFile, md.join('\n') + '\n');
console.log(`gpu-report: ${outFile}`);
for (const s of summary) console.log(`  ${s}`);
for (const f of failures.slice(0, 20)) console.log(`  FAIL ${f}`);
if (failures.length > 20) console.log(`  … ${failures.length - 20} more failures in the report`);
