/**
 * A training job as data: the schema, where the rows are, the model, the optimizers, the
 * loop and where results go — what `gatewise train --config <file>` reads. Paths are relative
 * to the config file. {@link parseTrainConfig} checks everything up front and names the bad
 * key ("config.model.kind"), so a typo fails before any data is read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError, FormatError } from '../errors';
import { DataSchema, defineSchema, Schema } from '../data/schema';
import { EarlyStopping } from './trainer';
import { Activation, ACTIVATIONS } from '../ops/activation';
import type { PosoMultiHeadAttentionOptions } from '../personalize/poso-mha';
import { checkBoolean, checkInt, checkKnownKeys, checkOneOf, checkOptions, checkPositive, checkRange, checkWidths, invalid } from '../validate';

/** The model bodies a config can name in `config.model.kind`. */
export const MODEL_KINDS = ['mlp', 'shared-bottom', 'mmoe', 'poso-mmoe', 'hmoe', 'pepnet', 'poso-mlp', 'star', 'm2m', 'apg-mlp'] as const;
/** One of {@link MODEL_KINDS}. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/**
 * The keys of `config.model.options` each kind takes: its body's constructor options, less
 * those the model sets itself (the input width, the task count, the condition's width, the
 * domain count, the seeded generator). Any other key is refused by name.
 */
export const MODEL_OPTIONS: Readonly<Record<ModelKind, readonly string[]>> = {
  mlp: ['hidden', 'activation', 'dropout'],
  'shared-bottom': ['bottom', 'tower', 'activation', 'dropout'],
  mmoe: ['experts', 'expertHidden', 'tower', 'gateDropout', 'gateDropoutMode', 'activation', 'expertDropout', 'nearZero'],
  'poso-mmoe': ['experts', 'expertHidden', 'tower', 'gateDropout', 'gateDropoutMode', 'activation', 'expertDropout', 'nearZero', 'scale', 'gateHidden'],
  hmoe: ['bottom', 'tower', 'gateHidden', 'activation'],
  pepnet: ['hidden', 'placement', 'gamma', 'gateHidden', 'epnetGranularity'],
  'poso-mlp': ['hidden', 'activation', 'scale', 'gateHidden', 'placement'],
  star: ['hidden', 'normalize', 'auxHidden', 'dropout'],
  m2m: ['experts', 'expertHidden', 'taskDim', 'attentionHidden', 'towerLayers', 'generatorHidden', 'activation'],
  'apg-mlp': ['hidden', 'activation', 'dropout', 'rank', 'condition', 'overParam', 'generatorHidden'],
};

/** Kinds conditioned on `config.model.conditionFields` (default: the domain). */
export const CONDITIONED_KINDS: readonly ModelKind[] = ['poso-mlp', 'poso-mmoe', 'apg-mlp'];
/** Kinds that need the schema's domain field. */
export const DOMAIN_KINDS: readonly ModelKind[] = ['pepnet', 'hmoe', 'm2m', 'star'];
/** Kinds with weights per domain value: sized by the domain field's `values` or `maxDomains`. */
export const PER_DOMAIN_KINDS: readonly ModelKind[] = ['hmoe', 'star'];
/** How a sequence field is pooled into its slot of x: the mean of its embeddings, or attention with the candidate as the query. */
export const SEQUENCE_POOLING_MODES = ['mean', 'attention', 'poso-attention'] as const;
/** One of {@link SEQUENCE_POOLING_MODES}. */
export type SequencePoolingMode = (typeof SEQUENCE_POOLING_MODES)[number];
/** Keys of a sequence pooling setting that only attention uses, and those only POSO attention uses. */
const ATTENTION_KEYS = ['target', 'dim', 'heads'] as const;
const POSO_ATTENTION_KEYS = ['valueFolds', 'gatePerHead', 'keyGate', 'scale', 'gateHidden', 'valueGateFloor'] as const;
/** The optimizers `config.optimizer.dense.kind` can name. */
export const DENSE_OPTIMIZERS = ['adam', 'adamw', 'adagrad', 'sgd'] as const;
/** The optimizers `config.optimizer.sparse.kind` can name (each keeps its state in the table's rows). */
export const SPARSE_OPTIMIZERS = ['adagrad', 'sgd', 'adam'] as const;

