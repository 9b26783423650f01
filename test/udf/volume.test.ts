/**
 * openVolume end to end on images made by mkudffs and filled by udfclient:
 * every file's bytes and every listing match the host tree; the counts and
 * space match udfinfo; attributes, sessions and the blkid identifiers of the
 * other writers' images are right.
 */
import { join } from 'path';
import { S_IFMT, S_IFDIR, S_IFREG } from '../../src/udf/attr';
import { FsError } from '../../src/errors';
import {
  tempDir, removeDir, makeHostTree, fillWithUdfclient, mkudffs, mount, resolve, udfinfo,
  fixture, fixtureExpected, HostTree,
} from './volume-util';
import type { Volume } from '../../src/udf';

let dir: string;
let tree: HostTree;

beforeAll(() => {
  dir = tempDir();
  tree = makeHostTree(dir);
});
afterAll(() => removeDir(dir));

async function listTree(vol: Volume, ino: number, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await vol.readdir(ino)) {
    const a = await vol.getattr(e.ino);
    const p = prefix + e.name;
    out.push(p);
    if ((a.mode & S_IFMT) === S_IFDIR) out.push(...(await listTree(vol, await vol.lookup(ino, e.name), `${p}/`)));
  }
  return out;
}

const layouts: Array<[string, string[], number, number]> = [
  ['hd 2048', ['--media-type=hd', '--blocksize=2048'], 2048, 30000],
  ['hd 512 udf 1.02', ['--media-type=hd', '--blocksize=512', '--udfrev=1.02'], 512, 120000],
  ['hd 4096 udf 2.00 long ADs', ['--media-type=hd', '--blocksize=4096', '--udfrev=2.00', '--ad=long'], 4096, 30000],
  ['cdrw sparable 1.50', ['--media-type=cdrw', '--udfrev=1.50'], 2048, 30000],
  ['hd 1024 strategy 4096', ['--media-type=hd', '--blocksize=1024', '--strategy=4096'], 1024, 60000],
];

describe.each(layouts)('%s filled by udfclient', (_name, args, bs, blocks) => {
  let img: string;
  let vol: Volume;
  beforeAll(async () => {
    img = join(dir, `${_name.replace(/\W+/g, '_')}.img`);
    mkudffs(img, args, blocks);
    fillWithUdfclient(img, bs, tree);
    vol = (await mount(img)).vol;
  });

  test('lists exactly the host tree', async () => {
    const expected = [...tree.files.keys(), ...tree.dirs].sort();
    expect((await listTree(vol, vol.rootIno)).sort()).toEqual(expected);
  });

  test('reads every file byte for byte, whole and in pieces', async () => {
    for (const [p, content] of tree.files) {
      const ino = await resolve(vol, p);
      const a = await vol.getattr(ino);
      expect(a.mode & S_IFMT).toBe(S_IFREG);
      expect(a.size).toBe(content.length);
      expect((await vol.read(ino, 0, content.length + 100)).equals(content)).toBe(true);
      if (content.length > 5000) {
        const off = 4093;
        expect((await vol.read(ino, off, 70001)).equals(content.subarray(off, off + 70001))).toBe(true);
        expect((await vol.read(ino, content.length - 3, 10)).equals(content.subarray(content.length - 3))).toBe(true);
      }
      expect((await vol.read(ino, content.length, 10)).length).toBe(0);
    }
  });

  test('counts and space agree with udfinfo', () => {
    const u = udfinfo(img);
    expect(vol.info.blockSize).toBe(Number(u.get('blocksize')));
    expect(vol.info.numFiles).toBe(Number(u.get('numfiles')));
    expect(vol.info.numDirs).toBe(Number(u.get('numdirs')));
    expect(vol.info.freeBlocks).toBe(Number(u.get('freeblocks')));
    expect(vol.info.totalBlocks).toBe(Number(u.get('usedblocks')) + Number(u.get('freeblocks')));
    expect(vol.info.label).toBe(u.get('lvid'));
    expect(vol.info.uuid).toBe(u.get('uuid'));
    expect(vol.info.integrity).toBe(u.get('integrity'));
    expect(vol.info.warnings).toEqual([]);
  });

  test('lookup errors: ENOENT for a missing name, ENOTDIR on a file', async () => {
    await expect(vol.lookup(vol.rootIno, 'nope')).rejects.toMatchObject({ errno: 'ENOENT' });
    const f = await resolve(vol, 'one');
    await expect(vol.lookup(f, 'x')).rejects.toBeInstanceOf(FsError);
    await expect(vol.lookup(f, 'x')).rejects.toMatchObject({ errno: 'ENOTDIR' });
    await expect(vol.read(vol.rootIno, 0, 1)).rejects.toMatchObject({ errno: 'EISDIR' });
  });
});

