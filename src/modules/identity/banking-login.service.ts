import assert from 'node:assert/strict';
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { AppError, type ErrorCode } from '../../platform/errors.ts';
import { type ConsentStatus, consentStatusIn } from '../consents/consents.service.ts';
import type { MessageSender } from '../dev-outbox/message-outbox.ts';
import { type IssuedTokens, openSession } from '../sessions/session-tokens.ts';
import {
  accountNumberTaken,
  type CustomerRow,
  findCustomerByPhone,
  findUserSummary,
  insertOtpSession,
  ownsAccountNumber,
  phoneTaken,
} from './banking-login.repository.ts';
import { hashPin, hashSecretToken, verifyPin } from './credential-hashing.ts';
import { registerCustomer } from './customer-registration.ts';
import type { BankingLoginBody, BankingVerifyBody, UserSummary } from './identity.schemas.ts';
import { userSummary } from './identity.schemas.ts';
import { claimOtpSession, reserveOtpAttempt } from './login-attempts.repository.ts';
import {
  type AttemptServices,
  assertTenantActive,
  type DecidedAttempt,
  decideAttempt,
  type LoginAttempt,
  recordFailureAlone,
  recordRefusedAfterCheck,
  settleSuccess,
} from './login-attempts.ts';
import { reserveSmsSend } from './send-limits.ts';
import { userStatus } from './user-status.ts';

/**
 * Banking login (seed 000), two steps. Step one checks the customer's details (or, for an unknown
 * phone, prepares a registration) and sends a 6-digit OTP; step two exchanges the single-use login
 * token and the OTP for a session. OTPs and login tokens are stored as keyed hashes only. Every check
 * is decided and its failure counted under the account's row lock (login-attempts.ts), so guesses
 * count whatever happens later.
 */
export interface BankingServices {
  config: Config;
  database: DatabaseHandle;
  messages: MessageSender;
}

export interface LoginChallenge {
  loginToken: string;
  expiresInSeconds: number;
}

export interface BankingSession extends IssuedTokens {
  user: UserSummary;
  /** The documents the customer still has to accept (consents.service.ts). */
  consent: ConsentStatus;
}

/** Names are compared as people type them: case and runs of spaces do not matter. */
function sameName(left: string, right: string | null): boolean {
  if (right === null) return false;
  const normalise = (value: string) => value.trim().replace(/\s+/g, ' ').toLowerCase();
  return normalise(left) === normalise(right);
}

function otpHash(config: Config, loginTokenHash: string, otp: string): string {
  // Bound to its login token, so one OTP hash says nothing about another session's code.
  return hashSecretToken(`${loginTokenHash}:${otp}`, config.secretTokenKey);
}

