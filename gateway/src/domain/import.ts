import { isEmailAddress, normalAutodeskId } from '@flexgate/shared';
import { type CsvRecord, csvRecords } from './csv';

/** R14: the member import, `name,email,products,guest`, up to 10,000 rows in one file. */
export const IMPORT_MAX_ROWS = 10_000;
export const IMPORT_COLUMNS = ['name', 'email', 'products', 'guest'] as const;
/**
 * Rows between two pauses of an import (`importSteps`, and the service's writes): a 10,000-row
 * file checked or written in one go would hold the event loop, and every other request, for it.
 */
export const IMPORT_STEP = 500;

export interface ImportRow {
  line: number;
  name: string;
  email: string;
  /** `*` (or `all`) in the products column means "all products" (R12). */
  allProducts: boolean;
  products: string[];
  guest: boolean;
}

export interface ImportPlan {
  rows: ImportRow[];
  errors: { line: number; message: string }[];
}

const TRUE = new Set(['true', 'yes', 'y', '1', 'x', 'guest']);
const FALSE = new Set(['', 'false', 'no', 'n', '0']);

/**
 * Checks a whole file against the catalog without touching the database: every row comes out
 * either valid or with one message naming its line, so the service can apply the valid rows and
 * report the others (per-row all-or-nothing). A file-level problem (no header, too many rows)
 * throws a message instead: nothing of it is applied.
 */
export function planImport(csv: string, catalog: ReadonlySet<string>): ImportPlan | { fileError: string } {
  const steps = importSteps(csv, catalog);
  for (let next = steps.next(); ; next = steps.next()) if (next.done) return next.value;
}

/**
 * `planImport` in steps: it pauses (yields) every `IMPORT_STEP` records, so that the service can
 * let other requests run between them. Pure all the same: nothing but the file and the catalog.
 */
export function* importSteps(csv: string, catalog: ReadonlySet<string>): Generator<void, ImportPlan | { fileError: string }> {
  const parsed: CsvRecord[] = [];
  const it = csvRecords(csv);
  for (let next = it.next(); ; next = it.next()) {
    if (next.done) {
      if (next.value) return { fileError: `Line ${next.value.line}: ${next.value.message}` };
      break;
    }
    parsed.push(next.value);
    if (parsed.length % IMPORT_STEP === 0) yield;
  }
  const [header, ...records] = parsed;
  if (!header) return { fileError: 'The file is empty; the first line must be the header name,email,products,guest.' };
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const col = new Map<string, number>();
  for (const [i, name] of names.entries()) {
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name)) {
      return { fileError: `Line ${header.line}: unknown column "${header.fields[i]}"; the header must be name,email,products,guest.` };
    }
    if (col.has(name)) return { fileError: `Line ${header.line}: the column "${name}" appears twice.` };
    col.set(name, i);
  }
  for (const required of ['name', 'email'] as const) {
    if (!col.has(required))
      return { fileError: `Line ${header.line}: the header has no "${required}" column; it must be name,email,products,guest.` };
  }
  if (records.length > IMPORT_MAX_ROWS) {
    return { fileError: `The file has ${records.length} rows; an import takes at most ${IMPORT_MAX_ROWS}. Split it into several files.` };
  }

  const rows: ImportRow[] = [];
  const errors: ImportPlan['errors'] = [];
  const seen = new Map<string, number>();
  const cell = (fields: string[], name: string) => {
    const i = col.get(name);
    return i === undefined ? '' : (fields[i] ?? '').trim();
  };
  for (const [k, r] of records.entries()) {
    if (k > 0 && k % IMPORT_STEP === 0) yield;
    const fail = (message: string) => errors.push({ line: r.line, message });
    if (r.fields.length > names.length) {
      fail(`${r.fields.length} fields where the header has ${names.length}; quote a value that contains a comma.`);
      continue;
    }
    const name = cell(r.fields, 'name').replace(/\s+/g, ' ');
    const email = normalAutodeskId(cell(r.fields, 'email'));
    if (!email) {
      fail('The e-mail is empty.');
      continue;
    }
    if (!isEmailAddress(email)) {
      fail(`"${email}" is not an e-mail address.`);
      continue;
    }
    if (!name) {
      fail(`The name of ${email} is empty.`);
      continue;
    }
    if (name.length > 200) {
      fail(`The name of ${email} is longer than 200 characters.`);
      continue;
    }
    // As an invitation's name refuses them: they would go into the e-mails and pages as they are.
    // (Quotes and "@" are fine here: the e-mail has a column of its own.)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(name)) {
      fail(`The name of ${email} contains control characters.`);
      continue;
    }
    const earlier = seen.get(email);
    if (earlier !== undefined) {
      fail(`${email} is already on line ${earlier}.`);
      continue;
    }
    const guestText = cell(r.fields, 'guest').toLowerCase();
    if (!TRUE.has(guestText) && !FALSE.has(guestText)) {
      fail(`guest is "${guestText}"; write true or false (or leave it empty for false).`);
      continue;
    }
    const productsText = cell(r.fields, 'products');
    const all = productsText === '*' || productsText.toLowerCase() === 'all';
    const products = all
      ? []
      : [
          ...new Set(
            productsText
              .split(';')
              .map((p) => p.trim().toLowerCase())
              .filter((p) => p !== ''),
          ),
        ];
    const unknown = products.filter((p) => !catalog.has(p));
    if (unknown.length > 0) {
      fail(`Not in the Flex catalog: ${unknown.join(', ')}.`);
      continue;
    }
    seen.set(email, r.line);
    rows.push({ line: r.line, name, email, allProducts: all, products, guest: TRUE.has(guestText) });
  }
  return { rows, errors };
}
