#!/usr/bin/env node
// Checks the relative links of the package's Markdown: README.md and docs/**/*.md (the
// generated docs/api is skipped). Every relative link must name a file or folder that exists,
// and every #anchor (on the same page or on another .md page) must be a heading of that page,
// slugged as GitHub slugs them, or an explicit <a name|id>. External links (http:, mailto:…)
// are not fetched. Prints each broken link as file:line: target (why) and exits 1 if any.
//
//   node native/scripts/check-links.js [root]   (root: the package root by default)
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** The Markdown files to check, relative to root: README.md, then docs/**\/*.md but docs/api. */
function markdownFiles(root) {
  const out = [];
  if (fs.existsSync(path.join(root, 'README.md'))) out.push('README.md');
  const walk = (rel) => {
    const dir = path.join(root, rel);
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) {
        if (r !== 'docs/api') walk(r);
      } else if (e.name.endsWith('.md')) out.push(r);
    }
  };
  walk('docs');
  return out;
}

/** The lines outside fenced code blocks, as [lineNumber, text] (1-based). */
function proseLines(text) {
  const out = [];
  let fence = null;
  text.split(/\r?\n/).forEach((line, i) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === null) fence = m[1];
      else if (m[1][0] === fence[0] && m[1].length >= fence.length) fence = null;
      return;
    }
    if (fence === null) out.push([i + 1, line]);
  });
  return out;
}

/** A heading's text as GitHub renders it (no inline markup), slugged as GitHub slugs it. */
function slug(heading) {
  const text = heading
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/!?\[([^\]]*)\]\[[^\]]*\]/g, '$1') // reference links
    .replace(/[`*]/g, '') // code spans and emphasis markers
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a Markdown page defines: its headings' slugs (repeats get -1, -2…) and <a name|id>. */
function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  const add = (base) => {
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  };
  const lines = proseLines(text);
  lines.forEach(([no, line], k) => {
    const atx = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (atx) add(slug(atx[1]));
    else {
      const next = lines[k + 1];
      if (next && next[0] === no + 1 && line.trim() && /^\s{0,3}(=+|-+)\s*$/.test(next[1]) && !/^\s{0,3}[-*+]\s/.test(line)) add(slug(line));
    }
    for (const m of line.matchAll(/<a\s[^>]*?(?:name|id)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]);
  });
  return anchors;
}

/** The link targets on a line outside code spans: inline links, images, reference definitions, HTML href/src. */
function linksOn(line) {
  const prose = line.replace(/(`+)[^`]*?\1/g, (s) => ' '.repeat(s.length));
  const out = [];
  const def = /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(prose);
  if (def) out.push(def[1]);
  for (const m of prose.matchAll(/\]\(\s*(<[^>]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
    out.push(m[1].replace(/^<|>$/g, ''));
  }
  for (const m of prose.matchAll(/\s(?:href|src)\s*=\s*["']([^"']+)["']/gi)) out.push(m[1]);
  return out;
}

/** Checks every Markdown file under root; returns the broken links as "file:line: target (why)". */
function checkLinks(root) {
  const broken = [];
  const anchorCache = new Map();
  const anchors = (file) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(fs.readFileSync(file, 'utf8')));
    return anchorCache.get(file);
  };
  for (const rel of markdownFiles(root)) {
    const file = path.join(root, rel);
    for (const [no, line] of proseLines(fs.readFileSync(file, 'utf8'))) {
      for (const target of linksOn(line)) {
        if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
        const hash = target.indexOf('#');
        const rawPath = hash < 0 ? target : target.slice(0, hash);
        const anchor = hash < 0 ? null : target.slice(hash + 1);
        let filePath;
        try {
          filePath = decodeURIComponent(rawPath.split('?')[0]);
        } catch {
          filePath = rawPath;
        }
        const dest = filePath === '' ? file : filePath.startsWith('/') ? path.join(root, filePath) : path.join(path.dirname(file), filePath);
        const where = `${rel}:${no}: ${target}`;
        if (!fs.existsSync(dest)) {
          broken.push(`${where} (no such file: ${path.relative(root, dest) || '.'})`);
          continue;
        }
        if (path.relative(root, dest).startsWith('..')) {
          broken.push(`${where} (outside the package)`);
          continue;
        }
        if (anchor !== null && dest.endsWith('.md') && fs.statSync(dest).isFile()) {
          let a = anchor;
          try {
            a = decodeURIComponent(anchor);
          } catch {
            /* keep it as written */
          }
          if (!anchors(dest).has(a)) broken.push(`${where} (no heading or anchor "#${a}" in ${path.relative(root, dest)})`);
        }
      }
    }
  }
  return broken;
}

module.exports = { checkLinks, anchorsOf, slug, markdownFiles };

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
  const files = markdownFiles(root);
  const broken = checkLinks(root);
  for (const b of broken) console.error(`broken link: ${b}`);
  if (broken.length) {
    console.error(`${broken.length} broken link(s) in ${files.length} Markdown file(s)`);
    process.exit(1);
  }
  console.log(`links ok: ${files.length} Markdown file(s) (${files.join(', ')})`);
}
