// Rendering of command results as json, yaml or table. The yaml library is loaded only when YAML is read or
// written, so commands printing JSON or tables do not pay for it at start-up.
import { table } from '../correlation-format.ts';
import type { Format } from './framework.ts';

export { table };

export async function yamlModule(): Promise<typeof import('yaml')> {
  return import('yaml');
}

/** The text of `value` in `format`; `asTable` renders the table form (commands without one reuse YAML). */
export async function render(value: unknown, format: Format, asTable?: () => string | Promise<string>): Promise<string> {
  if (format === 'json') return JSON.stringify(value, null, 2) + '\n';
  if (format === 'table' && asTable) return asTable();
  const { stringify } = await yamlModule();
  return stringify(value, { lineWidth: 0 });
}

export const isoTime = (unixMs: number | string | undefined) =>
  unixMs === undefined || Number(unixMs) === 0 ? '-' : new Date(Number(unixMs)).toISOString();

/** Policies as YAML text, the form diffs are shown in. */
export async function policyText(policy: unknown): Promise<string> {
  if (policy === null || policy === undefined) return '';
  const { stringify } = await yamlModule();
  return stringify(policy, { lineWidth: 0 });
}
