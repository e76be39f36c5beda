/**
 * The bundled configs (configs/*.json): each parses, names its kind in its file name, and
 * builds its model, so a typo in one fails here rather than in a user's first run. Training
 * them to their census AUCs is the README's record (each takes seconds to a minute).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainConfig } from '../lib/train/config';
import { buildJob } from '../lib/train/job';

const dir = path.join(__dirname, '..', 'configs');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('bundled configs', () => {
  it('cover every model kind', () => {
    const kinds = files.map((f) => loadTrainConfig(path.join(dir, f)).model.kind).sort();
    expect(new Set(kinds)).toEqual(new Set(['mlp', 'shared-bottom', 'mmoe', 'poso-mmoe', 'hmoe', 'pepnet', 'poso-mlp', 'star', 'm2m', 'apg-mlp']));
  });

  it.each(files)('%s parses and builds its model', (file) => {
    const config = loadTrainConfig(path.join(dir, file));
    expect(file).toBe(`census-${config.model.kind}.json`);
    expect(fs.existsSync(config.data.train)).toBe(true);
    const parts = buildJob(config, { progress: { mode: 'none' }, cache: false });
    try {
      expect(parts.model.parameters().length).toBeGreaterThan(0);
    } finally {
      parts.model.table.dispose();
    }
  });
});
