/**
 * The command line: `gatewise info` reports the backend in text and JSON, unknown commands
 * print the usage and fail, the bin launcher runs from a fresh clone (through tsx), and
 * `train --config` / `eval` / `bench` run a config's job, score its checkpoint, time it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArgumentError, backend } from '../lib';
import { main } from '../lib/cli/main';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

async function run(argv: string[]): Promise<[number, string]> {
  let text = '';
  const code = await main(argv, (s) => (text += s));
  return [code, text];
}

describe('gatewise CLI', () => {
  it('info: the backend and device, as text and as JSON', async () => {
    const [code, text] = await run(['info']);
    expect(code).toBe(0);
    expect(text).toContain(`backend   ${backend().kind} — ${backend().deviceName}`);
    const [, json] = await run(['info', '--json']);
    const r = JSON.parse(json);
    expect(r.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.threads).toBe(backend().numThreads);
  });

  it('unknown commands print the usage and exit 1; help exits 0', async () => {
    const [code, text] = await run(['fly']);
    expect(code).toBe(1);
    expect(text).toContain("unknown command 'fly'");
    expect((await run(['help']))[0]).toBe(0);
  });

  it('the bin launcher runs the CLI in a child process', () => {
    const bin = path.resolve(__dirname, '../bin/gatewise.js');
    const out = execFileSync(process.execPath, [bin, 'info', '--json'], { encoding: 'utf8' });
    expect(JSON.parse(out).backend).toBe(backend().kind);
    expect(spawnSync(process.execPath, [bin, 'nope'], { encoding: 'utf8' }).status).toBe(1);
  }, 30_000);
});

describe('gatewise train / eval / bench', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cli-'));
  writeClickLog(dir, 4000);
  const file = path.join(dir, 'clicks.json');
  fs.writeFileSync(file, JSON.stringify(clickConfig('mmoe', { name: undefined, train: { epochs: 2, batchSize: 256 } })));

  it('train --config prints per-task metrics and writes the outputs; eval scores the checkpoint the same', async () => {
    const [code, text] = await run(['train', '--config', file, '--progress', 'none', '--out', path.join(dir, 'cli-out')]);
    expect(code).toBe(0);
    expect(text).toMatch(/clicks: \d+ steps, 2 epochs/);
    const row = text.split('\n').find((l) => l.startsWith('| click | all |'))!;
    expect(row).toBeDefined();
    expect(fs.existsSync(path.join(dir, 'cli-out', 'checkpoint.gwck'))).toBe(true);
    const [ecode, etext] = await run(['eval', '--config', file, '--checkpoint', path.join(dir, 'cli-out', 'checkpoint.gwck')]);
    expect(ecode).toBe(0);
    expect(etext.split('\n')).toContain(row);
    const [, json] = await run(['eval', '--config', file, '--checkpoint', path.join(dir, 'cli-out', 'checkpoint.gwck'), '--json']);
    expect(JSON.parse(json).find((m: { task: string; domain: string }) => m.task === 'click' && m.domain === 'all').auc).toBeGreaterThan(0.7);
  }, 60_000);

  it('bench --config times training, scoring and serving', async () => {
    const [code, json] = await run(['bench', '--config', file, '--batch', '128', '--steps', '5', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(json);
    expect(r.figures.map((f: { case: string; batch: number }) => `${f.case}@${f.batch}`)).toEqual(['train step@128', 'score (eval)@1024', 'serve@1', 'serve@32', 'serve@256']);
    for (const f of r.figures) expect(f.samplesPerSecond).toBeGreaterThan(0);
  }, 60_000);

  it('bench --profile splits a training step into its phases, which add up to the step', async () => {
    const [code, json] = await run(['bench', '--config', file, '--batch', '128', '--steps', '5', '--profile', '--json']);
    expect(code).toBe(0);
    const phases: { phase: string; ms: number; share: number }[] = JSON.parse(json).phases;
    const names = phases.map((p) => p.phase);
    for (const want of ['forward: table lookups', 'forward: dense layers', 'loss', 'backward', 'optimizer SparseOptimizer', 'optimizer Adam', 'sync', 'host remainder', 'step']) expect(names).toContain(want);
    const step = phases.find((p) => p.phase === 'step')!;
    const parts = phases.filter((p) => p.phase !== 'step');
    expect(step.ms).toBeGreaterThan(0);
    expect(parts.reduce((s, p) => s + p.ms, 0)).toBeCloseTo(step.ms, 6);
    for (const p of parts) expect(p.ms).toBeGreaterThanOrEqual(0);
    const [, text] = await run(['bench', '--config', file, '--batch', '64', '--steps', '3', '--profile']);
    expect(text).toMatch(/^phase +ms\/step +share$/m);
    expect(text).toMatch(/^backward +\d+\.\d{3} +\d+\.\d%$/m);
  }, 60_000);

  it('bad arguments name themselves', async () => {
    await expect(run(['train'])).rejects.toThrow(ArgumentError);
    await expect(run(['train'])).rejects.toThrow(/--config/);
    await expect(run(['train', '--config', file, '--epochs', 'two'])).rejects.toThrow(/--epochs/);
    await expect(run(['train', '--confg', file])).rejects.toThrow(/confg/);
    await expect(run(['eval', '--config', file, '--part', 'dev'])).rejects.toThrow(/--part/);
  });

  it('the bin launcher prints one line and exits 1 on a bad config', () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ...clickConfig('mlp'), model: { kind: 'mmeo' } }));
    const r = spawnSync(process.execPath, [path.resolve(__dirname, '../bin/gatewise.js'), 'train', '--config', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^gatewise: Expected one of .* for config\.model\.kind but received 'mmeo'/);
  }, 30_000);
});

