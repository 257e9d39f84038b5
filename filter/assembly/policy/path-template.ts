// Turns raw request paths into a bounded set of templates per upstream cluster. Pure.
//
// Order: strip query and fragment; paths longer than maxLength (after stripping), or not starting with "/",
// become "~other"; configured templates are tried in order ({name} matches exactly one non-empty segment);
// otherwise every ID-like segment is collapsed to "{id}". Each cluster keeps at most maxPerCluster distinct
// templates and at most maxClusters clusters get templates at all; later ones become "~other". Both caps hold for
// the whole process: admission goes through the injected LabelAdmission (shared data across Envoy's per-worker VMs),
// so every VM gives a (cluster, template) the same label. Each VM remembers its answers, so only a pair new to that
// VM reaches the registry. Work per call is O(min(path length, maxLength + 1)).
import { Admission, CLUSTER_NAMESPACE, LabelAdmission, LocalAdmission, pathNamespace } from "./label-admission";
import { OVERFLOW_LABEL } from "./labels";
import { codeUnitAt } from "../text";

export const ID_SEGMENT = "{id}";

const SLASH: i32 = 0x2f;
const QUERY: i32 = 0x3f;
const FRAGMENT: i32 = 0x23;
const OPEN_BRACE: i32 = 0x7b;
const CLOSE_BRACE: i32 = 0x7d;

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function isHexLetter(c: i32): bool {
  return (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function isLetter(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

// Characters that stay as they are in a template; anything else marks the segment as data, not route.
function isPlainSegmentChar(c: i32): bool {
  return isDigit(c) || isLetter(c) || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e;
}

function isUuid(path: string, start: i32, end: i32): bool {
  if (end - start != 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = codeUnitAt(path, start + i);
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != 0x2d) return false;
    } else if (!isDigit(c) && !isHexLetter(c)) {
      return false;
    }
  }
  return true;
}

// Heuristic for segments that identify an entity rather than a route:
// numbers; UUIDs; hex strings of ≥16 chars, or ≥8 with a digit; tokens of ≥10 chars mixing letters with ≥2
// digits; a word with a numeric suffix (≥3 digits after '-' or '_', as in sku-12345 or user_100, or ≥4 digits right
// after letters, as in sku12345: route literals such as v2, oauth2 or h264 end in fewer); opaque tokens of ≥20 chars with digits or mixed case and few separators; anything > 64 chars,
// percent-encoded or non-ASCII.
export function isIdLikeSegment(path: string, start: i32, end: i32): bool {
  const length = end - start;
  if (length <= 0) return false;
  if (length > 64) return true;
  let digits = 0;
  let hexLetters = 0;
  let letters = 0;
  let uppers = 0;
  let others = 0;
  for (let i = start; i < end; i++) {
    const c = codeUnitAt(path, i);
    if (isDigit(c)) digits++;
    else if (isLetter(c)) {
      letters++;
      if (c <= 0x5a) uppers++;
      if (isHexLetter(c)) hexLetters++;
    } else if (c == 0x2d || c == 0x5f) others++;
    else if (c == 0x2e || c == 0x7e) others++;
    else return true; // '%', non-ASCII, or any other character: data, not a route literal
  }
  if (digits == length) return true;
  if (isUuid(path, start, end)) return true;
  const allHex = digits + hexLetters == length;
  if (allHex && (length >= 16 || (length >= 8 && digits > 0))) return true;
  if (length >= 10 && digits >= 2 && letters > 0) return true;
  let suffixDigits = 0;
  while (suffixDigits < length && isDigit(codeUnitAt(path, end - 1 - suffixDigits))) suffixDigits++;
  if (suffixDigits >= 4) return true;
  if (suffixDigits >= 3 && suffixDigits < length) {
    const separator = codeUnitAt(path, end - 1 - suffixDigits);
    if (separator == 0x2d || separator == 0x5f) return true;
  }
  const mixedCase = uppers > 0 && uppers < letters;
  if (length >= 20 && (digits > 0 || mixedCase) && others * 4 < length) return true;
  return false;
}

// A configured template, split into literal segments and one-segment placeholders.
export class PathTemplate {
  readonly segments: Array<string>;
  readonly isPlaceholder: Array<bool>;

  constructor(public readonly text: string) {
    const parts = text.substring(1).split("/");
    this.segments = parts;
    this.isPlaceholder = new Array<bool>(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      this.isPlaceholder[i] = part.length >= 3 && part.charCodeAt(0) == OPEN_BRACE &&
        part.charCodeAt(part.length - 1) == CLOSE_BRACE;
    }
  }

  // `segmentStarts`/`segmentEnds` delimit the path's segments (without slashes).
  matches(path: string, segmentStarts: Array<i32>, segmentEnds: Array<i32>, count: i32): bool {
    if (count != this.segments.length) return false;
    for (let i = 0; i < count; i++) {
      const start = unchecked(segmentStarts[i]);
      const end = unchecked(segmentEnds[i]);
      if (unchecked(this.isPlaceholder[i])) {
        if (end == start) return false;
        continue;
      }
      const literal = unchecked(this.segments[i]);
      if (literal.length != end - start) return false;
      for (let j = 0; j < literal.length; j++) {
        if (codeUnitAt(literal, j) != codeUnitAt(path, start + j)) return false;
      }
    }
    return true;
  }
}

// Null when `text` is a valid template, else the rule it breaks (used by config validation).
export function templateProblem(text: string): string | null {
  if (text.length == 0 || text.charCodeAt(0) != SLASH) return "start with \"/\"";
  if (text.length > 1024) return "be at most 1024 characters";
  const parts = text.substring(1).split("/");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const placeholder = part.length >= 1 && part.charCodeAt(0) == OPEN_BRACE;
    if (placeholder) {
      if (part.length < 3 || part.charCodeAt(part.length - 1) != CLOSE_BRACE) {
        return "use placeholders of the form {name} spanning a whole segment";
      }
      for (let j = 1; j < part.length - 1; j++) {
        const c = part.charCodeAt(j);
        if (!(isLetter(c) || c == 0x5f || (j > 1 && isDigit(c)))) {
          return "name placeholders with [A-Za-z_][A-Za-z0-9_]*";
        }
      }
      continue;
    }
    for (let j = 0; j < part.length; j++) {
      const c = part.charCodeAt(j);
      if (!isPlainSegmentChar(c)) return "contain only [A-Za-z0-9._~-] outside placeholders";
    }
  }
  return null;
}

