import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** A file named on the command line, or a usage error that says why it cannot be read. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    throw new UsageError('E_FILE', `Cannot read ${path}: ${why}.`);
  }
}
