// Envoy's stats store as far as Wasm metrics reach it: one process-wide store shared by every VM, names under the
// `wasmcustom.` namespace, TagSpecifier extraction, thread-local histograms merged at flush, and the admin
// /stats and /stats/prometheus renderings.
import { readFileSync } from 'node:fs';
import { DEFAULT_PROFILE, type EnvoyProfile } from './envoy-profiles.ts';
import { istioBootstrapStatsTags } from './istio-stat-tags.ts';

export interface TagSpecifier { tag: string; regex: string }
export type MetricKind = 'counter' | 'gauge' | 'histogram';

export const WASM_CUSTOM_NAMESPACE = 'wasmcustom';
/** Envoy HistogramOptionsImpl::defaultBuckets. */
export const DEFAULT_HISTOGRAM_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** Interval samples kept per histogram between flushes (the rest are represented by a uniform reservoir). */
export const MAX_INTERVAL_SAMPLES = 4096;

export class Stat {
  value = 0;
  /**
   * Samples recorded on worker threads, not yet merged into the parent histogram: count, sum and bucket counts exact,
   * the values themselves (for the interval quantiles of /stats) a uniform reservoir of at most MAX_INTERVAL_SAMPLES,
   * so a busy interval costs bounded memory, as Envoy's fixed-size thread-local sketches do.
   */
  pending: number[] = [];
  pendingCount = 0;
  pendingSum = 0;
  pendingBuckets: number[] = [];
  interval: number[] = [];
  bucketCounts: number[] = [];
  sampleCount = 0;
  sampleSum = 0;
  used = false;
  tagExtractedName = '';
  tags: [string, string][] = [];
  constructor(readonly kind: MetricKind, readonly name: string, bucketCount: number) {
    if (kind === 'histogram') {
      this.bucketCounts = new Array(bucketCount).fill(0);
      this.pendingBuckets = new Array(bucketCount).fill(0);
    }
  }
}

/** The plugin's extraStatTags, in order: the labels the filter encodes as `tag=.=value;.;` (filter/stats-tags.json). */
export function filterExtraStatTags(): string[] {
  const specs = JSON.parse(readFileSync(new URL('../stats-tags.json', import.meta.url), 'utf8')) as TagSpecifier[];
  return specs.map((s) => s.tag);
}

/** What Envoy gets as stats_config.stats_tags under a profile: Istio's bootstrap with the filter's extraStatTags. */
export function loadDefaultStatsTags(profile: EnvoyProfile = DEFAULT_PROFILE): TagSpecifier[] {
  return istioBootstrapStatsTags(profile.istio, filterExtraStatTags());
}

/** Envoy StatNameLessThan: compares the dot-separated elements one by one. */
function statNameLess(a: string, b: string): number { return elementsLess(a.split('.'), b.split('.')); }
function elementsLess(pa: string[], pb: string[]): number {
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** Sorted by statNameLess with each name split once, not once per comparison. */
function sortByName(stats: Stat[]): Stat[] {
  const keyed = stats.map((s) => ({ s, parts: s.name.split('.') }));
  keyed.sort((a, b) => elementsLess(a.parts, b.parts));
  return keyed.map((k) => k.s);
}

function sanitizeName(name: string): string { return name.replace(/[^a-zA-Z0-9_]/g, '_'); }
function sanitizeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
function formattedTags(tags: [string, string][]): string {
  return tags.map(([k, v]) => `${sanitizeName(k)}="${sanitizeValue(v)}"`).join(',');
}
/** fmt's {:.32g} for the values histograms produce. */
function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  return String(Number(n.toPrecision(17)));
}

// One TagSpecifier as Envoy's TagProducerImpl holds it (envoyproxy/envoy v1.36.x source/common/stats/
// tag_producer_impl.cc and tag_extractor_impl.cc; the same logic in every supported version, which Istio ≤ 1.17's
// bootstrap already relied on with two `response_code` specifiers).
interface TagExtractor {
  tag: string;
  re: RegExp;
  /** TagExtractorImplBase::extractRegexPrefix: the first name token a `^token\.` regex can only match. */
  prefix: string;
  /** Another specifier has the same tag name: only the first of them that matches produces the tag. */
  shared: boolean;
}

function regexStartsWithDot(regex: string): boolean { return regex.startsWith('\\.') || regex.startsWith('(?=\\.)'); }

/** TagExtractorImplBase::extractRegexPrefix. */
export function extractRegexPrefix(regex: string): string {
  if (!regex.startsWith('^')) return '';
  for (let i = 1; i < regex.length; i++) {
    if (/[A-Za-z0-9_]/.test(regex[i])) continue;
    if (i > 1) {
      const last = i === regex.length - 1;
      if ((!last && regexStartsWithDot(regex.slice(i))) || (last && regex[i] === '$')) return regex.slice(1, i);
    }
    return '';
  }
  return '';
}

