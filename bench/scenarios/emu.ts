/**
 * emu: copies onto the emulated drive with its speed model (CD-RW 10x, DVD+RW 8x, BD-RE 2x):
 * a BENCH_EMU_MIB file written, fsynced and unmounted until pktfs has exited, as a fraction of
 * the ideal time the medium's write speed allows (bytes / (speed x the medium's 1x rate)).
 * The image is made by mkudffs for the medium and has no sidecar, so the drive takes it as a
 * formatted disc.
 */
import { join } from 'path';
import { randomBytes } from 'crypto';
import { type Config, pktfsTarget, writeFile, now, timed, log, type PacketStats } from '../harness';
import { makeRow, type Row } from '../stats';
import { openSource } from '../../src/drive/open';

const S = 'emu';

/** The emulated drive's 1x rates (src/drive/emu/media.ts), in bytes per second. */
const MEDIA = [
  { profile: 'cdrw', mkudffs: 'cdrw', speed: 10, oneX: 153_600, packet: 32 },
  { profile: 'dvd+rw', mkudffs: 'dvdrw', speed: 8, oneX: 1_385_000, packet: 16 },
  { profile: 'bdre', mkudffs: 'hd', speed: 2, oneX: 4_496_000, packet: 32 },
];

/**
 * The emulated drive's own ceiling: the same bytes written through MmcBlockDevice in this
 * process, one packet per WRITE, back to back, then SYNCHRONIZE CACHE, as a fraction of the ideal
 * time. With the drive's write buffer on an absolute clock (src/drive/emu/timing.ts) it is about 1:
 * what is left below it is the emulator's and the MMC layer's per-command cost.
 */
async function driveCeiling(source: string, packetBytes: number, bytes: number, ideal: number): Promise<number> {
  const dev = await openSource(source);
  try {
    const chunk = randomBytes(packetBytes);
    const spp = packetBytes / dev.sectorSize;
    const first = Math.floor(dev.sectorCount / 4 / spp) * spp;
    const t0 = now();
    for (let done = 0; done < bytes; done += packetBytes) await dev.write(first + done / dev.sectorSize, chunk);
    await dev.flush();
    return ideal / (now() - t0);
  } finally {
    await dev.close();
  }
}

export async function emu(cfg: Config): Promise<Row[]> {
  const bytes = cfg.emuMiB * 1024 * 1024;
  const pattern = randomBytes(1 << 20);
  const rows: Row[] = [];
  for (const md of MEDIA) {
    const ideal = bytes / (md.speed * md.oneX);
    const fractions: number[] = [];
    const was: number[] = [];
    const t = pktfsTarget(cfg, `emu-${md.profile}`, join(cfg.work, `emu-${md.profile}.img`), { emu: md.profile, emuOpts: `speed=${md.speed}`, media: md.mkudffs });
    for (let rep = 0; rep < cfg.reps; rep++) {
      log(`${S}: ${md.profile} ${md.speed}x rep ${rep + 1}/${cfg.reps}`);
      t.create(bytes + (48 << 20));
      const m = await t.mount();
      const secs = timed(() => writeFile(join(m.mnt, 'big.bin'), bytes, pattern));
      const st: PacketStats = t.stats!(m);
      const t1 = now();
      await m.unmount();
      fractions.push(ideal / (secs + now() - t1));
      was.push(st.bytesDeviceWritten / bytes);
    }
    const ceiling: number[] = [];
    const img = join(cfg.work, `emu-${md.profile}.img`);
    for (let rep = 0; rep < cfg.reps; rep++) {
      t.create(bytes + (48 << 20)); // a fresh formatted disc without sidecar
      ceiling.push(await driveCeiling(`emu:${md.profile}:${img},speed=${md.speed}`, md.packet * 2048, bytes, ideal));
    }
    const c = `write ${cfg.emuMiB} MiB, ${md.profile} ${md.speed}x`;
    rows.push(makeRow({
      scenario: S, case: c, target: 'emu drive ceiling', unit: 'of ideal speed', samples: ceiling, higherIsBetter: true,
      note: `the emulated drive written directly, one ${md.packet * 2} KiB packet per WRITE, back to back`,
    }));
    rows.push(makeRow({
      scenario: S, case: c, target: 'pktfs', unit: 'of ideal speed', samples: fractions, higherIsBetter: true,
      goal: { kind: 'atLeast', target: 0.95, text: '>= 0.95 of the medium' },
      note: `ideal ${ideal.toFixed(1)} s at ${(md.speed * md.oneX / 1e6).toFixed(2)} MB/s`,
    }));
    rows.push(makeRow({ scenario: S, case: `${c} / drive`, target: 'emu drive ceiling', unit: 'of ideal speed', samples: ceiling, higherIsBetter: true }));
    rows.push(makeRow({ scenario: S, case: `${c} / drive`, target: 'pktfs', unit: 'of ideal speed', samples: fractions, higherIsBetter: true, reference: 'emu drive ceiling' }));
    rows.push(makeRow({ scenario: S, case: c, target: 'pktfs', unit: 'device bytes/user byte', samples: was, higherIsBetter: false }));
  }
  return rows;
}
