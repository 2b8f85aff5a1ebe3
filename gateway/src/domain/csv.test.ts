import { describe, expect, it } from 'vitest';
import { csvField, csvText, parseCsv } from './csv';
import { planImport } from './import';

const records = (text: string) => {
  const r = parseCsv(text);
  if (!r.ok) throw new Error(r.message);
  return r.records;
};

describe('parseCsv (R14 import files)', () => {
  it('reads LF and CRLF lines, and strips a BOM', () => {
    expect(records('\uFEFFa,b\r\nc,d\ne,f')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['c', 'd'] },
      { line: 3, fields: ['e', 'f'] },
    ]);
  });

  it('skips blank lines but keeps counting them', () => {
    expect(records('h\n\n  \r\nx\n\n')).toEqual([
      { line: 1, fields: ['h'] },
      { line: 4, fields: ['x'] },
    ]);
  });

  it('reads quoted fields with commas, doubled quotes and line breaks; the record keeps its first line', () => {
    expect(records('a,b\n"Doe, John","say ""hi""\nthere",z\nnext,1')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['Doe, John', 'say "hi"\nthere', 'z'] },
      { line: 4, fields: ['next', '1'] },
    ]);
  });

  it('counts a CRLF inside quotes as one line break, and a lone CR as one', () => {
    expect(records('a\r\n"x\r\ny",1\r\n"p\rq",2\r\nlast,3').map((r) => r.line)).toEqual([1, 2, 4, 6]);
  });

  it('keeps empty fields', () => {
    expect(records(',,\n')).toEqual([{ line: 1, fields: ['', '', ''] }]);
  });

  it('reports an unterminated quote with the line it starts on', () => {
    expect(parseCsv('a\nb\n"open,\nstill')).toEqual({ ok: false, line: 3, message: expect.stringMatching(/never closed/) });
  });
});

describe('csvField / csvText (R15 export)', () => {
  it('quotes only what needs it', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "x"')).toBe('"say ""x"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' edge')).toBe('" edge"');
    expect(csvField(-3)).toBe('-3');
  });
  it('defuses spreadsheet formulas in text cells', () => {
    expect(csvText('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvText('@cmd')).toBe("'@cmd");
  });
});

describe('R14: planImport', () => {
  const catalog = new Set(['autocad', 'revit']);
  it('validates every row on its own and names the file line of each error', () => {
    const csv = [
      'name,email,products,guest',
      'Ann One,ANN@example.com,autocad;revit,false',
      '',
      'Bad Mail,not-an-email,autocad,',
      '"Doe, Jane",jane@example.com,"autocad; REVIT ;",yes',
      'Ghost,ghost@example.com,photoshop,false',
      'Ann Again,ann@example.com,,',
      'All,all@example.com,*,0',
      'Maybe,maybe@example.com,,perhaps',
      ',noname@example.com,,',
    ].join('\r\n');
    const plan = planImport(csv, catalog);
    if ('fileError' in plan) throw new Error(plan.fileError);
    expect(plan.rows.map((r) => [r.line, r.email, r.products, r.guest, r.allProducts])).toEqual([
      [2, 'ann@example.com', ['autocad', 'revit'], false, false],
      [5, 'jane@example.com', ['autocad', 'revit'], true, false],
      [8, 'all@example.com', [], false, true],
    ]);
    expect(plan.rows[1]?.name).toBe('Doe, Jane');
    expect(plan.errors.map((e) => e.line)).toEqual([4, 6, 7, 9, 10]);
    expect(plan.errors[1]?.message).toMatch(/photoshop/);
    expect(plan.errors[2]?.message).toMatch(/already on line 2/);
  });

  it('takes a name of up to 200 characters, as the member form does', () => {
    const plan = planImport(`name,email\n${'n'.repeat(200)},long@example.com\n${'n'.repeat(201)},longer@example.com\n`, catalog);
    if ('fileError' in plan) throw new Error(plan.fileError);
    expect(plan.rows.map((r) => r.email)).toEqual(['long@example.com']);
    expect(plan.errors).toEqual([{ line: 3, message: expect.stringMatching(/longer than 200 characters/) }]);
  });

  it('accepts the columns in any order, products and guest being optional', () => {
    const plan = planImport('email,name\nx@example.com,X\n', catalog);
    expect('fileError' in plan ? plan.fileError : plan.rows.length).toBe(1);
  });

  it.each([
    ['', /empty/],
    ['name,mail\n', /unknown column "mail"/],
    ['name,products\n', /no "email" column/],
    ['name,email,email\n', /twice/],
  ])('refuses a bad header %j as a whole', (csv, message) => {
    const plan = planImport(csv, catalog);
    expect('fileError' in plan && plan.fileError).toMatch(message);
  });

  it('refuses more than 10,000 rows as a whole', () => {
    const csv = `name,email\n${Array.from({ length: 10_001 }, (_, i) => `U${i},u${i}@example.com`).join('\n')}`;
    const plan = planImport(csv, catalog);
    expect('fileError' in plan && plan.fileError).toMatch(/at most 10000/);
  });
});
