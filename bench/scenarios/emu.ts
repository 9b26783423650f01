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

const S = 'emu';

/** The emulated drive's 1x rates (src/drive/emu/media.ts), in bytes per second. */
const MEDIA = [
  { profile: 'cdrw', mkudffs: 'cdrw', speed: 10, oneX: 153_600, packet: 32 },
  { profile: 'dvd+rw', mkudffs: 'dvdrw', speed: 8, oneX: 1_385_000, packet: 16 },
  { profile: 'bdre', mkudffs: 'hd', speed: 2, oneX: 4_496_000, packet: 32 },
];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The emulator's own ceiling: it sleeps each command's transfer time with setTimeout, one
 * command after the other, and every sleep wakes a little late. The fraction of the ideal
 * speed that back-to-back sleeps of one packet's time reach (for about `secs` seconds).
 */
async function timerCeiling(packetMs: number, secs: number): Promise<number> {
  const n = Math.max(20, Math.ceil((secs * 1000) / packetMs));
  const t0 = now();
  for (let i = 0; i < n; i++) await sleep(packetMs);
  return (n * packetMs) / 1000 / (now() - t0);
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
    const packetMs = (md.packet * 2048 * 1000) / (md.speed * md.oneX);
    for (let rep = 0; rep < cfg.reps; rep++) ceiling.push(await timerCeiling(packetMs, Math.min(ideal, 2)));
    const c = `write ${cfg.emuMiB} MiB, ${md.profile} ${md.speed}x`;
    rows.push(makeRow({
      scenario: S, case: c, target: 'emu timer ceiling', unit: 'of ideal speed', samples: ceiling, higherIsBetter: true,
      note: `back-to-back setTimeout(${packetMs.toFixed(2)} ms), one packet's transfer time each`,
    }));
    rows.push(makeRow({
      scenario: S, case: c, target: 'pktfs', unit: 'of ideal speed', samples: fractions, higherIsBetter: true,
      goal: { kind: 'atLeast', target: 0.95, text: '>= 0.95 of the medium' },
      note: `ideal ${ideal.toFixed(1)} s at ${(md.speed * md.oneX / 1e6).toFixed(2)} MB/s`,
    }));
    rows.push(makeRow({ scenario: S, case: `${c} / timer`, target: 'emu timer ceiling', unit: 'of ideal speed', samples: ceiling, higherIsBetter: true }));
    rows.push(makeRow({ scenario: S, case: `${c} / timer`, target: 'pktfs', unit: 'of ideal speed', samples: fractions, higherIsBetter: true, reference: 'emu timer ceiling' }));
    rows.push(makeRow({ scenario: S, case: c, target: 'pktfs', unit: 'device bytes/user byte', samples: was, higherIsBetter: false }));
  }
  return rows;
}
