/**
 * Why `name` cannot name a run file, or null when it can: one or more "/"-separated parts of letters,
 * digits, ".", "_" and "-", none of them "." or "..", so a name stays inside its run on a local disk and
 * maps to the same object key on every backend.
 */
export function runFileProblem(name: string): string | null {
  if (typeof name !== 'string' || !name) return 'expected a non-empty run file name';
  if (name.length > 200) return `run file name is ${name.length} characters, at most 200 allowed`;
  for (const part of name.split('/')) {
    if (!/^[A-Za-z0-9._-]+$/.test(part) || part === '.' || part === '..') return `run file name ${JSON.stringify(name)} must be "/"-separated parts of letters, digits, ".", "_" and "-" (no "." or ".." parts)`;
  }
  return null;
}