// User TagSpecifiers are std::regex (ECMAScript grammar; createTagExtractor's default Regex::Type::StdRegex), which
// JavaScript shares except for POSIX classes inside brackets, which Istio's regexes use.
const POSIX_CLASSES: Record<string, string> = { digit: '0-9', alpha: 'A-Za-z', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: '\\s' };
function ecmascriptRegex(regex: string): string {
  return regex.replace(/\[:([a-z]+):\]/g, (whole, name: string) => POSIX_CLASSES[name] ?? whole);
}

export class EnvoyStats {
  private readonly byKey = new Map<string, Stat>();
  private unprefixed: TagExtractor[] = [];
  private byPrefix = new Map<string, TagExtractor[]>();
  readonly customNamespaces = new Set<string>([WASM_CUSTOM_NAMESPACE]);

  constructor(opts: { statsTags?: TagSpecifier[]; histogramBuckets?: readonly number[] } = {}) {
    this.buckets = opts.histogramBuckets ?? DEFAULT_HISTOGRAM_BUCKETS;
    this.useTagSpecifiers(opts.statsTags ?? loadDefaultStatsTags());
  }
  readonly buckets: readonly number[];

  /** Replaces stats_config.stats_tags and re-extracts the tags of every existing stat. */
  useTagSpecifiers(specifiers: TagSpecifier[]): void {
    const extractors = specifiers.map((s): TagExtractor => {
      if (typeof s.tag !== 'string' || s.tag === '') throw new Error('invalid stats tag: tag must be a non-empty string');
      if (typeof s.regex !== 'string' || s.regex === '') throw new Error(`invalid stats tag: regex of ${s.tag} must be a non-empty string`);
      let re: RegExp;
      try { re = new RegExp(ecmascriptRegex(s.regex), 'd'); } catch { throw new Error(`invalid stats tag: regex of ${s.tag} must compile`); }
      return { tag: s.tag, re, prefix: extractRegexPrefix(s.regex), shared: false };
    });
    const seen = new Map<string, TagExtractor>();
    for (const e of extractors) {
      const other = seen.get(e.tag);
      if (other) { other.shared = true; e.shared = true; } else seen.set(e.tag, e);
    }
    // TagProducerImpl::addExtractor / forEachExtractorMatching: every extractor without a prefix in config order,
    // then those whose prefix is the name's first token.
    this.unprefixed = extractors.filter((e) => e.prefix === '');
    this.byPrefix = new Map();
    for (const e of extractors.filter((x) => x.prefix !== '')) {
      const list = this.byPrefix.get(e.prefix);
      if (list) list.push(e); else this.byPrefix.set(e.prefix, [e]);
    }
    for (const stat of this.byKey.values()) this.extractTags(stat);
  }

  /**
   * TagProducerImpl::produceTags with TagExtractorStdRegexImpl::extractTag: every extractor searches the original
   * name; group 1 is removed, group 2 (else group 1) is the value; a tag name already produced is skipped; the
   * tag-extracted name is the original minus the union of the removed ranges.
   */
  private extractTags(stat: Stat): void {
    const name = stat.name;
    const remove: [number, number][] = [];
    const tags: [string, string][] = [];
    const produced = new Set<string>();
    const dot = name.indexOf('.');
    const candidates = dot < 0 ? this.unprefixed : [...this.unprefixed, ...(this.byPrefix.get(name.slice(0, dot)) ?? [])];
    for (const e of candidates) {
      if (e.shared && produced.has(e.tag)) continue;
      const m = e.re.exec(name) as (RegExpExecArray & { indices: ([number, number] | undefined)[] }) | null;
      if (!m || m.length < 2) continue;
      const removed = m.indices[1];
      tags.push([e.tag, (m.length > 2 ? m[2] : m[1]) ?? '']);
      if (removed) remove.push(removed);
      if (e.shared) produced.add(e.tag);
    }
    let out = name;
    if (remove.length > 0) {
      const drop = new Uint8Array(name.length);
      for (const [s, e] of remove) drop.fill(1, s, e);
      out = '';
      for (let i = 0; i < name.length; i++) if (!drop[i]) out += name[i];
    }
    stat.tagExtractedName = out;
    stat.tags = tags;
  }