/** `config.data`: where the rows are, how they are read, and how they are split and cached. */
export interface DataConfig {
  /** Training rows: a CSV/TSV/JSONL file (optionally .gz). */
  train: string;
  /** Validation rows, evaluated after every epoch (default: `split.valid` of the train file). */
  valid?: string;
  /** Test rows, scored once at the end (default: `split.test` of the train file). */
  test?: string;
  /** Without valid/test files: the shares of the train file's rows held out, chosen by a hash of the line number and seed (default { valid: 0.1, test: 0.1, seed: 1 }). */
  split?: {
    /** Share of the rows held out for validation (default 0.1). */
    valid?: number;
    /** Share of the rows held out for testing (default 0.1). */
    test?: number;
    /** Seed of the hash that assigns rows (default 1). */
    seed?: number;
  };
  /** 'csv', 'tsv' or 'jsonl' (default: from the train file's extension). */
  format?: 'csv' | 'tsv' | 'jsonl';
  /** CSV: column names when the file has no header. */
  columns?: string[];
  /** CSV: whether the first line names the columns (default: true unless columns are given). */
  header?: boolean;
  /** CSV: field delimiter (default ',' or '\t' for tsv). */
  delimiter?: string;
  /** Malformed rows: 'fail' (default) or 'skip' (counted and reported). */
  onError?: 'fail' | 'skip';
  /** A sparse field whose values are the users, for GAUC (default: none). */
  userField?: string;
  /**
   * The epoch cache: the first pass over each part parses and hashes its rows and keeps them
   * columnar; later epochs and every validation pass read that copy, shuffled the same seeded
   * way (default true). `{ memoryMB }`: what the copies may hold in memory together (default
   * 1024); the rest goes to files under `output.dir/cache/`, deleted when the job ends.
   */
  cache?:
    | boolean
    | {
        /** What the cached copies may hold in memory together, in MB (default 1024). */
        memoryMB?: number;
      };
}

/** `config.model`: the model kind, its embedding table, its conditions and options, and the optional extra towers. */
export interface ModelConfig {
  /** Which model body (see {@link MODEL_KINDS}). */
  kind: ModelKind;
  /** Floats per embedding row (default 8). */
  embeddingDim?: number;
  /** The shared embedding table's options (capacity default 2^20; policy, ttlSteps, admitAfter, … as EmbeddingTable). */
  table?: Record<string, unknown>;
  /** pepnet: the sparse fields that condition PPNet (user, item, author ids…). Required for pepnet. */
  priorFields?: string[];
  /**
   * poso-mlp, poso-mmoe, apg-mlp: the fields whose embeddings (concatenated) condition the body —
   * POSO's personalization code, APG's z. Sparse fields or the domain field (default: the domain).
   */
  conditionFields?: string[];
  /** The body's own options, as its constructor takes them; the keys each kind takes are {@link MODEL_OPTIONS}. */
  options?: Record<string, unknown>;
  /**
   * Any kind: a shallow tower on selection-bias fields (position, device…) whose logits are
   * added to the body's (ShallowTower). The fields leave the body's input; while training each
   * (row, field) is replaced by the field's learned "missing" vector with probability `dropout`
   * (default 0.1), and at evaluation and serving every field is missing.
   */
  shallowTower?: {
    /** The bias fields the tower reads (they leave the body's input). */
    fields: string[];
    /** Hidden widths of the tower (default []: a linear logit). */
    hidden?: number[];
    /** Hidden activation (default 'relu'). */
    activation?: Activation;
    /** Probability that a (row, field) is replaced by the missing vector while training (default 0.1). */
    dropout?: number;
  };
  /**
   * Any kind: a linear logit on the scenario's embedding added to the body's, with dropout on
   * it while training (ScenarioLogit). `true`, or `{ fields, dropout }`: sparse fields or the
   * domain field (default: the domain), dropout default 0.1.
   */
  scenarioLogit?:
    | boolean
    | {
        /** Sparse fields or the domain field whose embeddings feed the logit (default: the domain). */
        fields?: string[];
        /** Dropout on the scenario logit while training (default 0.1). */
        dropout?: number;
      };
  /**
   * Any kind: how each sequence field is pooled into its slot of x (default 'mean'). A mode
   * for every sequence field, or settings with per-field overrides in `fields` (a mode or
   * settings; a field takes what it leaves out from the top level). 'attention' attends over
   * the sequence with the candidate's embedding (`target`: a single-hot field such as the
   * item, or several, concatenated) as the query (MultiHeadAttention); 'poso-attention' also
   * gates the keys and mixes value folds by the personalization code, the embeddings of
   * `config.model.conditionFields` (PosoMultiHeadAttention; default: the domain).
   */
  sequencePooling?:
    | SequencePoolingMode
    | (SequencePoolingConfig & {
        /** Per-field overrides by sequence field name: a mode, or settings (what they leave out comes from the top level). */
        fields?: Record<string, SequencePoolingMode | SequencePoolingConfig>;
      });
}

/** POSO attention's settings a sequence field's pooling passes on (PosoMultiHeadAttention's, with its defaults). */
type PosoAttentionSettings = Pick<PosoMultiHeadAttentionOptions, (typeof POSO_ATTENTION_KEYS)[number]>;

/** One sequence field's pooling (see {@link ModelConfig.sequencePooling}); POSO attention's keys are PosoMultiHeadAttention's. */
export interface SequencePoolingConfig extends PosoAttentionSettings {
  /** 'mean' (default), 'attention' or 'poso-attention'. */
  mode?: SequencePoolingMode;
  /** Attention: the single-hot field(s) whose embedding is the query — the candidate (the item). Required for attention. */
  target?: string | string[];
  /** Attention: the width of Q, K, V and the pooled output, the field's slot in x (default: the embedding dim). */
  dim?: number;
  /** Attention: heads, dividing dim (default 2, or 1 when 2 does not divide dim). */
  heads?: number;
}

