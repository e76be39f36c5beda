/**
 * The command line: `gatewise info` reports the backend in text and JSON, unknown commands
 * print the usage and fail, and the bin launcher runs from a fresh clone (through tsx).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend } from '../lib';
import { main } from '../lib/cli/main';

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
