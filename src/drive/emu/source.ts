/**
 * The emulated drive as a CLI SOURCE:
 *
 *   emu:PROFILE:PATH[,OPTION=VALUE...]
 *
 * PROFILE  cdrw | dvdrw | dvd+rw | dvdram | bdre | cdr | dvdr | bdr
 * PATH     the image of 2048-byte user-data sectors (no commas); created
 *          blank (sparse) at the medium's usual capacity when missing.
 *          Its state lives next to it in PATH.emu.json (see medium.ts).
 * OPTIONS
 *   size=N          capacity of a new image: N sectors, or bytes with a k/m/g suffix (size=64m)
 *   formatted=yes   a new medium starts formatted (cdrw with packet=N, default 32); no = blank
 *   packet=N        CD-RW fixed packet size when created formatted
 *   wear=N          a sector fails (MEDIUM ERROR 03/0C/00) on its (N+1)-th write
 *   defects=LIST    sectors whose writes fail: LBA or FIRST-LAST, joined by '+' (defects=100+2000-2031)
 *   rdefects=LIST   sectors whose reads fail (MEDIUM ERROR 03/11/00), same syntax
 *   spare=N         DVD-RAM/BD-RE: sectors the drive can remap itself before 03/32/00
 *   speed=X         timing model: transfer at X times the medium's 1x rate (CD 150 KiB/s,
 *                   DVD 1385 kB/s, BD 4.5 MB/s); no delays when absent
 *   seek=MS         timing model: milliseconds added to an access that is not sequential
 *   buffer=N        timing model: the drive's write buffer, bytes or with k/m (default 2m CD and DVD,
 *                   4m BD); a WRITE completes once it fits; buffer=0: once it is on the medium
 *   formattime=MS   FORMAT UNIT / BLANK with IMMED keep the drive busy this long (02/04/04 with progress)
 *   protect=yes     a write-protected disc (writes, FORMAT UNIT, BLANK get 07/27/00); also
 *                   the case when PATH cannot be opened for writing
 *   log=FILE        append every command as a JSON line {seq, op, name, lba, count, sense}
 *   sense=descriptor  answer with descriptor-format sense data
 * wear, defects, rdefects and spare are stored in the sidecar and stay until changed.
 */
import { FsError } from '../../errors';
import { isEmuProfileName, type EmuProfileName } from './media';
import type { EmuDriveOptions } from './drive';
import type { Range } from './medium';

export interface EmuSource {
  profile: EmuProfileName;
  path: string;
  options: EmuDriveOptions;
}

export function isEmuSource(source: string): boolean {
  return source.startsWith('emu:');
}

function bad(source: string, why: string): FsError {
  return new FsError('EINVAL', `${source}: ${why} (expected emu:PROFILE:PATH[,option=value...])`);
}

function int(source: string, key: string, v: string): number {
  if (!/^\d+$/.test(v)) throw bad(source, `${key}=${v} is not a whole number`);
  return Number(v);
}

function ranges(source: string, key: string, v: string): Range[] {
  return v.split('+').filter(Boolean).map((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw bad(source, `${key}: "${part}" is not LBA or FIRST-LAST`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw bad(source, `${key}: range ${part} runs backwards`);
    return [a, b] as Range;
  });
}

function size(source: string, v: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(v);
  if (!m) throw bad(source, `size=${v} is not N sectors or N with k/m/g`);
  if (!m[2]) return Number(m[1]);
  const bytes = Number(m[1]) * 1024 ** ('kmg'.indexOf(m[2].toLowerCase()) + 1);
  return Math.floor(bytes / 2048);
}

function bytes(source: string, key: string, v: string): number {
  const m = /^(\d+)([km]?)$/i.exec(v);
  if (!m) throw bad(source, `${key}=${v} is not N bytes or N with k/m`);
  return Number(m[1]) * (m[2] ? 1024 ** ('km'.indexOf(m[2].toLowerCase()) + 1) : 1);
}

export function parseEmuSource(source: string): EmuSource {
  if (!isEmuSource(source)) throw bad(source, 'not an emulated drive');
  const rest = source.slice(4);
  const colon = rest.indexOf(':');
  if (colon < 0) throw bad(source, 'no PATH');
  const profile = rest.slice(0, colon);
  if (!isEmuProfileName(profile)) {
    throw bad(source, `unknown profile "${profile}" (cdrw, dvdrw, dvd+rw, dvdram, bdre, cdr, dvdr, bdr)`);
  }
  const [path, ...opts] = rest.slice(colon + 1).split(',');
  if (!path) throw bad(source, 'empty PATH');
  const options: EmuDriveOptions = {};
  for (const o of opts) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const v = eq < 0 ? '' : o.slice(eq + 1);
    switch (key) {
      case 'size': options.size = size(source, v); break;
      case 'formatted':
        if (!['yes', 'no', '1', '0', 'true', 'false'].includes(v)) throw bad(source, `formatted=${v}: use yes or no`);
        options.formatted = ['yes', '1', 'true'].includes(v);
        break;
      case 'protect':
        if (!['yes', 'no', '1', '0', 'true', 'false'].includes(v)) throw bad(source, `protect=${v}: use yes or no`);
        options.writeProtect = ['yes', '1', 'true'].includes(v);
        break;
      case 'packet': options.packetSize = int(source, key, v); break;
      case 'wear': options.wearLimit = int(source, key, v); break;
      case 'defects': options.defects = ranges(source, key, v); break;
      case 'rdefects': options.readDefects = ranges(source, key, v); break;
      case 'spare': options.spare = int(source, key, v); break;
      case 'speed':
        if (!/^\d+(\.\d+)?x?$/.test(v) || parseFloat(v) <= 0) throw bad(source, `speed=${v} is not a positive number`);
        options.speed = parseFloat(v);
        break;
      case 'seek': options.seekMs = int(source, key, v); break;
      case 'buffer': options.bufferBytes = bytes(source, key, v); break;
      case 'formattime': options.formatMs = int(source, key, v); break;
      case 'log':
        if (!v) throw bad(source, 'log= needs a file');
        options.logPath = v;
        break;
      case 'sense':
        if (v !== 'descriptor' && v !== 'fixed') throw bad(source, `sense=${v}: use descriptor or fixed`);
        options.descriptorSense = v === 'descriptor';
        break;
      default:
        throw bad(source, `unknown option "${key}"`);
    }
  }
  return { profile, path, options };
}
