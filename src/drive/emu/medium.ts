/**
 * The emulated disc: an image file of 2048-byte user-data sectors (so any
 * other tool can read it as a plain image) plus a sidecar PATH.emu.json with
 * what a disc has and an image does not:
 *
 *   {
 *     "format": "pktfs-emu/1",
 *     "profile": "cdrw",              medium kind (see media.ts); must match the SOURCE
 *     "formatted": true,              FORMAT UNIT done (false after BLANK or when new)
 *     "packetSize": 32,               fixed packet size chosen at format (CD-RW), 16 for DVD-RW
 *     "wearLimit": 1000,              optional: writes per sector before it fails
 *     "defects": [[100, 131]],        sector ranges whose writes fail (MEDIUM ERROR 03/0C/00)
 *     "readDefects": [[7, 7]],        sector ranges whose reads fail (MEDIUM ERROR 03/11/00)
 *     "spareSectors": 4096,           DVD-RAM/BD-RE: spares left for the drive's own remapping
 *     "remapped": [100, 101],         DVD-RAM/BD-RE: sectors the drive has remapped
 *     "wear": [[0, 32, 3]]            runs [first sector, count, writes] of per-sector write counts
 *   }
 *
 * The sidecar is written on FORMAT UNIT, BLANK, removal and close, and on
 * SYNCHRONIZE CACHE (rate-limited when the wear map is big). An image that can
 * only be opened read-only is a write-protected disc (DATA PROTECT 07/27/00).
 */
import { promises as fsp, constants as fsc } from 'fs';
import createDebug from 'debug';
import { FsError } from '../../errors';
import { MEDIA, type EmuProfileName, type MediumKind } from './media';

const debug = createDebug('pktfs:drive:emu');

export const SECTOR = 2048;
export const SIDECAR_FORMAT = 'pktfs-emu/1';
const DEFAULT_SPARE = 4096;

export type Range = [number, number];

export interface SidecarState {
  format: typeof SIDECAR_FORMAT;
  profile: EmuProfileName;
  formatted: boolean;
  packetSize: number;
  wearLimit?: number;
  defects: Range[];
  readDefects: Range[];
  spareSectors: number;
  remapped: number[];
  wear: [number, number, number][];
}

export interface MediumConfig {
  /** Sectors of a new image (default: the medium's usual capacity). */
  size?: number;
  /** Start formatted (new media only; default per kind, or true for an existing image without sidecar). */
  formatted?: boolean;
  /** CD-RW fixed packet size of a medium that starts formatted (default 32). */
  packetSize?: number;
  wearLimit?: number;
  defects?: Range[];
  readDefects?: Range[];
  /** Spare sectors for drive-side remapping on DVD-RAM/BD-RE. */
  spare?: number;
  /** A write-protected disc (DVD-RAM cartridge tab); also when the image cannot be opened for writing. */
  writeProtect?: boolean;
}

export function sidecarPath(image: string): string {
  return `${image}.emu.json`;
}

function inRanges(ranges: Range[], lba: number): boolean {
  return ranges.some(([a, b]) => lba >= a && lba <= b);
}

export class EmuMedium {
  readonly kind: MediumKind;
  private readonly wear = new Map<number, number>();
  private dirty = false;
  private lastSave = 0;
  private saveMs = 0;

  private constructor(
    readonly path: string,
    private fh: fsp.FileHandle,
    /** The image could only be opened read-only: a write-protected disc. */
    readonly writeProtected: boolean,
    readonly sectors: number,
    readonly state: SidecarState,
  ) {
    this.kind = MEDIA[state.profile];
    for (const [first, count, n] of state.wear) for (let i = 0; i < count; i++) this.wear.set(first + i, n);
  }

