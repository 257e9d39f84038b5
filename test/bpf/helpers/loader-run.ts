// Runs the real loader and accumulates its parsed intervals.
import { spawn, type ChildProcess } from 'node:child_process';
import { parseLoaderLine, type IntervalLine, type StartLine } from '../../../bpf/agent/ndjson.ts';
import { LOADER, Lines } from './netns.ts';

export class LoaderRun {
  readonly child: ChildProcess;
  readonly lines: Lines;
  constructor(args: string[]) {
    this.child = spawn(LOADER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.lines = new Lines(this.child, 'loader');
  }

  async started(): Promise<StartLine> {
    return parseLoaderLine(await this.lines.next((l) => l.includes('"type":"start"'))) as StartLine;
  }

  intervals(): IntervalLine[] {
    return this.lines.all.map(parseLoaderLine).filter((l): l is IntervalLine => l.type === 'interval');
  }

  /** Waits until `done(intervals so far)` holds, checked after every new interval. */
  async until(done: (intervals: IntervalLine[]) => boolean): Promise<IntervalLine[]> {
    for (;;) {
      const seen = this.lines.all.length;
      const intervals = this.intervals();
      if (done(intervals)) return intervals;
      await this.lines.next((l) => l.includes('"type":"interval"'), seen);
    }
  }

  /** Waits for `n` more intervals. */
  async more(n: number): Promise<IntervalLine[]> {
    const target = this.intervals().length + n;
    return this.until((i) => i.length >= target);
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

export function flowKey(f: { laddr: string; lport: number; raddr: string; rport: number }): string {
  return `${f.laddr}:${f.lport}>${f.raddr}:${f.rport}`;
}

export function sumBy<T>(items: T[], value: (item: T) => number): number {
  return items.reduce((s, i) => s + value(i), 0);
}
