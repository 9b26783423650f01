/**
 * EmulatedDrive: an MMC target that answers SCSI commands the way a burner
 * does, over an EmuMedium (image + sidecar). It implements ScsiTransport, so
 * MmcDrive and everything above it cannot tell it from a real drive.
 *
 * What it enforces, with the sense a drive gives:
 * - no disc: NOT READY 02/3A/00 MEDIUM NOT PRESENT;
 * - first command after power-on 06/29/00, after a disc is inserted 06/28/00;
 * - READ past the capacity 05/21/00 LOGICAL BLOCK ADDRESS OUT OF RANGE;
 * - reading a blank (unformatted) rewritable disc 05/30/02 CANNOT READ MEDIUM - INCOMPATIBLE FORMAT;
 * - writing an unformatted disc 05/30/05 CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT;
 * - writing a write-once disc (emulated as closed) 05/21/02 INVALID ADDRESS FOR WRITE;
 * - CD-RW / DVD-RW: a write that does not start on a packet boundary or is not
 *   whole packets 05/21/02 INVALID ADDRESS FOR WRITE (the drive cannot place a
 *   partial fixed packet or ECC block; MMC-6 4.5.4.2 / 4.6.3.2);
 * - CD-RW: writing without Write Parameters set to fixed packets of the disc's
 *   size (MODE SELECT page 05h) 05/64/00 ILLEGAL MODE FOR THIS TRACK;
 * - a sector past its rewrite limit or with an injected defect: MEDIUM ERROR
 *   03/0C/00 WRITE ERROR (INFORMATION = that sector), except on DVD-RAM / BD-RE,
 *   which remap it themselves until the spares are used up (03/32/00);
 * - a sector with an injected read defect: 03/11/00 UNRECOVERED READ ERROR;
 * - writing, formatting or blanking a write-protected disc (an image that can
 *   only be opened read-only) 07/27/00 WRITE PROTECTED;
 * - unknown opcode 05/20/00, bad CDB field 05/24/00, bad parameter 05/26/00.
 * Commands run one at a time, like on a real drive.
 */
import { createWriteStream, type WriteStream } from 'fs';
import createDebug from 'debug';
import { encodeSense, SenseKey } from '../scsi/sense';
import { ScsiStatus, type DataDirection, type ScsiResult, type ScsiTransport } from '../scsi/transport';
import { rwAddress } from '../mmc/cdb';
import { encodeConfiguration, Feature, type FeatureDescriptor } from '../mmc/config';
import { DiscStatus, encodeDiscInformation, SessionState } from '../mmc/discinfo';
import {
  CapacityType, decodeFormatRequest, encodeFormatCapacities, FormatType, type FormatDescriptor,
} from '../mmc/format';
import {
  DataBlockType, decodeCaching, decodeWriteParameters, encodeCaching, encodeWriteParameters, modeSenseData,
  MODE_HEADER_LENGTH, Page, WriteType, type Caching, type WriteParameters,
} from '../mmc/modepages';
import { Op, opName, Profile } from '../mmc/opcodes';
import {
  decodeStreaming, encodeCapacity, encodeInquiry, encodeMediaEventStatus, EVENT_CLASS_MEDIA, MediaEvent,
  STREAMING_DESCRIPTOR_LENGTH,
} from '../mmc/replies';
import { encodeTrackInformation, type TrackInformation } from '../mmc/trackinfo';
import { MEDIA, type EmuProfileName, type MediumKind } from './media';
import { EmuMedium, SECTOR, type MediumConfig } from './medium';
import { MediumTiming, realClock, type EmuClock, type TimingStats } from './timing';

const debug = createDebug('pktfs:drive:emu');

export interface EmuDriveOptions extends MediumConfig {
  /** Timing model: speed as a multiple of the medium's 1x rate; off when absent. */
  speed?: number;
  /** Timing model: extra milliseconds for an access that does not follow the previous one. */
  seekMs?: number;
  /**
   * Timing model: the drive's write buffer in bytes (default the medium's, see media.ts); a WRITE
   * completes once its data fits in it. 0: a WRITE completes when its data is on the medium.
   */
  bufferBytes?: number;
  /** Timing model: the clock it runs on (default performance.now() and setTimeout); tests pass a fake one. */
  clock?: EmuClock;
  /** Append every command as a JSON line to this file. */
  logPath?: string;
  /** Keep at most this many entries in `log` (default 1,000,000). */
  logLimit?: number;
  /** Answer with descriptor-format sense (72h) instead of fixed (70h). */
  descriptorSense?: boolean;
  /** FORMAT UNIT / BLANK with IMMED keep the drive busy (02/04/04, with progress) this long. */
  formatMs?: number;
}

