/**
 * MmcBlockDevice: the BlockDevice over an MMC drive (real or emulated),
 * 2048-byte sectors through READ(10)/WRITE(10).
 *
 * Opening probes the disc (probe.ts); a disc pktfs cannot write opens
 * read-only with `readOnlyReason` saying why. Opened for writing, it sets the
 * write parameters where the medium needs them and locks the tray. Reads after
 * writes are preceded by SYNCHRONIZE CACHE (pktcdvd: drives may return stale
 * data otherwise); closing syncs, finalises a DVD+RW (CLOSE TRACK/SESSION, as
 * Linux's cdrom driver does) and unlocks the tray. Once the disc has gone
 * (NOT READY medium not present, or a medium change), every call fails with
 * ENOMEDIUM and close() still succeeds.
 */
import createDebug from 'debug';
import { FsError, isFsError } from '../../errors';
import type { BlockDevice } from '../types';
import type { MmcDrive } from './drive';
import { Profile } from './opcodes';
import { applyWriteParameters, probeWriteSettings, type WriteSettings } from './probe';

const debug = createDebug('pktfs:drive:mmc');

export interface MmcOpenOptions {
  /** Open read-only even when the disc could be written. */
  readOnly?: boolean;
  /** Lock the tray while open (default true when writable). */
  lockTray?: boolean;
  /**
   * Largest transfer per command in sectors (default the transport's limit, e.g. the kernel's
   * max_sectors_kb for /dev/srN, else 32 = 64 KiB, as UDFclient uses).
   */
  maxTransferSectors?: number;
  /** Close the drive's transport on close() (default true). */
  closeDrive?: boolean;
  /** Write speed in kB/s (SET CD SPEED on CD, SET STREAMING on DVD/BD); the drive's choice when absent. */
  writeSpeedKBs?: number;
}

export class MmcBlockDevice implements BlockDevice {
  readonly sectorSize = 2048;
  readonly sectorCount: number;
  readonly readOnly: boolean;
  /** Why the device is read-only, when it is. */
  readonly readOnlyReason?: string;
  readonly description: string;
  private written = false; // since the last SYNCHRONIZE CACHE
  private everWritten = false;
  private locked = false;
  private gone: FsError | undefined;
  private readonly maxTransfer: number;

  private constructor(readonly drive: MmcDrive, readonly settings: WriteSettings, private readonly opts: MmcOpenOptions) {
    this.sectorCount = settings.capacity;
    const reason = opts.readOnly ? 'opened read-only' : settings.reason;
    this.readOnly = reason !== undefined;
    this.readOnlyReason = reason;
    this.description = `${drive.name}: ${settings.profileName}`
      + (this.readOnly ? ` (read-only: ${reason})` : `, packets of ${settings.packetSize}`);
    const hostMax = drive.transport.maxTransferBytes;
    this.maxTransfer = Math.max(1, opts.maxTransferSectors ?? (hostMax ? Math.floor(hostMax / this.sectorSize) : 32));
  }

  /** Whole packets that fit in one WRITE: what the packet layer may write as one run. */
  get maxTransferBytes(): number {
    return this.writeChunk() * this.sectorSize;
  }

  private writeChunk(): number {
    const p = this.settings.packetSize;
    return p > 0 ? Math.max(p, Math.floor(this.maxTransfer / p) * p) : this.maxTransfer;
  }

  static async open(drive: MmcDrive, opts: MmcOpenOptions = {}): Promise<MmcBlockDevice> {
    await drive.waitReady();
    const settings = await probeWriteSettings(drive);
    const dev = new MmcBlockDevice(drive, settings, opts);
    if (!dev.readOnly) {
      if (settings.needsWriteParameters) await applyWriteParameters(drive, settings);
      if (opts.writeSpeedKBs) await drive.setWriteSpeed(opts.writeSpeedKBs, settings.profile, settings.capacity);
      if (opts.lockTray ?? true) {
        await drive.preventRemoval(true);
        dev.locked = true;
      }
    }
    debug('opened %s', dev.description);
    return dev;
  }

  get packetSize(): number {
    return this.settings.packetSize;
  }

  /** Run a drive command; remember when the disc has gone so later calls fail fast. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.gone) throw new FsError('ENOMEDIUM', this.gone.message);
    try {
      return await fn();
    } catch (e) {
      if (isFsError(e, 'ENOMEDIUM')) this.gone = e;
      throw e;
    }
  }

  async read(lba: number, count: number): Promise<Buffer> {
    if (lba < 0 || count < 0 || lba + count > this.sectorCount) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    return this.guard(async () => {
      if (this.written) await this.sync();
      const parts: Buffer[] = [];
      for (let done = 0; done < count;) {
        const n = Math.min(this.maxTransfer, count - done);
        const got = await this.drive.read10(lba + done, n);
        if (got.length !== n * this.sectorSize) {
          throw new FsError('EIO', `${this.drive.name}: READ(10) of ${n} sectors at ${lba + done} returned ${got.length} bytes`);
        }
        parts.push(got);
        done += n;
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts);
    });
  }

  async write(lba: number, data: Buffer): Promise<void> {
    if (this.readOnly) throw new FsError('EROFS', `${this.drive.name} is read-only: ${this.readOnlyReason}`);
    if (data.length % this.sectorSize !== 0) {
      throw new FsError('EINVAL', `write of ${data.length} bytes is not whole sectors`);
    }
    const count = data.length / this.sectorSize;
    if (lba < 0 || lba + count > this.sectorCount) {
      throw new FsError('ENOSPC', `write of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    // chunks of whole packets, so an aligned multi-packet write stays aligned per command
    const chunk = this.writeChunk();
    await this.guard(async () => {
      for (let done = 0; done < count;) {
        const n = Math.min(chunk, count - done);
        this.written = this.everWritten = true;
        await this.drive.write10(lba + done, data.subarray(done * this.sectorSize, (done + n) * this.sectorSize));
        done += n;
      }
    });
  }

  private async sync(): Promise<void> {
    await this.drive.synchronizeCache();
    this.written = false;
  }

  async flush(): Promise<void> {
    if (this.readOnly || !this.written) return;
    await this.guard(() => this.sync());
  }

  /** Best effort: a disc that has gone does not stop the close. */
  async close(): Promise<void> {
    const step = async (what: string, fn: () => Promise<void>) => {
      if (this.gone) return;
      try {
        await fn();
      } catch (e) {
        if (isFsError(e, 'ENOMEDIUM')) this.gone = e;
        debug('close %s: %s failed: %s', this.drive.name, what, (e as Error).message);
      }
    };
    if (this.written) await step('SYNCHRONIZE CACHE', () => this.sync());
    if (this.everWritten && this.settings.profile === Profile.DVD_PLUS_RW) {
      // DVD+RW finalisation, as cdrom.c cdrom_dvd_rw_close_write: close track, then session
      await step('CLOSE TRACK', () => this.drive.closeTrackSession(1, 1));
      await step('CLOSE SESSION', () => this.drive.closeTrackSession(2, 1));
    }
    if (this.locked) {
      this.gone = undefined; // unlock even without a disc
      await step('ALLOW MEDIUM REMOVAL', () => this.drive.preventRemoval(false));
      this.locked = false;
    }
    if (this.opts.closeDrive ?? true) await this.drive.close();
  }
}
