/**
 * GET CONFIGURATION data (MMC-6 5.2, 5.3): the feature header with the current
 * profile and the feature descriptors pktfs cares about.
 *
 * Feature header (MMC-6 table 84):
 *   0..3 data length (bytes following this field), 6..7 current profile.
 * Feature descriptor (MMC-6 table 86):
 *   0..1 feature code, 2 bits 2..5 version / bit 1 persistent / bit 0 current,
 *   3 additional length, 4.. feature dependent data.
 */

export const Feature = {
  PROFILE_LIST: 0x0000,
  CORE: 0x0001,
  REMOVABLE_MEDIUM: 0x0003,
  RANDOM_READABLE: 0x0010,
  RANDOM_WRITABLE: 0x0020,
  INCREMENTAL_STREAMING_WRITABLE: 0x0021,
  FORMATTABLE: 0x0023,
  HARDWARE_DEFECT_MANAGEMENT: 0x0024,
  RESTRICTED_OVERWRITE: 0x0026,
  MRW: 0x0028,
  DVD_PLUS_RW: 0x002a,
} as const;

export interface FeatureDescriptor {
  code: number;
  version: number;
  persistent: boolean;
  current: boolean;
  /** Profile List (0000h, MMC-6 5.3.1): profiles the drive supports, and which is current. */
  profiles?: { profile: number; current: boolean }[];
  /** Random Readable (0010h, 5.3.6) bytes 4..7 / Random Writable (0020h, 5.3.13) bytes 8..11. */
  blockSize?: number;
  /** Random Readable bytes 8..9 / Random Writable bytes 12..13: sectors per ECC block or packet. */
  blocking?: number;
  /** Random Writable bytes 4..7: last logical block address. */
  lastLba?: number;
  /** MRW (0028h, 5.3.17) byte 4 bit 0 / DVD+RW (002Ah, 5.3.18) byte 4 bit 0: writing supported. */
  write?: boolean;
}

export interface Configuration {
  currentProfile: number;
  features: FeatureDescriptor[];
}

export function decodeConfiguration(b: Buffer): Configuration {
  if (b.length < 8) return { currentProfile: 0, features: [] };
  const end = Math.min(b.length, 4 + b.readUInt32BE(0));
  const features: FeatureDescriptor[] = [];
  let p = 8;
  while (p + 4 <= end) {
    const len = b[p + 3];
    const d = b.subarray(p + 4, Math.min(p + 4 + len, end));
    const f: FeatureDescriptor = {
      code: b.readUInt16BE(p),
      version: (b[p + 2] >> 2) & 0x0f,
      persistent: (b[p + 2] & 2) !== 0,
      current: (b[p + 2] & 1) !== 0,
    };
    switch (f.code) {
      case Feature.PROFILE_LIST:
        f.profiles = [];
        for (let q = 0; q + 4 <= d.length; q += 4) f.profiles.push({ profile: d.readUInt16BE(q), current: (d[q + 2] & 1) !== 0 });
        break;
      case Feature.RANDOM_READABLE:
        if (d.length >= 6) {
          f.blockSize = d.readUInt32BE(0);
          f.blocking = d.readUInt16BE(4);
        }
        break;
      case Feature.RANDOM_WRITABLE:
        if (d.length >= 10) {
          f.lastLba = d.readUInt32BE(0);
          f.blockSize = d.readUInt32BE(4);
          f.blocking = d.readUInt16BE(8);
        }
        break;
      case Feature.MRW:
      case Feature.DVD_PLUS_RW:
        if (d.length >= 1) f.write = (d[0] & 1) !== 0;
        break;
    }
    features.push(f);
    p += 4 + len;
  }
  return { currentProfile: b.readUInt16BE(6), features };
}

function featureData(f: FeatureDescriptor): Buffer {
  switch (f.code) {
    case Feature.PROFILE_LIST: {
      const d = Buffer.alloc(4 * (f.profiles?.length ?? 0));
      f.profiles?.forEach((p, i) => {
        d.writeUInt16BE(p.profile, i * 4);
        d[i * 4 + 2] = p.current ? 1 : 0;
      });
      return d;
    }
    case Feature.CORE: {
      const d = Buffer.alloc(8);
      d.writeUInt32BE(1, 0); // physical interface standard: SCSI family
      return d;
    }
    case Feature.REMOVABLE_MEDIUM: {
      const d = Buffer.alloc(4);
      d[0] = 0x29; // tray loading mechanism, eject, lock
      return d;
    }
    case Feature.RANDOM_READABLE: {
      const d = Buffer.alloc(8);
      d.writeUInt32BE(f.blockSize ?? 2048, 0);
      d.writeUInt16BE(f.blocking ?? 0, 4);
      d[6] = 1; // PP: page 01h is present
      return d;
    }
    case Feature.RANDOM_WRITABLE: {
      const d = Buffer.alloc(12);
      d.writeUInt32BE(f.lastLba ?? 0, 0);
      d.writeUInt32BE(f.blockSize ?? 2048, 4);
      d.writeUInt16BE(f.blocking ?? 0, 8);
      d[10] = 1;
      return d;
    }
    case Feature.MRW:
    case Feature.DVD_PLUS_RW: {
      const d = Buffer.alloc(4);
      d[0] = f.write ? 1 : 0;
      return d;
    }
    case Feature.FORMATTABLE:
      return Buffer.alloc(4);
    default:
      return Buffer.alloc(0);
  }
}

export function encodeConfiguration(c: Configuration): Buffer {
  const parts = c.features.map((f) => {
    const data = featureData(f);
    const h = Buffer.alloc(4);
    h.writeUInt16BE(f.code, 0);
    h[2] = ((f.version & 0x0f) << 2) | (f.persistent ? 2 : 0) | (f.current ? 1 : 0);
    h[3] = data.length;
    return Buffer.concat([h, data]);
  });
  const head = Buffer.alloc(8);
  const body = Buffer.concat(parts);
  head.writeUInt32BE(4 + body.length, 0);
  head.writeUInt16BE(c.currentProfile, 6);
  return Buffer.concat([head, body]);
}

/** The descriptor for `code` if the drive reported it. */
export function findFeature(c: Configuration, code: number): FeatureDescriptor | undefined {
  return c.features.find((f) => f.code === code);
}

/** True when the drive reported `code` with its Current bit set. */
export function hasCurrentFeature(c: Configuration, code: number): boolean {
  return findFeature(c, code)?.current === true;
}
