// Policy input files (-f FILE, or - for stdin): JSON or YAML, several YAML documents (---) or a JSON array allowed.
// Empty input and empty policies are refused here: the API accepts {} as "every default on every cluster", and a
// pipeline that lost its input must not turn into a catch-all policy.
import { readFileSync } from 'node:fs';
import { RequestError } from './client.ts';
import { UsageError, type Io } from './framework.ts';
import { yamlModule } from './output.ts';

/** Parsed documents of a file, with the name errors refer to them by. */
export interface Document { value: unknown; where: string }

export async function readDocuments(file: string | undefined, io: Io, flag = '-f'): Promise<Document[]> {
  if (file === undefined || file === '') throw new UsageError(`invalid flag: ${flag} must name a YAML or JSON file (or - for stdin)`);
  const name = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : readFileSync(file, 'utf8');
  } catch (error) {
    throw new RequestError(`cannot read ${name}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (text.trim() === '') throw new RequestError(`invalid input: ${name} must not be empty`);
  let values: unknown[];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(text);
      values = Array.isArray(parsed) ? parsed : [parsed];
    } catch (error) {
      throw new RequestError(`invalid input: ${name} must be valid JSON or YAML (${(error as Error).message})`);
    }
  } else {
    const { parseAllDocuments } = await yamlModule();
    values = [];
    for (const document of parseAllDocuments(text)) {
      if ('errors' in document && document.errors.length > 0) {
        throw new RequestError(`invalid input: ${name} must be valid YAML (${document.errors[0]!.message.split('\n')[0]})`);
      }
      const value = document.toJS();
      if (value !== null && value !== undefined) values.push(value);   // an empty document (a trailing ---) is no policy
    }
  }
  if (values.length === 0) throw new RequestError(`invalid input: ${name} must hold at least one document`);
  return values.map((value, i) => ({ value, where: values.length === 1 ? name : `${name} document ${i + 1}` }));
}

export function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** A bare policy (policy set, dry-run): a non-empty mapping. */
export function policyOf(document: Document, allowEmpty: boolean): Record<string, unknown> {
  const { value, where } = document;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RequestError(`invalid input: ${where} must be a mapping (a policy)`);
  if (!allowEmpty && isEmptyObject(value)) {
    throw new RequestError(`invalid input: ${where} must not be an empty policy: {} would apply every default to every cluster; ` +
      'name at least target.cluster');
  }
  return value as Record<string, unknown>;
}
