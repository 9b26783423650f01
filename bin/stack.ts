/**
 * The layers of a mount, stacked: the drive (image, block device, MMC drive, emu:),
 * the packet layer over it, and the UDF volume over that. Every mount goes through
 * the packet cache, reads included; only the packet size, cache size and idle
 * flush delay change (-o packet=, cache=, flush=).
 */
import type { BlockDevice } from '../src/drive/types';
import { FsError } from '../src/errors';
import type { MountFacts } from '../src/fuse/pktinfo-files';
import { DEFAULT_CACHE_BYTES, DEFAULT_FLUSH_DELAY_MS, PacketDevice } from '../src/packet';
import { OptionError, PACKET_SECTOR_BYTES, checkCacheHoldsPackets, type MountOptions } from '../src/options';
import type { Volume } from '../src/udf/types';

/** Packet size for an image or block device without `-o packet=` (DVD's 16 sectors, 32 KiB). */
export const DEFAULT_PACKET_SECTORS = 16;

export interface Stack {
  device: BlockDevice;
  packets: PacketDevice;
  volume: Volume;
  /** For `.pktinfo`: where the packet size came from and what the medium is. */
  facts: Pick<MountFacts, 'packetSource' | 'medium'>;
  /** Things to tell the user at mount time. */
  notices: string[];
}

/** What an MMC drive (src/drive/mmc/blockdev.ts) offers beyond a BlockDevice. */
interface MediumDevice {
  packetSize: number;
  settings: { profileName: string };
}

function medium(dev: BlockDevice): MediumDevice | undefined {
  const m = dev as Partial<MediumDevice>;
  return typeof m.packetSize === 'number' && m.packetSize > 0 && m.settings ? (m as MediumDevice) : undefined;
}

/** Packet size in 2048-byte sectors: the medium's own, else -o packet=, else the default. */
export function choosePacket(dev: BlockDevice, opts: MountOptions): { sectors: number; source: 'medium' | 'option' | 'default'; notices: string[] } {
  const m = medium(dev);
  const asked = opts.packet.sectors;
  if (m) {
    const notices = asked !== undefined && asked !== m.packetSize
      ? [`-o packet=${asked} ignored: the medium is written in packets of ${m.packetSize} sectors`]
      : [];
    return { sectors: m.packetSize, source: 'medium', notices };
  }
  return { sectors: asked ?? DEFAULT_PACKET_SECTORS, source: asked === undefined ? 'default' : 'option', notices: [] };
}

/** The packet layer over `dev` as the options ask; FsError EINVAL when they don't fit the device. */
export function packetLayer(dev: BlockDevice, opts: MountOptions): { packets: PacketDevice; source: 'medium' | 'option' | 'default'; notices: string[] } {
  const choice = choosePacket(dev, opts);
  const packetBytes = choice.sectors * PACKET_SECTOR_BYTES;
  if (packetBytes % dev.sectorSize !== 0) {
    throw new FsError('EINVAL', `a packet of ${choice.sectors} sectors (${packetBytes} bytes) is not a whole number of the device's ${dev.sectorSize}-byte sectors`);
  }
  const cacheBytes = opts.packet.cacheBytes ?? Math.max(DEFAULT_CACHE_BYTES, 2 * packetBytes);
  try {
    checkCacheHoldsPackets(cacheBytes, packetBytes);
  } catch (e) {
    if (e instanceof OptionError) throw new FsError('EINVAL', e.message);
    throw e;
  }
  const packets = new PacketDevice(dev, { packetBytes, cacheBytes, flushDelayMs: opts.packet.flushDelayMs });
  return { packets, source: choice.source, notices: choice.notices };
}

/**
 * Open SOURCE and stack the packet layer and the UDF volume on it. Failures are
 * thrown as they come (FsError from the layers); whatever was opened is closed.
 * `stage` tells the caller which layer failed.
 */
export async function openStack(source: string, opts: MountOptions, stage: (s: 'device' | 'volume') => void = () => undefined): Promise<Stack> {
  // Loaded here, not at the top, so that --help and option errors load neither drives nor UDF.
  const { openSource } = await import('../src/drive/open');
  stage('device');
  const device = await openSource(source, { readOnly: opts.readOnly });
  let packets: PacketDevice | undefined;
  try {
    const layer = packetLayer(device, opts);
    packets = layer.packets;
    stage('volume');
    const { openVolume } = await import('../src/udf');
    const volume = await openVolume(packets, {
      ...opts.udf,
      readWrite: !opts.readOnly,
      idleSettleMs: opts.udf.idleSettleMs ?? DEFAULT_FLUSH_DELAY_MS,
    });
    const m = medium(device);
    return { device, packets, volume, facts: { packetSource: layer.source, medium: m?.settings.profileName }, notices: layer.notices };
  } catch (e) {
    await (packets ?? device).close().catch(() => undefined);
    throw e;
  }
}

/** Close the volume, then the packet layer (which writes what is dirty and closes the device). */
export async function closeStack(s: Stack): Promise<void> {
  await s.volume.close();
  await s.packets.close();
}
