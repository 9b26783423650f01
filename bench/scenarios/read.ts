/**
 * read (issue 2): sequential read of a large file through a read-only pktfs mount vs reading the
 * same number of bytes straight from the image file with the same request size (the ceiling:
 * no FUSE, no UDF). The file is put into the image by udfclient. Each repetition remounts, so
 * the kernel's page cache of the mount never answers for pktfs.
 * warm: the image is in the host's page cache (pktfs's own cost);
 * cold: caches dropped before each read (what a user waits for), where the machine allows it.
 */
import { join } from 'path';
import { randomBytes } from 'crypto';
import { mkdirSync } from 'fs';
import { type Config, pktfsTarget, writeFile, readFile, dropCaches, timed, udfclientPut, log } from '../harness';
import { makeRow, type Row } from '../stats';

const S = 'read';

export async function read(cfg: Config): Promise<Row[]> {
  const bytes = cfg.fileMiB * 1024 * 1024;
  const img = join(cfg.work, 'read.udf');
  const src = join(cfg.work, 'read-src');
  mkdirSync(src, { recursive: true });
  writeFile(join(src, 'big.bin'), bytes, randomBytes(1 << 20));
  const t = pktfsTarget(cfg, 'pktfs', img, { extra: ['ro'] });
  t.create(bytes + (16 << 20));
  udfclientPut(img, src, 'big.bin');
  const rows: Row[] = [];
  const mb = bytes / 1e6;
  for (const cold of dropCaches() ? [false, true] : [false]) {
    const direct: number[] = [];
    const viaMount: number[] = [];
    for (let rep = 0; rep < cfg.reps; rep++) {
      log(`${S}: ${cold ? 'cold' : 'warm'} rep ${rep + 1}/${cfg.reps}`);
      if (cold) dropCaches(); else readFile(img, bytes);
      direct.push(mb / timed(() => readFile(img, bytes)));
      const m = await t.mount();
      try {
        if (cold) dropCaches();
        let got = 0;
        viaMount.push(mb / timed(() => { got = readFile(join(m.mnt, 'big.bin')); }));
        if (got !== bytes) throw new Error(`${S}: read ${got} of ${bytes} bytes through pktfs`);
      } finally {
        await m.unmount();
      }
    }
    const c = `read ${cfg.fileMiB} MiB ${cold ? 'cold' : 'warm'}`;
    rows.push(makeRow({ scenario: S, case: c, target: 'image', unit: 'MB/s', samples: direct, higherIsBetter: true }));
    rows.push(makeRow({
      scenario: S, case: c, target: 'pktfs', unit: 'MB/s', samples: viaMount, higherIsBetter: true, reference: 'image',
      goal: { kind: 'atLeast', target: 0.6, text: 'pktfs/image >= 0.6' },
    }));
  }
  return rows;
}
