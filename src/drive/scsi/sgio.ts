/**
 * SgIoTransport: SCSI commands to a real drive through the Linux SG_IO ioctl
 * (include/scsi/sg.h, "SCSI Generic" HOWTO), called through koffi.
 *
 * The ioctl runs on a koffi worker thread (the `.async` form) so a drive that
 * takes seconds to answer never blocks the event loop. This is the one piece of
 * pktfs that cannot run without hardware; everything up to the ioctl call is
 * tested (header layout, opening a file that is not an SG device).
 */
import { promises as fsp, constants as fsc } from 'fs';
import koffi from 'koffi';
import createDebug from 'debug';
import { FsError } from '../../errors';
import type { DataDirection, ScsiResult, ScsiTransport } from './transport';

const debug = createDebug('pktfs:drive:sgio');

/** ioctl request numbers, include/scsi/sg.h */
export const SG_IO = 0x2285;
export const SG_GET_VERSION_NUM = 0x2282;
/** sg_io_hdr.dxfer_direction values */
export const SG_DXFER_NONE = -1;
export const SG_DXFER_TO_DEV = -2;
export const SG_DXFER_FROM_DEV = -3;
/** sg_io_hdr.info bit: the command did not complete cleanly */
export const SG_INFO_OK_MASK = 0x1;
const MAX_SENSE = 64;

/** struct sg_io_hdr (include/scsi/sg.h), natural alignment on x86_64: 88 bytes. */
// anonymous: koffi keeps named types per process, and a module may be loaded twice (jest)
export const SgIoHdr = koffi.struct({
  interface_id: 'int', // 'S'
  dxfer_direction: 'int', // SG_DXFER_*
  cmd_len: 'uint8_t',
  mx_sb_len: 'uint8_t', // sense buffer size
  iovec_count: 'uint16_t',
  dxfer_len: 'uint32_t',
  dxferp: 'void *', // data buffer
  cmdp: 'void *', // CDB
  sbp: 'void *', // sense buffer
  timeout: 'uint32_t', // milliseconds
  flags: 'uint32_t',
  pack_id: 'int',
  usr_ptr: 'void *',
  status: 'uint8_t', // SCSI status
  masked_status: 'uint8_t',
  msg_status: 'uint8_t',
  sb_len_wr: 'uint8_t', // sense bytes actually written
  host_status: 'uint16_t',
  driver_status: 'uint16_t',
  resid: 'int', // dxfer_len - bytes transferred
  duration: 'uint32_t',
  info: 'uint32_t',
});

const off = (field: string) => koffi.offsetof(SgIoHdr, field);

type IoctlFn = ReturnType<ReturnType<typeof koffi.load>['func']>;
let ioctlFn: IoctlFn | undefined;

/** libc's ioctl, declared with a fixed third argument so it can be called asynchronously. */
function ioctl(): IoctlFn {
  if (!ioctlFn) {
    const libc = koffi.load('libc.so.6');
    // On x86_64 a variadic callee with one pointer argument is called the same way as this prototype.
    ioctlFn = libc.func('int ioctl(int fd, unsigned long request, void *arg)');
  }
  return ioctlFn;
}

function errnoName(n: number): string {
  const codes = koffi.os.errno as Record<string, number>;
  return Object.keys(codes).find((k) => codes[k] === n) ?? `errno ${n}`;
}

/**
 * Fill an sg_io_hdr in a plain buffer. Pointers are the addresses of the Node
 * buffers, which the caller keeps referenced until the ioctl has returned.
 */
export function buildSgIoHdr(cdb: Buffer, direction: number, data: Buffer, sense: Buffer, timeoutMs: number): Buffer {
  const h = Buffer.alloc(koffi.sizeof(SgIoHdr));
  h.writeInt32LE('S'.charCodeAt(0), off('interface_id'));
  h.writeInt32LE(direction, off('dxfer_direction'));
  h.writeUInt8(cdb.length, off('cmd_len'));
  h.writeUInt8(sense.length, off('mx_sb_len'));
  h.writeUInt32LE(data.length, off('dxfer_len'));
  h.writeBigUInt64LE(data.length ? koffi.address(data) : 0n, off('dxferp'));
  h.writeBigUInt64LE(koffi.address(cdb), off('cmdp'));
  h.writeBigUInt64LE(koffi.address(sense), off('sbp'));
  h.writeUInt32LE(timeoutMs, off('timeout'));
  return h;
}

/** The fields of a completed sg_io_hdr the transport reports. */
export function readSgIoHdr(h: Buffer): {
  status: number; sbLenWr: number; hostStatus: number; driverStatus: number; resid: number; info: number;
} {
  return {
    status: h.readUInt8(off('status')),
    sbLenWr: h.readUInt8(off('sb_len_wr')),
    hostStatus: h.readUInt16LE(off('host_status')),
    driverStatus: h.readUInt16LE(off('driver_status')),
    resid: h.readInt32LE(off('resid')),
    info: h.readUInt32LE(off('info')),
  };
}

