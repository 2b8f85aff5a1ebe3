/** RFC 4180 CSV, as spreadsheets write it: quoted fields, doubled quotes, CRLF or LF, a BOM. */

export interface CsvRecord {
  /** The file line the record starts on, 1-based (a quoted field may span several lines). */
  line: number;
  fields: string[];
}

export type CsvParse = { ok: true; records: CsvRecord[] } | { ok: false; line: number; message: string };

/**
 * Splits a whole file into records. Blank lines are skipped (they still count as lines). A
 * stray quote inside an unquoted field is kept as text, as spreadsheets do; an unterminated
 * quoted field is the one error that stops parsing, since everything after it is ambiguous.
 */
export function parseCsv(input: string): CsvParse {
  const records: CsvRecord[] = [];
  const it = csvRecords(input);
  for (let next = it.next(); ; next = it.next()) {
    if (next.done) return next.value ?? { ok: true, records };
    records.push(next.value);
  }
}

/**
 * `parseCsv` one record at a time, so that a caller can pause between records of a large file.
 * Returns the error that stopped it, or null at the end of the file.
 */
export function* csvRecords(input: string): Generator<CsvRecord, { ok: false; line: number; message: string } | null> {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let endOfRecord = false;
    while (i < n && !endOfRecord) {
      const ch = text[i] as string;
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) line++;
          field += ch;
          i++;
        }
        continue;
      }
      if (ch === '"' && field.length === 0) {
        quoted = true;
        i++;
      } else if (ch === ',') {
        fields.push(field);
        field = '';
        i++;
      } else if (ch === '\r' || ch === '\n') {
        i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        endOfRecord = true;
      } else {
        field += ch;
        i++;
      }
    }
    if (quoted) return { ok: false, line: start, message: 'A quoted field is never closed (a " is missing).' };
    fields.push(field);
    const blank = fields.length === 1 && (fields[0] as string).trim() === '';
    if (!blank) yield { line: start, fields };
  }
  return null;
}

/** One CSV field: quoted when it holds a separator, a quote, a line break or edge spaces. */
export function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A text cell a spreadsheet would run as a formula (=, +, -, @) gets a leading apostrophe:
 * a report opened in Excel must never execute what a user typed as their name.
 */
export function csvText(value: string): string {
  return csvField(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}
