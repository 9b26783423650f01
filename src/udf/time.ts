/**
 * ECMA-167 1/7.3 timestamps to and from JS Dates, honouring the time zone
 * offset (type 1 = local time with an offset in minutes, 1/7.3.1).
 */
import type { Timestamp } from './codec/primitives';

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
  const ms = Date.UTC(t.year, Math.max(0, t.month - 1), Math.max(1, t.day), t.hour, t.minute, t.second)
    + t.centiseconds * 10 + t.hundredsOfMicroseconds / 10 + t.microseconds / 1000 - offsetMin * 60000;
  // What new Date(ms) keeps (TimeClip: NaN beyond ±8.64e15 ms, fractions cut towards zero).
  return ms <= 8.64e15 && ms >= -8.64e15 ? Math.trunc(ms) + 0 : 0;
}

/** A Date as a type-1 timestamp with the given offset east of UTC in minutes (default 0). */
export function dateToTimestamp(d: Date, offsetMin = 0): Timestamp {
  const local = new Date(d.getTime() + offsetMin * 60000);
  const ms = d.getTime() % 1000 < 0 ? (d.getTime() % 1000) + 1000 : d.getTime() % 1000;
  return {
    typeAndTimezone: (1 << 12) | (offsetMin & 0x0fff),
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    centiseconds: Math.floor(ms / 10),
    hundredsOfMicroseconds: (ms % 10) * 10,
    microseconds: 0,
  };
}
