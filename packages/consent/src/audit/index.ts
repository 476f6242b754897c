export * from './access-log-types.js';
export { GENESIS_HASH, accessLogHash, canonicalAccessLogContent } from './access-log-hash.js';
export {
  AccessLogHeads,
  appendAccessLog,
  verifyAccessLog,
  verifyAccessLogReport,
  accessLogAnchors,
  accessLogRecords,
  type AppendedAccessLogEntry,
  type AccessLogProblem,
  type AccessLogProblemKind,
  type AccessLogAnchor,
  type AccessLogVerification,
  type VerifyOptions,
} from './access-log.js';
export * from './access-log-purge.js';
export * from './access-log-writer.js';
export * from './audit-events.js';
export * from './information-blocking-report.js';
export * from './policy-audit.js';
