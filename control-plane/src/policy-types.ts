// The policy as the control plane stores and pushes it: the fully defaulted model of policy-model.ts.
export type { ResiliencePolicy as PolicyJson } from './policy-model.ts';