export interface CommandLogEntry {
  seq: number;
  op: number;
  name: string;
  lba?: number;
  count?: number;
  /** "key/asc/ascq" in hex when the command ended in CHECK CONDITION */
  sense?: string;
}

/** A CHECK CONDITION raised inside a handler. */
class Check {
  constructor(
    readonly key: number, readonly asc: number, readonly ascq: number,
    readonly information?: number, readonly progress?: number,
  ) {}
}
const check = (key: number, asc: number, ascq = 0, info?: number) => new Check(key, asc, ascq, info);
const NO_MEDIUM = () => check(SenseKey.NOT_READY, 0x3a, 0x00);
const INVALID_CDB = () => check(SenseKey.ILLEGAL_REQUEST, 0x24, 0x00);
const INVALID_PARAM = () => check(SenseKey.ILLEGAL_REQUEST, 0x26, 0x00);

/** Commands that neither report unit attentions nor need the disc (MMC-6 4.1.6.1). */
const NO_ATTENTION = new Set<number>([Op.INQUIRY, Op.REQUEST_SENSE, Op.GET_CONFIGURATION, Op.GET_EVENT_STATUS_NOTIFICATION]);

function defaultWriteParameters(): WriteParameters {
  // power-on page 05h of a typical burner: track-at-once, Mode 1
  return {
    bufe: false, lsValid: false, testWrite: false, writeType: WriteType.TAO, multiSession: 0, fixedPacket: false,
    copy: false, trackMode: 4, dataBlockType: DataBlockType.MODE1, linkSize: 0, sessionFormat: 0, packetSize: 0,
    subHeader: 0,
  };
}

interface Command {
  cdb: Buffer;
  /** data sent by the host ('out') */
  out: Buffer;
  /** bytes the host will take ('in') */
  alloc: number;
}

export class EmulatedDrive implements ScsiTransport {
  readonly name: string;
  /** As a SATA burner behind Linux's sr driver commonly allows (max_sectors_kb 256). */
  readonly maxTransferBytes = 256 * 1024;
  /** Every command, in order (bounded by logLimit). */
  readonly log: CommandLogEntry[] = [];
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private medium: EmuMedium | undefined;
  private attention: [number, number] | undefined = [0x29, 0x00];
  private mediaEvent: number = MediaEvent.NO_CHANGE;
  private notReady: { count: number; ascq: number } | undefined;
  private locked = false;
  private trayOpen = false;
  private writeParams = defaultWriteParameters();
  // power-on page 08h of a typical burner: write cache on (WRITE completes once the data is in the buffer)
  private caching: Caching = { writeCache: true, readCacheDisable: false };
  private writeSpeedKBs = 0xffff;
  private readSpeedKBs = 0xffff;
  /** The timing model, when speed= or seek= is given. */
  private readonly timing: MediumTiming | undefined;
  private readonly clock: EmuClock;
  /** A background FORMAT UNIT / BLANK (IMMED): busy until this time. */
  private busy: { start: number; end: number } | undefined;
  private logStream: WriteStream | undefined;

  private constructor(
    private readonly kind: MediumKind,
    private readonly imagePath: string,
    private readonly opts: EmuDriveOptions,
  ) {
    this.name = `emu ${kind.name} ${imagePath}`;
    this.clock = opts.clock ?? realClock;
    if (opts.speed || opts.seekMs) {
      this.timing = new MediumTiming({ bufferBytes: opts.bufferBytes ?? kind.bufferBytes, seekMs: opts.seekMs ?? 0 });
    }
    if (opts.logPath) this.logStream = createWriteStream(opts.logPath, { flags: 'a' });
  }

  /** A drive with the disc at `path` loaded (created blank when missing). */
  static async open(profile: EmuProfileName, path: string, opts: EmuDriveOptions = {}): Promise<EmulatedDrive> {
    const d = new EmulatedDrive(MEDIA[profile], path, opts);
    d.medium = await EmuMedium.open(path, d.kind, opts);
    return d;
  }

  /** The loaded disc, for tests (write counts, state). */
  get disc(): EmuMedium | undefined {
    return this.medium;
  }

  get profileName(): EmuProfileName {
    return this.kind.name;
  }

  // ---- test and CLI controls ------------------------------------------------------------

