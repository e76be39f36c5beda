/**
 * RFC 4180 record splitting: fields separated by a delimiter, a field in double quotes may
 * hold delimiters, line breaks and doubled quotes (`""` for `"`). A quote inside an unquoted
 * field is kept as it is.
 */

/** A record's fields, or `open` (a quoted field runs on to the next line), or a syntax error. */
export type CsvRecord = { fields: string[] } | { open: true } | { error: string };

/** Splits one record (text that may span several physical lines, joined with '\n'). */
export function splitCsvRecord(text: string, delimiter: string): CsvRecord {
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let from = ++i;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return { open: true };
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return { fields };
      if (!text.startsWith(delimiter, i)) return { error: `malformed quoting in column ${fields.length}: '${text.slice(i, i + 10)}' after the closing quote` };
      i += delimiter.length;
    } else {
      const d = text.indexOf(delimiter, i);
      if (d < 0) {
        fields.push(text.slice(i));
        return { fields };
      }
      fields.push(text.slice(i, d));
      i = d + delimiter.length;
    }
  }
}
