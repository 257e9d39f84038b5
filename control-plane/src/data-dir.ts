// The data directory holds the tokens and the policy database: it is created 0700 and its files 0600, and one that
// already exists with looser permissions is refused (a 0644 tokens.json has been readable by every local user for
// as long as it existed; silently tightening it would hide that). umask can only remove bits, so the modes given
// at creation are upper bounds the process cannot exceed.
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

const LOOSE = 0o077;
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** Creates `dir` 0700 when absent; refuses an existing one readable, writable or searchable by group or others. */
export function secureDirectory(dir: string): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new Error(`invalid data directory: ${dir} must be a directory`);
  if (stat.mode & LOOSE) {
    throw new Error(`invalid data directory: ${dir} must have mode 0700 (it has ${octal(stat.mode)}; run chmod 700 ${dir})`);
  }
}

/** Creates `file` empty with mode 0600 when absent; refuses an existing one with any group or other bit. */
export function secureFile(file: string, what = 'data file'): void {
  if (!existsSync(file)) {
    closeSync(openSync(file, 'a', 0o600));
    return;
  }
  checkFileMode(file, what);
}

export function checkFileMode(file: string, what: string): void {
  const stat = statSync(file);
  if (stat.mode & LOOSE) {
    throw new Error(`invalid ${what}: ${file} must have mode 0600 or stricter (it has ${octal(stat.mode)}; run chmod 600 ${file})`);
  }
}