  /** Pull the disc out now, lock or not ("disc pulled mid-copy"). Commands from here on see no medium. */
  async removeMedium(): Promise<void> {
    const m = this.medium;
    this.medium = undefined;
    this.trayOpen = true;
    this.mediaEvent = MediaEvent.MEDIA_REMOVAL;
    if (m) await this.enqueue(() => m.close());
  }

  /** Put a disc (the same image by default) back in: the next command gets 06/28/00. */
  async insertMedium(path = this.imagePath): Promise<void> {
    await this.enqueue(async () => {
      if (this.medium) await this.medium.close();
      this.medium = await EmuMedium.open(path, this.kind, {});
      this.trayOpen = false;
      this.attention = [0x28, 0x00];
      this.mediaEvent = MediaEvent.NEW_MEDIA;
    });
  }

  /** What the timing model did (undefined without speed= or seek=). */
  get timingStats(): TimingStats | undefined {
    return this.timing?.stats;
  }

  /** Read and write speed in kB/s as last set by SET CD SPEED or SET STREAMING (0xFFFF: maximum). */
  get speeds(): { readKBs: number; writeKBs: number } {
    return { readKBs: this.readSpeedKBs, writeKBs: this.writeSpeedKBs };
  }

  /** The next `count` medium commands get NOT READY 02/04/`ascq` (01 becoming ready, 08 long write). */
  injectNotReady(count: number, ascq = 0x01): void {
    this.notReady = { count, ascq };
  }

  // ---- ScsiTransport ----------------------------------------------------------------------

  execute(cdb: Buffer, dir: DataDirection, data: Buffer | number, _timeoutMs: number): Promise<ScsiResult> {
    return this.enqueue(() => this.run(cdb, dir, data));
  }

