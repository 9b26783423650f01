/** SG_IO transport up to the ioctl: the sg_io_hdr layout and opening things that are not SG devices. */
import { mkdtempSync, writeFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import koffi from 'koffi';
import { buildSgIoHdr, readSgIoHdr, SgIoHdr, SgIoTransport, SG_DXFER_FROM_DEV } from '../../src/drive/scsi/sgio';
import { isFsError } from '../../src/errors';

describe('sg_io_hdr on x86_64', () => {
  test('is 88 bytes with the offsets of include/scsi/sg.h', () => {
    expect(koffi.sizeof(SgIoHdr)).toBe(88);
    const offsets = Object.fromEntries(
      ['interface_id', 'dxfer_direction', 'cmd_len', 'mx_sb_len', 'iovec_count', 'dxfer_len', 'dxferp', 'cmdp', 'sbp',
        'timeout', 'flags', 'pack_id', 'usr_ptr', 'status', 'masked_status', 'msg_status', 'sb_len_wr', 'host_status',
        'driver_status', 'resid', 'duration', 'info'].map((f) => [f, koffi.offsetof(SgIoHdr, f)]),
    );
    expect(offsets).toEqual({
      interface_id: 0, dxfer_direction: 4, cmd_len: 8, mx_sb_len: 9, iovec_count: 10, dxfer_len: 12, dxferp: 16,
      cmdp: 24, sbp: 32, timeout: 40, flags: 44, pack_id: 48, usr_ptr: 56, status: 64, masked_status: 65,
      msg_status: 66, sb_len_wr: 67, host_status: 68, driver_status: 70, resid: 72, duration: 76, info: 80,
    });
  });

  test('buildSgIoHdr fills the fields the ioctl reads', () => {
    const cdb = Buffer.from([0x12, 0, 0, 0, 36, 0]);
    const data = Buffer.alloc(36);
    const sense = Buffer.alloc(64);
    const h = buildSgIoHdr(cdb, SG_DXFER_FROM_DEV, data, sense, 5000);
    expect(h.length).toBe(88);
    expect(String.fromCharCode(h.readInt32LE(0))).toBe('S');
    expect(h.readInt32LE(4)).toBe(-3);
    expect(h[8]).toBe(6);
    expect(h[9]).toBe(64);
    expect(h.readUInt32LE(12)).toBe(36);
    expect(h.readBigUInt64LE(16)).toBe(koffi.address(data));
    expect(h.readBigUInt64LE(24)).toBe(koffi.address(cdb));
    expect(h.readBigUInt64LE(32)).toBe(koffi.address(sense));
    expect(h.readUInt32LE(40)).toBe(5000);
    // what the kernel fills in comes back out
    h[64] = 2; h[67] = 18; h.writeInt32LE(10, 72);
    expect(readSgIoHdr(h)).toMatchObject({ status: 2, sbLenWr: 18, resid: 10, hostStatus: 0 });
  });
});

test('an async koffi call reaches buffers through addresses stored in a header, as SG_IO does', async () => {
  // writev's iovec holds a raw pointer the way sg_io_hdr.dxferp does
  const writev = koffi.load('libc.so.6').func('long writev(int fd, void *iov, int cnt)');
  const dir = mkdtempSync(join(tmpdir(), 'pktfs-sg-'));
  const fs = await import('fs');
  const fd = fs.openSync(join(dir, 'out'), 'w');
  const src = Buffer.from('through the header');
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(koffi.address(src), 0);
  iov.writeBigUInt64LE(BigInt(src.length), 8);
  const n = await new Promise((res, rej) => writev.async(fd, iov, 1, (e: unknown, r: number) => (e ? rej(e) : res(r))));
  fs.closeSync(fd);
  expect(n).toBe(src.length);
  expect(fs.readFileSync(join(dir, 'out'), 'utf8')).toBe('through the header');
  rmSync(dir, { recursive: true, force: true });
});

describe('SgIoTransport.open', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pktfs-sg-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a regular file is refused with a clear message after the SG_GET_VERSION_NUM ioctl', async () => {
    const f = join(dir, 'not-a-drive');
    writeFileSync(f, 'x');
    const err = await SgIoTransport.open(f).catch((e: unknown) => e);
    expect(isFsError(err, 'ENODEV')).toBe(true);
    expect((err as Error).message).toBe(`${f}: not a SCSI generic (SG_IO) device: SG_GET_VERSION_NUM gave ENOTTY`);
  });

  test('a missing node is ENOENT', async () => {
    const err = await SgIoTransport.open(join(dir, 'sr9')).catch((e: unknown) => e);
    expect(isFsError(err, 'ENOENT')).toBe(true);
  });
});
