/**
 * Parity log: when GATEWISE_PARITY_LOG names a file, every comparison that reports here
 * appends one JSON line {file, test, what, maxAbsErr, tolUsed, n} to it, so a GPU run can say
 * how close each CUDA-vs-CPU check came, not only that it passed (native/scripts/gpu-report.js
 * reads the file). tolUsed is the worst |got − want| / (atol + rtol·|want|) (1 = at the
 * tolerance; 0 for exact comparisons). Unset, the default, nothing is computed or written.
 * Lines are small single appends, so parallel vitest workers can share one file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';

const logFile = process.env.GATEWISE_PARITY_LOG;

/**
 * Appends the largest finite |got − want| of one comparison to the log, if there is one, and
 * how much of the tolerance it used ('exact': 0 when bit-identical, else ∞, logged as null).
 */
export function logMaxError(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: { atol: number; rtol: number } | 'exact'): void {
  if (!logFile) return;
  let maxAbsErr = 0;
  let tolUsed = 0;
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; ++i) {
    const g = got[i];
    const w = want[i];
    if (Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w))) continue;
    const e = Math.abs(g - w);
    if (Number.isFinite(e) && e > maxAbsErr) maxAbsErr = e;
    const used = tol === 'exact' ? (g === w ? 0 : Infinity) : Number.isFinite(e) ? e / (tol.atol + tol.rtol * Math.abs(w)) : Infinity;
    if (!(used <= tolUsed)) tolUsed = used;
  }
  const state = expect.getState();
  const line = {
    file: state.testPath ? path.relative(process.cwd(), state.testPath) : '',
    test: state.currentTestName ?? '',
    what,
    maxAbsErr,
    tolUsed: Number.isFinite(tolUsed) ? tolUsed : null,
    n,
  };
  fs.appendFileSync(logFile, JSON.stringify(line) + '\n');
}
