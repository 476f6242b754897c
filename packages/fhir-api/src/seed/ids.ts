/**
 * Ids are `<type prefix>-<patient tag>-<counter>` (obs-0001-0007, cond-teen-0002): URL-safe, stable
 * across runs, unique without a registry, and they show at a glance whose record a resource is in.
 */
export class IdMint {
  private readonly counts = new Map<string, number>();

  constructor(readonly tag: string) {}

  next(prefix: string): string {
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    return `${prefix}-${this.tag}-${String(n).padStart(4, '0')}`;
  }
}

/** Tag of the n-th generated (ordinary) patient, 1-based: pat-0001. */
export function generatedTag(n: number): string {
  return String(n).padStart(4, '0');
}
