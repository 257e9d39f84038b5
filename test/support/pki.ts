// A throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server certificate for 127.0.0.1/localhost and a
// client certificate, both signed by the CA (ca.crt, server.crt/.key, client.crt/.key in `dir`).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Why certificates cannot be made here (null when they can): tests skip loudly with this. */
export function opensslMissing(): string | null {
  return spawnSync('openssl', ['version']).status === 0 ? null : 'openssl CLI to create test certificates';
}

export function makePki(dir: string): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=meshlens-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['server', 'client']) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`,
      ...(name === 'server' ? ['-extfile', 'server.ext'] : []));
  }
}
