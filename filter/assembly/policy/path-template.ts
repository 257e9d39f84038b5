// Turns raw request paths into a bounded set of templates per upstream cluster. Pure.
//
// Order: strip query and fragment; paths longer than maxLength (after stripping), or not starting with "/",
// become "~other"; configured templates are tried in order ({name} matches exactly one non-empty segment);
// otherwise every ID-like segment is collapsed to "{id}". Each cluster keeps at most maxPerCluster distinct
// templates and at most maxClusters clusters get templates at all; later ones become "~other". Both caps hold for
// the whole process: admission goes through the injected LabelAdmission (shared data across Envoy's per-worker VMs),
// so every VM gives a (cluster, template) the same label. Each VM remembers its answers, so only a pair new to that
// VM reaches the registry. Work per call is O(min(path length, maxLength + 1)).
//
// The filter templates the :path value where the host put it (UTF-8 bytes in the header map block) and gets the
// same string object back for the same template while it stays among the recent ones (TEMPLATE_SLOTS): a warm
// request neither decodes its path nor allocates. The code is generic over the unit type: u16 for strings (UTF-16
// code units), u8 for those bytes when they are ASCII; a path with any other byte before its query is decoded and
// takes the string route, so both give the same template for the same path.
import { Admission, CLUSTER_NAMESPACE, LabelAdmission, LocalAdmission, pathNamespace } from "./label-admission";
import { OVERFLOW_LABEL } from "./labels";
import { codeUnitAt } from "../text";

// Unit `index` of the text of unit type T (u8: ASCII bytes, u16: a string's code units) at `base`.
// @ts-ignore: decorator
@inline
function unitAt<T>(base: usize, index: i32): i32 {
  return <i32>load<T>(base + (<usize>index << alignof<T>()));
}

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

