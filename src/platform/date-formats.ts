/**
 * Strict `date` and `date-time` formats for request validation. ajv-formats accepts year 0000 (which
 * PostgreSQL rejects: there is no year zero), offsets up to ±23:59 (PostgreSQL allows ±15:59), leap
 * second 60 (JavaScript's Date rejects it) and a space or lowercase `t` as separator; each of these
 * reached a `::timestamptz` cast and answered 500. These accept exactly the RFC 3339 instants that
 * PostgreSQL and JavaScript both represent exactly, in years 0001 to 9999.
 */
export const calendarYearMin = 1;
export const calendarYearMax = 9999;

/** Real offsets lie between −12:00 and +14:00; ±14:59 stays inside PostgreSQL's ±15:59. */
const offsetHoursMax = 14;

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
const dateTimePattern =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;

const daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < calendarYearMin || year > calendarYearMax || month < 1 || month > 12 || day < 1) return false;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : (daysInMonth[month - 1] ?? 0);
  return day <= monthDays;
}

// Date.UTC maps years 0-99 to 1900-1999, so the bounds are built with setUTCFullYear.
function utcMilliseconds(year: number, month: number, day: number): number {
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day);
  return instant.getTime();
}

const instantMinMs = utcMilliseconds(calendarYearMin, 1, 1);
const instantMaxMs = utcMilliseconds(calendarYearMax + 1, 1, 1) - 1;

/** `YYYY-MM-DD`, a real calendar day in years 0001-9999. */
export function isStrictDate(text: string): boolean {
  const match = datePattern.exec(text);
  if (!match) return false;
  return isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3]));
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`: a real calendar day, no leap second, an offset of at most
 * ±14:59, and an instant that stays within years 0001-9999 in UTC too.
 */
export function isStrictDateTime(text: string): boolean {
  const match = dateTimePattern.exec(text);
  if (!match) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map(Number);
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return false;
  let offsetMinutes = 0;
  if (match[7] !== undefined) {
    const offsetHours = Number(match[8]);
    const offsetMinutesPart = Number(match[9]);
    if (offsetHours > offsetHoursMax || offsetMinutesPart > 59) return false;
    offsetMinutes = (match[7] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutesPart);
  }
  const localMs = utcMilliseconds(year, month, day) + ((hour * 60 + minute) * 60 + second) * 1000;
  const instantMs = localMs - offsetMinutes * 60_000;
  return instantMs >= instantMinMs && instantMs <= instantMaxMs;
}