function sameHex(left: string, right: string): boolean {
  const a = Buffer.from(left, 'hex');
  const b = Buffer.from(right, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

function attemptServices(services: BankingServices): AttemptServices {
  return { db: services.database.db, config: services.config };
}

/** What step one knows about the phone before any credential is evaluated (reads only). */
interface StepOneFacts {
  customer: CustomerRow | undefined;
  ownsAccount: boolean;
  accountNumberTaken: boolean;
}

async function readStepOneFacts(
  services: BankingServices,
  tenantId: string,
  body: BankingLoginBody,
): Promise<StepOneFacts> {
  return withScope(services.database.db, { tenantId }, async (transaction) => {
    await assertTenantActive(transaction, tenantId);
    const customer = await findCustomerByPhone(transaction, body.phone);
    return {
      customer,
      ownsAccount: customer ? await ownsAccountNumber(transaction, customer.id, body.account_number) : false,
      accountNumberTaken: customer ? false : await accountNumberTaken(transaction, body.account_number),
    };
  });
}

/**
 * Every check runs whatever the earlier ones said, so the time taken does not say which one failed.
 * Returns the reason of a failure, or undefined when the details match.
 */
function failedCheck(config: Config, facts: StepOneFacts, body: BankingLoginBody): string | undefined {
  const customer = facts.customer;
  if (!customer) return facts.accountNumberTaken ? 'account_number_taken' : undefined;
  const pinMatches = customer.pin_hash !== null && verifyPin(customer.pin_hash, body.pin, config.pinPeppers);
  const nameMatches = sameName(body.name, customer.name);
  const motherMatches = sameName(body.mother_name, customer.mother_name);
  return pinMatches && nameMatches && motherMatches && facts.ownsAccount ? undefined : 'credentials_mismatch';
}

/** A new PIN's hash under the current pepper (the first one configured). */
export function hashNewPin(config: Config, pin: string): string {
  const pepper = config.pinPeppers[0];
  // The configuration always holds at least one pepper (config.ts); none is our bug.
  assert.ok(pepper, 'no PIN pepper configured');
  return hashPin(pin, pepper);
}

/** The PIN hash the OTP session carries: the known customer's own, or a new one for a registration. */
export function sessionPinHash(config: Config, customer: CustomerRow | undefined, pin: string): string {
  if (customer?.pin_hash) return customer.pin_hash;
  return hashNewPin(config, pin);
}

/** Step one: POST /v1/auth/banking/login. */
export async function startBankingLogin(
  services: BankingServices,
  context: AuditContext,
  body: BankingLoginBody,
): Promise<LoginChallenge> {
  const { config } = services;
  const facts = await readStepOneFacts(services, context.tenantId, body);
  const customer = facts.customer;
  const attempt: LoginAttempt = {
    context,
    userId: customer?.id,
    loginType: 'user_login',
    method: 'banking_pin',
    deviceInfo: { device_type: body.device.type, device_name: body.device.name },
  };
  let failure: string | undefined;
  const decided = await decideAttempt(
    attemptServices(services),
    attempt,
    customer ? { userId: customer.id } : undefined,
    () => {
      failure = failedCheck(config, facts, body);
      return failure === undefined;
    },
  );
  if (!decided.right) {
    const locked = await recordFailureAlone(
      attemptServices(services),
      decided,
      failure ?? 'credentials_mismatch',
    );
    throw new AppError(locked ? 'ACCOUNT_LOCKED' : 'INVALID_CREDENTIALS');
  }
  if (customer && (customer.status === userStatus.inactive || customer.deleted_at !== null)) {
    await withScope(services.database.db, { tenantId: context.tenantId }, (transaction) =>
      recordRefusedAfterCheck(transaction, config, decided, 'account_inactive'),
    );
    throw new AppError('ACCOUNT_INACTIVE');
  }
  return issueChallenge(services, decided, body, sessionPinHash(config, customer, body.pin));
}

/** The details matched: one OTP, if the send limits allow it, and the login token that goes with it. */
async function issueChallenge(
  services: BankingServices,
  decided: DecidedAttempt,
  body: BankingLoginBody,
  pinHash: string,
): Promise<LoginChallenge> {
  const { config } = services;
  const { context } = decided.attempt;
  const authentication = config.authentication;
  const loginToken = `lt_${randomBytes(32).toString('base64url')}`;
  const loginTokenHash = hashSecretToken(loginToken, config.secretTokenKey);
  const otp = randomInt(0, 1_000_000).toString().padStart(6, '0');
  await reserveSmsSend(attemptServices(services), context, body.phone);
  await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
    await insertOtpSession(
      transaction,
      {
        tenant_id: context.tenantId,
        login_token_hash: loginTokenHash,
        phone: body.phone,
        otp_hash: otpHash(config, loginTokenHash, otp),
        name: body.name.trim(),
        account_number: body.account_number,
        mother_name: body.mother_name.trim(),
        pin_hash: pinHash,
        device_type: body.device.type,
        device_id: body.device.id,
        device_name: body.device.name,
        user_id: decided.attempt.userId ?? null,
        ip_address: context.ipAddress ?? null,
        user_agent: context.userAgent?.slice(0, 1000) ?? null,
      },
      authentication.loginTokenTtlSeconds,
    );
  });
  const minutes = Math.round(authentication.loginTokenTtlSeconds / 60);
  await services.messages.sendSms(
    body.phone,
    `Your Corebank code is ${otp}. It expires in ${minutes} minutes. Never share it.`,
  );
  return { loginToken, expiresInSeconds: authentication.loginTokenTtlSeconds };
}

type OtpSessionRow = NonNullable<Awaited<ReturnType<typeof reserveOtpAttempt>>>;

/** The outcome of the completing transaction; a failure is recorded after it. */
type Outcome = { ok: true; value: BankingSession } | { ok: false; code: ErrorCode; reason: string };

/**
 * Decides the guess in one transaction: the client address, one of the login token's guesses and,
 * for a known customer, the account, in that lock order. A locked account rolls all of it back
 * (nothing is evaluated); a token that is unknown, spent or out of guesses still costs the address an
 * attempt. The code is compared under the locks, and a wrong one counted before they are released.
 */
