// Name/value maps (environment variables, HTTP headers) as the rows a form edits them in.

/** One row of a KeyValueList. */
export interface KeyValue {
  key?: string;
  value?: string;
}

/** A map's entries as form rows. */
export function pairs(map: Record<string, string> | undefined): KeyValue[] {
  return Object.entries(map ?? {}).map(([key, value]) => ({ key, value }));
}

/** Form rows as a map (names trimmed, rows without a name left out); undefined when empty. */
export function record(list: KeyValue[] | undefined): Record<string, string> | undefined {
  const entries = (list ?? []).filter((kv) => kv.key && kv.key.trim()).map((kv) => [kv.key!.trim(), kv.value ?? '']);
  return entries.length ? Object.fromEntries(entries) : undefined;
}
