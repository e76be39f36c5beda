/**
 * Every command the README and docs/ show is exercised: each one found in a shell block or an
 * inline code span is reduced to its command (`gatewise bench --profile`, `npm run bench --
 * mmoe`, `npx tsx examples/x.ts`) and must appear in COMMANDS below, which says how — run
 * here at a small size, run by a named test file (which must mention it), run by CI's
 * `.ci/run` (which must hold the line), or not runnable here, with the reason. A command
 * added to the docs without an entry fails this test; the entries marked `run` are run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const CLI = ['bin/gatewise.js'];
const TSX = ['--import', 'tsx'];
let out: string;

type How =
  | { run: () => string[]; env?: Record<string, string>; expect?: RegExp }
  | { test: string; mentions: string }
  | { ci: string }
  | { not: string };

/** node with these arguments in the repository root; returns its output, failing on a non-zero exit. */
function node(args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  const text = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}:\n${text.slice(-2000)}`);
  return text;
}

const quickBench = { GATEWISE_BENCH_MIN_MS: '5' };
const bench = (...words: string[]) => [...TSX, 'bench/index.ts', ...words];

const COMMANDS: Record<string, How> = {
  'npm install': { ci: 'npm ci' },
  'npm install gatewise': { not: 'installs the published package from the registry; CI runs the same install script (native/scripts/install.js) from the clone with npm ci' },
  'npm test': { ci: 'npm test' },
  'npm run typecheck': { ci: 'npm test' }, // npm test begins with the same `tsc -p test/tsconfig.json`
  'npm run build:native': { ci: 'npm ci' }, // the install's source build is the same cmake-js compile
  'npm run test:native': { ci: 'npm run test:emu' }, // the same native test program, built for the emulated device (and under the sanitizers)
  'npm run docs': { ci: 'npm run docs' },
  'npm run check:links': { ci: 'npm run check:links' },
  'npm run test:emu': { ci: 'npm run test:emu' },
  'npm run test:sanitize': { ci: 'npm run test:sanitize' },
  'npm run gpu:pack': { not: 'packs the build for a GPU machine; no GPU has been lent to this project' },
  'npm run gpu:check': { not: 'runs on a GPU machine; no GPU has been lent to this project' },
  'apt-get install libgloo-dev': { ci: 'apt-get install -y libgloo-dev' },
  'npm run train': { run: () => [...CLI, 'train', '--config', 'configs/census-mmoe.json', '--epochs', '1', '--out', path.join(out, 'census'), '--progress', 'none'], expect: /\| income \| all \|/ },
  'gatewise train': { run: () => [...CLI, 'train', '--config', 'configs/census-mlp.json', '--epochs', '1', '--out', path.join(out, 'census-mlp'), '--progress', 'none', '--json'], expect: /"test"/ },
  'gatewise eval': { run: () => [...CLI, 'eval', '--config', 'configs/census-mmoe.json', '--checkpoint', path.join(out, 'census', 'checkpoint.gwck')], expect: /income/ },
  'gatewise bench': { run: () => [...CLI, 'bench', '--steps', '3'], expect: /train step/ },
  'gatewise bench --profile': { run: () => [...CLI, 'bench', '--profile', '--steps', '3'], expect: /backward/ },
  'gatewise bench --kernels': { run: () => [...CLI, 'bench', '--kernels', 'gemm 256'], env: quickBench, expect: /gemm/ },
  'gatewise info': { run: () => [...CLI, 'info'], expect: /gatewise/ },
  'gatewise help': { run: () => [...CLI, 'help'], expect: /usage: gatewise/ },
  'gatewise serve': { test: 'test/serve-http.test.ts', mentions: 'serve' },
  'gatewise train --nproc': { test: 'test/distributed-cli.test.ts', mentions: '--nproc' },
  'gatewise train --resume': { test: 'test/distributed-cli.test.ts', mentions: '--resume' },
  'npm run demo': { test: 'test/examples.test.ts', mentions: 'examples/mlp-demo.ts' },
  'npm run train:api': { test: 'test/census-job.test.ts', mentions: 'census-job' },
  'npm run bench': { run: () => bench('--bench', 'elementwise,optim'), env: quickBench, expect: /optim/ }, // every suite, each also run below
  'npm run bench -- --json': { run: () => bench('--bench', 'gemm', 'gemm 256', '--json', path.join(out, 'bench.json')), env: quickBench, expect: /wrote \d+ results/ },
  'npm run bench -- gemm': { run: () => bench('--bench', 'gemm', 'gemm 256'), env: quickBench, expect: /gemm/ },
  'npm run bench -- gated-fc': { run: () => bench('--bench', 'gated-fc'), env: quickBench, expect: /gated-fc/ },
  'npm run bench -- poso-mha': { run: () => bench('--bench', 'poso-mha', 'L50 D64 h4'), env: quickBench, expect: /poso-mha/ },
  'npm run bench -- mmoe': { run: () => bench('--bench', 'mmoe', 'E8 B1024'), env: quickBench, expect: /mmoe/ },
  'npm run bench -- apg': { run: () => bench('--bench', 'apg', 'N256 M256 K8'), env: quickBench, expect: /apg/ },
  'npm run bench -- embedding': { run: () => bench('--bench', 'embedding', 'find c2^16 d8'), env: quickBench, expect: /embedding/ },
  'npm run bench -- hitrate': { test: 'test/embedding-hit-rate.test.ts', mentions: 'hit' },
  'npm run bench -- serve': { run: () => bench('--bench', 'serve', 'c1'), env: { GATEWISE_BENCH_SERVE_SECONDS: '1' }, expect: /req\/s/ },
  'npm run bench -- distributed': { run: () => bench('--bench', 'distributed'), expect: /machines|Gloo/ }, // without the Gloo addon it says so and exits 0
  'tsx bench/census-table.ts': { run: () => [...TSX, 'bench/census-table.ts', '--kinds', 'mlp', '--seeds', '1'], expect: /`mlp`/ },
  'tsx examples/group-gap-report.ts': { run: () => [...TSX, 'examples/group-gap-report.ts', '--seeds', '1', '--samples', '4000', '--epochs', '1'] },
  'tsx examples/sequence-poso-report.ts': { run: () => [...TSX, 'examples/sequence-poso-report.ts', '--seeds', '1', '--samples', '4000', '--epochs', '1'] },
  'tsx examples/census-mmoe-report.ts': { test: 'test/census-mmoe.test.ts', mentions: 'census-mmoe' },
  'tsx examples/census-pepnet-report.ts': { test: 'test/census-pepnet.test.ts', mentions: 'census-pepnet' },
  'tsx examples/census-dynamic-report.ts': { test: 'test/census-dynamic.test.ts', mentions: 'census-dynamic' },
};

/** The command a docs line or code span runs, reduced to the key COMMANDS uses; null for text that only names the tool. */
export function commandKey(text: string): string | null {
  const c = text.replace(/#.*$/, '').replace(/^\$\s*/, '').replace(/^sudo\s+/, '').replace(/^npx\s+/, '').trim();
  let m = /^gatewise\s+(train|eval|serve|bench|info|help)\b(.*)$/.exec(c);
  if (m) {
    const [, sub, rest] = m;
    if (sub === 'train' && /--resume/.test(rest)) return 'gatewise train --resume';
    if (sub === 'train' && /--nproc/.test(rest)) return 'gatewise train --nproc';
    if (sub === 'bench' && /--profile/.test(rest)) return 'gatewise bench --profile';
    if (sub === 'bench' && /--kernels/.test(rest)) return 'gatewise bench --kernels';
    return `gatewise ${sub}`;
  }
  if ((m = /^npm run bench(?:\s+--\s+(.*))?$/.exec(c))) {
    const first = (m[1] ?? '').split(/\s+/).find(Boolean);
    return first ? `npm run bench -- ${first}` : 'npm run bench';
  }
  if ((m = /^npm (run [\w:]+|test|install(?: gatewise)?)\b/.exec(c))) return `npm ${m[1]}`;
  if ((m = /^tsx\s+(\S+\.ts)/.exec(c))) return `tsx ${m[1]}`;
  if ((m = /^apt-get install (\S+)/.exec(c))) return `apt-get install ${m[1]}`;
  return null;
}

/** Every command of README.md and docs/*.md: [file, text, key]. */
function docCommands(): [string, string, string][] {
  const files = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const found: [string, string, string][] = [];
  const add = (file: string, text: string) => {
    for (const part of text.split('&&')) {
      const key = commandKey(part.trim());
      if (key) found.push([file, part.trim(), key]);
    }
  };
  for (const file of files) {
    const md = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const block of md.matchAll(/```(?:sh|bash|shell|console)\n([\s\S]*?)```/g)) for (const line of block[1].split('\n')) add(file, line);
    const prose = md.replace(/```[\s\S]*?```/g, '');
    for (const span of prose.matchAll(/`([^`\n]+)`/g)) if (/^(npx |npm |gatewise |tsx |sudo )/.test(span[1])) add(file, span[1]);
  }
  return found;
}

