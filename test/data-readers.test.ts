/**
 * The data layer: schema validation, stable id hashing, the streaming CSV/TSV/JSONL readers
 * (files, gzip, iterables whose chunks split lines), row errors with 'fail' and 'skip', the
 * seeded shuffle buffer, and batches whose tensors plug into EmbeddingTable.lookupBag and
 * lookupSequences.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  Batch,
  batches,
  defineSchema,
  EmbeddingTable,
  fnv1a64,
  FormatError,
  hashId,
  lookupSequences,
  readCsv,
  readJsonl,
  Row,
  Schema,
  SEQUENCE_PAD_ID,
  shuffle,
  shuffleSync,
  batchesSync,
} from '../lib';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatewise-data-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const tmp = (name: string, data: string | Buffer) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
};

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) {
    await Promise.resolve();
    yield p;
  }
}

const basic: Schema = {
  fields: [
    { name: 'user', kind: 'sparse' },
    { name: 'age', kind: 'dense' },
    { name: 'click', kind: 'label' },
  ],
};

describe('defineSchema', () => {
  it('fills defaults and lists tasks, dense fields, domain and weight', () => {
    const s = defineSchema({
      fields: [
        { name: 'u', kind: 'sparse' },
        { name: 'x', kind: 'dense' },
        { name: 'tags', kind: 'multi' },
        { name: 'ctr', kind: 'label', task: 'click' },
        { name: 'cvr', kind: 'label' },
        { name: 'y', kind: 'dense', default: 2 },
        { name: 'd', kind: 'domain' },
        { name: 'w', kind: 'weight' },
      ],
    });
    expect(s.tasks).toEqual(['click', 'cvr']);
    expect(s.dense).toEqual(['x', 'y']);
    expect(s.domain?.name).toBe('d');
    expect(s.weight?.name).toBe('w');
    expect(s.field('tags')).toMatchObject({ separator: '|', maxLength: Infinity, hash: true, hashKey: 'tags' });
    expect(defineSchema(s)).toBe(s);
  });

  it('names the bad field', () => {
    const bad = (fields: unknown[], extra: object = {}) => () => defineSchema({ fields, ...extra } as Schema);
    const label = { name: 'y', kind: 'label' };
    expect(bad([{ name: 'a', kind: 'sparse' }, { name: 'b', kind: 'dense' }, label, { name: 's', kind: 'sequence', maxLength: 0 }])).toThrow(
      new ArgumentError('Expected a positive integer for schema.fields[3].maxLength but received 0 of type number'),
    );
    expect(bad([label, { name: 's', kind: 'sequence' }])).toThrow('Expected a positive integer for schema.fields[1].maxLength but received undefined');
    expect(bad([label, { name: 'y', kind: 'dense' }])).toThrow("Expected a unique field name ('y' is also schema.fields[0].name) for schema.fields[1].name");
    expect(bad([{ name: 'a', kind: 'dense' }])).toThrow('Expected at least one label field for schema.fields but received none');
    expect(bad([label, { name: 'd1', kind: 'domain' }, { name: 'd2', kind: 'domain' }])).toThrow('Expected at most one domain field (schema.fields[1] is one) for schema.fields[2].kind');
    expect(bad([label, { name: 'w1', kind: 'weight' }, { name: 'w2', kind: 'weight' }])).toThrow('for schema.fields[2].kind');
    expect(bad([label, { name: 'a', kind: 'categorical' }])).toThrow("Expected one of 'sparse', 'multi'");
    expect(bad([label, { name: 'a', kind: 'dense', maxLength: 3 }])).toThrow('Unknown option schema.fields[1].maxLength');
    expect(bad([label, { name: '', kind: 'dense' }])).toThrow('Expected a non-empty string for schema.fields[1].name');
    expect(bad([label, { name: 'a', kind: 'label', task: 'y' }])).toThrow("Expected a unique task ('y' is also the task of schema.fields[0]) for schema.fields[1].task");
    expect(bad([label, { name: 'd', kind: 'domain', values: ['a', 'a'] }])).toThrow('Expected distinct values for schema.fields[1].values[1]');
    expect(bad([label], { perFieldHash: 1 })).toThrow('Expected a boolean for schema.perFieldHash');
  });
});

describe('hashId', () => {
  it('is FNV-1a 64 underneath (published vectors)', () => {
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
  });

  it('gives pinned, non-negative ids separated by field', () => {
    expect(hashId('user', 'alice')).toBe(669109432944066833n);
    expect(hashId('item', 'alice')).toBe(8715910807626267693n);
    expect(hashId('', '42')).toBe(8709116274679767252n);
    expect(hashId('user', 'alice')).toBe(hashId('user', 'alice'));
    // the field/value boundary matters: ('ab','c') is not ('a','bc')
    expect(hashId('ab', 'c')).not.toBe(hashId('a', 'bc'));
    // non-ASCII goes through UTF-8
    expect(hashId('f', 'é€😀')).toBe(2646232974677783539n);
  });

  it('has no collisions on 1e5 distinct strings', () => {
    const seen = new Set<bigint>();
    let negative = 0;
    for (let i = 0; i < 100_000; ++i) {
      const id = hashId('item', `item-${i}`);
      if (id < 0n || id >= 2n ** 63n) ++negative;
      seen.add(id);
    }
    expect(negative).toBe(0);
    expect(seen.size).toBe(100_000);
  });

  it('keys by field in the readers unless perFieldHash is false', async () => {
    const fields: Schema['fields'] = [
      { name: 'a', kind: 'sparse' },
      { name: 'b', kind: 'sparse' },
      { name: 'y', kind: 'label' },
    ];
    const [r] = await collect(readCsv(['a,b,y\nx,x,1\n'], { fields }));
    expect(r.ids).toEqual({ a: hashId('a', 'x'), b: hashId('b', 'x') });
    const [s] = await collect(readCsv(['a,b,y\nx,x,1\n'], { fields, perFieldHash: false }));
    expect(s.ids).toEqual({ a: hashId('', 'x'), b: hashId('', 'x') });
  });

  it('the readers\' id cache gives hashId\'s ids, past its size too (70,000 distinct values, then repeats)', async () => {
    const schema = defineSchema({ fields: [{ name: 'user', kind: 'sparse' }, { name: 'y', kind: 'label' }] });
    const values = [...Array.from({ length: 70000 }, (_, i) => `u${i}`), 'u3', 'u69999', 'u3'];
    const rows = await collect(readCsv(['user,y\n', ...values.map((v) => `${v},1\n`)], schema));
    expect(rows.length).toBe(values.length);
    rows.forEach((r, i) => {
      if (r.ids.user !== hashId('user', values[i])) throw new Error(`row ${i}: ${r.ids.user} is not hashId('user', '${values[i]}')`);
    });
  });
});

describe('readCsv', () => {
  it('reads RFC 4180 quoting, doubled quotes and CRLF from a file', async () => {
    const p = tmp('quotes.csv', 'user,age,click,note\r\n"smith, j",30,1,"say ""hi"""\r\n"o""neil",41.5,0,plain\r\n\r\n');
    const rows = await collect(readCsv(p, { fields: [...basic.fields, { name: 'note', kind: 'sparse', hash: true }] }));
    expect(rows.map((r) => r.ids)).toEqual([
      { user: hashId('user', 'smith, j'), note: hashId('note', 'say "hi"') },
      { user: hashId('user', 'o"neil'), note: hashId('note', 'plain') },
    ]);
    expect(rows.map((r) => r.dense)).toEqual([[30], [41.5]]);
    expect(rows.map((r) => r.labels)).toEqual([[1], [0]]);
    expect(rows.map((r) => r.line)).toEqual([2, 3]);
  });

  it('reads a quoted field spanning lines and reports the record\'s first line', async () => {
    const rows = await collect(readCsv(['user,age,click\n"a\nb",1,0\nc,2,1\n'], basic));
    expect(rows[0].ids.user).toBe(hashId('user', 'a\nb'));
    expect(rows.map((r) => r.line)).toEqual([2, 4]);
  });

  it('infers TSV from .tsv and reads gzip from .gz', async () => {
    const text = 'click\tuser\tage\n1\tu1\t3\n0\tu,2\t4\n';
    const tsv = tmp('data.tsv', text);
    const gz = tmp('data.tsv.gz', zlib.gzipSync(text));
    for (const p of [tsv, gz]) {
      const rows = await collect(readCsv(p, basic));
      expect(rows.map((r) => [r.ids.user, r.dense[0], r.labels[0]])).toEqual([
        [hashId('user', 'u1'), 3, 1],
        [hashId('user', 'u,2'), 4, 0],
      ]);
    }
    const csvGz = tmp('data.csv.gz', zlib.gzipSync('user,age,click\nq,7,1\n'));
    expect((await collect(readCsv(csvGz, basic)))[0].dense).toEqual([7]);
  });

  it('takes columns without a header and a delimiter option', async () => {
    const rows = await collect(readCsv(['u9;5;1\n'], basic, { columns: ['user', 'age', 'click'], delimiter: ';' }));
    expect(rows[0]).toMatchObject({ ids: { user: hashId('user', 'u9') }, dense: [5], labels: [1], line: 1 });
  });

  it('handles chunks that split lines (and a CRLF split between chunks)', async () => {
    const rows = await collect(readCsv(chunks('us', 'er,age,cl', 'ick\r', '\na,1', ',1\r\nb,', '2,0'), basic));
    expect(rows.map((r) => [r.ids.user, r.dense[0], r.labels[0]])).toEqual([
      [hashId('user', 'a'), 1, 1],
      [hashId('user', 'b'), 2, 0],
    ]);
    const lines = await collect(readCsv(chunks('user,age,click', 'a,1,1', 'b,2,0'), basic, { lines: true }));
    expect(lines.length).toBe(2);
  });

  it('fails on a malformed row naming source, line and field', async () => {
    const text = 'user,age,click\na,1,1\nb,abc,0\n';
    await expect(collect(readCsv([text], basic, { name: 'census.csv' }))).rejects.toThrow(new FormatError("census.csv line 3, field 'age': expected a number but found 'abc'"));
    const p = tmp('census.csv', text);
    await expect(collect(readCsv(p, basic))).rejects.toBeInstanceOf(FormatError);
    await expect(collect(readCsv(p, basic))).rejects.toThrow("census.csv line 3, field 'age'");
    await expect(collect(readCsv(['user,age,click\na,1\n'], basic))).rejects.toThrow('input line 2: expected 3 columns but found 2');
    await expect(collect(readCsv(['user,age,click\n"a"x,1,1\n'], basic))).rejects.toThrow('input line 2: malformed quoting');
    await expect(collect(readCsv(['user,age,click\n"a,1,1\n'], basic))).rejects.toThrow('input line 2: unterminated quoted field');
    await expect(collect(readCsv(['user,click\na,1\n'], basic))).rejects.toThrow("input line 1: no column for field 'age' (columns: user, click)");
    await expect(collect(readCsv(['user,age,click\n,1,1\n'], basic))).rejects.toThrow("input line 2, field 'user': missing value");
  });

  it('skips malformed rows with onError skip and counts them', async () => {
    const lines = ['user,age,click', 'a,1,1', 'b,x,0', 'c,2', 'd,3,0'];
    for (let i = 0; i < 12; ++i) lines.push(`e${i},bad,1`);
    const reader = readCsv([lines.join('\n')], basic, { onError: 'skip' });
    const rows = await collect(reader);
    expect(rows.map((r) => r.line)).toEqual([2, 5]);
    expect(reader.stats.rows).toBe(2);
    expect(reader.stats.skipped).toBe(14);
    expect(reader.stats.errors.length).toBe(10);
    expect(reader.stats.errors.slice(0, 2)).toEqual(["input line 3, field 'age': expected a number but found 'x'", 'input line 4: expected 3 columns but found 2']);
    // a second pass starts the counts again
    await collect(reader);
    expect(reader.stats.skipped).toBe(14);
  });

  it('parses hash:false ids exactly as int64, beyond 2^53 too', async () => {
    const schema: Schema = { fields: [{ name: 'id', kind: 'sparse', hash: false }, { name: 'y', kind: 'label' }] };
    const rows = await collect(readCsv(['id,y\n9007199254740993,1\n-9223372036854775808,0\n9223372036854775807,1\n42,0\n'], schema));
    expect(rows.map((r) => r.ids.id)).toEqual([9007199254740993n, -9223372036854775808n, 9223372036854775807n, 42n]);
    await expect(collect(readCsv(['id,y\n1.5,1\n'], schema))).rejects.toThrow("input line 2, field 'id': expected an int64 id but found '1.5'");
    await expect(collect(readCsv(['id,y\n9223372036854775808,1\n'], schema))).rejects.toThrow('expected an int64 id');
  });

  it('splits multi and sequence cells, keeping the most recent sequence ids', async () => {
    const schema: Schema = {
      fields: [
        { name: 'tags', kind: 'multi', hash: false, maxLength: 2 },
        { name: 'hist', kind: 'sequence', hash: false, maxLength: 3, separator: ' ' },
        { name: 'y', kind: 'label' },
      ],
    };
    const rows = await collect(readCsv(['tags,hist,y\n1|2|3,10 11 12 13 14,1\n,,0\n'], schema));
    expect(rows[0].bags.tags).toEqual([1n, 2n]);
    expect(rows[0].sequences.hist).toEqual([12n, 13n, 14n]);
    expect(rows[1].bags.tags).toEqual([]);
    expect(rows[1].sequences.hist).toEqual([]);
  });
});

describe('readJsonl', () => {
  const schema: Schema = {
    fields: [
      { name: 'user', kind: 'sparse' },
      { name: 'tags', kind: 'multi' },
      { name: 'hist', kind: 'sequence', maxLength: 2, hash: false },
      { name: 'x', kind: 'dense', default: -1 },
      { name: 'click', kind: 'label' },
      { name: 'buy', kind: 'label' },
      { name: 'scene', kind: 'domain' },
      { name: 'w', kind: 'weight' },
    ],
  };

  it('reads arrays, numbers, defaults and missing labels', async () => {
    const p = tmp('rows.jsonl', ['{"user":"u1","tags":["a","b"],"hist":[1,2,3],"x":0.5,"click":1,"buy":0,"scene":"home","w":2}', '', '{"user":7,"tags":"c|d","hist":"4|5","click":true,"scene":"feed"}', '{"user":"u1","x":null,"click":0,"buy":null,"scene":"home"}'].join('\n'));
    const reader = readJsonl(p, schema);
    const rows = await collect(reader);
    expect(rows.map((r) => r.line)).toEqual([1, 3, 4]);
    expect(rows[0]).toEqual({ line: 1, ids: { user: hashId('user', 'u1') }, bags: { tags: [hashId('tags', 'a'), hashId('tags', 'b')] }, sequences: { hist: [2n, 3n] }, dense: [0.5], labels: [1, 0], domain: 0, weight: 2 });
    expect(rows[1]).toMatchObject({ ids: { user: hashId('user', '7') }, bags: { tags: [hashId('tags', 'c'), hashId('tags', 'd')] }, sequences: { hist: [4n, 5n] }, dense: [-1], labels: [1, null], domain: 1, weight: 1 });
    expect(rows[2]).toMatchObject({ bags: { tags: [] }, sequences: { hist: [] }, dense: [-1], labels: [0, null], domain: 0 });
    expect(reader.schema.domainNames).toEqual(['home', 'feed']);
  });

  it('reports bad JSON, bad values and unknown domains by line and field', async () => {
    const one = (line: string, s: Schema = schema) => collect(readJsonl([line + '\n'], s, { name: 'log.jsonl' }));
    await expect(one('{"user":"u"')).rejects.toThrow('log.jsonl line 1: invalid JSON');
    await expect(one('[1]')).rejects.toThrow('log.jsonl line 1: expected a JSON object but found [1]');
    await expect(one('{"user":"u","click":"yes","scene":"a"}')).rejects.toThrow("log.jsonl line 1, field 'click': expected a number but found 'yes'");
    await expect(one('{"user":"u","hist":[1.5],"scene":"a"}')).rejects.toThrow("log.jsonl line 1, field 'hist': expected an integer id (ids beyond 2^53 as strings) but found 1.5");
    await expect(one('{"user":"u","click":1}')).rejects.toThrow("log.jsonl line 1, field 'scene': missing domain");
    const fixed: Schema = { fields: [{ name: 'y', kind: 'label' }, { name: 'scene', kind: 'domain', values: ['a', 'b'] }] };
    await expect(one('{"y":1,"scene":"c"}', fixed)).rejects.toThrow("log.jsonl line 1, field 'scene': expected one of 'a', 'b' but found 'c'");
    const few: Schema = { fields: [{ name: 'y', kind: 'label' }, { name: 'scene', kind: 'domain', maxDomains: 1 }] };
    await expect(collect(readJsonl(['{"y":1,"scene":"a"}\n{"y":1,"scene":"b"}\n'], few))).rejects.toThrow("input line 2, field 'scene': found a domain past maxDomains 1: 'b'");
  });
});

describe('shuffle', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);

  it('is a seeded permutation', async () => {
    const a = await collect(shuffle(items, { bufferSize: 16, seed: 7 }));
    const b = await collect(shuffle(chunks(...items.map(String)), { bufferSize: 16, seed: 7 }));
    const c = await collect(shuffle(items, { bufferSize: 16, seed: 8 }));
    expect(a).toEqual(b.map(Number));
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(items);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    // a buffer larger than the input is a full shuffle, still a permutation
    expect([...(await collect(shuffle(items, { bufferSize: 1000, seed: 1 })))].sort((x, y) => x - y)).toEqual(items);
  });

  it('shuffleSync gives the same order as shuffle, pass after pass', async () => {
    const a = shuffle(items, { bufferSize: 16, seed: 7 });
    const s = shuffleSync(items, { bufferSize: 16, seed: 7 });
    for (let pass = 0; pass < 3; ++pass) expect([...s]).toEqual(await collect(a));
    expect(() => shuffleSync(items, { bufferSize: 0, seed: 1 })).toThrow(/options\.bufferSize/);
  });

  it('gives a new order on each pass, the same passes for the same seed', async () => {
    const s1 = shuffle(items, { bufferSize: 8, seed: 3 });
    const s2 = shuffle(items, { bufferSize: 8, seed: 3 });
    const [e1, e2] = [await collect(s1), await collect(s1)];
    expect(e1).not.toEqual(e2);
    expect([await collect(s2), await collect(s2)]).toEqual([e1, e2]);
    expect(() => shuffle(items, { bufferSize: 0, seed: 1 })).toThrow('Expected an integer of at least 1 for options.bufferSize but received 0');
  });
});

describe('batches', () => {
  const schema = defineSchema({
    fields: [
      { name: 'user', kind: 'sparse', hash: false },
      { name: 'tags', kind: 'multi', hash: false },
      { name: 'hist', kind: 'sequence', maxLength: 3, hash: false },
      { name: 'a', kind: 'dense' },
      { name: 'b', kind: 'dense' },
      { name: 'click', kind: 'label' },
      { name: 'buy', kind: 'label' },
      { name: 'scene', kind: 'domain', values: ['x', 'y'] },
      { name: 'w', kind: 'weight' },
    ],
  });
  const text = [
    'user,tags,hist,a,b,click,buy,scene,w',
    '1,10|11,100|101|102|103,0.5,1,1,0,x,1',
    '2,,,1.5,2,0,,y,0.5',
    '3,12,104,2.5,3,1,1,x,',
    '4,13|14|15,105|106,3.5,4,,1,y,2',
    '5,16,,4.5,5,0,0,x,1',
  ].join('\n');
  const read = () => readCsv([text], schema);
  const all = async (opts: { batchSize: number; dropLast?: boolean; groupField?: string }) => {
    const out = await collect(batches(read(), schema, { device: 'cpu', ...opts }));
    return out;
  };
  const free = (bs: Batch[]) => bs.forEach((b) => b.dispose());

  it('batchesSync makes the same batches as batches', async () => {
    const rows = await collect(read());
    for (const opts of [{ batchSize: 2 }, { batchSize: 2, dropLast: true }, { batchSize: 10, groupField: 'user' }]) {
      const a = await all(opts);
      const b = [...batchesSync(rows, schema, { device: 'cpu', ...opts })];
      expect(b.map((x) => x.size)).toEqual(a.map((x) => x.size));
      b.forEach((x, i) => {
        expect(x.raw).toEqual(a[i].raw);
        expect(x.dense.toNested()).toEqual(a[i].dense.toNested());
        expect(Object.keys(x.bags)).toEqual(Object.keys(a[i].bags));
        for (const k of Object.keys(x.bags)) expect(x.bags[k].ids.toArraySync()).toEqual(a[i].bags[k].ids.toArraySync());
        for (const k of Object.keys(x.sequences)) expect(x.sequences[k].padded).toEqual(a[i].sequences[k].padded);
      });
      free(a);
      free(b);
    }
    expect(() => batchesSync(rows, schema, { batchSize: 0 })).toThrow(/options\.batchSize/);
  });

  it('makes tensors of the documented shapes, dtypes and values', async () => {
    const bs = await all({ batchSize: 2, groupField: 'user' });
    expect(bs.map((b) => b.size)).toEqual([2, 2, 1]);
    const [b0, b1, b2] = bs;
    expect(b0.ids.user.dtype).toBe('int64');
    expect(b0.ids.user.toArraySync()).toEqual(new BigInt64Array([1n, 2n]));
    expect(b0.dense.shape).toEqual([2, 2]);
    expect(b0.dense.dtype).toBe('float32');
    expect(b0.dense.toNested()).toEqual([[0.5, 1], [1.5, 2]]);
    expect(b0.labels.shape).toEqual([2, 2]);
    expect(b0.labels.toNested()).toEqual([[1, 0], [0, 0]]);
    expect(b0.labelMask.toNested()).toEqual([[1, 1], [1, 0]]);
    expect(b1.labelMask.toNested()).toEqual([[1, 1], [0, 1]]);
    expect(b0.domain?.dtype).toBe('int32');
    expect(b0.domain?.toArraySync()).toEqual(new Int32Array([0, 1]));
    expect(b0.weight?.toArraySync()).toEqual(new Float32Array([1, 0.5]));
    expect(b1.weight?.toArraySync()).toEqual(new Float32Array([1, 2]));
    expect(b0.raw.labels).toEqual(new Float32Array([1, 0, 0, 0]));
    expect(b0.raw.domain).toEqual(new Int32Array([0, 1]));
    expect(b1.raw.group).toEqual(new BigInt64Array([3n, 4n]));
    expect(b2.raw.lines).toEqual(new Int32Array([6]));
    expect(b2.dense.shape).toEqual([1, 2]);
    free(bs);
  });

  it('gives bags as lookupBag takes them (ids, one start offset per row)', async () => {
    const [b0, b1, b2] = await all({ batchSize: 2 });
    expect(b0.bags.tags.ids.toArraySync()).toEqual(new BigInt64Array([10n, 11n]));
    expect(b0.bags.tags.offsets.toArraySync()).toEqual(new BigInt64Array([0n, 2n]));
    expect(b1.bags.tags.ids.toArraySync()).toEqual(new BigInt64Array([12n, 13n, 14n, 15n]));
    expect(b1.bags.tags.offsets.toArraySync()).toEqual(new BigInt64Array([0n, 1n]));
    const table = new EmbeddingTable({ dim: 4, capacity: 64, device: 'cpu' });
    const pooled = table.lookupBag(b1.bags.tags.ids, b1.bags.tags.offsets);
    expect(pooled.shape).toEqual([2, 4]);
    const rows = table.lookup([12n, 13n, 14n, 15n]).toNested() as number[][];
    const got = pooled.toNested() as number[][];
    for (let d = 0; d < 4; ++d) {
      expect(got[0][d]).toBeCloseTo(rows[0][d], 6);
      expect(got[1][d]).toBeCloseTo(rows[1][d] + rows[2][d] + rows[3][d], 6);
    }
    // an empty bag pools to zeros
    expect(table.lookupBag(b0.bags.tags.ids, b0.bags.tags.offsets).shape).toEqual([2, 4]);
    table.dispose();
    free([b0, b1, b2]);
  });

  it('pads sequences to maxLength with the most recent ids, as lookupSequences takes them', async () => {
    const [b0, b1] = await all({ batchSize: 2 });
    const h = b0.sequences.hist;
    expect(h.ids.shape).toEqual([2, 3]);
    expect(h.ids.dtype).toBe('int64');
    expect(h.ids.toNested()).toEqual([[101n, 102n, 103n], [SEQUENCE_PAD_ID, SEQUENCE_PAD_ID, SEQUENCE_PAD_ID]]);
    expect(h.lengths).toEqual(new Int32Array([3, 0]));
    expect(b1.sequences.hist.padded).toEqual(new BigInt64Array([104n, 0n, 0n, 105n, 106n, 0n]));
    expect(b1.sequences.hist.lengths).toEqual(new Int32Array([1, 2]));
    const table = new EmbeddingTable({ dim: 2, capacity: 64, device: 'cpu' });
    const seq = lookupSequences(table, b1.sequences.hist.padded, b1.sequences.hist.lengths, { layout: 'padded' });
    expect(seq.embeddings.shape).toEqual([2, 2, 2]);
    expect(table.contains([0n])).toEqual([false]);
    table.dispose();
    free([b0, b1]);
  });

  it('drops the last partial batch with dropLast, and checks its options', async () => {
    expect((await all({ batchSize: 2, dropLast: true })).map((b) => b.size)).toEqual([2, 2]);
    expect((await all({ batchSize: 5, dropLast: true })).map((b) => b.size)).toEqual([5]);
    expect((await all({ batchSize: 8 })).map((b) => b.size)).toEqual([5]);
    expect(() => batches([], schema, { batchSize: 0 })).toThrow('Expected an integer from 1 to 16777216 for options.batchSize but received 0');
    expect(() => batches([], schema, { batchSize: 2, groupField: 'a' })).toThrow('Expected the name of a sparse field of the schema for options.groupField');
    expect(() => batches([], schema, { batchSize: 2, dropLst: true } as never)).toThrow('Unknown option options.dropLst');
  });

  it('batches a shuffled file pass by pass', async () => {
    const p = tmp('batches.csv', text);
    const rows = shuffle(readCsv(p, schema), { bufferSize: 3, seed: 11 });
    const users = async () => {
      const out: bigint[] = [];
      for await (const b of batches(rows, schema, { batchSize: 2, device: 'cpu' })) {
        out.push(...(b.ids.user.toArraySync() as BigInt64Array));
        b.dispose();
      }
      return out;
    };
    const e1 = await users();
    const e2 = await users();
    expect([...e1].sort()).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect([...e2].sort()).toEqual([1n, 2n, 3n, 4n, 5n]);
  });

  it('refuses rows of another schema', async () => {
    const other: Row = { line: 1, ids: {}, bags: {}, sequences: {}, dense: [], labels: [1], domain: -1, weight: 1 };
    await expect(collect(batches([other], schema, { batchSize: 1, device: 'cpu' }))).rejects.toThrow('for rows[0].ids.user');
  });
});
