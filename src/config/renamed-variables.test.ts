import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { type Logger, pino } from 'pino';
import { ConfigurationError, loadConfig } from './config.ts';
import { renamedVariables, warnRenamedVariables, warnRetiredVariables } from './renamed-variables.ts';

/** A logger whose lines land in an array, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, destination), lines };
}

describe('renamed environment variables (issue 9 item 4: units, then qualifiers, last)', () => {
  test('every current name ends with its unit or qualifier, and no previous name is reused', () => {
    for (const { previous, current } of renamedVariables) {
      assert.match(current, /_(MINUTES|DAYS)_(BASE|MAX)$|_BALANCE_MAX$/, current);
      assert.notEqual(previous, current);
    }
    const names = renamedVariables.flatMap(({ previous, current }) => [previous, current]);
    assert.equal(new Set(names).size, names.length);
  });

  test('the current names are read', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOCKOUT_MINUTES_BASE: '5',
      LOCKOUT_MINUTES_MAX: '600',
      STAFF_PASSWORD_AGE_DAYS_MAX: '45',
      KYC_TIER1_BALANCE_MAX: '1234',
    });
    assert.equal(config.authentication.lockoutBaseMinutes, 5);
    assert.equal(config.authentication.lockoutMaxMinutes, 600);
    assert.equal(config.authentication.staffPasswordMaxAgeDays, 45);
    assert.equal(config.money.kycTierLimits[1].maximumBalanceMinor, 1234);
    assert.deepEqual(config.renamedVariablesUsed, []);
  });

  test('a previous name is still accepted for one release, and recorded for the start-up warning', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOCKOUT_BASE_MINUTES: '5',
      LOCKOUT_MAX_MINUTES: '600',
      STAFF_PASSWORD_MAX_AGE_DAYS: '45',
      KYC_TIER1_MAX_BALANCE: '1234',
    });
    assert.equal(config.authentication.lockoutBaseMinutes, 5);
    assert.equal(config.authentication.lockoutMaxMinutes, 600);
    assert.equal(config.authentication.staffPasswordMaxAgeDays, 45);
    assert.equal(config.money.kycTierLimits[1].maximumBalanceMinor, 1234);
    assert.deepEqual(
      config.renamedVariablesUsed.map(({ previous, current, ignored }) => [previous, current, ignored]),
      [
        ['LOCKOUT_BASE_MINUTES', 'LOCKOUT_MINUTES_BASE', false],
        ['LOCKOUT_MAX_MINUTES', 'LOCKOUT_MINUTES_MAX', false],
        ['STAFF_PASSWORD_MAX_AGE_DAYS', 'STAFF_PASSWORD_AGE_DAYS_MAX', false],
        ['KYC_TIER1_MAX_BALANCE', 'KYC_TIER1_BALANCE_MAX', false],
      ],
    );
  });

  test('with both names set the current one wins and the previous one is ignored', () => {
    const config = loadConfig({ NODE_ENV: 'test', LOCKOUT_MAX_MINUTES: '600', LOCKOUT_MINUTES_MAX: '700' });
    assert.equal(config.authentication.lockoutMaxMinutes, 700);
    assert.deepEqual(config.renamedVariablesUsed, [
      { previous: 'LOCKOUT_MAX_MINUTES', current: 'LOCKOUT_MINUTES_MAX', ignored: true },
    ]);
  });

  test('a bad value under a previous name is reported under that name, the one the operator wrote', () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', LOCKOUT_MAX_MINUTES: 'forever' }),
      (error: unknown) =>
        error instanceof ConfigurationError &&
        error.variable === 'LOCKOUT_MAX_MINUTES' &&
        error.message.startsWith('Invalid configuration: LOCKOUT_MAX_MINUTES must be a whole number'),
    );
    // The same value under the current name names the current name.
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', LOCKOUT_MINUTES_MAX: 'forever' }),
      (error: unknown) => error instanceof ConfigurationError && error.variable === 'LOCKOUT_MINUTES_MAX',
    );
  });

  test('the start-up warning: one line per previous name in use, naming its replacement', () => {
    const { logger, lines } = capturingLogger();
    const config = loadConfig({
      NODE_ENV: 'test',
      LOCKOUT_MAX_MINUTES: '600',
      STAFF_PASSWORD_MAX_AGE_DAYS: '45',
      STAFF_PASSWORD_AGE_DAYS_MAX: '50',
    });
    warnRenamedVariables(config.renamedVariablesUsed, logger);
    assert.equal(lines.length, 2, JSON.stringify(lines));
    const [renamed, ignored] = lines;
    assert.equal(renamed?.level, 40, 'warn');
    assert.equal(renamed?.variable, 'LOCKOUT_MAX_MINUTES');
    assert.equal(renamed?.replacement, 'LOCKOUT_MINUTES_MAX');
    assert.match(
      String(renamed?.msg),
      /LOCKOUT_MAX_MINUTES is deprecated .* rename it to LOCKOUT_MINUTES_MAX/,
    );
    assert.equal(ignored?.level, 40);
    assert.match(
      String(ignored?.msg),
      /STAFF_PASSWORD_MAX_AGE_DAYS is ignored because STAFF_PASSWORD_AGE_DAYS_MAX/,
    );
  });

  test('no previous name in use: no warning', () => {
    const { logger, lines } = capturingLogger();
    warnRenamedVariables(loadConfig({ NODE_ENV: 'test' }).renamedVariablesUsed, logger);
    assert.deepEqual(lines, []);
  });

  test('AUDIT_RETENTION_DAYS set: one warning naming the audit_logs retention policy; unset: none', () => {
    const { logger, lines } = capturingLogger();
    warnRetiredVariables(loadConfig({ NODE_ENV: 'test', AUDIT_RETENTION_DAYS: '2555' }).retention, logger);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 40);
    assert.match(
      String(lines[0]?.msg),
      /AUDIT_RETENTION_DAYS is not read; set the audit_logs retention policy/,
    );
    warnRetiredVariables(loadConfig({ NODE_ENV: 'test' }).retention, logger);
    assert.equal(lines.length, 1);
  });
});
