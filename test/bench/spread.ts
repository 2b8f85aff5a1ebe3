/**
 * `node --import tsx test/bench/spread.ts [objects] [reps]`: what an object literal costs when it
 * copies another object's properties, in the three forms a launch used to make its session row,
 * its entitlement's claims and its stored answer: properties written after a spread
 * (`{ ...o, a, b, c }`), before it (`{ a, b, c, ...o }`), and field by field. Each object is fresh
 * (made by one function, as rows and claims are); the forms alternate in each rep. Prints ns an
 * object and each form's ratio to field by field. On Node 20 the first costs about a microsecond a
 * property written after the spread; run it again on a newer Node before keeping the rule.
 */
const count = Number(process.argv[2] ?? 200_000);
const reps = Number(process.argv[3] ?? 4);

interface Claims {
  sub: string;
  product: string;
  productName: string;
  source: string;
  team: string;
  teamName: string;
  sid: string;
  iat: number;
  exp: number;
}

const made = (i: number): Claims => ({
  sub: `user${i}@example.com`,
  product: 'REVIT',
  productName: 'Revit',
  source: 'flex',
  team: 'team_0123456789abcdef',
  teamName: 'Demo Architects',
  sid: `ses_${i}`,
  iat: 1_764_936_000 + i,
  exp: 1_765_022_400 + i,
});

const forms: Record<string, (c: Claims, i: number) => { exp: number }> = {
  'after a spread': (c, i) => ({ ...c, iss: 'flexgate', aud: 'entitlement', jti: `ent_${i}` }),
  'before a spread': (c, i) => ({ iss: 'flexgate', aud: 'entitlement', jti: `ent_${i}`, ...c }),
  'field by field': (c, i) => ({
    sub: c.sub,
    product: c.product,
    productName: c.productName,
    source: c.source,
    team: c.team,
    teamName: c.teamName,
    sid: c.sid,
    iat: c.iat,
    exp: c.exp,
    iss: 'flexgate',
    aud: 'entitlement',
    jti: `ent_${i}`,
  }),
};

function nsPerObject(form: (c: Claims, i: number) => { exp: number }): number {
  let sum = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) sum += form(made(i), i).exp;
  const ns = Number(process.hrtime.bigint() - start) / count;
  if (sum === 0) throw new Error('no objects made');
  return ns;
}

console.log(`Node ${process.version}, ${count} objects a form a rep`);
for (let rep = 1; rep <= reps; rep++) {
  const ns = Object.fromEntries(Object.entries(forms).map(([name, form]) => [name, nsPerObject(form)]));
  const base = ns['field by field'] as number;
  const cells = Object.entries(ns).map(([name, v]) => `${name} ${v.toFixed(0)} ns (${(v / base).toFixed(1)}x)`);
  console.log(`rep ${rep}: ${cells.join(', ')}`);
}
