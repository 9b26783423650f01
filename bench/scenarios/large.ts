/**
 * large: one large file (BENCH_FILE_MIB, 1 GiB by default) written and read back through
 * pktfs, through fuse2fs on an ext2 image of the same size, on a plain directory, through the
 * empty fuse-native filesystem (the binding's ceiling), and put by udfclient into a UDF image.
 *
 * write: open, write 1 MiB requests, fsync, close, then unmount until the server has exited
 *        (or `sync -f` for the directory): the time until the bytes are on the image.
 * read:  page cache dropped, fresh mount, read 1 MiB requests to the end.
 * The disc's side (pktfs): bytes the device wrote per user byte, packet rewrites, the most
 * written packet, after each write.
 */
import { join } from 'path';
import { randomBytes } from 'crypto';
import { mkdirSync } from 'fs';
import {
  type Config, type Target, type Mounted, type PacketStats, pktfsTarget, fuse2fsTarget, dirTarget, nullfsTarget,
  writeFile, readFile, dropCaches, now, timed, udfclientPut, log,
} from '../harness';
import { makeRow, type Row } from '../stats';

const S = 'large';

export async function large(cfg: Config): Promise<Row[]> {
  const bytes = cfg.fileMiB * 1024 * 1024;
  const fsBytes = Math.ceil(bytes * 1.1) + (64 << 20);
  const pattern = randomBytes(1 << 20);
  const pk = pktfsTarget(cfg, 'pktfs', join(cfg.work, 'large.udf'));
  const targets: Target[] = [pk, fuse2fsTarget(cfg, join(cfg.work, 'large.ext2')), dirTarget(cfg), nullfsTarget(cfg)];
  const w: Record<string, number[]> = {};
  const r: Record<string, number[]> = {};
  const disc: PacketStats[] = [];
  const mb = bytes / 1e6;
  const src = join(cfg.work, 'large-src');
  for (let rep = 0; rep < cfg.reps; rep++) {
    for (const t of targets) {
      log(`${S}: ${t.name} rep ${rep + 1}/${cfg.reps}`);
      t.create(fsBytes);
      let m: Mounted = await t.mount();
      const file = join(m.mnt, t.name === 'nullfs' ? 'sink' : 'big.bin');
      const secs = timed(() => writeFile(file, bytes, pattern));
      if (t.stats) disc.push(t.stats(m));
      const t1 = now();
      await m.unmount();
      (w[t.name] ??= []).push(mb / (secs + now() - t1));
      dropCaches();
      m = await t.mount();
      const readPath = t.name === 'nullfs' ? join(m.mnt, 'zero') : file;
      let got = 0;
      const rsecs = timed(() => { got = readFile(readPath, bytes); });
      await m.unmount();
      if (got !== bytes) throw new Error(`${S}: ${t.name} read back ${got} of ${bytes} bytes`);
      (r[t.name] ??= []).push(mb / rsecs);
    }
    // udfclient: the same file put into a fresh UDF image (it writes everything before it quits).
    if (rep === 0) {
      mkdirSync(src, { recursive: true });
      writeFile(join(src, 'big.bin'), bytes, pattern);
    }
    pk.create(fsBytes);
    const img = join(cfg.work, 'large.udf');
    const usecs = timed(() => udfclientPut(img, src, 'big.bin'));
    (w.udfclient ??= []).push(mb / usecs);
  }
  const rows: Row[] = [];
  const add = (c: string, data: Record<string, number[]>): void => {
    for (const [target, samples] of Object.entries(data)) {
      const isPk = target === 'pktfs';
      rows.push(makeRow({
        scenario: S, case: c, target, unit: 'MB/s', samples, higherIsBetter: true,
        reference: isPk ? 'fuse2fs' : undefined,
        goal: isPk ? { kind: 'atLeast', target: 1.0, text: 'pktfs/fuse2fs >= 1.0' } : undefined,
      }));
    }
    // The same figure against the binding's ceiling and against the plain directory.
    for (const ref of ['nullfs', 'dir']) {
      rows.push(makeRow({ scenario: S, case: `${c} vs ${ref}`, target: ref, unit: 'MB/s', samples: data[ref], higherIsBetter: true }));
      rows.push(makeRow({ scenario: S, case: `${c} vs ${ref}`, target: 'pktfs', unit: 'MB/s', samples: data.pktfs, higherIsBetter: true, reference: ref }));
    }
  };
  add(`write ${cfg.fileMiB} MiB`, w);
  add(`read ${cfg.fileMiB} MiB`, r);
  rows.push(...discRows(S, `write ${cfg.fileMiB} MiB`, disc, bytes, { waGoal: 1.02 }));
  return rows;
}

/**
 * The disc's side of a write: bytes the device wrote per byte of file data the user wrote
 * (`userBytes`; stats.json's writeAmplification divides by what the filesystem wrote into the
 * packet layer, metadata included, and is given as a note), rewrites, most written packet.
 */
/** What discRows judges: amplification below `waGoal`; `files` created (metadata writes per file); `perInterval`: each packet at most once per flush interval. */
export interface DiscGoals { waGoal?: number; files?: number; perInterval?: boolean }

export function discRows(scenario: string, c: string, disc: PacketStats[], userBytes: number, goals: DiscGoals = {}): Row[] {
  const { waGoal, files } = goals;
  const rows: Row[] = [
    makeRow({
      scenario, case: c, target: 'pktfs', unit: 'device bytes/user byte', samples: disc.map((d) => d.bytesDeviceWritten / userBytes), higherIsBetter: false,
      goal: waGoal ? { kind: 'below', target: waGoal, text: `< ${waGoal}` } : undefined,
      note: `packet layer's writeAmplification ${disc.map((d) => d.writeAmplification.toFixed(3)).join(', ')}`,
    }),
    makeRow({ scenario, case: c, target: 'pktfs', unit: 'packet rewrites', samples: disc.map((d) => d.packetRewrites), higherIsBetter: false }),
    makeRow({
      scenario, case: c, target: 'pktfs', unit: 'rewrites within flush delay', samples: disc.map((d) => d.rewritesWithinFlushDelay), higherIsBetter: false,
      goal: goals.perInterval ? { kind: 'below', target: 1, text: 'each packet at most once per flush interval' } : undefined,
    }),
    makeRow({
      scenario, case: c, target: 'pktfs', unit: 'max writes of a packet', samples: disc.map((d) => d.maxPacketWrites), higherIsBetter: false,
      note: `most written: ${disc.map((d) => d.mostWritten[0] ? `packet ${d.mostWritten[0].packet} x${d.mostWritten[0].writes}` : 'none').join(', ')}`,
    }),
  ];
  if (files) {
    // Packets written beyond those the files' data needs, per created file or directory.
    rows.push(makeRow({
      scenario, case: c, target: 'pktfs', unit: 'metadata packet writes/file', higherIsBetter: false,
      samples: disc.map((d) => Math.max(0, d.bytesDeviceWritten - userBytes) / d.packetBytes / files),
    }));
  }
  return rows;
}
