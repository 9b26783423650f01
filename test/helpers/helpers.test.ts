/**
 * The test helpers themselves: CRC and tag fix-up against real mkudffs images, the
 * parsers against real tool output, mkudffs's refusals as documented in images.ts,
 * and the udfclient name mapping against what 7zz reads.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { MKUDFFS_REFUSED, buildMatrixImage, udfclientPut, IDS } from './images';
import { crcItuT, fixTag, findTags, isValidTag, partitionExtent, TAG_FE, TAG_EFE, TAG_PD } from './tag';
import { makeTempDir, removeTempDir } from './tmp';
import { blkidProbe, parseBlkid, run, sevenZipList, udfinfo, unescapeBlkid } from './tools';
import { NON_ASCII_FILE, buildSourceTree, countTree, shapeOf, udfclientName, walkHost } from './tree';

const tmp = makeTempDir('helpers');
afterAll(() => removeTempDir(tmp));

describe('CRC-ITU-T and tags', () => {
  it('computes the CRC-16/XMODEM check value', () => {
    expect(crcItuT(Buffer.from('123456789'))).toBe(0x31c3);
  });

  it('finds valid tags in a mkudffs image and restores one after damage', () => {
    const img = path.join(tmp, 'tags.img');
    run('mkudffs', ['--media-type=hd', '--blocksize=2048', img, '4096']);
    const buf = fs.readFileSync(img);
    const pds = findTags(buf, 2048, TAG_PD);
    expect(pds.length).toBeGreaterThanOrEqual(2); // main and reserve sequence
    expect(partitionExtent(buf, 2048).length).toBeGreaterThan(0);
    const fes = [...findTags(buf, 2048, TAG_FE), ...findTags(buf, 2048, TAG_EFE)];
    expect(fes.length).toBeGreaterThan(0); // the root directory
    const off = fes[0] * 2048;
    buf[off + 40] ^= 0xff; // uid: inside the CRC'd area
    expect(isValidTag(buf, off)).toBe(false);
    fixTag(buf, off);
    expect(isValidTag(buf, off)).toBe(true);
  });
});

describe('parsers', () => {
  it('decodes blkid \\x escapes as UTF-8', () => {
    expect(unescapeBlkid('My\\x20volume\\x20label')).toBe('My volume label');
    expect(unescapeBlkid('\\xc3\\xbf')).toBe('ÿ');
    expect(unescapeBlkid('😀\\x20x')).toBe('😀 x'); // raw UTF-8 outside the escapes stays as it is
    expect(parseBlkid('ID_FS_LABEL_ENC=a\\x20b\nID_FS_UUID=12\n')).toEqual({ ID_FS_LABEL_ENC: 'a b', ID_FS_UUID: '12' });
  });

  it('reads udfinfo and blkid of a fresh image', () => {
    const img = path.join(tmp, 'info.img');
    run('mkudffs', ['--media-type=hd', '--blocksize=512', `--lvid=${IDS.lvid}`, `--uuid=${IDS.uuid}`, img, '8192']);
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info).toMatchObject({ blockSize: 512, numFiles: 0, numDirs: 1 });
    expect(info.usedBlocks + info.freeBlocks).toBeGreaterThan(7000);
    expect(blkidProbe(img)).toMatchObject({ ID_FS_LABEL_ENC: IDS.lvid, ID_FS_UUID: IDS.uuid, ID_FS_VERSION: '2.01' });
  });
});

describe('mkudffs 2.3 refusals', () => {
  it.each(MKUDFFS_REFUSED)('%s refuses %j', (media, revs, message) => {
    for (const rev of revs) {
      const img = path.join(tmp, `refused-${media}-${rev}.img`);
      const r = spawnSync('mkudffs', [`--media-type=${media}`, `--udfrev=${rev}`, img, '4096'], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('udfclient fill', () => {
  it('puts the whole tree on a plain image, names read by 7zz as 8-bit characters', async () => {
    const src = path.join(tmp, 'src');
    buildSourceTree(src, 100_000);
    const built = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 512 }, tmp, src);
    const host = walkHost(src, built.mapName);
    expect(host.map((e) => e.path)).toContain(`with space/${udfclientName(NON_ASCII_FILE)}`);
    expect(udfclientName('é')).toBe('Ã©');
    const seven = sevenZipList(built.path);
    expect(seven).not.toBeNull();
    expect(shapeOf(host)).toEqual(
      [...seven!].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    );
    expect(countTree(host)).toEqual({ files: udfinfo(built.path).numFiles, dirs: udfinfo(built.path).numDirs });
  });

  it('reports a failed fill instead of leaving a half-empty image', async () => {
    const img = path.join(tmp, 'small.img');
    run('mkudffs', ['--media-type=hd', '--blocksize=2048', `--uuid=${IDS.uuid}`, `--vsid=${IDS.vsid}`,
      `--vid=${IDS.vid}`, `--lvid=${IDS.lvid}`, `--fsid=${IDS.fsid}`, img, '2048']);
    const src = path.join(tmp, 'toobig');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(6 << 20));
    await expect(udfclientPut(img, 2048, src)).rejects.toThrow(/udfclient failed/);
  });
});
