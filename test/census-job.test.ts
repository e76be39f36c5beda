/**
 * The README's main job (`npm run train:api`, examples/census-job.ts): MMoE trained on the
 * bundled census-income data with the Trainer prints progress, validation metrics, the test
 * AUC per task and per sex, and writes a checkpoint that a fresh model reloads to identical
 * predictions.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm run train:api (examples/census-job.ts)', () => {
  it('trains, reports per-task AUC, and round-trips its checkpoint', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-job-'));
    const tsx = path.resolve(__dirname, '../node_modules/tsx/dist/cli.mjs');
    const r = spawnSync(process.execPath, [tsx, path.resolve(__dirname, '../examples/census-job.ts'), '--epochs', '1', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/epoch 1\/1 +79810 samples +[\d.]+k? samples\/s +loss /);
    const income = /\| income \| all \| 9975 \| (0\.\d+) \|/.exec(text);
    expect(Number(income?.[1])).toBeGreaterThan(0.93);
    expect(text).toContain('| neverMarried | Female | 5140 |');
    expect(text).toContain('predictions identical');
    expect(fs.existsSync(path.join(out, 'census-mmoe.gwck'))).toBe(true);
  }, 120_000);
});