function isUuid<T>(base: usize, start: i32, end: i32): bool {
  if (end - start != 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = unitAt<T>(base, start + i);
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
  return isIdLike<u16>(changetype<usize>(path), start, end);
}

function isIdLike<T>(base: usize, start: i32, end: i32): bool {
  const length = end - start;
  if (length <= 0) return false;
  if (length > 64) return true;
  let digits = 0;
  let hexLetters = 0;
  let letters = 0;
  let uppers = 0;
  let others = 0;
  for (let i = start; i < end; i++) {
    const c = unitAt<T>(base, i);
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
  if (isUuid<T>(base, start, end)) return true;
  const allHex = digits + hexLetters == length;
  if (allHex && (length >= 16 || (length >= 8 && digits > 0))) return true;
  if (length >= 10 && digits >= 2 && letters > 0) return true;
  let suffixDigits = 0;
  while (suffixDigits < length && isDigit(unitAt<T>(base, end - 1 - suffixDigits))) suffixDigits++;
  if (suffixDigits >= 4) return true;
  if (suffixDigits >= 3 && suffixDigits < length) {
    const separator = unitAt<T>(base, end - 1 - suffixDigits);
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

  // `segmentStarts`/`segmentEnds` delimit the segments (without slashes) of the path of unit type T at `base`.
  matches<T>(base: usize, segmentStarts: Array<i32>, segmentEnds: Array<i32>, count: i32): bool {
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
        if (codeUnitAt(literal, j) != unitAt<T>(base, start + j)) return false;
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
// Recent templates, by a hash of their text: the same template comes back as the same string object, so the
// identity memos downstream (verdicts here, label sets, breaker routes) hit without hashing it. Only templates of
// up to TEMPLATE_SLOT_MAX_UNITS are kept, which bounds what the slots hold to TEMPLATE_SLOTS × 256 bytes.
const TEMPLATE_SLOTS: i32 = 128; // power of two
const TEMPLATE_SLOT_MAX_UNITS: i32 = 128;
const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;

export class PathTemplater {
  private templates: Array<PathTemplate> = new Array<PathTemplate>();
  private perCluster: Map<string, Map<string, string>> = new Map<string, Map<string, string>>();
  private segmentStarts: Array<i32> = new Array<i32>();
  private segmentEnds: Array<i32> = new Array<i32>();
  // The template being built (UTF-16), grown to the longest seen: at most 2.5 units per path unit ("/1" → "/{id}").
  private units: StaticArray<u16> = new StaticArray<u16>(64);
  private recentTemplates: StaticArray<string | null> = new StaticArray<string | null>(TEMPLATE_SLOTS);
  // The table of the previous call's cluster: consecutive streams mostly share one (identity compare only).
  private lastCluster: string | null = null;
  private lastKnown: Map<string, string> | null = null;
  private verdictCluster: StaticArray<string | null> = new StaticArray<string | null>(VERDICT_SLOTS);
  private verdictTemplate: StaticArray<string | null> = new StaticArray<string | null>(VERDICT_SLOTS);
  private verdict: StaticArray<string> = new StaticArray<string>(VERDICT_SLOTS);

  // Set by admit when the registry could not decide: that verdict must not be memoized.
  private deferred: bool = false;
  // Refused clusters, and refused templates of admitted clusters, as "<cluster>\n<template>": refusals are final,
  // and a collapsed template that left the recent ones is a fresh string the identity memo cannot recognise.
  // Cleared when full.
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
    return this.templateOf<u16>(changetype<usize>(path), end, path);
  }

  // template() of the `length` bytes of UTF-8 at `ptr`, without decoding them when they are ASCII up to the query.
  templateUtf8(ptr: usize, length: i32): string {
    const maxLength = this.options.maxLength;
    const scanLimit = length < maxLength + 1 ? length : maxLength + 1;
    let end = scanLimit;
    for (let i = 0; i < scanLimit; i++) {
      const c = <i32>load<u8>(ptr + <usize>i);
      if (c == QUERY || c == FRAGMENT) {
        end = i;
        break;
      }
      // Past an ASCII prefix bytes and code units no longer line up (lengths, positions): decode.
      if (c >= 0x80) return this.template(String.UTF8.decodeUnsafe(ptr, <usize>length));
    }
    return this.templateOf<u8>(ptr, end, null);
  }

  // The template of the path of unit type T at `base` whose query or fragment starts at `end` (or that is longer
  // than maxLength when end > maxLength). `whole` is the path as a string when it is one, returned as it is when
  // it is its own template.
  private templateOf<T>(base: usize, end: i32, whole: string | null): string {
    if (end > this.options.maxLength) return OVERFLOW_LABEL;
    if (end == 0) return "/";
    if (unitAt<T>(base, 0) != SLASH) return OVERFLOW_LABEL;

    const starts = this.segmentStarts;
    const ends = this.segmentEnds;
    let count = 0;
    let segmentStart = 1;
    for (let i = 1; i <= end; i++) {
      if (i == end || unitAt<T>(base, i) == SLASH) {
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
      if (candidate.matches<T>(base, starts, ends, count)) return candidate.text;
    }

    if (!this.options.collapseIds) return OVERFLOW_LABEL;
    // One pass: classify each segment while building the collapsed form (and its hash) in the reused unit buffer;
    // the template is then a recent one or the one string allocated.
    const needed = end * 3;
    if (this.units.length < needed) this.units = new StaticArray<u16>(needed);
    const out = changetype<usize>(this.units);
    let length = 0;
    let hash = FNV_OFFSET;
    let collapsed = false;
    for (let s = 0; s < count; s++) {
      store<u16>(out + (<usize>length << 1), <u16>SLASH);
      length++;
      hash = (hash ^ <u32>SLASH) * FNV_PRIME;
      const start = unchecked(starts[s]);
      const stop = unchecked(ends[s]);
      if (isIdLike<T>(base, start, stop)) {
        collapsed = true;
        for (let i = 0; i < ID_SEGMENT.length; i++) {
          const c = codeUnitAt(ID_SEGMENT, i);
          store<u16>(out + (<usize>length << 1), <u16>c);
          length++;
          hash = (hash ^ <u32>c) * FNV_PRIME;
        }
      } else {
        for (let i = start; i < stop; i++) {
          const c = unitAt<T>(base, i);
          store<u16>(out + (<usize>length << 1), <u16>c);
          length++;
          hash = (hash ^ <u32>c) * FNV_PRIME;
        }
      }
    }
    if (!collapsed && whole !== null && end == whole.length) return whole;
    return this.recentTemplate(out, length, hash);
  }

  // The string of the `length` UTF-16 units at `units`: the recent one with that text, or a new one remembered.
  private recentTemplate(units: usize, length: i32, hash: u32): string {
    if (length > TEMPLATE_SLOT_MAX_UNITS) return String.UTF16.decodeUnsafe(units, <usize>length << 1);
    const slot = <i32>((hash ^ (hash >> 16)) & <u32>(TEMPLATE_SLOTS - 1));
    const recent = unchecked(this.recentTemplates[slot]);
    if (recent !== null && recent.length == length &&
      memory.compare(changetype<usize>(recent), units, <usize>length << 1) == 0) {
      return recent;
    }
    const text = String.UTF16.decodeUnsafe(units, <usize>length << 1);
    unchecked(this.recentTemplates[slot] = text);
    return text;
  }

  // Template with the per-cluster cap applied; clusters beyond maxClusters share the overflow template.
  bounded(cluster: string, path: string): string {
    return this.boundedTemplate(cluster, this.template(path));
  }

  // bounded() of the `length` bytes of UTF-8 at `ptr` (see templateUtf8).
  boundedUtf8(cluster: string, ptr: usize, length: i32): string {
    return this.boundedTemplate(cluster, this.templateUtf8(ptr, length));
  }

  private boundedTemplate(cluster: string, templated: string): string {
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
