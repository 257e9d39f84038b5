// Reconnect pacing for the discovery stream: the shape of Envoy's JitteredExponentialBackOffStrategy as its xDS gRPC
// mux uses it (base 500 ms, "full jitter": a uniform draw in [0, min(cap, base·2^n))), so a control-plane restart
// does not see every VM of every proxy reconnect in the same instant. The cap is 2 s, not Envoy's 30 s: a VM that
// failed while the control plane restarted is back at most one cap (plus a 200 ms tick) after it is ready, which
// keeps reconvergence within 5 s with room for connection set-up on a loaded host, and 10,000 VMs drawing uniformly over 2 s still arrive spread out
// (bench:control-plane reconverge_after_restart_ms measures both). Randomness comes from a seeded PRNG:
// Envoy offers no entropy import to an AssemblyScript filter beyond WASI, and a seed derived from the clock and the
// VM's sequence number is all the de-synchronisation this needs. Pure: time is passed in.

export const RECONNECT_BASE_MS: f64 = 500;
export const RECONNECT_MAX_MS: f64 = 2000;

// xorshift64* (Vigna): tiny, fast, and good enough for jitter.
export class Prng {
  private state: u64;

  constructor(seed: u64) {
    // splitmix64 scrambles low-entropy seeds (a clock, a small counter) and never yields the all-zero state.
    let z = seed + 0x9e3779b97f4a7c15;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    z ^= z >> 31;
    this.state = z == 0 ? 0x2545f4914f6cdd1d : z;
  }

  nextU64(): u64 {
    let x = this.state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    this.state = x;
    return x * 0x2545f4914f6cdd1d;
  }

  // Uniform in [0, 1).
  nextFloat(): f64 {
    return <f64>(this.nextU64() >> 11) / 9007199254740992.0;
  }
}

export class JitteredBackoff {
  private attempts: i32 = 0;

  constructor(private rng: Prng, public readonly baseMs: f64 = RECONNECT_BASE_MS, public readonly maxMs: f64 = RECONNECT_MAX_MS) {}

  get failures(): i32 {
    return this.attempts;
  }

  // Delay before the next attempt; each call counts one more consecutive failure.
  nextDelayMs(): f64 {
    let ceiling = this.baseMs;
    for (let i = 0; i < this.attempts && ceiling < this.maxMs; i++) ceiling *= 2;
    if (ceiling > this.maxMs) ceiling = this.maxMs;
    if (this.attempts < 64) this.attempts++;
    return Math.floor(this.rng.nextFloat() * ceiling);
  }

  reset(): void {
    this.attempts = 0;
  }
}