/** A sequence field's pooling, resolved: attention's settings are present for the attention modes. */
export interface SequencePooling extends PosoAttentionSettings {
  /** How the field is pooled. */
  mode: SequencePoolingMode;
  /** The query's single-hot fields ([] for 'mean'). */
  target: string[];
  /** Width of the pooled output, the field's slot in x. */
  dim: number;
  /** Attention heads. */
  heads: number;
  /** POSO attention's value folds N. */
  valueFolds: number;
  /** POSO attention: one gate per fold and head. */
  gatePerHead: boolean;
  /** POSO attention: gate the keys. */
  keyGate: boolean;
}

/** `config.optimizer`: the optimizers of the embedding rows and of the dense weights. */
export interface OptimizerConfig {
  /** The embedding rows' optimizer (default { kind: 'adagrad', lr: 0.05 }). */
  sparse?: {
    /** One of {@link SPARSE_OPTIMIZERS} (default 'adagrad'). */
    kind?: (typeof SPARSE_OPTIMIZERS)[number];
    /** Learning rate (default 0.05 for AdaGrad, as EmbeddingTable's optimizer). */
    lr?: number;
    /** L2 penalty on each updated row (default 0). */
    weightDecay?: number;
  };
  /** The dense weights' optimizer (default { kind: 'adam', lr: 0.001 }). */
  dense?: {
    /** One of {@link DENSE_OPTIMIZERS} (default 'adam'). */
    kind?: (typeof DENSE_OPTIMIZERS)[number];
    /** Learning rate (default 0.001). */
    lr?: number;
    /** Weight decay (default 0; decoupled for 'adamw'). */
    weightDecay?: number;
  };
}

/** `config.train`: the training loop. */
export interface LoopConfig {
  /** Passes over the training rows (default 4); an online job makes one pass over its stream. */
  epochs?: number;
  /** Rows per training batch (default 512). */
  batchSize?: number;
  /** Rows per evaluation batch (default 4096). */
  evalBatchSize?: number;
  /** Rows held in the shuffle buffer (default 10000; 0: read in file order). */
  shuffleBuffer?: number;
  /** Global-norm clipping of the dense gradients (default: none). */
  clipNorm?: number;
  /** Stop when the validation metric stops improving (default: train every epoch). */
  earlyStopping?: EarlyStopping;
  /** Also write a checkpoint every this many steps (default: only at the end). */
  checkpointEvery?: number;
  /** Write a serving update (dense weights + the table rows changed since the previous one) to <output.dir>/updates/ every this many steps and after the last step (default 0: none). */
  updateEvery?: number;
  /** Steps whose losses are summed on the device between reads of the training loss (default 16): see FitOptions.lossEvery. */
  lossEvery?: number;
}

/** `config.output`: where the results go and which are written. */
export interface OutputConfig {
  /** Where the checkpoint, report and metrics go (default runs/<name> under the working directory). */
  dir?: string;
  /** Also export the dense weights as safetensors (default false). */
  safetensors?: boolean;
  /** Write the training-curve report (default true). */
  report?: boolean;
}

/**
 * A training job as `gatewise train --config <file>` reads it: the schema, where the rows
 * are, the model, the optimizers, the loop and where results go. Check one with
 * {@link parseTrainConfig} or {@link loadTrainConfig}.
 */
export interface TrainConfig {
  /** The job's name (default: the config file's base name). */
  name?: string;
  /** Seeds the weights, the table and the shuffles (default 1). */
  seed?: number;
  /** The columns: ids, dense values, labels, the domain, weights (see {@link defineSchema}). */
  schema: Schema;
  /** Where the rows are and how to read them. */
  data: DataConfig;
  /** The model. */
  model: ModelConfig;
  /** The optimizers (default: AdaGrad 0.05 on the rows, Adam 0.001 on the dense weights). */
  optimizer?: OptimizerConfig;
  /** The training loop. */
  train?: LoopConfig;
  /** Where results go. */
  output?: OutputConfig;
}

/** config.data.cache: null when off. */
function resolveCache(c: unknown): { memoryMB: number } | null {
  if (c === undefined || c === true) return { memoryMB: 1024 };
  if (c === false) return null;
  if (c === null || typeof c !== 'object') throw invalid('true, false or { memoryMB }', 'config.data.cache', c);
  const o = checkOptions(c as { memoryMB?: number }, 'config.data.cache');
  checkKnownKeys(o, 'config.data.cache', ['memoryMB']);
  return { memoryMB: o.memoryMB === undefined ? 1024 : checkRange(o.memoryMB, 'config.data.cache.memoryMB', 0, Infinity, 'a non-negative number of MB') };
}