export class PathTemplaterOptions {
  constructor(
    public readonly templates: Array<string>,
    public readonly maxPerCluster: i32,
    public readonly maxLength: i32,
    public readonly maxClusters: i32,
    // When false, paths matching no configured template are "~other" instead of heuristically collapsed.
    public readonly collapseIds: bool = true,
  ) {}
}

const VERDICT_SLOTS: i32 = 64; // power of two
const REFUSED_LIMIT: i32 = 256;

export class PathTemplater {
  private templates: Array<PathTemplate> = new Array<PathTemplate>();
  private perCluster: Map<string, Map<string, string>> = new Map<string, Map<string, string>>();
  private segmentStarts: Array<i32> = new Array<i32>();
  private segmentEnds: Array<i32> = new Array<i32>();
  private codeUnits: Array<i32> = new Array<i32>();
  // The table of the previous call's cluster: consecutive streams mostly share one (identity compare only).
  private lastCluster: string | null = null;
  private lastKnown: Map<string, string> | null = null;
  private verdictCluster: StaticArray<string | null> = new StaticArray<string | null>(VERDICT_SLOTS);
  private verdictTemplate: StaticArray<string | null> = new StaticArray<string | null>(VERDICT_SLOTS);
  private verdict: StaticArray<string> = new StaticArray<string>(VERDICT_SLOTS);

  // Set by admit when the registry could not decide: that verdict must not be memoized.
  private deferred: bool = false;
  // Refused clusters, and refused templates of admitted clusters, as "<cluster>\n<template>": refusals are final,
  // and collapsed templates are fresh strings that the identity memo cannot recognise. Cleared when full.
  private refused: Set<string> = new Set<string>();

  constructor(private options: PathTemplaterOptions, private admission: LabelAdmission = new LocalAdmission()) {
    for (let i = 0; i < options.templates.length; i++) {
      this.templates.push(new PathTemplate(options.templates[i]));
    }
  }

  templateCount(cluster: string): i32 {
    return this.perCluster.has(cluster) ? this.perCluster.get(cluster).size : 0;
  }

