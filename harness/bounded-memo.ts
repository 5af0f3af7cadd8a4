/**
 * A memo for pure, deterministic computations keyed by a string, bounded by `limit` entries (cleared
 * wholesale when full: simple, and the working set of a run is far smaller).
 */
export function boundedMemo<V>(limit: number): (key: string, compute: () => V) => V {
  const values = new Map<string, V>();
  return (key, compute) => {
    if (values.has(key)) return values.get(key)!;
    const value = compute();
    if (values.size >= limit) values.clear();
    values.set(key, value);
    return value;
  };
}
