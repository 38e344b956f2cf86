/**
 * A strict reader of Prometheus's text exposition format 0.0.4 (prometheus.io, "Exposition
 * formats"), for tests: it throws on anything a Prometheus server would refuse or that the
 * format forbids, so a test that parses a scrape proves the scrape is valid. Checked: HELP and
 * TYPE lines (once per family, TYPE before its samples), metric and label names, label value
 * escapes, float values (NaN, +Inf, -Inf), optional integer timestamps, each family's lines
 * together, no series twice, the trailing newline; counters never negative; a histogram's
 * buckets sorted by `le`, cumulative, ending with +Inf equal to its _count, and a _sum.
 * (No npm parser checks all this: parse-prometheus-text-format is lenient.)
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parses a whole scrape; throws an Error naming the line for anything invalid. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: MetricFamily | undefined;
  const lines = text.split('\n');
  lines.pop();
  const family = (name: string, lineNo: number): MetricFamily => {
    let f = families.get(name);
    if (f && closed.has(name)) throw new Error(`line ${lineNo}: the lines of ${name} are not together`);
    if (!f) {
      f = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, f);
    }
    if (current && current !== f) closed.add(current.name);
    current = f;
    return f;
  };
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest = ''] = m;
      if (!metricName.test(name!)) throw new Error(`line ${lineNo}: "${name}" is not a metric name`);
      const f = family(name!, lineNo);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${lineNo}: a second HELP for ${name}`);
        f.help = unescapeHelp(rest, lineNo);
      } else {
        if (f.samples.length > 0) throw new Error(`line ${lineNo}: TYPE of ${name} after its samples`);
        if (f.type !== 'untyped' || !types.has(rest.trim() as MetricType)) throw new Error(`line ${lineNo}: bad or second TYPE for ${name}: "${rest}"`);
        f.type = rest.trim() as MetricType;
      }
      return;
    }
    const sample = parseSample(line, lineNo);
    const f = family(familyOf(sample.name, families), lineNo);
    const series = `${sample.name}{${Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (seen.has(series)) throw new Error(`line ${lineNo}: ${series} appears twice`);
    seen.add(series);
    if (f.type !== 'untyped' && f.type !== 'gauge' && !allowedName(f, sample.name)) throw new Error(`line ${lineNo}: ${sample.name} does not belong to the ${f.type} ${f.name}`);
    if (f.type === 'counter' && !(sample.value >= 0)) throw new Error(`line ${lineNo}: counter ${sample.name} is ${sample.value}`);
    f.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`, or undefined. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}

function familyOf(sampleName: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
  }
  return sampleName;
}

function allowedName(f: MetricFamily, name: string): boolean {
  if (f.type === 'counter') return name === f.name;
  if (f.type === 'histogram') return [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(name);
  return [f.name, `${f.name}_sum`, `${f.name}_count`].includes(name); // summary
}

function parseSample(line: string, lineNo: number): Sample {
  let at = 0;
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error(`line ${lineNo}: no metric name: ${line}`);
  const name = nameMatch[0];
  at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at));
      if (!ln || !labelName.test(ln[0])) throw new Error(`line ${lineNo}: bad label name at column ${at + 1}: ${line}`);
      if (ln[0].startsWith('__')) throw new Error(`line ${lineNo}: label ${ln[0]} is reserved`);
      at += ln[0].length;
      if (line.slice(at, at + 2) !== '="') throw new Error(`line ${lineNo}: expected =" at column ${at + 1}: ${line}`);
      at += 2;
      let value = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) throw new Error(`line ${lineNo}: unterminated label value: ${line}`);
        at++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[at++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`line ${lineNo}: bad escape \\${e ?? ''} in a label value`);
        } else value += c;
      }
      if (Object.hasOwn(labels, ln[0])) throw new Error(`line ${lineNo}: label ${ln[0]} twice`);
      labels[ln[0]] = value;
      if (line[at] === ',') {
        at++;
        if (line[at] === '}') throw new Error(`line ${lineNo}: a trailing comma in the labels`);
      } else if (line[at] !== '}') throw new Error(`line ${lineNo}: expected , or } at column ${at + 1}: ${line}`);
    }
    at++;
  }
  const rest = line.slice(at);
  const m = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
  if (!m) throw new Error(`line ${lineNo}: expected a value (and an optional timestamp): ${line}`);
  return { name, labels, value: parseValue(m[1]!, lineNo) };
}

function parseValue(text: string, lineNo: number): number {
  // Prometheus reads values with Go's strconv.ParseFloat, which takes NaN and Inf in any case
  // (prom-client writes "Nan" for an event-loop lag not yet sampled).
  if (/^nan$/i.test(text)) return NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`line ${lineNo}: "${text}" is not a number`);
  return Number(text);
}

function unescapeHelp(text: string, lineNo: number): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    throw new Error(`line ${lineNo}: bad escape \\${e} in HELP`);
  });
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<{ le: number; value: number }>; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${s.name} without le`);
      g.buckets.push({ le: parseValue(le, 0), value: s.value });
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name} ${key}: no _count or _sum`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]!.le > g.buckets[i - 1]!.le)) throw new Error(`${f.name} ${key}: buckets not in order of le`);
      if (g.buckets[i]!.value < g.buckets[i - 1]!.value) throw new Error(`${f.name} ${key}: buckets not cumulative`);
    }
    const last = g.buckets.at(-1);
    if (!last || last.le !== Infinity) throw new Error(`${f.name} ${key}: no +Inf bucket`);
    if (last.value !== g.count) throw new Error(`${f.name} ${key}: the +Inf bucket (${last.value}) is not _count (${g.count})`);
  }
}
