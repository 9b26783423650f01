/**
 * MmcDrive: typed MMC commands over a ScsiTransport. Every command goes
 * through one `run`, which turns CHECK CONDITION into a ScsiError and retries
 * the conditions a drive reports while it is busy: NOT READY "becoming ready"
 * (02/04/01), "format in progress" (02/04/04), "operation in progress"
 * (02/04/07), "long write in progress" (02/04/08), and the one-off unit
 * attention after a reset (06/29). Retries are bounded and spaced.
 */
import createDebug from 'debug';
import { setTimeout as sleep } from 'timers/promises';
import { FsError } from '../../errors';
import { decodeSense, ScsiError, SenseKey, type Sense } from '../scsi/sense';
import { ScsiStatus, type DataDirection, type ScsiTransport } from '../scsi/transport';
import * as cdb from './cdb';
import { decodeConfiguration, type Configuration } from './config';
import { decodeDiscInformation, type DiscInformation } from './discinfo';
import {
  decodeFormatCapacities, encodeFormatRequest, type FormatCapacities, type FormatRequest,
} from './format';
import {
  decodeCaching, decodeWriteParameters, encodeCaching, encodeWriteParameters, modeSelectData, modeSensePage, Page,
  type Caching, type WriteParameters,
} from './modepages';
import { isCdProfile, opName } from './opcodes';
import {
  decodeCapacity, decodeInquiry, decodeMediaEventStatus, EVENT_CLASS_MEDIA, encodeStreaming,
  INQUIRY_LENGTH, STREAMING_DESCRIPTOR_LENGTH,
  type Capacity, type InquiryData, type MediaEventStatus, type StreamingPerformance,
} from './replies';
import { decodeTrackInformation, TRACK_INFORMATION_LENGTH, type TrackInformation } from './trackinfo';

const debug = createDebug('pktfs:drive:mmc');

export interface MmcDriveOptions {
  /** Attempts after the first for a busy drive (default 60). */
  retries?: number;
  /** Wait between attempts in ms (default 250). */
  retryDelayMs?: number;
  /** Default command timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/** Generous timeouts for the slow commands, as Linux's cdrom.c uses. */
const LONG_TIMEOUT = 5 * 60 * 1000;
const FORMAT_TIMEOUT = 2 * 60 * 60 * 1000;

function isBusy(s: Sense): boolean {
  return s.key === SenseKey.NOT_READY && s.asc === 0x04 && [0x01, 0x04, 0x07, 0x08].includes(s.ascq);
}
function isReset(s: Sense): boolean {
  return s.key === SenseKey.UNIT_ATTENTION && s.asc === 0x29;
}

export class MmcDrive {
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly timeoutMs: number;

  constructor(readonly transport: ScsiTransport, opts: MmcDriveOptions = {}) {
    this.retries = opts.retries ?? 60;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  get name(): string {
    return this.transport.name;
  }

  /**
   * Send one command; returns the data received. Throws ScsiError on CHECK
   * CONDITION once retries (for busy and reset conditions only) are used up.
   */
  async run(c: Buffer, dir: DataDirection, data: Buffer | number, timeoutMs = this.timeoutMs): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.transport.execute(c, dir, data, timeoutMs);
      if (r.status === ScsiStatus.GOOD) return r.data;
      const sense = decodeSense(r.sense);
      if (!sense) {
        throw new FsError('EIO', `${this.name}: ${opName(c[0])} failed with status 0x${r.status.toString(16)} and no sense data`);
      }
      if (sense.key === SenseKey.RECOVERED_ERROR) return r.data;
      const retry = (isBusy(sense) && attempt < this.retries) || (isReset(sense) && attempt < 2);
      if (!retry) throw new ScsiError(c[0], opName(c[0]), sense, this.name);
      debug('%s: %s: %d/%s/%s, retry %d', this.name, opName(c[0]), sense.key, sense.asc.toString(16), sense.ascq.toString(16), attempt + 1);
      if (isBusy(sense)) await sleep(this.retryDelayMs);
    }
  }

