import { AppError } from '../../platform/errors.ts';

/**
 * Password policy (issue 3, NIST SP 800-63B style): at least 12 characters, at most 256, not a
 * commonly used password, not the account's own email. No composition rules: length beats symbols.
 */
export const passwordLengthMin = 12;
export const passwordLengthMax = 256;

/** Common passwords long enough to pass the length rule (from public breach-frequency lists). */
const commonPasswords = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '123123123123',
  '111111111111',
  '000000000000',
  'aaaaaaaaaaaa',
  'qwertyuiopas',
  'qwertyuiop123',
  'qwerty123456',
  'qwerty12345678',
  '1q2w3e4r5t6y',
  '1q2w3e4r5t6y7u',
  'q1w2e3r4t5y6',
  'password1234',
  'password12345',
  'password123456',
  'passwordpassword',
  'password1234!',
  'password123!',
  'p@ssw0rd1234',
  'p@ssword1234',
  'iloveyou1234',
  'iloveyouiloveyou',
  'letmein12345',
  'welcome12345',
  'welcome123456',
  'administrator',
  'administrator1',
  'admin1234567',
  'adminadmin123',
  'changeme1234',
  'trustno11234',
  'football1234',
  'baseball1234',
  'sunshine1234',
  'princess1234',
  'superman1234',
  'starwars1234',
  'monkey123456',
  'dragon123456',
  'master123456',
  'abcdefghijkl',
  'abc123abc123',
  'abcd12345678',
  'zxcvbnm12345',
  'asdfghjkl123',
  "asdfghjkl;'",
  'correcthorsebatterystaple',
  'correct horse battery staple',
  'bismillah123',
  'indonesia123',
  'indonesia1945',
  'jakarta12345',
  'corebank1234',
  'corebank12345',
]);

export function passwordPolicyViolation(password: string, email?: string): string | undefined {
  if ([...password].length < passwordLengthMin) return `must be at least ${passwordLengthMin} characters`;
  if (password.length > passwordLengthMax) return `must be at most ${passwordLengthMax} characters`;
  const lowered = password.toLowerCase();
  if (commonPasswords.has(lowered)) return 'is a commonly used password';
  if (/^(.)\1+$/.test(password)) return 'is one character repeated';
  if (
    email &&
    lowered.includes(email.toLowerCase().split('@')[0] ?? email) &&
    (email.split('@')[0]?.length ?? 0) >= 4
  ) {
    return 'must not contain the email address';
  }
  return undefined;
}

export function assertPasswordPolicy(password: string, field: string, email?: string): void {
  const violation = passwordPolicyViolation(password, email);
  if (violation) throw new AppError('WEAK_PASSWORD', undefined, [{ field, reason: violation }]);
}
