/**
 * Metrics over every rank's predictions: each rank's evaluated rows (less its padding rows)
 * gathered to every rank in rank order, so each computes the same exact AUC over all of them.
 */
import { EvalRows } from '../train/trainer';
import { Padding } from './data';
import { ProcessGroup } from './process-group';

function gatherNumbers(group: ProcessGroup, values: number[]): number[] {
  const parts = group.allGather(Float64Array.from(values)).wait();
  const out: number[] = [];
  for (const p of parts) for (let i = 0; i < p.length; ++i) out.push(p[i]);
  return out;
}

/** Users may be numbers, strings or bigints: they travel as JSON. */
function gatherUsers(group: ProcessGroup, users: (number | string | bigint)[]): (number | string | bigint)[] {
  const json = JSON.stringify(users.map((u) => (typeof u === 'bigint' ? { b: u.toString() } : u)));
  const parts = group.allGather(new TextEncoder().encode(json)).wait();
  const decoder = new TextDecoder();
  return parts.flatMap((p) => (JSON.parse(decoder.decode(p)) as (number | string | { b: string })[]).map((u) => (typeof u === 'object' ? BigInt(u.b) : u)));
}

/** Every rank's rows (a collective; `tasks` columns per row). */
export function gatherEvalRows(group: ProcessGroup, rows: EvalRows, padding: Padding, tasks: number): EvalRows {
  const n = rows.outputs.length / tasks - padding.rows;
  const cut = <T>(a: T[] | null, per: number) => (a === null ? null : a.slice(0, n * per));
  const mine = { outputs: cut(rows.outputs, tasks)!, labels: cut(rows.labels, tasks)!, mask: cut(rows.mask, tasks)!, weights: cut(rows.weights, 1), domains: cut(rows.domains, 1), users: cut(rows.users, 1) };
  return {
    outputs: gatherNumbers(group, mine.outputs),
    labels: gatherNumbers(group, mine.labels),
    mask: gatherNumbers(group, mine.mask),
    weights: mine.weights && gatherNumbers(group, mine.weights),
    domains: mine.domains && gatherNumbers(group, mine.domains),
    users: mine.users && gatherUsers(group, mine.users),
  };
}