  async testUnitReady(): Promise<void> {
    await this.run(cdb.testUnitReady(), 'none', 0);
  }

  /**
   * Poll TEST UNIT READY until the drive is ready, swallowing the unit
   * attentions a fresh drive or a newly inserted disc reports. Throws the
   * last error (e.g. ENOMEDIUM) when it stays not ready.
   */
  async waitReady(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.testUnitReady();
        return;
      } catch (e) {
        if (e instanceof ScsiError && e.key === SenseKey.UNIT_ATTENTION && i < 8) continue;
        throw e;
      }
    }
  }

  /** REQUEST SENSE: the drive's current condition (e.g. format progress), decoded. */
  async requestSense(descriptor = false): Promise<Sense | undefined> {
    return decodeSense(await this.run(cdb.requestSense(252, descriptor), 'in', 252));
  }

  async inquiry(): Promise<InquiryData> {
    return decodeInquiry(await this.run(cdb.inquiry(INQUIRY_LENGTH), 'in', INQUIRY_LENGTH));
  }

  /** GET CONFIGURATION: all features (rt 0) from `start`, or only current ones (rt 1). */
  async getConfiguration(rt: 0 | 1 | 2 = 0, start = 0): Promise<Configuration> {
    // read the header first: the length differs between drives
    const head = await this.run(cdb.getConfiguration(rt, start, 8), 'in', 8);
    const len = Math.min(0xfff8, Math.max(8, head.length >= 4 ? head.readUInt32BE(0) + 4 : 8));
    return decodeConfiguration(await this.run(cdb.getConfiguration(rt, start, len), 'in', len));
  }

  /** The current profile (MMC-6 5.3.1), or 0xFFFF when the drive does not support GET CONFIGURATION. */
  async currentProfile(): Promise<number> {
    try {
      const b = await this.run(cdb.getConfiguration(1, 0, 8), 'in', 8);
      return b.length >= 8 ? b.readUInt16BE(6) : 0xffff;
    } catch (e) {
      if (e instanceof ScsiError && e.key === SenseKey.ILLEGAL_REQUEST) return 0xffff;
      throw e;
    }
  }

  async readCapacity(): Promise<Capacity> {
    return decodeCapacity(await this.run(cdb.readCapacity(), 'in', 8));
  }

  /** Two reads, as pktcdvd does: drives differ in how much disc information they have. */
  async readDiscInformation(): Promise<DiscInformation> {
    const head = await this.run(cdb.readDiscInformation(2), 'in', 2);
    const len = Math.min(0xffff, head.readUInt16BE(0) + 2);
    return decodeDiscInformation(await this.run(cdb.readDiscInformation(len), 'in', len));
  }

  /** Track information by track number (address type 1) or by LBA (0). */
  async readTrackInformation(number: number, addressType: 0 | 1 | 2 = 1): Promise<TrackInformation> {
    const len = TRACK_INFORMATION_LENGTH;
    return decodeTrackInformation(await this.run(cdb.readTrackInformation(addressType, number, len), 'in', len));
  }

  /** MODE SENSE(10) of one page; returns the page bytes without the header. */
  async modeSense(page: number, pc: 0 | 1 | 2 | 3 = 0): Promise<Buffer> {
    const head = await this.run(cdb.modeSense10(page, pc, 8), 'in', 8);
    const len = Math.min(0xffff, head.readUInt16BE(0) + 2);
    const got = modeSensePage(await this.run(cdb.modeSense10(page, pc, len), 'in', len));
    if (got.pageCode !== page) throw new FsError('EIO', `${this.name}: MODE SENSE page ${page} returned page ${got.pageCode}`);
    return Buffer.from(got.page);
  }

  async modeSelect(page: Buffer): Promise<void> {
    const data = modeSelectData(page);
    await this.run(cdb.modeSelect10(data.length), 'out', data);
  }

  async getWriteParameters(): Promise<WriteParameters> {
    return decodeWriteParameters(await this.modeSense(Page.WRITE_PARAMETERS));
  }

  async setWriteParameters(w: WriteParameters): Promise<void> {
    await this.modeSelect(encodeWriteParameters(w));
  }

  async getCaching(): Promise<Caching> {
    return decodeCaching(await this.modeSense(Page.CACHING));
  }

  async setCaching(c: Caching): Promise<void> {
    await this.modeSelect(encodeCaching(c));
  }

  async read10(lba: number, count: number, sectorSize = 2048): Promise<Buffer> {
    return this.run(cdb.read10(lba, count), 'in', count * sectorSize);
  }

  async write10(lba: number, data: Buffer, sectorSize = 2048): Promise<void> {
    await this.run(cdb.write10(lba, data.length / sectorSize), 'out', data, LONG_TIMEOUT);
  }

  async write12(lba: number, data: Buffer, sectorSize = 2048): Promise<void> {
    await this.run(cdb.write12(lba, data.length / sectorSize), 'out', data, LONG_TIMEOUT);
  }

  async synchronizeCache(immed = false): Promise<void> {
    await this.run(cdb.synchronizeCache(immed), 'none', 0, LONG_TIMEOUT);
  }

  async readFormatCapacities(): Promise<FormatCapacities> {
    const head = await this.run(cdb.readFormatCapacities(12), 'in', 12);
    const len = Math.min(0xfff8, head[3] + 4);
    return decodeFormatCapacities(await this.run(cdb.readFormatCapacities(len), 'in', len));
  }

  async formatUnit(req: FormatRequest): Promise<void> {
    const data = encodeFormatRequest(req);
    await this.run(cdb.formatUnit(), 'out', data, FORMAT_TIMEOUT);
  }

  /** BLANK: type 0 full, 1 minimal. */
  async blank(type: 0 | 1, immed = false): Promise<void> {
    await this.run(cdb.blank(type, immed), 'none', 0, FORMAT_TIMEOUT);
  }

  async setCdSpeed(readKBs: number, writeKBs: number): Promise<void> {
    await this.run(cdb.setCdSpeed(readKBs, writeKBs), 'none', 0);
  }

  async setStreaming(p: StreamingPerformance): Promise<void> {
    await this.run(cdb.setStreaming(STREAMING_DESCRIPTOR_LENGTH), 'out', encodeStreaming(p));
  }

  /**
   * Ask for a write speed: SET CD SPEED on CDs (pktcdvd's way), SET STREAMING
   * over the whole disc on DVD and BD, where SET CD SPEED is not always honoured.
   */
  async setWriteSpeed(kBs: number, profile: number, capacity: number): Promise<void> {
    if (isCdProfile(profile)) {
      await this.setCdSpeed(0xffff, kBs);
    } else {
      await this.setStreaming({
        restoreDefaults: false, startLba: 0, endLba: Math.max(0, capacity - 1),
        readKB: 0xffff * 1000, readMs: 1000, writeKB: kBs, writeMs: 1000,
      });
    }
  }

  async preventRemoval(prevent: boolean): Promise<void> {
    await this.run(cdb.preventAllowMediumRemoval(prevent), 'none', 0);
  }

  /** GET EVENT STATUS NOTIFICATION, polled, media class. */
  async mediaEvent(): Promise<MediaEventStatus> {
    return decodeMediaEventStatus(await this.run(cdb.getEventStatusNotification(EVENT_CLASS_MEDIA, 8), 'in', 8));
  }

  /** CLOSE TRACK/SESSION: fn 1 closes a track, 2 the session (DVD+RW: finalise). */
  async closeTrackSession(fn: number, track: number, immed = false): Promise<void> {
    await this.run(cdb.closeTrackSession(fn, track, immed), 'none', 0, LONG_TIMEOUT);
  }

  /** START STOP UNIT with LoEj: eject (load=false) or load the tray. */
  async loadEject(load: boolean): Promise<void> {
    await this.run(cdb.startStopUnit(true, load), 'none', 0, LONG_TIMEOUT);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
