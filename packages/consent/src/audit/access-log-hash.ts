/**
 * The hash chain of the access log (AUD-2, SEC-3). Each row's hash is
 *
 *   sha256( prev_hash | canonical JSON of every stored column except the two hashes )
 *
 * where prev_hash is the previous row's hash in the same patient's chain, the hash of the
 * checkpoint a purge left (AUD-4), or 64 zeros for the first row. The content includes the
 * patient and the sequence number, so moving, reordering or renumbering a row changes its hash.
 */
import { hash } from 'node:crypto';
import type { AccessLogDetail, AccessLogRecord } from './access-log-types.js';

export const GENESIS_HASH = '0'.repeat(64);
const FORMAT = 'access-log/1';

type Hashed = Omit<AccessLogRecord, 'hash'>;

function canonicalDetail(detail: AccessLogDetail | null): [string, string | number | boolean | null][] | null {
  if (detail === null) return null;
  return Object.keys(detail)
    .sort()
    .map((k) => [k, detail[k] ?? null]);
}

/** The canonical serialization of a row's content (field order fixed, nulls explicit). */
export function canonicalAccessLogContent(r: Hashed): string {
  return JSON.stringify([
    FORMAT,
    r.patientId,
    r.seq,
    r.recordedAt.toISOString(),
    r.actorKind,
    r.actorId,
    r.actorFhirUser,
    r.onBehalfOf,
    r.clientId,
    r.clientName,
    r.scopes,
    r.grantId,
    r.delegationId,
    r.action,
    r.outcome,
    r.reason,
    r.exception,
    r.resourceType,
    r.queryParams,
    r.resultCount,
    r.returnedIds,
    r.withheld.map((w) => [w.ref, w.reason, w.exception]),
    r.requestId,
    r.sourceAddress,
    canonicalDetail(r.detail),
  ]);
}

export function accessLogHash(r: Hashed): string {
  // One-shot: the same bytes as hashing the three parts in turn, without a Hash object per row.
  return hash('sha256', `${r.prevHash}|${canonicalAccessLogContent(r)}`, 'hex');
}