/** A checked config with defaults filled in and paths absolute. */
export interface ResolvedConfig {
  /** The job's name. */
  name: string;
  /** The seed of the weights, the table and the shuffles. */
  seed: number;
  /** The schema, checked. */
  schema: DataSchema;
  /** `config.data` with its paths absolute, its format known and its split and cache settled. */
  data: Required<Pick<DataConfig, 'train' | 'format' | 'onError'>> &
    Omit<DataConfig, 'train' | 'format' | 'onError' | 'split' | 'cache'> & {
      /** The held-out shares of the train file and the seed of their hash. */
      split: {
        /** Share held out for validation. */
        valid: number;
        /** Share held out for testing. */
        test: number;
        /** Seed of the hash that assigns rows. */
        seed: number;
      };
      /** The epoch cache's budget, or null when the cache is off. */
      cache: {
        /** What the cached copies may hold in memory together, in MB. */
        memoryMB: number;
      } | null;
    };
  /** `config.model` with defaults filled in. */
  model: {
    /** The model body. */
    kind: ModelKind;
    /** Floats per embedding row. */
    embeddingDim: number;
    /** The embedding table's options. */
    table: Record<string, unknown>;
    /** pepnet: the fields that condition PPNet ([] otherwise). */
    priorFields: string[];
    /** The fields whose embeddings condition the body ([] for kinds without a condition). */
    conditionFields: string[];
    /** The body's own options. */
    options: Record<string, unknown>;
    /** The shallow tower's settings, or null for none. */
    shallowTower: {
      /** The bias fields. */
      fields: string[];
      /** Hidden widths of the tower. */
      hidden: number[];
      /** Hidden activation. */
      activation: Activation;
      /** Feature-dropout probability while training. */
      dropout: number;
    } | null;
    /** The scenario logit's settings, or null for none. */
    scenarioLogit: {
      /** The fields whose embeddings feed the logit. */
      fields: string[];
      /** Dropout on the logit while training. */
      dropout: number;
    } | null;
    /** Every sequence field's pooling, by name (mean unless configured). */
    sequencePooling: Record<string, SequencePooling>;
  };
  /** The optimizers, with defaults filled in. */
  optimizer: {
    /** The embedding rows' optimizer. */
    sparse: {
      /** The kind. */
      kind: (typeof SPARSE_OPTIMIZERS)[number];
      /** Learning rate. */
      lr: number;
      /** L2 penalty on each updated row. */
      weightDecay: number;
    };
    /** The dense weights' optimizer. */
    dense: {
      /** The kind. */
      kind: (typeof DENSE_OPTIMIZERS)[number];
      /** Learning rate. */
      lr: number;
      /** Weight decay. */
      weightDecay: number;
    };
  };
  /** The training loop, with defaults filled in (see {@link LoopConfig}). */
  train: {
    /** Passes over the training rows. */
    epochs: number;
    /** Rows per training batch. */
    batchSize: number;
    /** Rows per evaluation batch. */
    evalBatchSize: number;
    /** Rows held in the shuffle buffer (0: file order). */
    shuffleBuffer: number;
    /** Global-norm clipping of the dense gradients, when set. */
    clipNorm?: number;
    /** Early stopping, when set. */
    earlyStopping?: EarlyStopping;
    /** Steps between checkpoints (0: only at the end). */
    checkpointEvery: number;
    /** Steps between serving updates (0: none). */
    updateEvery: number;
    /** Steps whose losses are summed on the device between reads. */
    lossEvery: number;
  };
  /** Where results go, resolved. */
  output: {
    /** The output directory, absolute. */
    dir: string;
    /** Whether the dense weights are also exported as safetensors. */
    safetensors: boolean;
    /** Whether the training-curve report is written. */
    report: boolean;
  };
  /** The config as given (saved into checkpoints and reports). */
  source: TrainConfig;
}

function formatOf(file: string, at: string): 'csv' | 'tsv' | 'jsonl' {
  const f = file.replace(/\.gz$/, '');
  if (f.endsWith('.tsv')) return 'tsv';
  if (f.endsWith('.jsonl') || f.endsWith('.ndjson')) return 'jsonl';
  if (f.endsWith('.csv')) return 'csv';
  throw invalid("a file ending in .csv, .tsv or .jsonl (optionally .gz), or config.data.format", at, file);
}

function checkFile(value: unknown, at: string, baseDir: string): string {
  if (typeof value !== 'string' || value === '') throw invalid('a file path', at, value);
  return path.resolve(baseDir, value);
}

function checkStrings(value: unknown, at: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalid('an array of strings', at, value);
  return value.slice();
}

function checkShare(value: unknown, fallback: number, at: string): number {
  return value === undefined ? fallback : checkRange(value, at, 0, 0.5, 'a share in [0, 0.5]');
}

/**
 * config.model.conditionFields, resolved: the condition's fields for a conditioned kind or
 * 'poso-attention' sequence pooling (default: the domain), else [].
 */
function resolveConditionFields(kind: ModelKind, value: unknown, options: Record<string, unknown>, schema: DataSchema, posoAttention: boolean): string[] {
  const at = 'config.model.conditionFields';
  const byBody = CONDITIONED_KINDS.includes(kind) && !(kind === 'apg-mlp' && options.condition === 'self');
  if (!byBody && !posoAttention) {
    if (value === undefined) return [];
    const why =
      kind === 'apg-mlp'
        ? "no conditionFields with config.model.options.condition 'self' (each layer generates from its own input) and no 'poso-attention' sequence pooling"
        : `no conditionFields for '${kind}' (only ${CONDITIONED_KINDS.map((k) => `'${k}'`).join(', ')} take them, and 'poso-attention' sequence pooling)`;
    throw invalid(why, at, value);
  }
  if (value === undefined) {
    const who = byBody ? `'${kind}'` : "'poso-attention' sequence pooling";
    if (!schema.domain) throw invalid(`the fields that condition ${who} (there is no domain field to default to)`, at, value);
    return [schema.domain.name];
  }
  return checkFieldNames(value, at, schema, ['sparse', 'domain'], 'the name of a sparse field or the domain field of the schema');
}

