/**
 * Stable string → int64 id hashing for categorical values: FNV-1a 64 over the UTF-8 bytes,
 * computed in two 32-bit halves (BigInt only for the result), so the same string gives the
 * same id on every run and machine. Ids are non-negative (the top bit is cleared): 63 bits,
 * so collisions among 10^5 distinct strings have a chance of about 5·10^-10.
 */
import { invalid } from '../validate';

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
// The FNV-64 prime is 2^40 + 0x1b3.
const PRIME_LO = 0x1b3;

let hi = 0;
let lo = 0;

function byte(b: number): void {
  lo = (lo ^ b) >>> 0;
  const tLo = lo * PRIME_LO;
  const tHi = hi * PRIME_LO + ((lo << 8) >>> 0) + Math.floor(tLo / 4294967296);
  lo = tLo >>> 0;
  hi = tHi >>> 0;
  // tHi < 2^42, exact in a double; `>>> 0` keeps it mod 2^32.
}

/** Feeds the UTF-8 bytes of `s` (lone surrogates as 3-byte sequences). */
function feed(s: string): void {
  for (let i = 0; i < s.length; ++i) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      byte(c);
    } else if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 63));
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          ++i;
          byte(0xf0 | (c >> 18));
          byte(0x80 | ((c >> 12) & 63));
          byte(0x80 | ((c >> 6) & 63));
          byte(0x80 | (c & 63));
          continue;
        }
      }
      byte(0xe0 | (c >> 12));
      byte(0x80 | ((c >> 6) & 63));
      byte(0x80 | (c & 63));
    }
  }
}

/** The plain FNV-1a 64 hash of a string's UTF-8 bytes, as an unsigned 64-bit bigint. */
export function fnv1a64(text: string): bigint {
  if (typeof text !== 'string') throw invalid('a string', 'text', text);
  hi = OFFSET_HI;
  lo = OFFSET_LO;
  feed(text);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * The id of `value` in `field`: FNV-1a 64 of UTF-8(field) ‖ 0xFF ‖ UTF-8(value) (0xFF never
 * occurs in UTF-8, so field and value cannot run into each other), top bit cleared: a
 * non-negative int64. The same value in different fields gets different ids; `field` ''
 * is the key of every field when a schema's perFieldHash is false.
 */
export function hashId(field: string, value: string): bigint {
  if (typeof field !== 'string') throw invalid('a string', 'field', field);
  if (typeof value !== 'string') throw invalid('a string', 'value', value);
  hi = OFFSET_HI;
  lo = OFFSET_LO;
  feed(field);
  byte(0xff);
  feed(value);
  return (BigInt(hi & 0x7fffffff) << 32n) | BigInt(lo);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER = /^[+-]?\d+$/;

/** An int64 from decimal text, exactly (beyond 2^53 too); undefined for anything else or out of range. */
export function parseInt64(text: string): bigint | undefined {
  const s = text.trim();
  if (!INTEGER.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}
