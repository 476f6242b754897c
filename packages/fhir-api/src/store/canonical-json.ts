/** Key-order-independent JSON, to tell whether re-imported content actually changed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Content without the server-assigned version metadata. */
export function withoutVersionMeta(resource: Record<string, any>): Record<string, any> {
  const { meta, ...rest } = resource;
  if (!meta) return rest;
  const { versionId: _v, lastUpdated: _l, ...metaRest } = meta as Record<string, unknown>;
  return Object.keys(metaRest).length ? { ...rest, meta: metaRest } : rest;
}