beforeAll(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-docs-commands-'));
});

describe('the commands in README.md and docs/', () => {
  const found = docCommands();

  it('are found, and each has its way of being exercised', () => {
    expect(found.length).toBeGreaterThan(30);
    const missing = found.filter(([, , key]) => !(key in COMMANDS)).map(([file, text]) => `${file}: ${text}`);
    expect(missing).toEqual([]);
    expect(commandKey('npx gatewise bench --config c.json --profile')).toBe('gatewise bench --profile');
    expect(commandKey('npm run bench -- --json out.json')).toBe('npm run bench -- --json');
    expect(commandKey('gatewise_model_step')).toBeNull();
  });

  it('those left to a test file or CI are there', () => {
    const ci = fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
    for (const [key, how] of Object.entries(COMMANDS)) {
      if ('test' in how) expect(fs.readFileSync(path.join(ROOT, how.test), 'utf8'), `${key}: ${how.test}`).toContain(how.mentions);
      if ('ci' in how) expect(ci, key).toContain(how.ci);
    }
  });

  // In COMMANDS' order: the main job before eval, which reads its checkpoint.
  const runs = Object.entries(COMMANDS).filter((e): e is [string, Extract<How, { run: unknown }>] => 'run' in e[1]);
  it.each(runs)('%s runs at a small size', (_key, how) => {
    const text = node(how.run(), how.env);
    if (how.expect) expect(text).toMatch(how.expect);
  }, 300_000);
});
