// Time sources: the wall clock Envoy's dispatcher reads, and a manual clock whose advance() fires due timers in
// time order (as the event loop would have), so tests never sleep.

export interface Clock { nowNs(): bigint }

/** Something that owns timers on a clock (a plugin's per-VM tick timers). */
export interface TimerSource { nextDueNs(): bigint | undefined; fireDue(): void }

export class RealClock implements Clock {
  private readonly originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  nowNs(): bigint { return this.originNs + process.hrtime.bigint(); }
}

export class ManualClock implements Clock {
  private now: bigint;
  private readonly sources = new Set<TimerSource>();
  constructor(startMs = 1_700_000_000_000) {
    if (!Number.isFinite(startMs) || startMs < 0) throw new Error('invalid clock: startMs must be a non-negative number');
    this.now = BigInt(Math.round(startMs * 1e6));
  }
  nowNs(): bigint { return this.now; }
  nowMs(): number { return Number(this.now / 1_000_000n); }
  attach(source: TimerSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }
  /** Moves time forward, stopping at every due timer on the way and firing it. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('invalid clock advance: ms must be a non-negative number');
    this.advanceTo(this.now + BigInt(Math.round(ms * 1e6)));
  }
  advanceTo(targetNs: bigint): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next: TimerSource | undefined;
      let due: bigint | undefined;
      for (const s of this.sources) {
        const d = s.nextDueNs();
        if (d !== undefined && d <= targetNs && (due === undefined || d < due)) { due = d; next = s; }
      }
      if (!next || due === undefined) break;
      if (due > this.now) this.now = due;
      next.fireDue();
    }
    if (targetNs > this.now) this.now = targetNs;
  }
  /** Fires whatever is due now without moving time. */
  tick(): void { this.advanceTo(this.now); }
}