function callIoctl(fd: number, request: number, arg: Buffer): Promise<{ rc: number; errno: number }> {
  return new Promise((resolve, reject) => {
    ioctl().async(fd, request, arg, (err: unknown, rc: number) => {
      if (err) reject(err);
      // koffi restores the worker thread's errno before calling back
      else resolve({ rc, errno: rc < 0 ? koffi.errno() : 0 });
    });
  });
}

/**
 * The kernel's limit on one command's transfer for the drive at `path`
 * (/sys/block/srN/queue/max_sectors_kb; for /dev/sgN the sr device behind it),
 * or undefined when it cannot be found.
 */
export async function hostMaxTransfer(path: string, sys = '/sys'): Promise<number | undefined> {
  try {
    const base = (await fsp.realpath(path)).split('/').pop() ?? '';
    let block: string | undefined;
    if (/^sr\d+$/.test(base)) block = base;
    else if (/^sg\d+$/.test(base)) block = (await fsp.readdir(`${sys}/class/scsi_generic/${base}/device/block`))[0];
    if (!block) return undefined;
    const kb = parseInt(await fsp.readFile(`${sys}/block/${block}/queue/max_sectors_kb`, 'utf8'), 10);
    return kb > 0 ? kb * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class SgIoTransport implements ScsiTransport {
  private constructor(
    private readonly fh: fsp.FileHandle,
    readonly name: string,
    readonly maxTransferBytes: number | undefined,
  ) {}

  /**
   * Open a drive node (/dev/srN, /dev/sgN) and check it answers SG_GET_VERSION_NUM,
   * so a wrong path fails here with a clear message rather than on the first command.
   */
  static async open(path: string): Promise<SgIoTransport> {
    if (process.arch !== 'x64' || process.platform !== 'linux') {
      throw new FsError('ENOSYS', `${path}: SG_IO is only implemented for Linux on x86_64`);
    }
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, fsc.O_RDWR | fsc.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
        fh = await fsp.open(path, fsc.O_RDONLY | fsc.O_NONBLOCK).catch((e2: NodeJS.ErrnoException) => {
          throw new FsError('EACCES', `${path}: ${e2.message}`);
        });
      } else if (code === 'ENOENT') {
        throw new FsError('ENOENT', `${path}: no such device`);
      } else if (code === 'ENOMEDIUM') {
        throw new FsError('ENOMEDIUM', `${path}: no medium`);
      } else {
        throw new FsError('EIO', `${path}: ${(e as Error).message}`);
      }
    }
    const version = Buffer.alloc(4);
    const { rc, errno } = await callIoctl(fh.fd, SG_GET_VERSION_NUM, version);
    if (rc < 0) {
      await fh.close();
      throw new FsError('ENODEV', `${path}: not a SCSI generic (SG_IO) device: SG_GET_VERSION_NUM gave ${errnoName(errno)}`);
    }
    debug('%s: sg driver version %d', path, version.readInt32LE(0));
    const max = await hostMaxTransfer(path);
    debug('%s: largest transfer %s', path, max === undefined ? 'unknown' : `${max / 1024} KiB`);
    return new SgIoTransport(fh, path, max);
  }

  async execute(cdb: Buffer, dir: DataDirection, data: Buffer | number, timeoutMs: number): Promise<ScsiResult> {
    const buf = typeof data === 'number' ? Buffer.alloc(data) : data;
    const direction = dir === 'in' ? SG_DXFER_FROM_DEV : dir === 'out' ? SG_DXFER_TO_DEV : SG_DXFER_NONE;
    const sense = Buffer.alloc(MAX_SENSE);
    // cdb, buf, sense and hdr stay referenced by this frame until the ioctl returns
    const hdr = buildSgIoHdr(cdb, direction, dir === 'none' ? Buffer.alloc(0) : buf, sense, timeoutMs);
    const { rc, errno } = await callIoctl(this.fh.fd, SG_IO, hdr);
    if (rc < 0) {
      const name = errnoName(errno);
      throw new FsError(name === 'ENOMEDIUM' ? 'ENOMEDIUM' : 'EIO', `${this.name}: SG_IO ioctl failed: ${name}`);
    }
    const r = readSgIoHdr(hdr);
    const driver = r.driverStatus & 0x0f; // the upper nibble holds "suggestions", not errors
    if (r.hostStatus !== 0 || (driver !== 0 && driver !== 0x08)) {
      // DRIVER_SENSE (0x08) only says sense is present; anything else is a transport failure
      throw new FsError('EIO', `${this.name}: command 0x${cdb[0].toString(16)} not delivered: host status ${r.hostStatus}, driver status ${r.driverStatus}`);
    }
    const residual = Math.max(0, r.resid);
    return {
      status: r.status,
      sense: Buffer.from(sense.subarray(0, r.sbLenWr)),
      data: dir === 'in' ? buf.subarray(0, buf.length - residual) : Buffer.alloc(0),
      residual,
    };
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
