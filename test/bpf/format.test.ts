import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseLoaderLine } from '../../bpf/agent/ndjson.ts';
import { needs } from '../support/skip.ts';

const bpfDir = fileURLToPath(new URL('../../bpf', import.meta.url));
const binary = `${bpfDir}/.output/format_test`;

function build(): string | null {
  try {
    execFileSync('make', ['-s', '-C', bpfDir, '.output/format_test'], { stdio: 'pipe' });
    return existsSync(binary) ? null : 'make did not produce bpf/.output/format_test';
  } catch (err) {
    return `cannot build bpf/.output/format_test (cc, libbpf-dev): ${(err as Error).message.split('\n')[0]}`;
  }
}

const Format = suite('format.c NDJSON output');
const t = needs(build(), Format);

t('the C formatter emits a line the agent parser accepts, with every field in place', () => {
  const out = execFileSync(binary, { encoding: 'utf8' }).split('\n');
  const line = parseLoaderLine(out[0]!);
  assert.is(line.type, 'interval');
  if (line.type !== 'interval') return;
  assert.equal(
    [line.seq, line.tsMs, line.intervalMs, line.attach, line.activeConnections, line.mapFullDrops, line.evictedFlows, line.retransFailed, line.flowsTracked, line.missedEvents],
    [7, 1700000000123, 1000, 'tp_btf', -1, 2, 3, 4, 5, 6],
  );
  const [v4, v6] = line.flows;
  assert.equal(v4, {
    netns: 4026531840, family: 4, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 8080, retransSegs: 12,
    events: { rto: 1, fast: 2, tlp: 3, syn: 4, other: 5 }, segsOut: 9007199254740991, srttUs: 250, opened: true,
    closed: false, durationUs: 0, direction: 'outbound',
  });
  assert.is(v6!.direction, 'inbound');
  const unknown = parseLoaderLine(out.slice(1).find((l) => l.startsWith('{'))!);
  assert.is(unknown.type === 'interval' && unknown.flows[0]!.direction, 'unknown');
  assert.is(v6!.laddr, 'fd00::1');
  assert.is(v6!.raddr, 'fd00::abcd');
  assert.is(v6!.rport, 65535);
  assert.ok(v6!.closed);
  assert.is(v6!.durationUs, 1500000);
});

t('a too-small buffer or an unknown family fails instead of printing a truncated line', () => {
  const out = execFileSync(binary, { encoding: 'utf8' });
  assert.match(out, /^small=-1$/m);
  assert.match(out, /^badfamily=-1$/m);
});

t('the loader validates its numeric arguments before touching BPF', () => {
  execFileSync('make', ['-s', '-C', bpfDir, '.output/retrans'], { stdio: 'pipe' });
  const cases: [string[], RegExp][] = [
    [['-i', '5'], /invalid argument: interval must be an integer in \[10, 3600000\], got '5'/],
    [['-m', '12x'], /invalid argument: max-flows must be an integer in \[16, 16777216\], got '12x'/],
    [['-a', 'kprobe'], /invalid argument: attach must be auto, tp_btf or tracepoint, got 'kprobe'/],
    [['-n', '-1'], /invalid argument: netns must be an integer/],
  ];
  for (const [args, message] of cases) {
    const r = spawnSync(`${bpfDir}/.output/retrans`, args, { encoding: 'utf8' });
    assert.is.not(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.is(r.stdout, '', 'nothing on the NDJSON stream');
  }
});

Format.run();