  // Template without the per-cluster cap.
  template(path: string): string {
    const maxLength = this.options.maxLength;
    // Only look as far as needed to know the path is too long.
    const scanLimit = path.length < maxLength + 1 ? path.length : maxLength + 1;
    let end = scanLimit;
    for (let i = 0; i < scanLimit; i++) {
      const c = codeUnitAt(path, i);
      if (c == QUERY || c == FRAGMENT) {
        end = i;
        break;
      }
    }
    if (end > maxLength) return OVERFLOW_LABEL;
    if (end == 0) return "/";
    if (path.charCodeAt(0) != SLASH) return OVERFLOW_LABEL;

    const starts = this.segmentStarts;
    const ends = this.segmentEnds;
    let count = 0;
    let segmentStart = 1;
    for (let i = 1; i <= end; i++) {
      if (i == end || codeUnitAt(path, i) == SLASH) {
        if (count < starts.length) {
          starts[count] = segmentStart;
          ends[count] = i;
        } else {
          starts.push(segmentStart);
          ends.push(i);
        }
        count++;
        segmentStart = i + 1;
      }
    }

    for (let t = 0; t < this.templates.length; t++) {
      const candidate = this.templates[t];
      if (candidate.matches(path, starts, ends, count)) return candidate.text;
    }

    if (!this.options.collapseIds) return OVERFLOW_LABEL;
    // One pass: classify each segment while building the collapsed form in a reused code-unit buffer, so the
    // template string is the only allocation, and none at all when nothing collapses and there was no query.
    const out = this.codeUnits;
    out.length = 0;
    let collapsed = false;
    for (let s = 0; s < count; s++) {
      out.push(SLASH);
      const start = starts[s];
      const stop = ends[s];
      if (isIdLikeSegment(path, start, stop)) {
        collapsed = true;
        for (let i = 0; i < ID_SEGMENT.length; i++) out.push(ID_SEGMENT.charCodeAt(i));
      } else {
        for (let i = start; i < stop; i++) out.push(codeUnitAt(path, i));
      }
    }
    if (!collapsed) return end == path.length ? path : path.substring(0, end);
    return String.fromCharCodes(out);
  }

  // Template with the per-cluster cap applied; clusters beyond maxClusters share the overflow template.
  bounded(cluster: string, path: string): string {
    const templated = this.template(path);
    if (templated == OVERFLOW_LABEL) return OVERFLOW_LABEL;
    // A configured template comes back as the same string object every time, and the verdict for a (cluster,
    // template) never changes once given (the tables only grow, the caps are fixed): memoized by identity. The slot
    // holds both strings, so their addresses are not reused while it does.
    const mixed = (<u32>changetype<usize>(cluster) * 0x9e3779b1) ^ (<u32>changetype<usize>(templated) * 0x85ebca6b);
    const slot = <i32>((mixed ^ (mixed >> 15)) & <u32>(VERDICT_SLOTS - 1));
    if (unchecked(this.verdictCluster[slot]) === cluster && unchecked(this.verdictTemplate[slot]) === templated) {
      return unchecked(this.verdict[slot]);
    }
    this.deferred = false;
    const verdict = this.admit(cluster, templated);
    if (this.deferred) return verdict;
    unchecked(this.verdictCluster[slot] = cluster);
    unchecked(this.verdictTemplate[slot] = templated);
    unchecked(this.verdict[slot] = verdict);
    return verdict;
  }

  private admit(cluster: string, templated: string): string {
    let known: Map<string, string>;
    if (this.lastCluster === cluster && this.lastKnown !== null) {
      known = this.lastKnown!;
    } else if (this.perCluster.has(cluster)) {
      known = this.perCluster.get(cluster);
    } else {
      if (this.refused.has(cluster)) return OVERFLOW_LABEL;
      if (!this.settle(cluster, CLUSTER_NAMESPACE, cluster, this.options.maxClusters)) return OVERFLOW_LABEL;
      known = new Map<string, string>();
      this.perCluster.set(cluster, known);
    }
    this.lastCluster = cluster;
    this.lastKnown = known;
    // The first string object of a template stands for it from then on (identity-keyed caches downstream).
    if (known.has(templated)) return known.get(templated);
    const refusalKey = cluster + "\n" + templated;
    if (this.refused.has(refusalKey)) return OVERFLOW_LABEL;
    if (!this.settle(refusalKey, pathNamespace(cluster), templated, this.options.maxPerCluster)) return OVERFLOW_LABEL;
    known.set(templated, templated);
    return templated;
  }

  // Asks the registry; remembers a refusal under `refusalKey`.
  private settle(refusalKey: string, namespace: string, value: string, cap: i32): bool {
    const verdict = this.admission.admit(namespace, value, cap, 1);
    if (verdict == Admission.Admitted) return true;
    if (verdict == Admission.Deferred) {
      this.deferred = true;
    } else {
      if (this.refused.size >= REFUSED_LIMIT) this.refused.clear();
      this.refused.add(refusalKey);
    }
    return false;
  }
}
