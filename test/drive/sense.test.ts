/** Sense decoding (fixed and descriptor formats), names, errno mapping and ScsiError. */
import { ascName, decodeSense, encodeSense, ScsiError, senseErrno, senseKeyName } from '../../src/drive/scsi/sense';
import { FsError } from '../../src/errors';

const TABLE: [number, number, number, string, string][] = [
  [0x2, 0x3a, 0x00, 'MEDIUM NOT PRESENT', 'ENOMEDIUM'],
  [0x2, 0x04, 0x01, 'LOGICAL UNIT IS IN PROCESS OF BECOMING READY', 'EIO'],
  [0x2, 0x04, 0x08, 'LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS', 'EIO'],
  [0x3, 0x0c, 0x00, 'WRITE ERROR', 'EIO'],
  [0x3, 0x11, 0x00, 'UNRECOVERED READ ERROR', 'EIO'],
  [0x3, 0x32, 0x00, 'NO DEFECT SPARE LOCATION AVAILABLE', 'EIO'],
  [0x5, 0x20, 0x00, 'INVALID COMMAND OPERATION CODE', 'EINVAL'],
  [0x5, 0x21, 0x00, 'LOGICAL BLOCK ADDRESS OUT OF RANGE', 'EINVAL'],
  [0x5, 0x21, 0x02, 'INVALID ADDRESS FOR WRITE', 'EINVAL'],
  [0x5, 0x24, 0x00, 'INVALID FIELD IN CDB', 'EINVAL'],
  [0x5, 0x30, 0x05, 'CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT', 'EROFS'],
  [0x5, 0x64, 0x00, 'ILLEGAL MODE FOR THIS TRACK', 'EINVAL'],
  [0x6, 0x28, 0x00, 'NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED', 'ENOMEDIUM'],
  [0x6, 0x29, 0x00, 'POWER ON, RESET, OR BUS DEVICE RESET OCCURRED', 'EIO'],
  [0x7, 0x27, 0x00, 'WRITE PROTECTED', 'EROFS'],
];

describe('sense data', () => {
  test.each(TABLE)('%i/%i/%i is %s (%s), in both formats', (key, asc, ascq, name, errno) => {
    expect(ascName(asc, ascq)).toBe(name);
    expect(senseErrno(key, asc, ascq)).toBe(errno);
    for (const descriptor of [false, true]) {
      const s = decodeSense(encodeSense(key, asc, ascq, { descriptor, information: 4711 }));
      expect(s).toEqual({ key, asc, ascq, information: 4711, deferred: false });
    }
  });

  test('fixed format fields sit where SPC-4 4.5.3 puts them', () => {
    // a real drive's answer to a write on a bad sector: 70h, key 3, INFORMATION 0x1234, ASC 0C
    const raw = Buffer.from('f0000300001234' + '0a' + '00000000' + '0c00' + '00000000', 'hex');
    expect(decodeSense(raw)).toEqual({ key: 3, asc: 0x0c, ascq: 0, information: 0x1234, deferred: false });
    const deferred = Buffer.from(raw);
    deferred[0] = 0x71;
    expect(decodeSense(deferred)?.deferred).toBe(true);
  });

  test('descriptor format with progress indication (format in progress)', () => {
    const raw = encodeSense(2, 0x04, 0x04, { descriptor: true, progress: 0x8000 });
    expect(raw[0]).toBe(0x72);
    expect(decodeSense(raw)).toMatchObject({ key: 2, asc: 4, ascq: 4, progress: 0x8000 });
    const fixed = encodeSense(2, 0x04, 0x04, { progress: 0x4000 });
    expect(fixed.readUInt16BE(16)).toBe(0x4000);
    expect(decodeSense(fixed)?.progress).toBe(0x4000);
  });

  test('empty and unknown sense data decode to undefined', () => {
    expect(decodeSense(Buffer.alloc(0))).toBeUndefined();
    expect(decodeSense(Buffer.from([0x7f, 0, 0, 0]))).toBeUndefined();
  });

  test('unknown ASC/ASCQ pairs are named by number', () => {
    expect(ascName(0x99, 0x01)).toBe('ASC 99h ASCQ 01h');
    expect(senseKeyName(3)).toBe('MEDIUM ERROR');
  });

  test('ScsiError is an FsError carrying key, ASC, ASCQ, name and opcode', () => {
    const e = new ScsiError(0x2a, 'WRITE(10)', { key: 3, asc: 0x0c, ascq: 0, deferred: false, information: 96 }, '/dev/sr0');
    expect(e).toBeInstanceOf(FsError);
    expect(e.errno).toBe('EIO');
    expect(e.opcode).toBe(0x2a);
    expect(e.senseName).toBe('MEDIUM ERROR: WRITE ERROR');
    expect(e.information).toBe(96);
    expect(e.message).toBe('/dev/sr0: WRITE(10) failed: MEDIUM ERROR: WRITE ERROR (03/0c/00)');
    expect(e.is(3, 0x0c)).toBe(true);
    expect(e.is(3, 0x11)).toBe(false);
  });
});
