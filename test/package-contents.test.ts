/**
 * What `npm pack` ships: no examples (examples/ stays in the repository; lib/examples is
 * gone), and no shipped text refers to a file outside the package (`../shared`, a
 * DESIGN.md that is not packed, a relative path that climbs above the package root). dist/
 * is the compiled lib/, so lib's sources stand in for it when dist/ is not built.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

let packed: string[] = [];
/** The lib/ sources that `npm run build:ts` compiles into dist/ (tsconfig.json's inputs). */
let compiled: string[] = [];

beforeAll(() => {
  // --ignore-scripts: the prepack script builds the addon and dist/; the list needs neither.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  packed = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  compiled = execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--listFilesOnly'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .map((f) => path.relative(root, f.trim()))
    .filter((f) => f && !f.startsWith('..') && !f.startsWith('node_modules'));
}, 60_000);

function isText(file: string): boolean {
  const buf = fs.readFileSync(path.join(root, file));
  return !buf.subarray(0, 8000).includes(0);
}

describe('npm pack', () => {
  it('ships the package files and no examples (examples/, lib/examples, dist/**/examples)', () => {
    expect(packed).toContain('package.json');
    expect(packed).toContain('README.md');
    expect(packed).toContain('bin/gatewise.js');
    expect(compiled).toContain('lib/index.ts');
    expect(packed.filter((f) => /(^|\/)examples\//.test(f))).toEqual([]);
    expect(compiled.filter((f) => /(^|\/)examples\//.test(f))).toEqual([]);
    // An empty lib/examples left behind by the move ships nothing; any file in it would.
    const libExamples = path.join(root, 'lib/examples');
    expect(fs.existsSync(libExamples) ? fs.readdirSync(libExamples, { recursive: true }) : []).toEqual([]);
  });

  it('no shipped text file refers outside the package', () => {
    const shipsDesign = packed.some((f) => path.basename(f) === 'DESIGN.md');
    const problems: string[] = [];
    for (const file of [...new Set([...packed, ...compiled])]) {
      if (!isText(file)) continue;
      const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
      let inFence = false;
      lines.forEach((line, i) => {
        const at = `${file}:${i + 1}`;
        if (file.endsWith('.md') && /^\s*(```|~~~)/.test(line)) inFence = !inFence;
        if (line.includes('../shared')) problems.push(`${at}: refers to ../shared`);
        if (!shipsDesign && /\bDESIGN\.md\b/.test(line)) problems.push(`${at}: refers to DESIGN.md, which is not in the package`);
        // A relative path that climbs above the package root from where the file is shipped
        // (Markdown code blocks excepted: a config shown there is relative to its own folder).
        if (!packed.includes(file) || inFence) return;
        for (const m of line.matchAll(/(?:^|[\s"'(<`=])((?:\.\.\/)+)[\w@.-]/g)) {
          const target = path.posix.join(path.posix.dirname(file), m[1]);
          if (target.startsWith('..')) problems.push(`${at}: ${m[0].trim()}… climbs out of the package`);
        }
      });
    }
    expect(problems).toEqual([]);
  });
});