  /** Creates or finds a stat by its full Envoy name (what proxy_define_metric maps to, with the namespace). */
  stat(kind: MetricKind, fullName: string): Stat {
    const key = `${kind}\u0000${fullName}`;
    let s = this.byKey.get(key);
    if (!s) {
      s = new Stat(kind, fullName, this.buckets.length);
      this.extractTags(s);
      this.byKey.set(key, s);
    }
    return s;
  }
  /** The stat a Wasm module's proxy_define_metric(name) refers to. */
  wasmMetric(kind: MetricKind, name: string): Stat { return this.stat(kind, `${WASM_CUSTOM_NAMESPACE}.${name}`); }

  add(stat: Stat, delta: number): void { stat.value += delta; stat.used = true; }
  set(stat: Stat, value: number): void { stat.value = value; stat.used = true; }
  record(stat: Stat, value: number): void {
    stat.used = true;
    stat.pendingCount++;
    stat.pendingSum += value;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) stat.pendingBuckets[i]++;
    if (stat.pending.length < MAX_INTERVAL_SAMPLES) stat.pending.push(value);
    else {
      // Reservoir sampling (Vitter's algorithm R): every sample of the interval is kept with the same probability.
      const slot = Math.floor(Math.random() * stat.pendingCount);
      if (slot < MAX_INTERVAL_SAMPLES) stat.pending[slot] = value;
    }
  }

  /** Envoy merges thread-local histograms into their parents at every stats flush. */
  flushHistograms(): void {
    for (const s of this.byKey.values()) {
      if (s.kind !== 'histogram') continue;
      s.interval = s.pending;
      s.pending = [];
      s.sampleCount += s.pendingCount;
      s.sampleSum += s.pendingSum;
      for (let i = 0; i < s.bucketCounts.length; i++) {
        s.bucketCounts[i] += s.pendingBuckets[i];
        s.pendingBuckets[i] = 0;
      }
      s.pendingCount = 0;
      s.pendingSum = 0;
    }
  }

  private find(kind: MetricKind, tagExtractedName: string, tags?: Record<string, string>): Stat[] {
    const wanted = this.displayName(tagExtractedName);
    const out: Stat[] = [];
    for (const s of this.byKey.values()) {
      if (s.kind !== kind || this.displayName(s.tagExtractedName) !== wanted) continue;
      if (tags && !Object.entries(tags).every(([k, v]) => s.tags.some(([tk, tv]) => tk === k && tv === v))) continue;
      out.push(s);
    }
    return out;
  }
  /** Sum of the counters with this tag-extracted name whose tags include `tags`; undefined when none exists. */
  counter(tagExtractedName: string, tags?: Record<string, string>): number | undefined {
    const found = this.find('counter', tagExtractedName, tags);
    return found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
  }
  gauge(tagExtractedName: string, tags?: Record<string, string>): number | undefined {
    const found = this.find('gauge', tagExtractedName, tags);
    return found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
  }
  /** Merged (flushed) sample count and sum of matching histograms. */
  histogram(tagExtractedName: string, tags?: Record<string, string>): { count: number; sum: number } | undefined {
    const found = this.find('histogram', tagExtractedName, tags);
    if (found.length === 0) return undefined;
    return { count: found.reduce((a, s) => a + s.sampleCount, 0), sum: found.reduce((a, s) => a + s.sampleSum, 0) };
  }

  /** Name with a registered custom namespace stripped (as /stats shows it). */
  private displayName(name: string): string {
    const dot = name.indexOf('.');
    return dot > 0 && this.customNamespaces.has(name.slice(0, dot)) ? name.slice(dot + 1) : name;
  }
  /** PrometheusStatsFormatter::metricName: undefined means the metric is not exported. */
  private prometheusName(tagExtractedName: string): string | undefined {
    const stripped = this.displayName(tagExtractedName);
    if (stripped !== tagExtractedName) {
      const s = sanitizeName(stripped);
      return s !== '' && !/^[0-9]/.test(s) ? s : undefined;
    }
    return `envoy_${sanitizeName(tagExtractedName)}`;
  }

  /**
   * PrometheusStatsFormatter's text, in pieces of at most `statsPerPiece` stats (a piece never splits a stat).
   * The groups and their order are taken when called; values as each piece is rendered.
   */
  private *prometheusPieces(statsPerPiece: number): Generator<string> {
    let out = '';
    let inPiece = 0;
    for (const [kind, type] of [['counter', 'counter'], ['gauge', 'gauge'], ['histogram', 'histogram']] as const) {
      const groups = new Map<string, Stat[]>();
      for (const s of this.byKey.values()) {
        if (s.kind !== kind) continue;
        const g = groups.get(s.tagExtractedName);
        if (g) g.push(s); else groups.set(s.tagExtractedName, [s]);
      }
      for (const name of [...groups.keys()].sort(statNameLess)) {
        const promName = this.prometheusName(name);
        if (promName === undefined) continue;
        out += `# TYPE ${promName} ${type}\n`;
        for (const s of sortByName(groups.get(name)!)) {
          const tags = formattedTags(s.tags);
          if (kind !== 'histogram') {
            out += `${promName}{${tags}} ${formatNumber(s.value)}\n`;
          } else {
            const histTags = s.tags.length === 0 ? '' : `${tags},`;
            for (let i = 0; i < this.buckets.length; i++) {
              out += `${promName}_bucket{${histTags}le="${formatNumber(this.buckets[i])}"} ${s.bucketCounts[i]}\n`;
            }
            out += `${promName}_bucket{${histTags}le="+Inf"} ${s.sampleCount}\n`;
            out += `${promName}_sum{${tags}} ${formatNumber(s.sampleSum)}\n`;
            out += `${promName}_count{${tags}} ${s.sampleCount}\n`;
          }
          if (++inPiece >= statsPerPiece) { yield out; out = ''; inPiece = 0; }
        }
      }
    }
    if (out !== '') yield out;
  }

  renderPrometheus(): string {
    let out = '';
    for (const piece of this.prometheusPieces(Infinity)) out += piece;
    return out;
  }

  private scrape: Promise<string> | undefined;
  /**
   * The same text rendered a piece at a time, yielding to the event loop between pieces so a scrape never holds
   * the request path for more than one piece (Envoy renders admin on the main thread, never on the workers that
   * serve requests; the Node sidecar has one thread). Scrapes arriving while one renders share its result.
   */
  renderPrometheusAsync(statsPerPiece = 200): Promise<string> {
    if (this.scrape) return this.scrape;
    const pieces = this.prometheusPieces(statsPerPiece);
    const chunks: string[] = [];
    const scrape = new Promise<string>((resolve, reject) => {
      const step = (): void => {
        try {
          const next = pieces.next();
          if (next.done) { resolve(chunks.join('')); return; }
          chunks.push(next.value);
          setImmediate(step);
        } catch (e) { reject(e); }
      };
      step();
    });
    // Cleared once settled (never before it is set, even when the first piece was the whole text), so the next
    // scrape renders afresh.
    const shared: Promise<string> = scrape.finally(() => { if (this.scrape === shared) this.scrape = undefined; });
    this.scrape = shared;
    return shared;
  }

  /** Admin /stats: counters and gauges merged in name order, then histograms with their quantile summary. */
  renderText(): string {
    const scalars = [...this.byKey.values()].filter((s) => s.kind !== 'histogram')
      .map((s) => [this.displayName(s.name), s] as const).sort((a, b) => statNameLess(a[0], b[0]));
    let out = '';
    for (const [name, s] of scalars) out += `${name}: ${formatNumber(s.value)}\n`;
    const hists = [...this.byKey.values()].filter((s) => s.kind === 'histogram')
      .map((s) => [this.displayName(s.name), s] as const).sort((a, b) => statNameLess(a[0], b[0]));
    for (const [name, s] of hists) out += `${name}: ${quantileSummary(s)}\n`;
    return out;
  }
}

