/**
 * The `.pktinfo` formats (src/fuse/pktinfo-files.ts) on their own, from a real
 * PacketDevice over a memory device that has been written to: the lines and
 * fields docs/pktinfo.md promises, with the values the writes must give.
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice } from '../../src/packet';
import {
  PKTINFO_FILES, PKTINFO_VERSION, cacheText, infoText, statsJson, volumeJson, volumeText, wearJson, wearText, type PktinfoSnapshot,
} from '../../src/fuse/pktinfo-files';
import { memInfo } from './memvolume';

async function written(): Promise<PacketDevice> {
  // 2048-byte sectors, packets of 4 sectors; packet 2 written three times, packet 5 once.
  const dev = new PacketDevice(new MemoryDevice({ sectorSize: 2048, sectorCount: 64 }), { packetBytes: 8192, cacheBytes: 65536, flushDelayMs: Infinity });
  for (let i = 0; i < 3; i++) {
    await dev.write(8, Buffer.alloc(2048, i + 1));
    await dev.flush();
  }
  await dev.write(20, Buffer.alloc(8192, 9));
  await dev.flush();
  return dev;
}

function snapshot(dev: PacketDevice, readOnly: boolean): PktinfoSnapshot {
  const volume = memInfo({
    label: 'DISC', revision: '2.01', blockSize: 2048, totalBlocks: 1000, freeBlocks: 600, numFiles: 7, numDirs: 2,
    partitions: [{ ref: 0, kind: 'sparable', number: 0, start: 272, length: 1000, accessType: 'overwritable', packetLength: 32, sparingUsed: 1, sparingTotal: 1024 }],
    warnings: ['volume is marked open (not cleanly closed): mounted all the same'],
    integrity: 'open',
  });
  return {
    time: new Date('2025-01-02T03:04:05Z'),
    mount: { source: 'emu:cdrw:/x.img', readOnly, readOnlyReason: readOnly ? 'write-protected disc' : undefined, packetSource: 'medium', medium: 'CD-RW', mountedAt: new Date('2025-01-02T03:00:00Z') },
    volume,
    packet: dev.stats(),
  };
}

test('wear: the most written packets first, with their first sector, and the histogram', async () => {
  const dev = await written();
  const s = snapshot(dev, false);
  expect(wearJson(s, s.packet!)).toEqual({
    version: PKTINFO_VERSION, time: '2025-01-02T03:04:05.000Z', packetBytes: 8192, sectorsPerPacket: 4, sectorSize: 2048, packetCount: 16,
    packetsWritten: 2, packetRewrites: 2, rewritesWithinFlushDelay: 2, maxPacketWrites: 3,
    mostWritten: [{ packet: 2, writes: 3, firstSector: 8 }, { packet: 5, writes: 1, firstSector: 20 }],
    histogram: [{ min: 1, max: 1, packets: 1 }, { min: 2, max: 3, packets: 1 }],
  });
  const text = wearText(s.packet!);
  expect(text).toContain('\tpackets written:\t2 of 16\n\tpacket rewrites:\t2\n\trewrites within flush:\t2\n\tmost writes:\t\t3\n');
  expect(text).toContain('Most written (packet, writes, first sector):\n\t2\t3\t8\n\t5\t1\t20\n');
  expect(text).toContain('Histogram (writes, packets):\n\t1\t1\n\t2-3\t1\n');
});

test('stats.json carries every packet counter plus the mount facts; info has pktcdvd\'s sections and ours', async () => {
  const dev = await written();
  const s = snapshot(dev, false);
  const j = statsJson(s, s.packet!) as Record<string, unknown>;
  expect(j).toMatchObject({
    version: PKTINFO_VERSION, source: 'emu:cdrw:/x.img', readOnly: false, packetSource: 'medium', medium: 'CD-RW',
    packetsStarted: 4, packetsEnded: 4, bytesWritten: 3 * 2048 + 8192, bytesDeviceWritten: 4 * 8192, kbDeviceWritten: 32,
    // Only the first write-out gathers: the packet stays cached, whole, after it.
    bytesReadGather: 6144, queueSize: 0, flushDelayMs: null,
  });
  for (const k of Object.keys(s.packet!)) expect(j).toHaveProperty(k);
  const info = infoText(s, s.packet!);
  expect(info.split('\n')[0]).toBe(`Packet writer on ${s.packet!.device}:`);
  for (const line of ['\tpackets started:\t4', '\tpackets ended:\t\t4', '\tread gather:\t\t6kB', '\twritten:\t\t14kB', '\tmedium:\t\t\tCD-RW',
    '\tpacket size from:\tmedium', '\tmode:\t\t\tread-write', '\tpartitions:\t\tsparable', '\tintegrity:\t\topen', '\tfree blocks:\t\t600 of 1000']) {
    expect(info).toContain(line + '\n');
  }
  expect(cacheText(s.packet!)).toContain('\tcache size:\t\t64kB (8 packets)\n');
});

test('volume: the read-only reason only on a read-only mount; sparable details; warnings', async () => {
  const dev = await written();
  const rw = volumeJson(snapshot(dev, false)) as Record<string, unknown>;
  expect(rw).toMatchObject({ readOnly: false, readOnlyReason: null, usedBlocks: 400, freeBytes: 600 * 2048, integrity: 'open' });
  const ro = snapshot(dev, true);
  expect(volumeJson(ro)).toMatchObject({ readOnly: true, readOnlyReason: 'write-protected disc' });
  const text = volumeText(ro);
  expect(text).toContain('\t0:\t\t\tsparable (number 0, overwritable, blocks 272+1000, packets of 32 blocks, sparing 1/1024 used)\n');
  expect(text).toContain('\tmount:\t\t\tread-only: write-protected disc\n');
  expect(text).toContain('Warnings:\n\tvolume is marked open (not cleanly closed): mounted all the same\n');
});

test('every file renders from the same snapshot; the control file is empty; the version file is the version', async () => {
  const s = snapshot(await written(), true);
  for (const f of PKTINFO_FILES) {
    const out = f.render(s);
    if (f.control) expect(out).toBe('');
    else expect(out.endsWith('\n')).toBe(true);
    if (f.name.endsWith('.json')) expect(JSON.parse(out).version).toBe(PKTINFO_VERSION);
  }
  expect(PKTINFO_FILES.find((f) => f.name === 'version')!.render(s)).toBe(`${PKTINFO_VERSION}\n`);
});
