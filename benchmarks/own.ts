/**
 * A record's own value for a key a model chose, or undefined: `record[key]` would answer "constructor" or
 * "__proto__" with what every object inherits (a function, Object.prototype), which then crashes the tool
 * that trusted it. Tool dispatch looks up names and ids only this way (or in Maps).
 */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}
