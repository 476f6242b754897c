/** The parsed form of a FHIR search: what the SQL compiler and the access layer work on. */
import type { HarmType, HoldKind } from '@patient-access/consent';

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

export interface TokenValue {
  /** undefined: any system; null: no system (`|code`). */
  system?: string | null;
  /** undefined: any code in the system (`system|`). */
  code?: string;
}

export interface DateValue {
  prefix: DatePrefix;
  lo: Date;
  hi: Date;
}

export type Filter =
  | { kind: 'token'; param: string; not?: boolean; values: TokenValue[] }
  | {
      kind: 'reference';
      param: string;
      values: string[];
      /**
       * Checked row by row rather than used to find rows: set by the store when the reference is
       * to the compartment's own patient, which nearly every row of the compartment matches.
       */
      perRow?: boolean;
    }
  | { kind: 'date'; param: string; values: DateValue[] }
  | { kind: 'string'; param: string; modifier?: 'exact' | 'contains'; values: string[] }
  | { kind: 'id'; values: string[] }
  | { kind: 'lastUpdated'; values: DateValue[] }
  // The two below are built only by the access layer (never parsed from a request).
  /**
   * No active release hold of these kinds withholds the resource from this reader (REL-2…6), at
   * the request's instant (AccessScope.at, bound where the filter's SQL has REQUEST_TIME).
   */
  | { kind: 'notHeld'; holds: readonly HoldKind[]; harmTypes: readonly HarmType[] }
  /** The resource references no resource carrying one of these security labels, or one of their codes without a system (PRX-3). */
  | { kind: 'notReferencingLabelled'; labels: readonly { system: string; code: string }[] }
  /**
   * The resource references no resource (of `resourceType`, when given) carrying one of these
   * categories, matched by code with the same system or none (fail-closed) (IB-1, plan rule 4).
   */
  | { kind: 'notReferencingCategory'; categories: readonly { system?: string; code: string; resourceType?: string }[] };

export interface SortKey {
  param: string; // a date parameter or _lastUpdated or _id
  descending: boolean;
}

export interface IncludeSpec {
  sourceType: string;
  param: string;
  targetType?: string;
}

export interface SearchRequest {
  resourceType: string;
  /** ANDed; each filter ORs its values. */
  filters: Filter[];
  count: number;
  sort: SortKey[];
  includes: IncludeSpec[];
  revincludes: IncludeSpec[];
  summaryCount: boolean;
  totalMode: 'accurate' | 'none';
  elements?: string[];
  /** Position after which the page starts (opaque to clients). */
  cursor?: PageCursor;
  /** Parameters the server did not recognise (reported in lenient mode). */
  ignored: string[];
}

export type PageCursor = { afterId: string } | { offset: number };

export class SearchError extends Error {
  constructor(
    readonly code: 'INVALID_SEARCH_PARAMETER' | 'UNSUPPORTED_SEARCH_PARAMETER' | 'INVALID_PARAMETER_VALUE',
    message: string,
  ) {
    super(message);
    this.name = 'SearchError';
  }
}
