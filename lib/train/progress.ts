import { checkOneOf, checkPositive } from '../validate';

/** The output modes of {@link Progress}, see {@link ProgressMode}. */
export const PROGRESS_MODES = ['auto', 'bar', 'lines', 'none'] as const;
/**
 * 'bar': redrawn in place (a TTY); 'lines': a plain line every few seconds (logs); 'none': silent;
 * 'auto': 'bar' on a TTY, else 'lines'.
 */
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** 'auto' (default): a bar when the stream is a TTY, lines otherwise. */
  mode?: ProgressMode;
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & {
    /** Whether the stream is a terminal (a bar is drawn then in 'auto' mode). */
    isTTY?: boolean;
  };
  /** Seconds between lines in 'lines' mode (default 10). */
  every?: number;
  /** Clock in ms (tests inject one; default Date.now). */
  now?: () => number;
}

/**
 * Training progress for a terminal or a log: on a TTY a bar redrawn in place (samples/s,
 * loss, ETA when the total is known); elsewhere plain lines every `every` seconds and at
 * the end of each phase, so CI logs and log collectors get readable records.
 */
export class Progress {
  /** The mode in use ('auto' resolved). */
  readonly mode: Exclude<ProgressMode, 'auto'>;
  private readonly stream: NodeJS.WritableStream;
  private readonly every: number;
  private readonly now: () => number;
  private label = '';
  private total: number | null = null;
  private samples = 0;
  private lossSum = 0;
  private lossCount = 0;
  private start = 0;
  private lastLine = 0;
  private lastDraw = 0;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    const mode = checkOneOf(options.mode ?? 'auto', 'options.mode', PROGRESS_MODES);
    this.mode = mode === 'auto' ? ((this.stream as { isTTY?: boolean }).isTTY ? 'bar' : 'lines') : mode;
    this.every = checkPositive(options.every ?? 10, 'options.every');
    this.now = options.now ?? Date.now;
  }

  /** Starts a phase (an epoch or an evaluation pass) of `total` samples if known. */
  begin(label: string, total: number | null = null): void {
    this.label = label;
    this.total = total;
    this.samples = 0;
    this.lossSum = 0;
    this.lossCount = 0;
    this.start = this.lastLine = this.lastDraw = this.now();
  }

  /** Counts a batch of `samples`; when training, with the mean `loss` of the last `steps` steps once it has been read back. */
  update(samples: number, loss?: number, steps = 1): void {
    this.samples += samples;
    if (loss !== undefined && Number.isFinite(loss)) {
      this.lossSum += loss * steps;
      this.lossCount += steps;
    }
    const t = this.now();
    if (this.mode === 'bar' && t - this.lastDraw >= 100) {
      this.lastDraw = t;
      this.stream.write(`\r${this.status(t)}\x1b[K`);
    } else if (this.mode === 'lines' && t - this.lastLine >= this.every * 1000) {
      this.lastLine = t;
      this.stream.write(`${this.status(t)}\n`);
    }
  }

  /** Ends the phase with a final line (plus `extra`, e.g. metrics); returns its samples/s. */
  end(extra = ''): number {
    const t = this.now();
    if (this.mode !== 'none') this.stream.write(`${this.mode === 'bar' ? '\r' : ''}${this.status(t, true)}${extra ? ` ${extra}` : ''}${this.mode === 'bar' ? '\x1b[K' : ''}\n`);
    return this.rate(t);
  }

  /** Writes a line of its own (e.g. eval metrics) unless the mode is 'none'. */
  line(text: string): void {
    if (this.mode !== 'none') this.stream.write(`${text}\n`);
  }

  /** Mean loss of the phase so far (NaN before any). */
  meanLoss(): number {
    return this.lossCount ? this.lossSum / this.lossCount : NaN;
  }

  private rate(t: number): number {
    return this.samples / Math.max((t - this.start) / 1000, 1e-3);
  }

  private status(t: number, done = false): string {
    const rate = this.rate(t);
    const parts = [this.label];
    if (this.total && this.mode === 'bar' && !done) {
      const f = Math.min(this.samples / this.total, 1);
      const width = 24;
      parts.push(`[${'#'.repeat(Math.round(f * width)).padEnd(width, '.')}] ${(f * 100).toFixed(0).padStart(3)}%`);
    }
    parts.push(this.total ? `${this.samples}/${this.total}` : `${this.samples} samples`);
    parts.push(`${rate >= 1000 ? `${(rate / 1000).toFixed(1)}k` : rate.toFixed(0)} samples/s`);
    if (this.lossCount) parts.push(`loss ${this.meanLoss().toFixed(4)}`);
    if (done) parts.push(`${((t - this.start) / 1000).toFixed(1)} s`);
    else if (this.total && rate > 0) parts.push(`ETA ${Math.max(0, (this.total - this.samples) / rate).toFixed(0)} s`);
    return parts.join('  ');
  }
}