const QUANTILES = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];
function quantileIndex(count: number, q: number): number {
  return Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1));
}
function quantileOf(sorted: number[], q: number): string {
  if (sorted.length === 0) return 'nan';
  return String(Number(sorted[quantileIndex(sorted.length, q)].toPrecision(6)));
}
/** The same quantile over the samples the cumulative bucket counts describe, without materialising them. */
function bucketQuantileOf(bucketCounts: number[], q: number): string {
  const count = bucketCounts.length === 0 ? 0 : bucketCounts[bucketCounts.length - 1];
  if (count === 0) return 'nan';
  const idx = quantileIndex(count, q);
  const bucket = bucketCounts.findIndex((c) => c > idx);
  return String(Number(DEFAULT_HISTOGRAM_BUCKETS[bucket].toPrecision(6)));
}
/** ParentHistogramImpl::quantileSummary: "P0(interval,cumulative) P25(…) …". */
function quantileSummary(s: Stat): string {
  if (s.sampleCount === 0) return 'No recorded values';
  const interval = [...s.interval].sort((a, b) => a - b);
  // The cumulative distribution comes from bucket counts (Envoy keeps sketches, not samples), read in place: a
  // long-lived histogram's sample count is unbounded.
  return QUANTILES.map((q) => `P${q * 100}(${quantileOf(interval, q)},${bucketQuantileOf(s.bucketCounts, q)})`).join(' ');
}
