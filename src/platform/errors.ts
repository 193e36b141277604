/**
 * The one table of error codes clients can see. Codes are stable API: never rename one, only add.
 * Services throw AppError with a code; the HTTP layer maps the code to its status in one place.
 */
export const errorCatalog = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request content type is not supported.' },
  UNAUTHENTICATED: { status: 401, message: 'Authentication is required.' },
  FORBIDDEN: { status: 403, message: 'You do not have permission to do this.' },
  NOT_FOUND: { status: 404, message: 'The resource was not found.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The method is not allowed on this route.' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  URI_TOO_LONG: { status: 414, message: 'The request URL or one of its parameters is too long.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; slow down.' },
  TENANT_NOT_FOUND: { status: 400, message: 'The tenant does not exist or is not active.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive.' },
  EXPECTATION_FAILED: {
    status: 417,
    message: 'The Expect header names an expectation this server cannot meet.',
  },
  INTERNAL_ERROR: { status: 500, message: 'An unexpected error occurred.' },
  INVALID_CREDENTIALS: { status: 401, message: 'The credentials are not valid.' },
  LOGIN_TOKEN_INVALID: {
    status: 401,
    message: 'The login token is not valid, used or expired; start the login again.',
  },
  OTP_INVALID: { status: 401, message: 'The one-time code is not valid.' },
  MFA_REQUIRED: { status: 401, message: 'A second factor (TOTP or backup code) is required.' },
  MFA_INVALID: { status: 401, message: 'The second factor is not valid.' },
  REFRESH_TOKEN_INVALID: { status: 401, message: 'The refresh token is not valid.' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    message: 'The refresh token was already used; the session has been revoked.',
  },
  ACCOUNT_LOCKED: { status: 423, message: 'Too many failed attempts; try again later.' },
  ACCOUNT_INACTIVE: { status: 403, message: 'The account is not active.' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'The email address is not verified yet.' },
  PASSWORD_EXPIRED: { status: 403, message: 'The password has expired; reset it to continue.' },
  WEAK_PASSWORD: { status: 400, message: 'The password does not meet the password policy.' },
  // PIN change (issue 10): a guessable PIN (one digit repeated, a run of digits) or the current one.
  WEAK_PIN: { status: 400, message: 'The PIN does not meet the PIN policy.' },
  VERIFICATION_TOKEN_INVALID: { status: 400, message: 'The link is not valid, used or expired.' },
  MFA_ALREADY_ENABLED: { status: 409, message: 'Two-factor authentication is already enabled.' },
  MFA_NOT_ENABLED: { status: 409, message: 'Two-factor authentication is not enabled.' },
  TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many failed attempts from this address; try again later.' },
  // Money (issue 4).
  INSUFFICIENT_FUNDS: { status: 422, message: 'The available balance is too low for this amount.' },
  ACCOUNT_BLOCKED: { status: 403, message: 'This account is blocked and cannot move money.' },
  RECIPIENT_NOT_FOUND: { status: 404, message: 'No account with this account number.' },
  RECIPIENT_BLOCKED: { status: 422, message: 'The recipient account cannot receive money.' },
  SELF_TRANSFER: { status: 422, message: 'A transfer needs a recipient other than the sender.' },
  KYC_LIMIT_EXCEEDED: { status: 422, message: 'The amount exceeds a limit of your KYC tier.' },
  MAINTENANCE_MODE: { status: 503, message: 'The service is paused for maintenance; try again later.' },
  APP_UPDATE_REQUIRED: { status: 426, message: 'This app version is no longer supported; update the app.' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    message: 'This Idempotency-Key was already used with a different request.',
  },
  TRANSACTION_CONFLICT: {
    status: 503,
    message: 'The system is busy; retry the request with the same Idempotency-Key.',
  },
  HOLD_NOT_ACTIVE: { status: 409, message: 'The hold was already released or captured.' },
  BANK_ACCOUNT_EXISTS: { status: 409, message: 'This bank account is already linked.' },
  BANK_ACCOUNT_INACTIVE: { status: 409, message: 'The bank account is not active.' },
  KYC_ALREADY_PENDING: { status: 409, message: 'A KYC submission is already waiting for review.' },
  KYC_NOT_PENDING: { status: 409, message: 'The KYC record is not waiting for review.' },
  BALANCE_LIMIT_EXCEEDED: {
    status: 422,
    message: 'The amount would take a balance above the largest amount an account can hold.',
  },
  SUPPLY_LIMIT_EXCEEDED: {
    status: 422,
    message: "The amount would take the asset's system account past its range; an operator must settle it.",
  },
  // Framework and exposure errors (issue 7).
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  // Security controls (issue 7).
  TENANT_SUSPENDED: { status: 403, message: 'The tenant is suspended.' },
  SEGREGATION_OF_DUTIES: {
    status: 403,
    message:
      "Staff may not credit their own account or another staff member's, nor approve their own request.",
  },
  TOPUP_APPROVAL_DECIDED: { status: 409, message: 'The top-up request was already approved or rejected.' },
  // Disbursements (issue 8 item 4): new money past the maker's threshold has no checker in a batch.
  APPROVAL_REQUIRED: {
    status: 403,
    message:
      'This would take your direct credits of the day above the approval threshold; a second staff member must approve it.',
  },
  // Security operations (issue 10): a threat-intelligence indicator of high or critical severity.
  REQUEST_BLOCKED: { status: 403, message: 'The request was refused by a security rule.' },
  // A detection asked for a fresh second factor before the next sensitive action (issue 10 item 3).
  STEP_UP_REQUIRED: {
    status: 403,
    message: 'Sign in again with your second factor (OTP or authenticator code) before this action.',
  },
  // Consent (issue 11 item 6): a document accepted at a version other than the one in force.
  CONSENT_VERSION_NOT_CURRENT: {
    status: 409,
    message: 'This is not the current version of the document; read and accept the current one.',
  },
  LEGAL_HOLD_ACTIVE: {
    status: 409,
    message: "A legal hold preserves this customer's data; it cannot be erased until the hold is released.",
  },
  LEGAL_HOLD_RELEASED: { status: 409, message: 'The legal hold was already released.' },
  CONSENT_NOT_WITHDRAWABLE: {
    status: 409,
    message: 'The terms and the privacy policy are accepted, not withdrawn; closing the account ends them.',
  },
  // GDPR (issue 11 item 5): data export and erasure.
  DATA_EXPORT_PENDING: {
    status: 409,
    message: 'A data export is already being prepared; wait for it before requesting another.',
  },
  DATA_EXPORT_RATE_LIMITED: {
    status: 429,
    message: 'Too many data exports requested today; try again later.',
  },
  DATA_EXPORT_NOT_READY: { status: 409, message: 'The data export is not ready, or it has expired.' },
  ERASURE_BALANCE_NOT_ZERO: {
    status: 409,
    message: 'The account still holds money; withdraw or transfer every balance before erasure.',
  },
  ERASURE_WITHDRAWAL_PENDING: {
    status: 409,
    message: 'A withdrawal is still in flight; erasure is possible once it has completed or failed.',
  },
  ERASURE_ALREADY_DONE: { status: 409, message: 'The personal data of this account was already erased.' },
  ERASURE_AUDIT_ROW_ALTERED: {
    status: 409,
    message: 'An audit entry about this customer fails verification; run `corebank audit verify` first.',
  },
  // Compliance reports (issue 11 item 4).
  COMPLIANCE_PERIOD_INVALID: {
    status: 400,
    message:
      'The report period is not valid: from must be before to, the period at most 366 days, and to not in the future.',
  },
  COMPLIANCE_REPORT_TOO_LARGE: {
    status: 422,
    message: 'The report would list too many records; generate it for a shorter period.',
  },
  COMPLIANCE_REPORT_ALREADY_SUBMITTED: {
    status: 409,
    message: 'The report is already recorded as submitted to the authority.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export interface ErrorDetail {
  field?: string;
  reason: string;
}

export interface AppErrorOptions {
  /** Sent as the Retry-After header (seconds): when a limited or unavailable request may be tried again. */
  retryAfterSeconds?: number | undefined;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message?: string, details?: ErrorDetail[], options: AppErrorOptions = {}) {
    super(message ?? errorCatalog[code].message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return errorCatalog[this.code].status;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[]; request_id: string };
}

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetail[],
): ErrorBody {
  const error: ErrorBody['error'] = { code, message, request_id: requestId };
  if (details && details.length > 0) error.details = details;
  return { error };
}