  /** Open (or create, sparse, at the usual capacity) the image and its sidecar. */
  static async open(path: string, kind: MediumKind, cfg: MediumConfig = {}): Promise<EmuMedium> {
    let existed = true;
    let writeProtected = !!cfg.writeProtect;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, writeProtected ? fsc.O_RDONLY : fsc.O_RDWR);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
        fh = await fsp.open(path, fsc.O_RDONLY);
        writeProtected = true;
        return EmuMedium.load(path, fh, kind, cfg, true, writeProtected);
      }
      if (code !== 'ENOENT') throw new FsError('EIO', `${path}: ${(e as Error).message}`);
      existed = false;
      fh = await fsp.open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o644);
      await fh.truncate((cfg.size ?? kind.sectors) * SECTOR);
      debug('created %s: %d sectors (%s)', path, cfg.size ?? kind.sectors, kind.name);
    }
    return EmuMedium.load(path, fh, kind, cfg, existed, writeProtected);
  }

  private static async load(
    path: string, fh: fsp.FileHandle, kind: MediumKind, cfg: MediumConfig, existed: boolean, writeProtected: boolean,
  ): Promise<EmuMedium> {
    const sectors = Math.floor((await fh.stat()).size / SECTOR);
    let state: SidecarState;
    try {
      state = JSON.parse(await fsp.readFile(sidecarPath(path), 'utf8')) as SidecarState;
      if (state.format !== SIDECAR_FORMAT) throw new Error(`unknown format ${String(state.format)}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        await fh.close();
        throw new FsError('EINVAL', `${sidecarPath(path)}: ${(e as Error).message}`);
      }
      // An image made by another tool is taken as a formatted (written) disc.
      const formatted = cfg.formatted ?? (existed || kind.formattedWhenNew);
      state = {
        format: SIDECAR_FORMAT, profile: kind.name, formatted,
        packetSize: kind.name === 'cdrw' ? (formatted ? cfg.packetSize ?? kind.packetSize : 0) : kind.packetSize,
        defects: [], readDefects: [], spareSectors: DEFAULT_SPARE, remapped: [], wear: [],
      };
    }
    if (state.profile !== kind.name) {
      await fh.close();
      throw new FsError('EINVAL', `${path}: the emulated disc is a ${state.profile}, not a ${kind.name}`);
    }
    if (cfg.wearLimit !== undefined) state.wearLimit = cfg.wearLimit;
    if (cfg.defects) state.defects = cfg.defects;
    if (cfg.readDefects) state.readDefects = cfg.readDefects;
    if (cfg.spare !== undefined) state.spareSectors = cfg.spare;
    const m = new EmuMedium(path, fh, writeProtected, sectors, state);
    m.dirty = true;
    await m.save(true);
    return m;
  }

  get formatted(): boolean {
    return this.state.formatted;
  }

  /** Writes that must be whole aligned packets of this size (0: any write). */
  get packetSize(): number {
    return this.state.packetSize;
  }

  writeCount(lba: number): number {
    return this.wear.get(lba) ?? 0;
  }

  /** Sectors with their write counts, for tests and `info`. */
  wearMap(): Map<number, number> {
    return new Map(this.wear);
  }

  /** Why writing `lba` fails, if it does: an injected defect or a worn-out sector. */
  writeFault(lba: number): 'defect' | 'worn' | undefined {
    if (inRanges(this.state.defects, lba)) return 'defect';
    if (this.state.wearLimit !== undefined && this.writeCount(lba) >= this.state.wearLimit) return 'worn';
    return undefined;
  }

  readFault(lba: number): boolean {
    return inRanges(this.state.readDefects, lba);
  }

  isRemapped(lba: number): boolean {
    return this.state.remapped.includes(lba);
  }

  /** Drive-side remapping (DVD-RAM, BD-RE): false when no spare is left. */
  remap(lba: number): boolean {
    if (this.isRemapped(lba)) return true;
    if (this.state.spareSectors <= 0) return false;
    this.state.spareSectors--;
    this.state.remapped.push(lba);
    this.dirty = true;
    return true;
  }

  async read(lba: number, count: number): Promise<Buffer> {
    const buf = Buffer.alloc(count * SECTOR);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.fh.read(buf, done, buf.length - done, lba * SECTOR + done);
      if (bytesRead === 0) break; // sparse tail past EOF reads as zeros
      done += bytesRead;
    }
    return buf;
  }

  async write(lba: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, lba * SECTOR + done);
      done += bytesWritten;
    }
    for (let i = 0; i < data.length / SECTOR; i++) this.wear.set(lba + i, this.writeCount(lba + i) + 1);
    this.dirty = true;
  }

  setFormatted(formatted: boolean, packetSize: number): void {
    this.state.formatted = formatted;
    this.state.packetSize = packetSize;
    this.dirty = true;
  }

  /** BLANK: every user-data sector reads as zeros again (the file stays sparse). */
  async erase(): Promise<void> {
    await this.fh.truncate(0);
    await this.fh.truncate(this.sectors * SECTOR);
  }

  /**
   * Make the image durable and write the sidecar if anything changed. Unless
   * `force`d, a sidecar that is slow to write (20 ms or more: a big wear map)
   * is written at most every tenfold its writing time, so frequent flushes stay cheap.
   */
  async sync(force = false): Promise<void> {
    if (!this.writeProtected) await this.fh.datasync();
    await this.save(force);
  }

  private async save(force = false): Promise<void> {
    if (!this.dirty) return;
    if (!force && this.saveMs >= 20 && Date.now() - this.lastSave < 10 * this.saveMs) return;
    if (this.writeProtected) return; // nothing on a write-protected disc changes
    const t0 = Date.now();
    const runs: [number, number, number][] = [];
    for (const lba of [...this.wear.keys()].sort((a, b) => a - b)) {
      const n = this.wear.get(lba)!;
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === lba && last[2] === n) last[1]++;
      else runs.push([lba, 1, n]);
    }
    this.state.wear = runs;
    const tmp = `${sidecarPath(this.path)}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(this.state) + '\n');
    await fsp.rename(tmp, sidecarPath(this.path));
    this.dirty = false;
    this.lastSave = Date.now();
    this.saveMs = this.lastSave - t0;
  }

  async close(): Promise<void> {
    await this.sync(true);
    await this.fh.close();
  }
}
