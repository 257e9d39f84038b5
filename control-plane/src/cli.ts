#!/usr/bin/env node
// meshlens CLI entry point (package.json "bin"; the control-plane image's ENTRYPOINT runs it as `serve`). `serve`
// runs the control plane; every other command is a client of the HTTP admin API, so the CLI can never do what the
// API would refuse. The commands are declared under ./cli/ (one file per group); `meshlens help` lists them.
import { run } from './cli/main.ts';

const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
});
// exitCode rather than exit(): stdout piped into another program must drain first.
process.exitCode = code;
