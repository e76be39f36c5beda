/**
 * A prediction request as it arrives: its body read within a size limit, parsed as JSON (one
 * object, or an array of them within a count limit), and every object checked with the
 * schema's own row parsing (`rowFromObject`: ids, numbers, transforms, defaults), so a
 * malformed request is answered 400 — naming the object and the field — before it can join a
 * batch. What is scored is the objects themselves, parsed again by the model's collate (and,
 * in a worker, the body text parsed again there).
 */
import type { IncomingMessage } from 'node:http';
import { rowFromObject } from '../../data/readers';
import { DataSchema } from '../../data/schema';
import type { CheckedRequest } from './lanes';

/** An error answered with an HTTP status: the client's (400, 413) or the server's state (503). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A request's objects to score and the body they were parsed from; `single`: the body was one object (answered with one). */
export interface ParsedRequest extends CheckedRequest {
  single: boolean;
}

/**
 * The body's bytes, or a 413 HttpError once it passes `limit` (the rest is read and dropped;
 * answer with `connection: close`).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, `the body is ${declared} bytes; the limit is ${limit}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: Error | null) => {
      req.off('data', data).off('end', end).off('error', done).off('close', closed);
      req.on('error', () => {}); // a late socket error must not go unhandled
      if (error) reject(error);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const data = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done(new HttpError(413, `the body is over the limit of ${limit} bytes`));
      req.resume(); // drop the rest, so the connection closes cleanly after the answer
    };
    const end = () => done(null);
    const closed = () => done(new HttpError(400, 'the client closed the connection before the body ended'));
    req.on('data', data).on('end', end).on('error', done).on('close', closed);
  });
}

/**
 * Parses and checks a body: one object (named `body` in errors) or a non-empty array of at
 * most `maxRows` objects (`body[i]`). Throws an HttpError: 400 for bad JSON or a bad field
 * ("body[3], field 'age': expected a number but found 'abc'"), 413 for too many objects.
 */
export function parseRequest(text: string, schema: DataSchema, maxRows: number): ParsedRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `invalid JSON: ${(e as Error).message}`);
  }
  const single = !Array.isArray(body);
  const rows = (single ? [body] : body) as Record<string, unknown>[];
  if (rows.length === 0) throw new HttpError(400, 'expected an object or a non-empty array of objects but found an empty array');
  if (rows.length > maxRows) throw new HttpError(413, `the body holds ${rows.length} objects; the limit is ${maxRows}`);
  for (let i = 0; i < rows.length; ++i) {
    try {
      rowFromObject(schema, rows[i], single ? 'body' : `body[${i}]`);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
  }
  return { rows, body: text, single };
}
