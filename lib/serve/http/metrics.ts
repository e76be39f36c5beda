import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the metrics read from the server when scraped. */
export interface ServeMetricsSource {
  /** The step of the model served. */
  step(): number;
  /** Rows waiting or running. */
  queued(): number;
}

/**
 * The server's Prometheus metrics (prom-client, in a registry of its own): HTTP requests by
 * route and status, the prediction latency, rows per forward call and failed calls, the
 * model's step, the age of the served weights, updates applied and refused, requests in
 * flight and rows queued, plus Node's process metrics. `GET /metrics` serves `text()`.
 */
export class ServeMetrics {
  /** The prom-client registry holding every metric. */
  readonly registry = new Registry();
  /** The Content-Type of `text()` (Prometheus text format). */
  readonly contentType = this.registry.contentType;
  private readonly requests: Counter<'route' | 'status'>;
  private readonly latency: Histogram;
  private readonly batchRows: Histogram;
  private readonly runFailures: Counter;
  private readonly updates: Counter<'result'>;
  private readonly inFlight: Gauge;
  /** When the served weights last changed (loaded, or an update applied), in ms since the epoch. */
  private changedAt = Date.now();

  constructor(source: ServeMetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gatewise_' });
    this.requests = new Counter({ name: 'gatewise_http_requests_total', help: 'HTTP requests answered, by route and status code', labelNames: ['route', 'status'], registers });
    this.latency = new Histogram({
      name: 'gatewise_predict_duration_seconds',
      help: 'Time from a POST /predict arriving to its answer, in seconds',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.batchRows = new Histogram({ name: 'gatewise_batch_rows', help: 'Rows scored per forward call (a batch, or a part of a failed one re-run)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers });
    this.runFailures = new Counter({ name: 'gatewise_batch_failures_total', help: 'Forward calls that failed (their batch is re-run in halves)', registers });
    this.updates = new Counter({ name: 'gatewise_updates_total', help: 'Serving updates, by result (applied or refused)', labelNames: ['result'], registers });
    this.inFlight = new Gauge({ name: 'gatewise_http_requests_in_flight', help: 'HTTP requests received and not yet answered', registers });
    const changedAt = () => this.changedAt;
    new Gauge({
      name: 'gatewise_model_step',
      help: 'The training step of the weights served',
      registers,
      collect() {
        this.set(source.step());
      },
    });
    new Gauge({
      name: 'gatewise_model_update_age_seconds',
      help: 'Seconds since the served weights last changed (loaded or updated)',
      registers,
      collect() {
        this.set((Date.now() - changedAt()) / 1000);
      },
    });
    new Gauge({
      name: 'gatewise_queued_rows',
      help: 'Rows waiting for or in a forward call',
      registers,
      collect() {
        this.set(source.queued());
      },
    });
  }

  /** A request arrived; the returned function records its answer. */
  started(route: string): (status: number) => void {
    this.inFlight.inc();
    const t0 = performance.now();
    return (status) => {
      this.inFlight.dec();
      this.requests.inc({ route, status: String(status) });
      if (route === '/predict') this.latency.observe((performance.now() - t0) / 1000);
    };
  }

  /** Counts one forward call of `rows` rows, and a failure when it failed. */
  forwardCall(rows: number, failed: boolean): void {
    this.batchRows.observe(rows);
    if (failed) this.runFailures.inc();
  }

  /** Counts a serving update, applied or refused; an applied one resets the weights' age. */
  update(applied: boolean): void {
    this.updates.inc({ result: applied ? 'applied' : 'refused' });
    if (applied) this.changedAt = Date.now();
  }

  /** Every metric in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
