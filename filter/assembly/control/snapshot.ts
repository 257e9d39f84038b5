// Turns a decoded DiscoveryResponse into the policy set to enforce, or the reason to refuse it. Every policy is
// validated by the resilience policy parser (the same rules as the plugin config's defaultPolicy); one invalid
// policy refuses the whole snapshot, as xDS does, so a proxy never enforces half of an operator's change.
// Pure: no host calls.
import { parsePolicy, ResiliencePolicy } from "../policy/resilience-policy";
import { DiscoveryResponseMessage } from "./protobuf";

export class ValidatedSnapshot {
  version: string = "";
  ids: Array<string> = new Array<string>();
  policies: Array<ResiliencePolicy> = new Array<ResiliencePolicy>();
  // "invalid policy: <field> must <rule>" (or the decoder's message); empty when the snapshot is acceptable.
  error: string = "";
  // Id of the first refused policy, for logs.
  rejectedId: string = "";
  // The network-suspect set carried by the response (suspects null: none carried, keep the current one).
  suspectsVersion: string = "";
  suspects: Array<string> | null = null;
}

export function validateSnapshot(response: DiscoveryResponseMessage): ValidatedSnapshot {
  const out = new ValidatedSnapshot();
  out.version = response.versionInfo;
  if (response.error.length > 0) {
    out.error = response.error;
    return out;
  }
  if (response.versionInfo.length == 0) {
    out.error = "invalid discovery response: versionInfo must be set";
    return out;
  }
  out.suspectsVersion = response.suspectsVersion;
  out.suspects = response.suspects;
  const seen = new Set<string>();
  for (let i = 0; i < response.resources.length; i++) {
    const resource = response.resources[i];
    if (seen.has(resource.id)) {
      out.error = "invalid discovery response: resources[" + i.toString() + "].id must be unique (" + resource.id + ")";
      out.rejectedId = resource.id;
      return out;
    }
    seen.add(resource.id);
    const parsed = parsePolicy(resource.policy);
    const policy = parsed.value;
    if (policy === null) {
      out.error = parsed.error;
      out.rejectedId = resource.id;
      return out;
    }
    policy.id = resource.id;
    out.ids.push(resource.id);
    out.policies.push(policy);
  }
  return out;
}