/** Distinct names of schema fields of the given kinds, at `at`. */
function checkFieldNames(value: unknown, at: string, schema: DataSchema, kinds: readonly string[], what: string): string[] {
  const fields = checkStrings(value, at);
  if (fields.length === 0) throw invalid('a non-empty array of field names', at, value);
  fields.forEach((f, i) => {
    if (!kinds.includes(schema.field(f)?.kind as string)) throw invalid(what, `${at}[${i}]`, f);
    if (fields.indexOf(f) !== i) throw invalid('distinct field names', `${at}[${i}]`, f);
  });
  return fields;
}

/** config.model.shallowTower, checked; null when absent. */
function resolveShallowTower(value: unknown, schema: DataSchema): ResolvedConfig['model']['shallowTower'] {
  if (value === undefined) return null;
  const at = 'config.model.shallowTower';
  const o = checkOptions(value as Record<string, unknown>, at);
  checkKnownKeys(o, at, ['fields', 'hidden', 'activation', 'dropout']);
  const fields = checkFieldNames(o.fields, `${at}.fields`, schema, ['sparse'], 'the name of a sparse field of the schema (a bias feature such as the position)');
  return {
    fields,
    hidden: checkWidths(o.hidden ?? [], `${at}.hidden`, true),
    activation: checkOneOf(o.activation ?? 'relu', `${at}.activation`, ACTIVATIONS),
    dropout: checkRange(o.dropout ?? 0.1, `${at}.dropout`, 0, 0.99),
  };
}

/** config.model.scenarioLogit, checked: true means the defaults; null when absent or false. */
function resolveScenarioLogit(value: unknown, schema: DataSchema, biasFields: string[]): ResolvedConfig['model']['scenarioLogit'] {
  if (value === undefined || value === false) return null;
  const at = 'config.model.scenarioLogit';
  const o = value === true ? {} : checkOptions(value as Record<string, unknown>, at);
  checkKnownKeys(o, at, ['fields', 'dropout']);
  let fields: string[];
  if (o.fields === undefined) {
    if (!schema.domain) throw invalid('the scenario\'s fields (there is no domain field to default to)', `${at}.fields`, o.fields);
    fields = [schema.domain.name];
  } else {
    fields = checkFieldNames(o.fields, `${at}.fields`, schema, ['sparse', 'domain'], 'the name of a sparse field or the domain field of the schema');
  }
  const i = fields.findIndex((f) => biasFields.includes(f));
  if (i >= 0) throw invalid('a field outside config.model.shallowTower.fields (the shallow tower\'s fields leave the body)', `${at}.fields[${i}]`, fields[i]);
  return { fields, dropout: checkRange(o.dropout ?? 0.1, `${at}.dropout`, 0, 0.99) };
}

/**
 * config.model.sequencePooling, checked: a setting for every sequence field of the schema
 * (mean unless configured). A key is refused where no field it reaches uses it (attention's
 * keys with 'mean', POSO's with 'attention'), naming the key.
 */
