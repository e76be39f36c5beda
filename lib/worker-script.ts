/**
 * The script of a worker thread: the compiled `<name>.js` beside the caller in a built package,
 * or, from the TypeScript sources of a repository checkout, `<name>.ts` compiled by tsx in the
 * worker as the main thread compiles it.
 */
import * as path from 'node:path';

/** For `new Worker(file, { eval })`: `dir` is the caller's __dirname, `name` the entry module without its extension. */
export function workerScript(dir: string, name: string): { file: string; eval: boolean } {
  const compiled = !__filename.endsWith('.ts');
  const file = path.join(dir, `${name}${compiled ? '.js' : '.ts'}`);
  return compiled ? { file, eval: false } : { file: `require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, eval: true };
}
