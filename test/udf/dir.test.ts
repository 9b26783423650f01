/**
 * Directory parsing (ECMA-167 4/14.4): FIDs straddling block boundaries,
 * deleted, hidden and parent entries, damaged FIDs; symlink path components
 * (4/14.16); and a large directory written by udfclient at 512-byte blocks.
 */
import { join } from 'path';
import { mkdirSync, writeFileSync } from 'fs';
import { parseDirectory } from '../../src/udf/dir';
import { fid, FID_DELETED, FID_HIDDEN, FID_PARENT, FID_DIRECTORY } from '../../src/udf/codec/file';
import { finaliseTag, TAG_FID } from '../../src/udf/codec/tag';
import { encodeCs0 } from '../../src/udf/cs0';
import { decodePathComponents, pathComponentsToPosix } from '../../src/udf/symlink';
import { tempDir, removeDir, mkudffs, fillWithUdfclient, mount, HostTree } from './volume-util';

const BS = 512;
const BASE = 1000;

/** A directory stream of FIDs as a writer would lay them out over blocks BASE, BASE+1, ... */
function buildDir(entries: Array<{ name: string; chars?: number; block?: number }>): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (const e of entries) {
    const ident = e.chars !== undefined && e.chars & FID_PARENT ? new Uint8Array() : encodeCs0(e.name);
    const size = fid.sizeOf(0, ident.length);
    const b = Buffer.alloc(size);
    fid.encode({
      descTag: { tagIdent: TAG_FID, descVersion: 2, tagChecksum: 0, tagSerialNum: 0, descCRC: 0, descCRCLength: 0, tagLocation: 0 },
      fileVersionNum: 1,
      fileCharacteristics: e.chars ?? 0,
      lengthFileIdent: ident.length,
      icb: { extLength: BS, extLocation: { logicalBlockNum: e.block ?? 77, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) },
      lengthOfImpUse: 0,
      impUse: new Uint8Array(),
      fileIdent: ident,
    }, b, 0);
    finaliseTag(b, 0, { tagIdent: TAG_FID, descVersion: 2, tagSerialNum: 0, tagLocation: BASE + Math.floor(pos / BS), crcLength: size - 16 });
    parts.push(b);
    pos += size;
  }
  return Buffer.concat(parts);
}

const blockOf = (pos: number) => BASE + Math.floor(pos / BS);

describe('parseDirectory', () => {
  test('FIDs across block boundaries parse like the others', () => {
    const names = Array.from({ length: 40 }, (_, i) => `file number ${i} with a longer name`);
    const data = buildDir([{ name: '', chars: FID_PARENT | FID_DIRECTORY }, ...names.map((name, i) => ({ name, block: 100 + i }))]);
    expect(data.length).toBeGreaterThan(4 * BS);
    const out = parseDirectory(data, blockOf, { what: 'test dir' });
    expect(out[0]).toMatchObject({ name: '..', isParent: true });
    expect(out.slice(1).map((e) => e.name)).toEqual(names);
    expect(out.slice(1).map((e) => e.icb.logicalBlockNum)).toEqual(names.map((_, i) => 100 + i));
  });

  test('deleted entries are skipped, hidden ones shown only with unhide', () => {
    const data = buildDir([
      { name: 'shown' }, { name: 'gone', chars: FID_DELETED }, { name: 'secret', chars: FID_HIDDEN }, { name: 'sub', chars: FID_DIRECTORY },
    ]);
    expect(parseDirectory(data, blockOf, { what: 'd' }).map((e) => e.name)).toEqual(['shown', 'sub']);
    expect(parseDirectory(data, blockOf, { what: 'd', unhide: true }).map((e) => e.name)).toEqual(['shown', 'secret', 'sub']);
    expect(parseDirectory(data, blockOf, { what: 'd' })[1].isDirectory).toBe(true);
  });

  test('a FID with a bad CRC fails the directory with EIO naming the place', () => {
    const data = buildDir([{ name: 'a' }, { name: 'b' }]);
    data[data.length - 3] ^= 1;
    expect(() => parseDirectory(data, blockOf, { what: 'dir 9' })).toThrow(/dir 9 FID at byte \d+: bad descriptor CRC/);
  });

  test('a FID whose tag names another block is refused', () => {
    const data = buildDir([{ name: 'a' }]);
    expect(() => parseDirectory(data, () => BASE + 5, { what: 'd' })).toThrow(/tag location/);
  });

  test('zero padding after the last FID ends the directory', () => {
    const data = Buffer.concat([buildDir([{ name: 'a' }]), Buffer.alloc(200)]);
    expect(parseDirectory(data, blockOf, { what: 'd' }).map((e) => e.name)).toEqual(['a']);
  });
});

describe('symlink path components (4/14.16)', () => {
  const pc = (type: number, ident = '') => {
    const id = ident ? Buffer.from(encodeCs0(ident)) : Buffer.alloc(0);
    return Buffer.concat([Buffer.from([type, id.length, 0, 0]), id]);
  };
  test('root, parent, current and names', () => {
    const data = Buffer.concat([pc(2), pc(5, 'usr'), pc(3), pc(4), pc(5, 'bin')]);
    expect(pathComponentsToPosix(decodePathComponents(data))).toBe('/usr/.././bin');
  });
  test('relative paths and names needing translation', () => {
    expect(pathComponentsToPosix(decodePathComponents(Buffer.concat([pc(5, 'a'), pc(5, 'b c')])))).toBe('a/b c');
    expect(pathComponentsToPosix(decodePathComponents(Buffer.concat([pc(5, 'x/y')])))).toMatch(/^x_y#[0-9A-F]{4}$/);
  });
  test('a component cut short is EIO', () => {
    expect(() => decodePathComponents(Buffer.from([5, 10, 0, 0, 0x08, 0x41]))).toThrow(/runs past/);
  });
});

describe('a large directory from udfclient at 512-byte blocks', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => removeDir(dir));

  test('every entry is listed and readable', async () => {
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 60; i++) files.set(`entry ${String(i).padStart(3, '0')} of a directory spanning blocks`, Buffer.from(`content ${i}\n`));
    const tree: HostTree = { dir: join(dir, 'tree'), files, dirs: [] };
    mkdirSync(tree.dir, { recursive: true });
    for (const [n, b] of files) writeFileSync(join(tree.dir, n), b);
    const img = join(dir, 'bigdir.img');
    mkudffs(img, ['--media-type=hd', '--blocksize=512'], 120000);
    fillWithUdfclient(img, 512, tree);
    const { vol, dev } = await mount(img);
    const root = await vol.getattr(vol.rootIno);
    expect(root.size).toBeGreaterThan(4 * 512);
    const entries = await vol.readdir(vol.rootIno);
    expect(entries.map((e) => e.name).sort()).toEqual([...files.keys()].sort());
    for (const e of entries) expect((await vol.read(e.ino, 0, 100)).equals(files.get(e.name)!)).toBe(true);
    await dev.close();
  });
});
