/**
 * examples/ (run with `npx tsx examples/<name>.ts`): the quickest one, the MLP demo
 * (`npm run demo`), runs to completion and learns. That every example typechecks is
 * test/tsconfig.json's job (it includes them); that none ships, test/package-contents.test.ts's.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

describe('examples/', () => {
  it('npm run demo (examples/mlp-demo.ts) runs to completion and its loss falls', () => {
    const tsx = path.join(root, 'node_modules/tsx/dist/cli.mjs');
    const r = spawnSync(process.execPath, [tsx, path.join(root, 'examples/mlp-demo.ts')], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const losses = [...r.stdout.matchAll(/^epoch +\d+ +loss ([\d.]+)/gm)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(12);
    expect(losses[11]).toBeLessThan(losses[0] / 4);
  });
});