describe('attributes', () => {
  let vol: Volume;
  beforeAll(async () => {
    const img = join(dir, 'attr.img');
    mkudffs(img, ['--media-type=hd', '--blocksize=2048'], 30000);
    fillWithUdfclient(img, 2048, tree);
    vol = (await mount(img, { uid: 4242, gid: 4343, umask: 0o027 })).vol;
  });

  test('uid/gid -1 on the disc become the mount options, umask applies, times are recent', async () => {
    // mkudffs records the root directory with owner -1 (UDF 3.3.3.1); udfclient records its own uid.
    const root = await vol.getattr(vol.rootIno);
    expect(root.uid).toBe(4242);
    expect(root.gid).toBe(4343);
    expect(root.mode & S_IFMT).toBe(S_IFDIR);
    expect(root.ino).toBe(vol.rootIno);
    const a = await vol.getattr(await resolve(vol, 'one'));
    expect(a.uid).toBe(process.getuid!());
    expect(a.mode & 0o027).toBe(0);
    expect(a.mode & 0o600).toBe(0o600);
    expect(Math.abs(a.mtime.getTime() - Date.now())).toBeLessThan(3600e3);
  });

  test('inode numbers are stable and unique', async () => {
    const a = await resolve(vol, 'sub/deeper/rand');
    expect(await resolve(vol, 'sub/deeper/rand')).toBe(a);
    const all = new Set((await vol.readdir(vol.rootIno)).map((e) => e.ino));
    expect(all.size).toBe((await vol.readdir(vol.rootIno)).length);
  });
});

describe('write-once (VAT) images from mkudffs', () => {
  test.each([
    ['cdr 1.50 (UDF 1.50 VAT)', ['--media-type=cdr', '--udfrev=1.50']],
    ['cdr 2.01', ['--media-type=cdr']],
    ['bdr 2.50', ['--media-type=bdr']],
  ])('%s mounts through the VAT and agrees with udfinfo', async (name, args) => {
    const img = join(dir, `${name.replace(/\W+/g, '_')}.img`);
    mkudffs(img, args as string[], 4000);
    const { vol } = await mount(img);
    expect(vol.info.partitions.map((p) => p.kind)).toEqual(['physical', 'virtual']);
    expect(await vol.readdir(vol.rootIno)).toEqual([]);
    const u = udfinfo(img);
    expect(vol.info.numDirs).toBe(Number(u.get('numdirs')));
    expect(vol.info.freeBlocks).toBe(Number(u.get('freeblocks')));
    expect(vol.info.revision).toBe(u.get('udfrev'));
    expect(vol.info.readOnlyReason).toBeDefined();
  });
});

describe('not UDF', () => {
  test('an image of zeros gives ENODEV', async () => {
    const img = join(dir, 'zero.img');
    require('fs').writeFileSync(img, Buffer.alloc(1 << 20));
    await expect(mount(img)).rejects.toMatchObject({ errno: 'ENODEV' });
  });
});

