/**
 * The Markdown link check (`npm run check:links`, native/scripts/check-links.js): every
 * relative link and #anchor in README.md and docs/**\/*.md resolves, anchors slugged by
 * GitHub's heading rules. The checker itself is tested on a fixture first, so that a checker
 * that passes everything cannot pass this suite.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const script = path.join(root, 'native/scripts/check-links.js');
const { checkLinks, slug } = require(script) as { checkLinks(root: string): string[]; slug(heading: string): string };

const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-links-'));
afterAll(() => fs.rmSync(fixture, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(fixture, rel)), { recursive: true });
  fs.writeFileSync(path.join(fixture, rel), text);
}

describe('check-links', () => {
  it('slugs headings as GitHub does: lower case, punctuation dropped, each space a hyphen', () => {
    expect(slug('Attention over behaviour sequences (POSO-MHA)')).toBe('attention-over-behaviour-sequences-poso-mha');
    expect(slug('`gatewise serve`')).toBe('gatewise-serve');
    expect(slug('Dynamic weights (APG, MetaUnit, M2M, STAR)')).toBe('dynamic-weights-apg-metaunit-m2m-star');
    expect(slug('[Linked](x.md) *and* snake_case  twice')).toBe('linked-and-snake_case--twice');
  });

  it('accepts links to existing files, headings (repeats numbered), <a name> anchors and external URLs', () => {
    write('README.md', '# Top\n\n## Usage\n\n## Usage\n\n[a](docs/guide.md#the-guide) [b](#usage-1) ![c](docs/img.svg)\n[d](https://example.com/x#y) [e](docs/) [f](#anchor)\n<a name="anchor"></a>\n');
    write('docs/guide.md', 'The guide\n=========\n\n[back](../README.md#top)\n\n```\n[not a link](nowhere.md)\n```\n`[nor this](nowhere.md)`\n');
    write('docs/img.svg', '<svg/>');
    expect(checkLinks(fixture)).toEqual([]);
  });

  it('names every broken file link and anchor, with its line, and the script exits 1', () => {
    write('docs/broken.md', '# Broken\n\n[gone](missing.md)\n\n[bad anchor](../README.md#no-such-heading) [self](#nope)\n');
    const broken = checkLinks(fixture);
    expect(broken).toEqual([
      'docs/broken.md:3: missing.md (no such file: docs/missing.md)',
      'docs/broken.md:5: ../README.md#no-such-heading (no heading or anchor "#no-such-heading" in README.md)',
      'docs/broken.md:5: #nope (no heading or anchor "#nope" in docs/broken.md)',
    ]);
    const r = spawnSync(process.execPath, [script, fixture], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('broken link: docs/broken.md:3: missing.md');
    expect(r.stderr).toContain('3 broken link(s)');
  });

  it('README.md and docs/**/*.md have no broken relative links or anchors', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
