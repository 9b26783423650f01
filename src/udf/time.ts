/**
 * ECMA-167 1/7.3 timestamps to and from JS Dates, honouring the time zone
 * offset (type 1 = local time with an offset in minutes, 1/7.3.1).
 */
import type { Timestamp } from './codec/primitives';

/** 400 Gregorian years: 146097 days. */
const GREGORIAN_CYCLE_MS = 146097 * 86400000;

/** 1/7.3.1: offset -2047 means "not specified". */
const TZ_UNSPECIFIED = -2047;

export function timestampToDate(t: Timestamp): Date {
  return new Date(timestampToMs(t));
}

/**
 * timestampToDate(t).getTime() without the Date (issue 6: three per getattr): whole milliseconds
 * since the epoch, as a Date keeps them; a timestamp no Date can hold gives 0.
 */
export function timestampToMs(t: Timestamp): number {
  const type = t.typeAndTimezone >> 12;
  let tz = t.typeAndTimezone & 0x0fff;
  if (tz & 0x0800) tz -= 0x1000; // 12-bit two's complement
  const offsetMin = type === 1 && tz !== TZ_UNSPECIFIED ? tz : 0;
  // Date.UTC takes years 0-99 as 1900-1999: those go 400 years later (the Gregorian cycle, a
  // whole number of days) and come back by as much.
  const early = t.year >= 0 && t.year < 100 ? GREGORIAN_CYCLE_MS : 0;
  const ms = Date.UTC(t.year + (early ? 400 : 0), Math.max(0, t.month - 1), Math.max(1, t.day), t.hour, t.minute, t.second) - early
    + t.centiseconds * 10 + t.hundredsOfMicroseconds / 10 + t.microseconds / 1000 - offsetMin * 60000;
  // What new Date(ms) keeps (TimeClip: NaN beyond ±8.64e15 ms, fractions cut towards zero).
  return ms <= 8.64e15 && ms >= -8.64e15 ? Math.trunc(ms) + 0 : 0;
}

/** A Date as a type-1 timestamp with the given offset east of UTC in minutes (default 0). */
export function dateToTimestamp(d: Date, offsetMin = 0): Timestamp {
  return msToTimestamp(d.getTime(), offsetMin);
}

const DAY_MS = 86400000;

/**
 * dateToTimestamp(new Date(ms), offsetMin) without the Date (issue 6: every change to a file
 * stamps it with the time): the civil date from the day number by Hinnant's days-to-civil
 * arithmetic (proleptic Gregorian, as Date's), the time of day from the rest.
 */
export function msToTimestamp(ms: number, offsetMin = 0): Timestamp {
  const local = ms + offsetMin * 60000;
  // What no Date holds (NaN, beyond ±8.64e15 ms) goes through Date, as before.
  if (!(Math.abs(ms) <= 8.64e15 && Math.abs(local) <= 8.64e15)) return viaDate(ms, offsetMin);
  const t = Math.trunc(local);
  const days = Math.floor(t / DAY_MS);
  const inDay = t - days * DAY_MS;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const whole = Math.trunc(ms);
  // (+ 0: -0 of a whole negative second is 0.)
  const msOfSecond = (whole % 1000 < 0 ? (whole % 1000) + 1000 : whole % 1000) + 0;
  return {
    typeAndTimezone: (1 << 12) | (offsetMin & 0x0fff),
    year: yoe + era * 400 + (month <= 2 ? 1 : 0),
    month,
    day: doy - Math.floor((153 * mp + 2) / 5) + 1,
    hour: Math.floor(inDay / 3600000),
    minute: Math.floor(inDay / 60000) % 60,
    second: Math.floor(inDay / 1000) % 60,
    centiseconds: Math.floor(msOfSecond / 10),
    hundredsOfMicroseconds: (msOfSecond % 10) * 10,
    microseconds: 0,
  };
}

function viaDate(ms: number, offsetMin: number): Timestamp {
  const d = new Date(ms);
  const local = new Date(d.getTime() + offsetMin * 60000);
  const m = d.getTime() % 1000 < 0 ? (d.getTime() % 1000) + 1000 : d.getTime() % 1000;
  return {
    typeAndTimezone: (1 << 12) | (offsetMin & 0x0fff),
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    centiseconds: Math.floor(m / 10),
    hundredsOfMicroseconds: (m % 10) * 10,
    microseconds: 0,
  };
}
