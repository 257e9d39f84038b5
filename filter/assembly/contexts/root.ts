// The root context of one VM: owns the parsed configuration and the bounding state (label caps are admitted
// process-wide through shared data; see shared-admission.ts).
import {
  BufferType, getBufferString, getEnvironmentVariable, InternTable, log, LogLevel, setTickPeriodMilliseconds,
} from "../abi/host";
import { FilterConfig, parseFilterConfig, resolveTokenEnv } from "../config";
import { PathTemplater, PathTemplaterOptions } from "../policy/path-template";
import { TenantBounds, TenantResolver } from "../policy/tenant";
import { RequestMetrics } from "./metrics";
import { SharedAdmission } from "./shared-admission";
import { createResilience, nowMs, ResponseFacts } from "../resilience/filter-glue";
import { Resilience } from "../resilience/resilience";
import { ControlSession, createControlSession, resolveNode } from "../control/session";
import { reservedSeries, setProxyLabels } from "../policy/request-metrics";
import { ExportedSeries } from "./series";
import { RESILIENCE_FOLD_SERIES } from "../resilience/host-bindings";

// A sidecar's outbound traffic goes to a handful of clusters at a time; a miss only costs one decode.
const RECENT_CLUSTERS: i32 = 8;
// Istio's "outbound|<port>|<subset>|<host>" with a 253-byte DNS host fits; longer names are decoded each time.
const CLUSTER_NAME_BYTES: i32 = 512;
// Per tenant header; enough for the busy tenants of a moment, the rest cost one decode each.
const RECENT_TENANT_VALUES: i32 = 16;

// The request headers every stream reads, located in one pass (HeaderMapSnapshot.locate): these, then the tenant
// headers in configured order from FIRST_TENANT_HEADER.
export const PATH_HEADER: i32 = 0;
export const METHOD_HEADER: i32 = 1;
export const CONTENT_TYPE_HEADER: i32 = 2;
export const FIRST_TENANT_HEADER: i32 = 3;

export class RootContext {
  config: FilterConfig | null = null;
  tenants: TenantResolver | null = null;
  paths: PathTemplater | null = null;
  metrics: RequestMetrics | null = null;
  resilience: Resilience | null = null;
  control: ControlSession | null = null; // discovery stream and telemetry reports; null without controlPlane
  // Reused by every stream of this VM (callbacks never interleave within a VM), one slot per tenant header.
  tenantHeaderValues: Array<string | null> = new Array<string | null>();
  // Recent values of each tenant header, so each stream gets the same string object for the same value.
  recentTenantValues: Array<InternTable> = new Array<InternTable>();
  // Cluster names seen lately, likewise (see getPropertyStringInterned).
  recentClusters: InternTable = new InternTable(RECENT_CLUSTERS, CLUSTER_NAME_BYTES);
  // See PATH_HEADER.
  headerNames: Array<string> = new Array<string>();
  // Scratch for on_log's upstream facts (streams of a VM never log concurrently).
  responseFacts: ResponseFacts = new ResponseFacts();

  constructor(public readonly id: u32) {}

  get configured(): bool {
    return this.config !== null;
  }

  onConfigure(configurationSize: u32): bool {
    const text = configurationSize == 0
      ? ""
      : getBufferString(BufferType.PluginConfiguration, 0, configurationSize);
    const parsed = parseFilterConfig(text);
    const parsedConfig = parsed.config;
    if (parsedConfig === null) {
      log(LogLevel.Critical, parsed.error);
      return false;
    }
    const controlPlane = parsedConfig.controlPlane;
    const result = controlPlane !== null && controlPlane.tokenEnv.length > 0
      ? resolveTokenEnv(parsedConfig, getEnvironmentVariable(controlPlane.tokenEnv))
      : parsed;
    const config = result.config;
    if (config === null) {
      log(LogLevel.Critical, result.error);
      return false;
    }
    const tenant = config.tenant;
    const allowedList = tenant.allowed;
    let allowed: Set<string> | null = null;
    if (allowedList !== null) {
      allowed = new Set<string>();
      for (let i = 0; i < allowedList.length; i++) allowed.add(allowedList[i]);
    }
    this.tenantHeaderValues = new Array<string | null>(tenant.headers.length);
    this.recentTenantValues = new Array<InternTable>(tenant.headers.length);
    // A value longer than tenant.maxLength bytes is no valid tenant ("unknown"), so not worth remembering.
    for (let i = 0; i < tenant.headers.length; i++) {
      this.recentTenantValues[i] = new InternTable(RECENT_TENANT_VALUES, tenant.maxLength);
    }
    const headerNames = [":path", ":method", "content-type"];
    for (let i = 0; i < tenant.headers.length; i++) headerNames.push(tenant.headers[i]);
    this.headerNames = headerNames;
    const admission = new SharedAdmission();
    this.tenants = new TenantResolver(new TenantBounds(tenant.maxLength, tenant.maxTenants, allowed), admission);
    this.paths = new PathTemplater(new PathTemplaterOptions(
      config.paths.templates, config.paths.maxPerCluster, config.paths.maxLength, config.metrics.maxClusters,
      config.paths.collapseIds), admission);
    const series = new ExportedSeries(config.metrics.maxSeries,
      reservedSeries(config.metrics.durationHistogram, RESILIENCE_FOLD_SERIES), admission);
    const metrics = new RequestMetrics(series, config.metrics.durationHistogram);
    this.metrics = metrics;
    this.config = config;
    const resilience = createResilience(config.defaultPolicy, series);
    if (resilience.resilience === null) {
      this.config = null;
      log(LogLevel.Critical, resilience.error);
      return false;
    }
    this.resilience = resilience.resilience;
    const node = resolveNode(config.node);
    setProxyLabels(node.reporter, node.workload, node.namespace);
    this.control = createControlSession(config, node, resilience.resilience!);
    setTickPeriodMilliseconds(<u32>config.tickMs);
    return true;
  }

  onTick(): void {
    // Merge local windows into shared data and evaluate breakers, so every worker enforces within one tick.
    const resilience = this.resilience;
    if (resilience !== null) resilience.onTick(nowMs());
    const control = this.control;
    if (control !== null) control.onTick(nowMs());
  }
}