/** blkid escapes bytes as \xNN in its *_ENC values. */
function unescapeBlkid(s: string): string {
  const parts = s.split(/(\\x[0-9a-fA-F]{2})/);
  return Buffer.concat(parts.map((p) => (/^\\x/.test(p) ? Buffer.from([parseInt(p.slice(2), 16)]) : Buffer.from(p, 'utf8')))).toString('utf8');
}

describe('images by other writers: identifiers as blkid reads them', () => {
  const names = [
    'udf-bdr-2.60-nero', 'udf-cd-mkudfiso-20100208', 'udf-cd-nero-6', 'udf-hdd-macosx-2.60-4096',
    'udf-hdd-mkudffs-1.0.0-1', 'udf-hdd-mkudffs-1.0.0-2', 'udf-hdd-mkudffs-1.3-3', 'udf-hdd-mkudffs-1.3-4',
    'udf-hdd-mkudffs-1.3-5', 'udf-hdd-mkudffs-1.3-8', 'udf-hdd-mkudffs-2.2', 'udf-hdd-udfclient-0.7.5',
    'udf-hdd-win7',
  ];
  test.each(names)('%s', async (name) => {
    const img = fixture(name, dir);
    if (!img) {
      console.log(`skipped: ../shared/fixtures/udf/${name}.img.xz not present`);
      return;
    }
    const exp = fixtureExpected(name);
    const { vol, dev } = await mount(img);
    const get = (k: string) => unescapeBlkid(exp.get(k) ?? '');
    expect(vol.info.label).toBe(get('ID_FS_LABEL_ENC'));
    expect(vol.info.uuid).toBe(exp.get('ID_FS_UUID') ?? '');
    expect(vol.info.revision).toBe(exp.get('ID_FS_VERSION'));
    expect(vol.info.blockSize).toBe(Number(exp.get('ID_FS_BLOCK_SIZE')));
    expect(vol.info.volumeId).toBe(get('ID_FS_VOLUME_ID'));
    expect(vol.info.volumeSetId).toBe(get('ID_FS_VOLUME_SET_ID'));
    expect(vol.info.applicationId).toBe(get('ID_FS_APPLICATION_ID'));
    expect(vol.info.publisherId).toBe(get('ID_FS_PUBLISHER_ID'));
    expect(vol.info.warnings).toEqual([]);
    const u = udfinfo(img);
    expect(vol.info.numFiles).toBe(Number(u.get('numfiles')));
    expect(vol.info.numDirs).toBe(Number(u.get('numdirs')));
    expect(vol.info.freeBlocks).toBe(Number(u.get('freeblocks')));
    await vol.readdir(vol.rootIno);
    await dev.close();
  });
});

describe('multi-session images', () => {
  test.each([
    ['udf-multi-0-320-640-mkudffs', ['0', '320', '640']],
    ['udf-multi-0-417-834-genisoimage', ['0', '417', '834']],
  ])('%s: last session by default, any with session=N', async (name, starts) => {
    const img = fixture(name, dir);
    if (!img) {
      console.log(`skipped: ../shared/fixtures/udf/${name}.img.xz not present`);
      return;
    }
    const prefix = name.replace(/-\d+-\d+-\d+/, '');
    const last = await mount(img);
    expect(last.vol.info.sessions).toBe(3);
    expect(last.vol.info.session).toBe(3);
    expect(last.vol.info.label).toBe('third session');
    await last.dev.close();
    for (let i = 0; i < starts.length; i++) {
      const exp = fixtureExpected(`${prefix}-${starts[i]}`);
      const { vol, dev } = await mount(img, { session: i + 1 });
      expect(vol.info.session).toBe(i + 1);
      expect(vol.info.label).toBe(unescapeBlkid(exp.get('ID_FS_LABEL_ENC')!));
      expect(vol.info.uuid).toBe(exp.get('ID_FS_UUID'));
      await vol.readdir(vol.rootIno);
      await dev.close();
    }
    await expect(mount(img, { session: 4 })).rejects.toMatchObject({ errno: 'EINVAL' });
  });
});
