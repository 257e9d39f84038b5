// stats_config.stats_tags of Istio's sidecar bootstrap, per Istio minor, as data: the TagSpecifiers Envoy's
// TagProducer applies to every stat name (stats.ts), with the plugin's extraStatTags rendered where the template puts
// them. Only the stats_tags list is kept, nothing else of the bootstrap.
//
// Source: istio/istio tools/packaging/common/envoy_bootstrap.json, read at every release tag 1.24.0 … 1.28.10. The
// stats_config block is byte-identical from 1.24.0 to 1.25.5 (13 tags) and from 1.26.0 to 1.28.10 (30 tags).
// 1.24/1.25 choose the cluster_name and http_conn_manager_prefix regexes by `delimited_stats_tags_enabled`, which
// pilot sets from ENABLE_DELIMITED_STATS_TAG_REGEX (default true: istio/istio 1.24.0 and 1.25.0,
// pilot/pkg/features/telemetry.go); 1.26.0 dropped the switch and kept only the delimited form.
// Istio ≥ 1.18 has no `(response_code=\.=(.+?);\.;)` specifier of its own any more (istio/istio#44154, commit
// d1c2dbd0ae7 "clean DefaultStatTags"): only Envoy's `_rq(_(\d{3}))$` form, so a `response_code=.=…;.;` label must
// come from extraStatTags.
import type { TagSpecifier } from './stats.ts';

export const ISTIO_VERSIONS = ['1.24', '1.25', '1.26', '1.27', '1.28'] as const;
export type IstioVersion = (typeof ISTIO_VERSIONS)[number];

/** One bootstrap's stats_tags: the specifiers before `{{ range .extraStatTags }}` and those after it. */
interface BootstrapStatTags { before: TagSpecifier[]; after: TagSpecifier[] }

// JSON-unescaped copies of the template's regexes (the template's "\\." is the regex \.).
const CLUSTER_NAME_DELIMITED: TagSpecifier = { tag: 'cluster_name', regex: '^cluster(\\.(.+);)' };
const HCM_PREFIX_DELIMITED: TagSpecifier = {
  tag: 'http_conn_manager_prefix', regex: '^http\\.(((?:[_.[:digit:]\\w]*|[_\\[\\]aAbBcCdDeEfF[:digit:]\\w\\:]*));\\.)',
};
const CLUSTER_NAME_LEGACY: TagSpecifier = { tag: 'cluster_name', regex: '^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)' };
const HCM_PREFIX_LEGACY: TagSpecifier = {
  tag: 'http_conn_manager_prefix', regex: '^http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)',
};
const COMMON_BEFORE: TagSpecifier[] = [
  { tag: 'thread_name', regex: '^server(\\.(.+))\\.watchdog' },
  { tag: 'tcp_prefix', regex: '^tcp\\.((.*?)\\.)\\w+?$' },
  { tag: 'response_code', regex: '_rq(_(\\d{3}))$' },
  { tag: 'response_code_class', regex: '_rq(_(\\dxx))$' },
  {
    tag: 'http_conn_manager_listener_prefix',
    regex: '^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)',
  },
  { tag: 'listener_address', regex: '^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)' },
  { tag: 'mongo_prefix', regex: '^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$' },
];
/** The unanchored specifiers after extraStatTags: they match anywhere in a stat name, labels included. */
export const ISTIO_UNANCHORED_AFTER_EXTRA: TagSpecifier[] = [
  { tag: 'cache', regex: '(cache\\.(.+?)\\.)' },
  { tag: 'component', regex: '(component\\.(.+?)\\.)' },
  { tag: 'tag', regex: '(tag\\.(.+?);\\.)' },
  { tag: 'wasm_filter', regex: '(wasm_filter\\.(.+?)\\.)' },
  { tag: 'authz_enforce_result', regex: 'rbac(\\.(allowed|denied))' },
  { tag: 'authz_dry_run_action', regex: '(\\.istio_dry_run_(allow|deny)_)' },
  { tag: 'authz_dry_run_result', regex: '(\\.shadow_(allowed|denied))' },
];

const DELIMITED: BootstrapStatTags = {
  before: [CLUSTER_NAME_DELIMITED, HCM_PREFIX_DELIMITED, ...COMMON_BEFORE], after: ISTIO_UNANCHORED_AFTER_EXTRA,
};
const NON_DELIMITED: BootstrapStatTags = {
  before: [CLUSTER_NAME_LEGACY, HCM_PREFIX_LEGACY, ...COMMON_BEFORE], after: ISTIO_UNANCHORED_AFTER_EXTRA,
};

const BOOTSTRAP: Record<IstioVersion, { delimited: BootstrapStatTags; nonDelimited?: BootstrapStatTags }> = {
  '1.24': { delimited: DELIMITED, nonDelimited: NON_DELIMITED },
  '1.25': { delimited: DELIMITED, nonDelimited: NON_DELIMITED },
  '1.26': { delimited: DELIMITED },
  '1.27': { delimited: DELIMITED },
  '1.28': { delimited: DELIMITED },
};

/** What the template renders for one `extraStatTags` entry. */
export function extraStatTagSpecifier(tag: string): TagSpecifier {
  if (!/^[a-z_][a-z0-9_]*$/.test(tag)) throw new Error(`invalid extraStatTags: ${JSON.stringify(tag)} must be a lowercase tag name`);
  return { tag, regex: `(${tag}=\\.=(.*?);\\.;)` };
}

/**
 * The bootstrap's stats_tags for an Istio minor with these extraStatTags, in the template's order.
 * `delimitedStatsTags: false` is ENABLE_DELIMITED_STATS_TAG_REGEX=false, which only 1.24 and 1.25 honour.
 */
export function istioBootstrapStatsTags(
  istio: IstioVersion, extraStatTags: readonly string[], opts: { delimitedStatsTags?: boolean } = {},
): TagSpecifier[] {
  const entry = BOOTSTRAP[istio];
  if (entry === undefined) throw new Error(`invalid Istio version: ${istio} must be one of ${ISTIO_VERSIONS.join(', ')}`);
  const set = opts.delimitedStatsTags === false ? entry.nonDelimited : entry.delimited;
  if (set === undefined) throw new Error(`invalid stats tag options: delimitedStatsTags must be true for Istio ${istio}`);
  return [...set.before, ...extraStatTags.map(extraStatTagSpecifier), ...set.after];
}