  async close(): Promise<void> {
    if (this.timing) debug('%s: timing %o', this.name, this.timing.stats);
    await this.enqueue(async () => {
      if (this.medium) await this.medium.close();
      this.medium = undefined;
    });
    if (this.logStream) {
      const s = this.logStream;
      this.logStream = undefined;
      await new Promise<void>((resolve) => s.end(resolve));
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async run(cdb: Buffer, dir: DataDirection, data: Buffer | number): Promise<ScsiResult> {
    const op = cdb[0];
    const entry: CommandLogEntry = { seq: ++this.seq, op, name: opName(op) };
    if (op === Op.READ_10 || op === Op.WRITE_10 || op === Op.READ_12 || op === Op.WRITE_12) {
      const { lba, count } = rwAddress(cdb);
      entry.lba = lba;
      entry.count = count;
    }
    const alloc = dir === 'in' ? (typeof data === 'number' ? data : data.length) : 0;
    const out = dir === 'out' && typeof data !== 'number' ? data : Buffer.alloc(0);
    let result: ScsiResult;
    try {
      const reply = await this.dispatch({ cdb, out, alloc });
      const n = Math.min(reply.length, alloc);
      let got: Buffer;
      if (dir === 'in' && typeof data !== 'number') {
        reply.copy(data, 0, 0, n);
        got = data.subarray(0, n);
      } else {
        got = reply.subarray(0, n);
      }
      result = { status: ScsiStatus.GOOD, sense: Buffer.alloc(0), data: got, residual: alloc - n };
    } catch (e) {
      if (!(e instanceof Check)) throw e;
      entry.sense = [e.key, e.asc, e.ascq].map((n) => n.toString(16).padStart(2, '0')).join('/');
      debug('%s: %s -> %s', this.name, entry.name, entry.sense);
      result = {
        status: ScsiStatus.CHECK_CONDITION,
        sense: encodeSense(e.key, e.asc, e.ascq, {
          information: e.information, progress: e.progress, descriptor: this.opts.descriptorSense,
        }),
        data: Buffer.alloc(0),
        residual: alloc,
      };
    }
    this.record(entry);
    return result;
  }

  private record(e: CommandLogEntry): void {
    if (this.log.length >= (this.opts.logLimit ?? 1_000_000)) this.log.shift();
    this.log.push(e);
    this.logStream?.write(JSON.stringify(e) + '\n');
  }

  /** The loaded disc, or NOT READY; also delivers pending unit attentions and injected busy states. */
  private ready(): EmuMedium {
    if (!this.medium) throw NO_MEDIUM();
    const progress = this.formatProgress();
    if (progress !== undefined) throw new Check(SenseKey.NOT_READY, 0x04, 0x04, undefined, progress);
    if (this.notReady && this.notReady.count > 0) {
      this.notReady.count--;
      throw check(SenseKey.NOT_READY, 0x04, this.notReady.ascq);
    }
    return this.medium;
  }

  private async dispatch(c: Command): Promise<Buffer> {
    const op = c.cdb[0];
    if (!NO_ATTENTION.has(op) && this.attention) {
      const [asc, ascq] = this.attention;
      this.attention = undefined;
      throw check(SenseKey.UNIT_ATTENTION, asc, ascq);
    }
    switch (op) {
      case Op.TEST_UNIT_READY: this.ready(); return Buffer.alloc(0);
      case Op.REQUEST_SENSE: return this.requestSense(c);
      case Op.INQUIRY: return this.inquiry(c);
      case Op.GET_CONFIGURATION: return this.getConfiguration(c);
      case Op.READ_CAPACITY: return this.readCapacity();
      case Op.READ_DISC_INFORMATION: return this.readDiscInformation();
      case Op.READ_TRACK_INFORMATION: return this.readTrackInformation(c);
      case Op.MODE_SENSE_10: return this.modeSense(c);
      case Op.MODE_SELECT_10: return this.modeSelect(c);
      case Op.READ_10: case Op.READ_12: return this.read(c);
      case Op.WRITE_10: case Op.WRITE_12: return this.write(c);
      case Op.SYNCHRONIZE_CACHE: return this.synchronizeCache(c);
      case Op.READ_FORMAT_CAPACITIES: return this.readFormatCapacities();
      case Op.FORMAT_UNIT: return this.formatUnit(c);
      case Op.BLANK: return this.blank(c);
      case Op.SET_CD_SPEED: return this.setCdSpeed(c);
      case Op.SET_STREAMING: return this.setStreaming(c);
      case Op.PREVENT_ALLOW_MEDIUM_REMOVAL: this.locked = (c.cdb[4] & 1) !== 0; return Buffer.alloc(0);
      case Op.GET_EVENT_STATUS_NOTIFICATION: return this.getEventStatus(c);
      case Op.CLOSE_TRACK_SESSION: return this.closeTrackSession(c);
      case Op.START_STOP_UNIT: return this.startStopUnit(c);
      default: throw check(SenseKey.ILLEGAL_REQUEST, 0x20, 0x00);
    }
  }

  // ---- state as the commands report it --------------------------------------------------

  private currentProfile(): number {
    const m = this.medium;
    if (!m) return Profile.NONE;
    return m.formatted ? this.kind.profile : this.kind.blankProfile;
  }

  /** Readable: a formatted rewritable disc or a (closed) write-once disc. */
  private readable(m: EmuMedium): boolean {
    return m.formatted;
  }

  // ---- command handlers -----------------------------------------------------------------

  /** Progress (0..65535) of a background format, or undefined when none is running. */
  private formatProgress(): number | undefined {
    if (!this.busy) return undefined;
    const now = Date.now();
    if (now >= this.busy.end) {
      this.busy = undefined;
      return undefined;
    }
    return Math.floor((65536 * (now - this.busy.start)) / (this.busy.end - this.busy.start));
  }

  /** After FORMAT UNIT or BLANK: with IMMED and formatMs, the drive stays busy in the background. */
  private startBackground(immed: boolean): void {
    const ms = this.opts.formatMs;
    if (ms && immed) this.busy = { start: Date.now(), end: Date.now() + ms };
  }

  private requestSense(c: Command): Buffer {
    const descriptor = (c.cdb[1] & 1) !== 0;
    const progress = this.medium ? this.formatProgress() : undefined;
    let s: Buffer;
    if (!this.medium) s = encodeSense(SenseKey.NOT_READY, 0x3a, 0, { descriptor });
    else if (progress !== undefined) s = encodeSense(SenseKey.NOT_READY, 0x04, 0x04, { descriptor, progress });
    else s = encodeSense(0, 0, 0, { descriptor });
    return s.subarray(0, c.cdb[4]);
  }

  private inquiry(c: Command): Buffer {
    if (c.cdb[1] & 1) throw INVALID_CDB(); // no vital product data pages
    return encodeInquiry({ deviceType: 0x05, removable: true, vendor: 'PKTFS', product: this.kind.product, revision: '1.0' })
      .subarray(0, c.cdb.readUInt16BE(3));
  }

  private features(): FeatureDescriptor[] {
    const k = this.kind;
    const m = this.medium;
    const present = m !== undefined;
    const readable = m !== undefined && this.readable(m);
    const writable = readable && k.rewritable;
    const profiles = [...new Set(Object.values(MEDIA).flatMap((x) => [x.profile, x.blankProfile]))]
      .sort((a, b) => b - a)
      .map((p) => ({ profile: p, current: p === this.currentProfile() }));
    const f = (code: number, current: boolean, extra: Partial<FeatureDescriptor> = {}): FeatureDescriptor =>
      ({ code, version: 0, persistent: false, current, ...extra });
    const list: FeatureDescriptor[] = [
      f(Feature.PROFILE_LIST, true, { persistent: true, profiles }),
      f(Feature.CORE, true, { persistent: true }),
      f(Feature.REMOVABLE_MEDIUM, true, { persistent: true }),
      f(Feature.RANDOM_READABLE, readable, {
        blockSize: SECTOR, blocking: k.name === 'cdrw' ? m?.packetSize || 1 : k.blocking,
      }),
    ];
    if (k.hardwareDefectManagement) {
      list.push(f(Feature.RANDOM_WRITABLE, writable, {
        lastLba: m ? m.sectors - 1 : 0, blockSize: SECTOR, blocking: k.blocking,
      }));
    }
    if (k.rewritable) list.push(f(Feature.FORMATTABLE, present));
    if (k.hardwareDefectManagement) list.push(f(Feature.HARDWARE_DEFECT_MANAGEMENT, present));
    if (k.name === 'dvdrw') list.push(f(Feature.RESTRICTED_OVERWRITE, writable));
    if (k.family === 'cd') list.push(f(Feature.MRW, false, { write: true })); // the drive can, this disc is no MRW disc
    if (k.name === 'dvd+rw') list.push(f(Feature.DVD_PLUS_RW, present, { write: true }));
    return list;
  }

  private getConfiguration(c: Command): Buffer {
    const rt = c.cdb[1] & 3;
    const start = c.cdb.readUInt16BE(2);
    let features = this.features().filter((x) => x.code >= start);
    if (rt === 1) features = features.filter((x) => x.current);
    else if (rt === 2) features = features.filter((x) => x.code === start);
    else if (rt === 3) throw INVALID_CDB();
    return encodeConfiguration({ currentProfile: this.currentProfile(), features });
  }

  private readCapacity(): Buffer {
    const m = this.ready();
    return encodeCapacity({ lastLba: this.readable(m) ? m.sectors - 1 : 0, blockLength: SECTOR });
  }

  private readDiscInformation(): Buffer {
    const m = this.ready();
    const done = this.readable(m);
    return encodeDiscInformation({
      erasable: this.kind.rewritable,
      lastSessionState: done ? SessionState.COMPLETE : SessionState.EMPTY,
      discStatus: done ? DiscStatus.COMPLETE : DiscStatus.EMPTY,
      firstTrack: 1,
      sessions: 1,
      firstTrackInLastSession: 1,
      lastTrackInLastSession: 1,
      unrestrictedUse: false,
      dbit: false,
      bgFormatStatus: this.kind.name === 'dvd+rw' && done ? 3 : 0,
      // CD: fixed-packet discs are written Mode 2 (CD-ROM XA), as cdrwtool formats them
      discType: this.kind.family === 'cd' ? (this.kind.name === 'cdrw' && done ? 0x20 : 0x00) : 0x00,
      lastSessionLeadIn: 0xffffffff,
      lastPossibleLeadOut: m.sectors,
    });
  }

  private trackInformation(m: EmuMedium): TrackInformation {
    const k = this.kind;
    const done = this.readable(m);
    const fixed = done && m.packetSize > 0;
    return {
      trackNumber: 1,
      sessionNumber: 1,
      damage: false,
      copy: false,
      trackMode: fixed ? 5 : 4, // data, recorded incrementally / uninterrupted (MMC-6 table 385)
      reservedTrack: false,
      blank: !done,
      packet: fixed,
      fixedPacket: fixed,
      dataMode: !done ? 0x0f : k.name === 'cdrw' ? 2 : 1,
      lraValid: done,
      nwaValid: !done,
      trackStart: 0,
      nextWritable: 0,
      freeBlocks: done ? 0 : m.sectors,
      fixedPacketSize: fixed ? m.packetSize : 0,
      trackSize: m.sectors,
      lastRecorded: done ? m.sectors - 1 : 0,
    };
  }

  private readTrackInformation(c: Command): Buffer {
    const m = this.ready();
    const type = c.cdb[1] & 3;
    const n = c.cdb.readUInt32BE(2);
    if (type === 0) {
      if (n >= m.sectors) throw check(SenseKey.ILLEGAL_REQUEST, 0x21, 0x00);
    } else if (type === 1) {
      if (n !== 1 && n !== 0xff) throw INVALID_CDB(); // one track; FFh is the invisible/incomplete track
    } else if (type === 2) {
      if (n !== 1) throw INVALID_CDB();
    } else {
      throw INVALID_CDB();
    }
    return encodeTrackInformation(this.trackInformation(m));
  }

  private modeSense(c: Command): Buffer {
    const page = c.cdb[2] & 0x3f;
    const pc = c.cdb[2] >> 6;
    const mask = (b: Buffer) => (pc === 1 ? Buffer.concat([b.subarray(0, 2), Buffer.alloc(b.length - 2, 0xff)]) : b);
    const wp = mask(encodeWriteParameters(pc === 2 ? defaultWriteParameters() : this.writeParams));
    const ca = mask(encodeCaching(pc === 2 ? { writeCache: true, readCacheDisable: false } : this.caching));
    if (page === Page.WRITE_PARAMETERS) return modeSenseData(wp);
    if (page === Page.CACHING) return modeSenseData(ca);
    if (page === 0x3f) return modeSenseData(Buffer.concat([wp, ca]));
    throw INVALID_CDB();
  }

  private modeSelect(c: Command): Buffer {
    if (!(c.cdb[1] & 0x10)) throw INVALID_CDB(); // MMC pages need PF
    const len = c.cdb.readUInt16BE(7);
    if (c.out.length < len || len < MODE_HEADER_LENGTH + 2) throw check(SenseKey.ILLEGAL_REQUEST, 0x1a, 0x00);
    const at = MODE_HEADER_LENGTH + c.out.readUInt16BE(6);
    const page = c.out.subarray(at, len);
    if (page.length < 2 || page.length < page[1] + 2) throw check(SenseKey.ILLEGAL_REQUEST, 0x1a, 0x00);
    switch (page[0] & 0x3f) {
      case Page.WRITE_PARAMETERS: {
        if (page[1] < 0x32 - 0x0e) throw INVALID_PARAM();
        const w = decodeWriteParameters(page);
        const blockTypes: number[] = [DataBlockType.MODE1, DataBlockType.MODE2_FORM1, 0, 1, 2, 3, 12, 13];
        if (w.writeType > 4 || !blockTypes.includes(w.dataBlockType)) throw INVALID_PARAM();
        if (w.writeType === WriteType.PACKET && w.fixedPacket && (w.packetSize === 0 || w.packetSize > 128)) {
          throw INVALID_PARAM();
        }
        this.writeParams = w;
        return Buffer.alloc(0);
      }
      case Page.CACHING:
        this.caching = decodeCaching(page);
        return Buffer.alloc(0);
      default:
        throw INVALID_PARAM();
    }
  }

  /** Timing model: the medium's rate in bytes/s for a read or a write (0: instantaneous). */
  private rate(write: boolean): number {
    const x = this.opts.speed;
    if (!x) return 0;
    let rate = x * this.kind.oneX;
    const limitKBs = write ? this.writeSpeedKBs : this.readSpeedKBs;
    if (limitKBs !== 0xffff && limitKBs > 0) rate = Math.min(rate, limitKBs * 1000);
    return rate;
  }

  /** Timing model: wait until the medium (or the buffer) has done this command's part. */
  private async delay(lba: number, count: number, write: boolean): Promise<void> {
    const t = this.timing;
    if (!t) return;
    const now = this.clock.now();
    const idle = t.stats.idleMs;
    const done = write
      ? t.write(now, lba, count, SECTOR, this.rate(true), this.caching.writeCache)
      : t.read(now, lba, count, SECTOR, this.rate(false));
    if (debug.enabled && t.stats.idleMs - idle >= 5) {
      debug('%s: medium idle %d ms before %s %d+%d', this.name, Math.round(t.stats.idleMs - idle), write ? 'WRITE' : 'READ', lba, count);
    }
    if (done > now) await this.clock.sleepUntil(done);
  }

  /** Timing model: until what is buffered is on the medium. */
  private async drain(): Promise<void> {
    const t = this.timing;
    if (!t) return;
    const now = this.clock.now();
    const done = t.sync(now);
    if (done > now) await this.clock.sleepUntil(done);
  }

  /**
   * SYNCHRONIZE CACHE: done when the buffer is drained; with IMMED at once (the drain goes on).
   * The image's own fsync runs during the modelled drain, not after it: the host's disk is
   * not part of the medium's time.
   */
  private async synchronizeCache(c: Command): Promise<Buffer> {
    const m = this.ready();
    await Promise.all([c.cdb[1] & 0x02 ? undefined : this.drain(), m.sync()]);
    return Buffer.alloc(0);
  }

  private async read(c: Command): Promise<Buffer> {
    const m = this.ready();
    const { lba, count } = rwAddress(c.cdb);
    if (!this.readable(m)) throw check(SenseKey.ILLEGAL_REQUEST, 0x30, 0x02);
    if (lba + count > m.sectors) throw check(SenseKey.ILLEGAL_REQUEST, 0x21, 0x00, lba);
    if (count * SECTOR > c.alloc) throw INVALID_CDB();
    for (let i = 0; i < count; i++) {
      if (m.readFault(lba + i)) throw check(SenseKey.MEDIUM_ERROR, 0x11, 0x00, lba + i);
    }
    await this.delay(lba, count, false);
    return m.read(lba, count);
  }

  private async write(c: Command): Promise<Buffer> {
    const m = this.ready();
    const { lba, count } = rwAddress(c.cdb);
    const k = this.kind;
    if (!k.rewritable) throw check(SenseKey.ILLEGAL_REQUEST, 0x21, 0x02, lba); // closed disc: no writable address
    if (m.writeProtected) throw check(SenseKey.DATA_PROTECT, 0x27, 0x00);
    if (!m.formatted) throw check(SenseKey.ILLEGAL_REQUEST, 0x30, 0x05);
    if (lba + count > m.sectors) throw check(SenseKey.ILLEGAL_REQUEST, 0x21, 0x00, lba);
    if (c.out.length !== count * SECTOR) throw INVALID_CDB();
    const p = m.packetSize;
    if (k.name === 'cdrw') {
      const w = this.writeParams;
      if (w.writeType !== WriteType.PACKET || !w.fixedPacket || w.packetSize !== p) {
        throw check(SenseKey.ILLEGAL_REQUEST, 0x64, 0x00);
      }
    }
    if (p > 0 && (lba % p !== 0 || count % p !== 0)) throw check(SenseKey.ILLEGAL_REQUEST, 0x21, 0x02, lba);
    await this.delay(lba, count, true);
    // A drive writes in order and stops at the first bad sector; a packet medium loses the whole packet.
    for (let i = 0; i < count; i++) {
      const s = lba + i;
      if (!m.writeFault(s)) continue;
      if (k.hardwareDefectManagement) {
        if (m.remap(s)) continue;
        await m.write(lba, c.out.subarray(0, i * SECTOR));
        throw check(SenseKey.MEDIUM_ERROR, 0x32, 0x00, s);
      }
      const good = p > 0 ? s - (s % p) - lba : i;
      await m.write(lba, c.out.subarray(0, good * SECTOR));
      throw check(SenseKey.MEDIUM_ERROR, 0x0c, 0x00, s);
    }
    await m.write(lba, c.out);
    return Buffer.alloc(0);
  }

  private formatDescriptors(m: EmuMedium): FormatDescriptor[] {
    return this.kind.formatTypes.map((t) => {
      let param = 0;
      if (t === FormatType.CD_DVD_RW_FULL || t === FormatType.DVD_RW_QUICK) param = this.kind.packetSize;
      else if (t === FormatType.FULL || t === FormatType.SPARE_EXPANSION || t === FormatType.BD_RE_FULL_NO_SPARE) param = SECTOR;
      return { blocks: m.sectors, formatType: t, param };
    });
  }

  private readFormatCapacities(): Buffer {
    const m = this.medium;
    if (!m) {
      return encodeFormatCapacities({ current: { blocks: 0, type: CapacityType.NO_MEDIUM, blockLength: SECTOR }, formattable: [] });
    }
    this.ready();
    return encodeFormatCapacities({
      current: { blocks: m.sectors, type: m.formatted ? CapacityType.FORMATTED : CapacityType.UNFORMATTED, blockLength: SECTOR },
      formattable: this.formatDescriptors(m),
    });
  }

  private async formatUnit(c: Command): Promise<Buffer> {
    const m = this.ready();
    if ((c.cdb[1] & 0x17) !== 0x11) throw INVALID_CDB(); // FmtData with format code 001b
    if (!this.kind.rewritable) throw check(SenseKey.ILLEGAL_REQUEST, 0x30, 0x06);
    if (m.writeProtected) throw check(SenseKey.DATA_PROTECT, 0x27, 0x00);
    let req;
    try {
      req = decodeFormatRequest(c.out);
    } catch {
      throw check(SenseKey.ILLEGAL_REQUEST, 0x1a, 0x00);
    }
    const d = req.descriptor;
    if (!this.kind.formatTypes.includes(d.formatType) || d.blocks > m.sectors) throw INVALID_PARAM();
    let packet = this.kind.packetSize;
    if (d.formatType === FormatType.CD_DVD_RW_FULL || d.formatType === FormatType.DVD_RW_QUICK) {
      if (this.kind.name === 'cdrw') {
        if (d.param === 0 || d.param > 128) throw INVALID_PARAM();
        packet = d.param;
      } else if (d.param !== this.kind.packetSize) {
        throw INVALID_PARAM();
      }
    }
    m.setFormatted(true, packet);
    await m.sync(true);
    this.startBackground(req.immed); // FORMAT UNIT has IMMED in the parameter list header
    debug('%s: formatted (type 0x%s, packet %d)', this.name, d.formatType.toString(16), packet);
    return Buffer.alloc(0);
  }

  private async blank(c: Command): Promise<Buffer> {
    const m = this.ready();
    const type = c.cdb[1] & 7;
    if (type > 1) throw INVALID_CDB();
    if (!this.kind.blankable) throw check(SenseKey.ILLEGAL_REQUEST, 0x30, 0x00);
    if (m.writeProtected) throw check(SenseKey.DATA_PROTECT, 0x27, 0x00);
    await m.erase();
    m.setFormatted(false, 0);
    await m.sync(true);
    this.startBackground((c.cdb[1] & 0x10) !== 0);
    return Buffer.alloc(0);
  }

  private setCdSpeed(c: Command): Buffer {
    this.readSpeedKBs = c.cdb.readUInt16BE(2);
    this.writeSpeedKBs = c.cdb.readUInt16BE(4);
    return Buffer.alloc(0);
  }

  private setStreaming(c: Command): Buffer {
    if (c.cdb[8] !== 0) throw INVALID_CDB(); // only the performance descriptor
    const len = c.cdb.readUInt16BE(9);
    if (len < STREAMING_DESCRIPTOR_LENGTH || c.out.length < STREAMING_DESCRIPTOR_LENGTH) {
      throw check(SenseKey.ILLEGAL_REQUEST, 0x1a, 0x00);
    }
    const p = decodeStreaming(c.out);
    if (p.restoreDefaults) {
      this.readSpeedKBs = this.writeSpeedKBs = 0xffff;
    } else {
      if (p.readMs === 0 || p.writeMs === 0) throw INVALID_PARAM();
      this.readSpeedKBs = Math.min(0xffff, Math.round((p.readKB * 1000) / p.readMs));
      this.writeSpeedKBs = Math.min(0xffff, Math.round((p.writeKB * 1000) / p.writeMs));
    }
    return Buffer.alloc(0);
  }

  private getEventStatus(c: Command): Buffer {
    if (!(c.cdb[1] & 1)) throw INVALID_CDB(); // asynchronous notification is not supported
    const classes = c.cdb[4];
    if (!(classes & EVENT_CLASS_MEDIA)) {
      return encodeMediaEventStatus({ noEventAvailable: true, eventCode: 0, mediaPresent: false, trayOpen: false }, EVENT_CLASS_MEDIA);
    }
    const code = this.mediaEvent;
    this.mediaEvent = MediaEvent.NO_CHANGE;
    return encodeMediaEventStatus(
      { noEventAvailable: false, eventCode: code, mediaPresent: this.medium !== undefined, trayOpen: this.trayOpen },
      EVENT_CLASS_MEDIA,
    );
  }

  private async closeTrackSession(c: Command): Promise<Buffer> {
    const m = this.ready();
    const fn = c.cdb[2] & 7;
    if (fn < 1 || fn > 3) throw INVALID_CDB();
    if (!this.kind.rewritable || !m.formatted) throw check(SenseKey.ILLEGAL_REQUEST, 0x2c, 0x00);
    await Promise.all([this.drain(), m.sync()]);
    return Buffer.alloc(0);
  }

  private async startStopUnit(c: Command): Promise<Buffer> {
    const loej = (c.cdb[4] & 2) !== 0;
    const start = (c.cdb[4] & 1) !== 0;
    if (!loej) return Buffer.alloc(0);
    if (!start) {
      if (this.locked) throw check(SenseKey.ILLEGAL_REQUEST, 0x53, 0x02);
      const m = this.medium;
      this.medium = undefined;
      this.trayOpen = true;
      this.mediaEvent = MediaEvent.MEDIA_REMOVAL;
      if (m) await m.close();
    } else if (!this.medium) {
      this.medium = await EmuMedium.open(this.imagePath, this.kind, {});
      this.trayOpen = false;
      this.attention = [0x28, 0x00];
      this.mediaEvent = MediaEvent.NEW_MEDIA;
    }
    return Buffer.alloc(0);
  }
}
