/**
 * `gatewise serve --config <file>`: a config job's checkpoint behind an HTTP server
 * (lib/serve/http/server.ts) until SIGTERM or SIGINT, which shut it down gracefully: every
 * request already received is answered, then the process exits 0.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadTrainConfig } from '../train/config';
import { serve } from '../serve/http/server';
import { ServeOptions } from '../serve/http/options';
import { invalid } from '../validate';
import { Out } from './train';

/** Each option's flag, for error messages: maxBatch → --max-batch. */
const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const NUMBERS = ['port', 'maxBatch', 'maxDelayMs', 'workers', 'threads', 'timeoutMs', 'maxBodyBytes', 'maxRows', 'maxQueue', 'adminPort', 'watchIntervalMs', 'shutdownTimeoutMs'] as const;

export async function serveCommand(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      checkpoint: { type: 'string' },
      fresh: { type: 'boolean' },
      host: { type: 'string' },
      updates: { type: 'string' },
      'admin-host': { type: 'string' },
      ...Object.fromEntries(NUMBERS.map((k) => [flagOf(k).slice(2), { type: 'string' as const }])),
    },
  });
  if (!values.config) throw invalid('a config file (--config <file>)', '--config', values.config);
  if (values.fresh && values.checkpoint) throw invalid('no --checkpoint with --fresh', '--checkpoint', values.checkpoint);
  const options: ServeOptions = {
    config: values.config,
    checkpoint: values.fresh ? null : (values.checkpoint ?? path.join(loadTrainConfig(values.config).output.dir, 'checkpoint.gwck')),
    host: values.host,
    adminHost: values['admin-host'],
    updates: values.updates === 'none' ? null : values.updates,
  };
  const given = values as Record<string, string | boolean | undefined>;
  for (const key of NUMBERS) {
    const v = given[flagOf(key).slice(2)];
    // A number where it reads as one; otherwise the text, which the check then shows as given.
    if (typeof v === 'string') (options as unknown as Record<string, unknown>)[key] = v.trim() === '' || Number.isNaN(Number(v)) ? v : Number(v);
  }
  const server = await serve(options, flagOf);
  const stop = () => void server.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const workers = options.workers ?? 1;
  out(`gatewise serve: ${values.fresh ? 'a fresh model' : options.checkpoint} (step ${server.step}) on ${server.url}${server.adminUrl ? `, admin ${server.adminUrl}` : ''}, ${workers === 0 ? 'on the main thread' : `${workers} worker thread${workers === 1 ? '' : 's'}`}\n`);
  await server.closed;
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  return 0;
}
