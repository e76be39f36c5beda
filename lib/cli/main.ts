/**
 * The `gatewise` command line. Each command is a function from its arguments to an exit
 * code; errors print one line (the library's messages name the bad argument) and exit 1.
 *   gatewise train --config <file>   train a config's job (see lib/train/config.ts)
 *   gatewise eval --config <file>    score its checkpoint
 *   gatewise serve --config <file>   serve its checkpoint over HTTP (lib/serve/http/)
 *   gatewise bench [--config <file>] time its model; --kernels: the kernel microbenchmarks
 *   gatewise info [--json]           version, backend, devices
 *   gatewise help                    this text
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { benchCommand } from './bench';
import { formatInfo, infoReport } from './info';
import { serveCommand } from './serve';
import { evalCommand, trainCommand } from './train';

const USAGE = `usage: gatewise <command> [options]

commands:
  train --config <file> [--epochs N] [--out <dir>] [--worker] [--progress auto|bar|lines|none] [--json]
                  train the model a config describes on its data; writes the checkpoint,
                  metrics.json and report.html under its output folder (default runs/<name>)
  train --config <file> --nproc N [--nnodes N --node-rank R --master-addr A --master-port P]
        [--resume <checkpoint>]
                  the job on N ranks per machine over Gloo (data parallel, sharded table), as
                  torchrun launches them; --resume continues from a checkpoint at any world size
  bench --profile [--config <file>]
                  one training step split into its phases: lookups, dense layers, loss,
                  backward, each optimizer, the loss read back, host time
  eval --config <file> [--checkpoint <file>] [--data <file>] [--part test|valid|train] [--json]
                  score a checkpoint: AUC, GAUC, logloss, MSE per task and per domain
  serve --config <file> [--checkpoint <file> | --fresh] [--port N] [--host H] [--workers N]
        [--threads N] [--max-batch N] [--max-delay-ms N] [--timeout-ms N] [--max-body-bytes N] [--max-rows N]
        [--max-queue N] [--updates <dir>|none] [--admin-port N] [--admin-host H]
                  serve a checkpoint (default: the config's) over HTTP: POST /predict, GET /healthz,
                  /readyz, /metrics; updates from <output.dir>/updates and POST /admin/update are
                  applied between batches; SIGTERM answers what was received, then exits
  bench [--config <file>] [--batch N] [--steps N] [--json]
                  time the config's model (default: the bundled census MMoE): train steps,
                  scoring, serving latency at batch 1 / 32 / 256
  bench --kernels [filter...]
                  the kernel microbenchmarks (a source checkout's bench/)
  info [--json]   the version, the native backend and the devices it sees
  help            this text`;

/** The package's version: its package.json is two levels up from lib/cli, three from dist/cjs/cli. */
function version(): string {
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.resolve(__dirname, up, 'package.json'), 'utf8'));
      if (pkg.name === 'gatewise') return pkg.version as string;
    } catch {
      // not there: try the next level
    }
  }
  return 'unknown';
}

/** Runs a command line (without `node gatewise`); returns the exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'info': {
      const report = infoReport(version());
      out(args.includes('--json') ? `${JSON.stringify(report, null, 2)}\n` : `${formatInfo(report)}\n`);
      return 0;
    }
    case 'train':
      return trainCommand(args, out);
    case 'eval':
      return evalCommand(args, out);
    case 'serve':
      return serveCommand(args, out);
    case 'bench':
      return benchCommand(args, out);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    default:
      out(`gatewise: unknown command '${command}'\n${USAGE}\n`);
      return 1;
  }
}
