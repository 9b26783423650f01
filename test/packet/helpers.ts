/**
 * Test helpers for the packet layer: a drive log wrapped around any
 * BlockDevice (records every request, checks every write is whole aligned
 * packets, can hold or fail requests and add random latency), and a seeded PRNG.
 */
import type { BlockDevice } from '../../src/drive/types';
import { FsError } from '../../src/errors';

export interface LoggedOp {
  op: 'read' | 'write' | 'flush';
  lba: number;
  count: number;
}

/** A gate that holds requests until opened. */
export class Gate {
  private waiters: (() => void)[] = [];
  private isOpen = false;
  /** Requests that reached the gate and are waiting. */
  arrived = 0;
  async pass(): Promise<void> {
    this.arrived++;
    if (this.isOpen) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  open(): void {
    this.isOpen = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

export class LoggingDevice implements BlockDevice {
  readonly log: LoggedOp[] = [];
  /** Writes that were not one whole packet at a packet-aligned address. */
  readonly violations: string[] = [];
  /** Latency and gates: reads sample the device, then wait; writes wait, then land. */
  delay: ((op: LoggedOp) => Promise<void>) | null = null;
  /** Return true to make the request fail with EIO. */
  fail: ((op: LoggedOp) => boolean) | null = null;

  constructor(readonly inner: BlockDevice, readonly sectorsPerPacket: number) {}

  get sectorSize(): number { return this.inner.sectorSize; }
  get sectorCount(): number { return this.inner.sectorCount; }
  get readOnly(): boolean { return this.inner.readOnly; }
  get description(): string { return `logged ${this.inner.description}`; }
  get maxTransferBytes(): number | undefined { return this.inner.maxTransferBytes; }

  get writes(): LoggedOp[] { return this.log.filter((o) => o.op === 'write'); }
  get reads(): LoggedOp[] { return this.log.filter((o) => o.op === 'read'); }

  async read(lba: number, count: number): Promise<Buffer> {
    const op: LoggedOp = { op: 'read', lba, count };
    this.log.push(op);
    // The disc is sampled first and the answer delivered late: the hardest case for a cache.
    const data = await this.inner.read(lba, count);
    await this.delay?.(op);
    if (this.fail?.(op)) throw new FsError('EIO', `injected read error at ${lba}+${count}`);
    return data;
  }

  async write(lba: number, data: Buffer): Promise<void> {
    const count = data.length / this.sectorSize;
    const op: LoggedOp = { op: 'write', lba, count };
    this.log.push(op);
    const spp = this.sectorsPerPacket;
    // whole packets (a run of consecutive ones is one write), or the sectors of a partial last packet
    const whole = (count > 0 && count % spp === 0) || (count > 0 && count % spp !== 0 && lba + count === this.sectorCount);
    if (lba % spp !== 0 || !whole) this.violations.push(`write ${lba}+${count} (packet ${spp} sectors)`);
    // Like DMA from the caller's buffer, the bytes are taken only when the write lands.
    await this.delay?.(op);
    if (this.fail?.(op)) throw new FsError('EIO', `injected write error at ${lba}+${count}`);
    return this.inner.write(lba, data);
  }

  async flush(): Promise<void> {
    this.log.push({ op: 'flush', lba: 0, count: 0 });
    return this.inner.flush();
  }

  async close(): Promise<void> {
    return this.inner.close();
  }

  clearLog(): void {
    this.log.length = 0;
  }
}

export { prng } from '../helpers/prng';

/** Integer in [lo, hi]. */
export function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** A buffer of `n` bytes where every byte depends on `tag` and its position. */
export function pattern(n: number, tag: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (tag * 31 + i * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Let queued promise callbacks and immediates run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Buffer equality that stays fast on megabytes (jest's toEqual walks Buffers
 * element by element); on a mismatch the message names the first differing byte.
 */
export function expectSameBytes(actual: Buffer, expected: Buffer, what = 'bytes'): void {
  if (actual.equals(expected)) return;
  let i = 0;
  while (i < Math.min(actual.length, expected.length) && actual[i] === expected[i]) i++;
  throw new Error(`${what} differ at byte ${i} (lengths ${actual.length} and ${expected.length})`);
}
