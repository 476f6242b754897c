export * from './config/app-config.js';
export * from './db/database.js';
export * from './db/migrations.js';
export * from './db/prepared.js';
export { consentMigrations } from './migrations/index.js';
export { hashPassword, verifyPassword } from './accounts/password.js';
export { base32Encode, generateTotpSecret, matchTotpStep, totpAt, verifyTotp } from './accounts/totp.js';
export { createTestDatabase, statementsDuring, type TestDatabase } from './testing/test-database.js';
export { createLogger, type Logger } from './observability/logger.js';
export { requestContext } from './observability/request-context.js';
export { createAccount, countAccounts, AccountExistsError, type Account, type NewAccount } from './accounts/account-store.js';
export { type NewDelegation, type DelegationBasis, type DelegationStatus } from './delegations/delegation-store.js';
export * from './scopes/index.js';
export * from './delegations/delegation-suspensions.js';
export { createDelegation, delegationsForPatient, delegationsHeldBy, delegationsInForce, endDelegation, findDelegation, openDelegation, type Delegation } from './delegations/delegation-store.js';
export {
  DELEGATION_DENIAL_REASONS,
  DelegationError,
  VERIFICATION_EVIDENCE_TYPES,
  denyDelegation,
  verifyDelegation,
  type DelegationDenialReason,
  type VerificationEvidenceType,
} from './delegations/delegation-verification.js';
export { findAccountById, findAccountByUsername, verifyPasswordLogin, verifyTotpLogin, DEFAULT_LOCKOUT, type LockoutPolicy, type LoginResult, type LoginFailure } from './accounts/login.js';
export * from './grants/grant-store.js';
export * from './policy/index.js';
export * from './holds/index.js';
export { RuleError } from './rule-error.js';
export { createEnrollment, enrollmentAccount, completeEnrollment, ENROLLMENT_TTL_HOURS, MIN_PASSWORD_LENGTH, type EnrollmentProblem } from './accounts/enrollment.js';
export { cors, type CorsOptions } from './http/cors.js';
export * from './audit/index.js';
export * from './rate-limits/index.js';
export * from './restrictions/index.js';
export * from './disclosure-consents/index.js';