function resolveSequencePooling(value: unknown, schema: DataSchema, kind: ModelKind, embeddingDim: number, biasFields: string[]): Record<string, SequencePooling> {
  const at = 'config.model.sequencePooling';
  const sequences = schema.ofKind('sequence').map((f) => f.name);
  const out: Record<string, SequencePooling> = {};
  const mean = (): SequencePooling => ({ mode: 'mean', target: [], dim: embeddingDim, heads: 1, valueFolds: 4, gatePerHead: false, keyGate: true });
  if (value === undefined) {
    for (const f of sequences) out[f] = mean();
    return out;
  }
  if (sequences.length === 0) throw invalid('no sequence pooling (the schema has no sequence field)', at, value);
  const KEYS = ['mode', ...ATTENTION_KEYS, ...POSO_ATTENTION_KEYS];
  /** A level's settings: a mode alone, or an object of KEYS (and `fields` at the top). */
  const level = (v: unknown, where: string, top: boolean): Record<string, unknown> => {
    if (typeof v === 'string') return { mode: checkOneOf(v, where, SEQUENCE_POOLING_MODES) };
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(`one of ${SEQUENCE_POOLING_MODES.map((m) => `'${m}'`).join(', ')} or an object of pooling settings`, where, v);
    const o = { ...(v as Record<string, unknown>) };
    checkKnownKeys(o, where, top ? [...KEYS, 'fields'] : KEYS);
    if (o.mode !== undefined) checkOneOf(o.mode, `${where}.mode`, SEQUENCE_POOLING_MODES);
    return o;
  };
  const top = level(value, at, true);
  const perField: Record<string, Record<string, unknown>> = {};
  if (top.fields !== undefined) {
    const fields = top.fields;
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw invalid('an object of sequence field names to their pooling', `${at}.fields`, fields);
    for (const [name, v] of Object.entries(fields as Record<string, unknown>)) {
      if (!sequences.includes(name)) throw invalid('the name of a sequence field of the schema', `${at}.fields.${name}`, name);
      perField[name] = level(v, `${at}.fields.${name}`, false);
    }
    delete top.fields;
  }
  const usedBy = (key: string, mode: SequencePoolingMode) => mode === 'poso-attention' || (mode === 'attention' && !(POSO_ATTENTION_KEYS as readonly string[]).includes(key)) || key === 'mode';
  const needs = (key: string) => ((POSO_ATTENTION_KEYS as readonly string[]).includes(key) ? "'poso-attention'" : "'attention' or 'poso-attention'");
  const modes: SequencePoolingMode[] = [];
  for (const f of sequences) {
    const own = perField[f] ?? {};
    // Each setting with the key it was written under, for the error messages.
    const get = (key: string): [unknown, string] => (own[key] !== undefined ? [own[key], `${at}.fields.${f}.${key}`] : [top[key], `${at}.${key}`]);
    const mode = (get('mode')[0] ?? 'mean') as SequencePoolingMode;
    modes.push(mode);
    for (const key of Object.keys(own)) {
      if (!usedBy(key, mode)) throw invalid(`no '${key}' for a field pooled by '${mode}' (it is ${needs(key)} pooling's)`, `${at}.fields.${f}.${key}`, own[key]);
    }
    if (mode === 'mean') {
      out[f] = mean();
      continue;
    }
    const [t, tAt] = get('target');
    if (t === undefined) throw invalid(`the single-hot field whose embedding is the query of '${f}''s attention (the candidate, such as the item)`, tAt, t);
    const target = typeof t === 'string' ? [t] : t;
    const label = typeof t === 'string' ? () => tAt : (i: number) => `${tAt}[${i}]`;
    if (!Array.isArray(target) || target.length === 0 || target.some((x) => typeof x !== 'string')) throw invalid('a field name or a non-empty array of field names', tAt, t);
    target.forEach((name, i) => {
      if (schema.field(name)?.kind !== 'sparse') throw invalid('the name of a single-hot (sparse) field of the schema', label(i), name);
      if (biasFields.includes(name)) throw invalid("a field outside config.model.shallowTower.fields (the shallow tower's fields leave the body)", label(i), name);
      if (target.indexOf(name) !== i) throw invalid('distinct field names', label(i), name);
    });
    const [d, dAt] = get('dim');
    const dim = d === undefined ? embeddingDim : checkInt(d, dAt, 1, 4096);
    if (kind === 'pepnet' && dim !== embeddingDim) throw invalid(`the embedding dim ${embeddingDim} ('pepnet' gates each pooled sequence as one field of EPNet)`, dAt, d);
    const [h, hAt] = get('heads');
    const heads = h === undefined ? (dim % 2 === 0 ? 2 : 1) : checkInt(h, hAt, 1);
    if (dim % heads !== 0 || dim / heads > 256) throw invalid(`a divisor of the attention's dim ${dim} leaving at most 256 per head`, hAt, h);
    const poso = mode === 'poso-attention';
    const opt = <T>(key: string, check: (v: unknown, where: string) => T): T | undefined => {
      const [v, where] = get(key);
      return v === undefined || !poso ? undefined : check(v, where);
    };
    out[f] = {
      mode,
      target: target.slice(),
      dim,
      heads,
      valueFolds: opt('valueFolds', (v, w) => checkInt(v, w, 1, 16)) ?? 4,
      gatePerHead: opt('gatePerHead', checkBoolean) ?? false,
      keyGate: opt('keyGate', checkBoolean) ?? true,
      scale: opt('scale', checkPositive),
      gateHidden: opt('gateHidden', (v, w) => checkInt(v, w, 1)),
      valueGateFloor: opt('valueGateFloor', (v, w) => checkRange(v, w, 0, 0.99)),
    };
  }
  // A top-level key no field uses is a mistake (set for a mode no field has).
  for (const key of Object.keys(top)) {
    if (!sequences.some((f, i) => usedBy(key, modes[i]))) throw invalid(`no '${key}' (it is ${needs(key)} pooling's, and no sequence field is pooled so)`, `${at}.${key}`, top[key]);
  }
  return out;
}

/**
 * Checks a config (see {@link TrainConfig}); relative paths resolve against baseDir.
 *
 * @throws ArgumentError naming the key: "Expected one of 'mlp', … for config.model.kind but received 'mmeo'".
 */