async function decideVerification(
  services: BankingServices,
  attempt: LoginAttempt,
  loginTokenHash: string,
  otp: string,
): Promise<{ decided: DecidedAttempt; session: OtpSessionRow | undefined }> {
  const { config } = services;
  const { tenantId } = attempt.context;
  const attemptsMax = config.authentication.otpAttemptsMax;
  let session: OtpSessionRow | undefined;
  const decided = await decideAttempt(
    attemptServices(services),
    attempt,
    async (transaction) => {
      session = await reserveOtpAttempt(transaction, tenantId, loginTokenHash, attemptsMax);
      if (!session?.user_id) return undefined;
      attempt.userId = session.user_id;
      attempt.deviceInfo = { device_type: session.device_type, device_name: session.device_name };
      return { userId: session.user_id };
    },
    () => session !== undefined && sameHex(otpHash(config, loginTokenHash, otp), session.otp_hash),
  );
  return { decided, session };
}

/** Step two: POST /v1/auth/banking/verify. */
export async function verifyBankingLogin(
  services: BankingServices,
  context: AuditContext,
  body: BankingVerifyBody,
): Promise<BankingSession> {
  const { config } = services;
  const loginTokenHash = hashSecretToken(body.login_token, config.secretTokenKey);
  const attempt: LoginAttempt = {
    context,
    userId: undefined,
    loginType: 'user_login',
    method: 'banking_otp',
  };
  const { decided, session } = await decideVerification(services, attempt, loginTokenHash, body.otp);
  let outcome: Outcome;
  if (!session) {
    outcome = { ok: false, code: 'LOGIN_TOKEN_INVALID', reason: 'login_token_invalid' };
  } else if (!decided.right) {
    outcome = { ok: false, code: 'OTP_INVALID', reason: 'otp_invalid' };
  } else {
    outcome = await withScope(services.database.db, { tenantId: context.tenantId }, (transaction) =>
      completeBankingLogin(transaction, config, decided, session),
    );
  }
  if (outcome.ok) return outcome.value;
  const locked = await recordFailureAlone(attemptServices(services), decided, outcome.reason);
  throw new AppError(locked ? 'ACCOUNT_LOCKED' : outcome.code);
}

/** After a correct OTP: the token is spent, the customer exists (registered now if new), the session opens. */
async function completeBankingLogin(
  transaction: ScopedTransaction,
  config: Config,
  decided: DecidedAttempt,
  session: OtpSessionRow,
): Promise<Outcome> {
  const { context } = decided.attempt;
  if (!(await claimOtpSession(transaction, session.id))) {
    // A concurrent verification with the same token won.
    return { ok: false, code: 'LOGIN_TOKEN_INVALID', reason: 'login_token_invalid' };
  }
  if (!session.user_id && (await registrationConflicts(transaction, session))) {
    // Another login registered this phone or account number since step one.
    return { ok: false, code: 'LOGIN_TOKEN_INVALID', reason: 'registration_conflict' };
  }
  const userId =
    session.user_id ??
    (await registerCustomer(transaction, context, {
      kind: 'banking',
      name: session.name,
      phone: session.phone,
      motherName: session.mother_name,
      pinHash: session.pin_hash,
      accountNumber: session.account_number,
    }));
  const signals = await settleSuccess(transaction, decided, userId);
  const tokens = await openSession(transaction, config, {
    tenantId: context.tenantId,
    userId,
    device: { type: session.device_type as 'android', id: session.device_id, name: session.device_name },
    // device_sessions.provider names first-party credentials 'email' (seed 003); a PIN login is one.
    provider: 'email',
    origin: { ipAddress: context.ipAddress, userAgent: context.userAgent },
    mfaVerified: true,
    security: { context: { ...context, userId }, signals },
  });
  const user = await findUserSummary(transaction, userId);
  const consent = await consentStatusIn(transaction, config.consent, context.tenantId, userId);
  return { ok: true, value: { ...tokens, user: userSummary(user), consent } };
}

async function registrationConflicts(
  transaction: ScopedTransaction,
  session: OtpSessionRow,
): Promise<boolean> {
  return (
    (await phoneTaken(transaction, session.phone)) || accountNumberTaken(transaction, session.account_number)
  );
}
