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
      /**
       * Set by the store on a search's own reference filters: a reference to a resource withheld
       * from this reader matches nothing, so a search cannot reveal what a redaction hides.
       */
      notWithheld?: WithheldTargets;
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
  | {
      kind: 'notHeld';
      holds: readonly HoldKind[];
      harmTypes: readonly HarmType[];
      /** Also not a result of a held DiagnosticReport: a report's hold covers the results it names. */
      viaReport?: boolean;
    }
  /** The resource references no resource carrying one of these security labels, or one of their codes without a system (PRX-3). */
  | { kind: 'notReferencingLabelled'; labels: readonly { system: string; code: string }[] }
  /**
   * The resource references no resource (of `resourceType`, when given) carrying one of these
   * categories, matched by code with the same system or none (fail-closed) (IB-1, plan rule 4).
   */
  | { kind: 'notReferencingCategory'; categories: readonly { system?: string; code: string; resourceType?: string }[] }
  /** No DiagnosticReport carrying one of these labels (or its code without a system) names the resource as a result (PRX-3). */
  | { kind: 'notResultOfLabelled'; labels: readonly { system: string; code: string }[] }
  /** At least one `param` reference of the resource names something not withheld from this reader (a Provenance of withheld resources only says they exist). */
  | { kind: 'someTargetNotWithheld'; param: string; withheld: WithheldTargets };

/**
 * What withholds a resource from a reader whatever its type, for checking the targets of
 * references (redaction, reference searches, Provenance): a status never shown (REL-4), a result
 * not yet released (REL-7), a release hold (REL-2…6), directly or through its report. Labels and
 * restrictions are not here: under them, whatever references a hidden resource is hidden itself.
 */
export interface WithheldTargets {
  neverVisibleStatuses: readonly string[];
  results: readonly { type: string; categories: 'all' | readonly { system?: string; code: string }[]; released: readonly string[] }[];
  holds: readonly HoldKind[];
  harmTypes: readonly HarmType[];
}

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