export function parseTrainConfig(config: TrainConfig, baseDir = process.cwd(), defaultName = 'job'): ResolvedConfig {
  const c = checkOptions(config, 'config');
  checkKnownKeys(c, 'config', ['name', 'seed', 'schema', 'data', 'model', 'optimizer', 'train', 'output']);
  if (c.name !== undefined && (typeof c.name !== 'string' || !/^[\w.-]+$/.test(c.name))) throw invalid('a name of letters, digits, _ . -', 'config.name', c.name);
  const name = c.name ?? defaultName;
  const seed = checkInt(c.seed ?? 1, 'config.seed', 0);
  let schema: DataSchema;
  try {
    schema = defineSchema(c.schema as Schema);
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(e.message.replace(/\bschema\b/, 'config.schema')) : e;
  }

  const d = checkOptions(c.data, 'config.data');
  checkKnownKeys(d, 'config.data', ['train', 'valid', 'test', 'split', 'format', 'columns', 'header', 'delimiter', 'onError', 'userField', 'cache']);
  const train = checkFile(d.train, 'config.data.train', baseDir);
  const split = checkOptions(d.split ?? {}, 'config.data.split');
  checkKnownKeys(split, 'config.data.split', ['valid', 'test', 'seed']);
  if (d.userField !== undefined && schema.field(d.userField)?.kind !== 'sparse') throw invalid('the name of a sparse field of the schema', 'config.data.userField', d.userField);
  const data: ResolvedConfig['data'] = {
    train,
    valid: d.valid === undefined ? undefined : checkFile(d.valid, 'config.data.valid', baseDir),
    test: d.test === undefined ? undefined : checkFile(d.test, 'config.data.test', baseDir),
    split: { valid: checkShare(split.valid, d.valid === undefined ? 0.1 : 0, 'config.data.split.valid'), test: checkShare(split.test, d.test === undefined ? 0.1 : 0, 'config.data.split.test'), seed: checkInt(split.seed ?? seed, 'config.data.split.seed', 0) },
    format: d.format === undefined ? formatOf(train, 'config.data.train') : checkOneOf(d.format, 'config.data.format', ['csv', 'tsv', 'jsonl'] as const),
    columns: d.columns === undefined ? undefined : checkStrings(d.columns, 'config.data.columns'),
    header: d.header,
    delimiter: d.delimiter,
    onError: checkOneOf(d.onError ?? 'fail', 'config.data.onError', ['fail', 'skip'] as const),
    userField: d.userField,
    cache: resolveCache(d.cache),
  };
  if (data.valid === undefined && data.split.valid === 0) throw invalid('a validation file or split.valid > 0 (every epoch is evaluated)', 'config.data.valid', d.valid);

  const m = checkOptions(c.model, 'config.model');
  checkKnownKeys(m, 'config.model', ['kind', 'embeddingDim', 'table', 'priorFields', 'conditionFields', 'options', 'shallowTower', 'scenarioLogit', 'sequencePooling']);
  const kind = checkOneOf(m.kind, 'config.model.kind', MODEL_KINDS);
  const options = { ...checkOptions(m.options ?? {}, 'config.model.options') };
  checkKnownKeys(options, 'config.model.options', MODEL_OPTIONS[kind]);
  const priorFields = m.priorFields === undefined ? [] : checkStrings(m.priorFields, 'config.model.priorFields');
  priorFields.forEach((f, i) => {
    if (schema.field(f)?.kind !== 'sparse') throw invalid('the name of a sparse field of the schema', `config.model.priorFields[${i}]`, f);
  });
  if (kind === 'pepnet') {
    if (priorFields.length === 0) throw invalid('at least one sparse field (PPNet conditions on them)', 'config.model.priorFields', m.priorFields);
    if (!schema.domain) throw invalid('a domain field in the schema (EPNet conditions on it)', 'config.model.kind', kind);
  }
  const embeddingDim = checkInt(m.embeddingDim ?? 8, 'config.model.embeddingDim', 1, 4096);
  const shallowTower = resolveShallowTower(m.shallowTower, schema);
  const sequencePooling = resolveSequencePooling(m.sequencePooling, schema, kind, embeddingDim, shallowTower?.fields ?? []);
  const posoAttention = Object.values(sequencePooling).some((p) => p.mode === 'poso-attention');
  const conditionFields = resolveConditionFields(kind, m.conditionFields, options, schema, posoAttention);
  if (DOMAIN_KINDS.includes(kind) && !schema.domain) {
    const why = { pepnet: 'EPNet conditions on it', hmoe: 'one tower per domain value', m2m: "the domain's embedding generates the meta units", star: 'weights per domain value' }[kind as 'pepnet' | 'hmoe' | 'm2m' | 'star'];
    throw invalid(`a schema with a domain field ('${kind}': ${why})`, 'config.model.kind', kind);
  }
  if (PER_DOMAIN_KINDS.includes(kind)) {
    const specs = (c.schema as Schema).fields as unknown as Record<string, unknown>[];
    const i = schema.domain!.index;
    if (specs[i].values === undefined && specs[i].maxDomains === undefined) {
      throw invalid(`a domain field with 'values' or 'maxDomains' ('${kind}' keeps weights per domain value and is sized by their number)`, `config.schema.fields[${i}].maxDomains`, undefined);
    }
  }
  if (shallowTower) {
    for (const [key, list] of [['priorFields', priorFields], ['conditionFields', conditionFields]] as const) {
      const i = list.findIndex((f) => shallowTower.fields.includes(f));
      if (i >= 0) throw invalid('a field outside config.model.shallowTower.fields (the shallow tower\'s fields leave the body)', `config.model.${key}[${i}]`, list[i]);
    }
  }
  const scenarioLogit = resolveScenarioLogit(m.scenarioLogit, schema, shallowTower?.fields ?? []);
  const model: ResolvedConfig['model'] = {
    kind,
    embeddingDim,
    table: { capacity: 1 << 20, ...checkOptions(m.table ?? {}, 'config.model.table') },
    priorFields,
    conditionFields,
    options,
    shallowTower,
    scenarioLogit,
    sequencePooling,
  };
  const pooled = schema.ofKind('multi').length + schema.ofKind('sequence').length;
  if (kind === 'pepnet' && shallowTower && pooled === 0 && schema.ofKind('sparse').every((f) => priorFields.includes(f.name) || shallowTower.fields.includes(f.name))) {
    throw invalid('sparse fields besides the prior fields and the shallow tower\'s (EPNet gates them)', 'config.model.shallowTower.fields', shallowTower.fields);
  }
  for (const k of ['dim', 'device', 'optimizer', 'clock', 'defaultRow']) {
    if (k in model.table) throw invalid(`no '${k}' (set it with config.model.embeddingDim or config.optimizer.sparse)`, `config.model.table.${k}`, model.table[k]);
  }

  const o = checkOptions(c.optimizer ?? {}, 'config.optimizer');
  checkKnownKeys(o, 'config.optimizer', ['sparse', 'dense']);
  const sp = checkOptions(o.sparse ?? {}, 'config.optimizer.sparse');
  checkKnownKeys(sp, 'config.optimizer.sparse', ['kind', 'lr', 'weightDecay']);
  const de = checkOptions(o.dense ?? {}, 'config.optimizer.dense');
  checkKnownKeys(de, 'config.optimizer.dense', ['kind', 'lr', 'weightDecay']);
  const sparseKind = checkOneOf(sp.kind ?? 'adagrad', 'config.optimizer.sparse.kind', SPARSE_OPTIMIZERS);
  const denseKind = checkOneOf(de.kind ?? 'adam', 'config.optimizer.dense.kind', DENSE_OPTIMIZERS);
  const optimizer: ResolvedConfig['optimizer'] = {
    sparse: { kind: sparseKind, lr: checkPositive(sp.lr ?? { adagrad: 0.05, sgd: 0.01, adam: 0.001 }[sparseKind], 'config.optimizer.sparse.lr'), weightDecay: checkRange(sp.weightDecay ?? 0, 'config.optimizer.sparse.weightDecay', 0, Infinity, 'a non-negative number') },
    dense: { kind: denseKind, lr: checkPositive(de.lr ?? { adam: 1e-3, adamw: 1e-3, adagrad: 0.01, sgd: 0.01 }[denseKind], 'config.optimizer.dense.lr'), weightDecay: checkRange(de.weightDecay ?? (denseKind === 'adamw' ? 0.01 : 0), 'config.optimizer.dense.weightDecay', 0, Infinity, 'a non-negative number') },
  };

  const t = checkOptions(c.train ?? {}, 'config.train');
  checkKnownKeys(t, 'config.train', ['epochs', 'batchSize', 'evalBatchSize', 'shuffleBuffer', 'clipNorm', 'earlyStopping', 'checkpointEvery', 'updateEvery', 'lossEvery']);
  const loop: ResolvedConfig['train'] = {
    epochs: checkInt(t.epochs ?? 4, 'config.train.epochs', 1),
    batchSize: checkInt(t.batchSize ?? 512, 'config.train.batchSize', 1, 1 << 20),
    evalBatchSize: checkInt(t.evalBatchSize ?? 4096, 'config.train.evalBatchSize', 1, 1 << 20),
    shuffleBuffer: checkInt(t.shuffleBuffer ?? 10000, 'config.train.shuffleBuffer', 0),
    clipNorm: t.clipNorm === undefined ? undefined : checkPositive(t.clipNorm, 'config.train.clipNorm'),
    earlyStopping: t.earlyStopping === undefined ? undefined : checkOptions(t.earlyStopping, 'config.train.earlyStopping'),
    checkpointEvery: checkInt(t.checkpointEvery ?? 0, 'config.train.checkpointEvery', 0),
    updateEvery: checkInt(t.updateEvery ?? 0, 'config.train.updateEvery', 0),
    lossEvery: checkInt(t.lossEvery ?? 16, 'config.train.lossEvery', 1),
  };
  if (loop.earlyStopping) checkKnownKeys(loop.earlyStopping, 'config.train.earlyStopping', ['metric', 'task', 'patience', 'minDelta']);

  const out = checkOptions(c.output ?? {}, 'config.output');
  checkKnownKeys(out, 'config.output', ['dir', 'safetensors', 'report']);
  if (out.dir !== undefined && (typeof out.dir !== 'string' || out.dir === '')) throw invalid('a directory path', 'config.output.dir', out.dir);
  const output: ResolvedConfig['output'] = {
    dir: out.dir === undefined ? path.resolve('runs', name) : path.resolve(baseDir, out.dir),
    safetensors: checkBoolean(out.safetensors ?? false, 'config.output.safetensors'),
    report: checkBoolean(out.report ?? true, 'config.output.report'),
  };
  return { name, seed, schema, data, model, optimizer, train: loop, output, source: config };
}

/** Reads and checks a JSON config file; its paths resolve against the file's folder, its default name is the file's base name. */
export function loadTrainConfig(file: string): ResolvedConfig {
  if (typeof file !== 'string' || file === '') throw invalid('a config file path', 'config', file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ArgumentError(`Cannot read the config file ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${file}: invalid JSON (${(e as Error).message})`);
  }
  return parseTrainConfig(json as TrainConfig, path.dirname(path.resolve(file)), path.basename(file).replace(/\.json$/, ''));
}
