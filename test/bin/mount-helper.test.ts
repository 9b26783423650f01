/**
 * mount.pktfs as mount(8) runs it: installed with scripts/install-mount-helper.sh as
 * /usr/sbin/mount.pktfs (removed again afterwards), then `mount -t pktfs` and an fstab
 * line (through `mount -T`, so the real /etc/fstab is never touched).
 */
import fs from 'fs';
import path from 'path';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { buildSourceTree } from '../helpers/tree';
import { readMountinfo } from '../../src/fuse/mountinfo';
import { removeDir, run, tempDir } from '../fuse/helpers';
import { udfinfo } from '../helpers/tools';
import { MOUNT_HELPER, assertBuilt, isMounted, oneLine, servingPid, waitGone } from './cli-helpers';

const ROOT = path.resolve(__dirname, '../..');
const INSTALL = path.join(ROOT, 'scripts/install-mount-helper.sh');
const HELPER = '/usr/sbin/mount.pktfs';
const asRoot = process.getuid?.() === 0;

let dir: string;
let image: BuiltImage;
let installed = false;

beforeAll(async () => {
  assertBuilt();
  dir = tempDir('helper');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'hello.txt'), 'hello from mount -t pktfs\n');
  fs.writeFileSync(path.join(src, 'sub', 'x'), 'x');
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 512 }, dir, src);
  if (asRoot && !fs.existsSync(HELPER)) {
    const r = await run('bash', [INSTALL]);
    if (r.code !== 0) throw new Error(`install-mount-helper: ${r.stderr}`);
    installed = true;
  }
}, 120000);

afterAll(async () => {
  if (installed) await run('bash', [INSTALL, '--uninstall']);
  if (dir) await removeDir(dir);
});

async function expectServedThenUmount(mnt: string): Promise<void> {
  expect(isMounted(mnt)).toBe(true);
  expect(fs.readFileSync(path.join(mnt, 'hello.txt'), 'utf8')).toBe('hello from mount -t pktfs\n');
  const pid = servingPid(mnt)!;
  expect(pid).toBeGreaterThan(0);
  const r = await run('umount', [mnt]);
  expect(r.code).toBe(0);
  await waitGone(pid);
}

const rootOnly = asRoot ? test : test.skip;

rootOnly('the install script writes a wrapper that runs dist/bin/mount.pktfs.js', () => {
  const text = fs.readFileSync(HELPER, 'utf8');
  expect(text).toContain(MOUNT_HELPER);
  expect(fs.statSync(HELPER).mode & 0o111).toBe(0o111);
});

rootOnly('mount -t pktfs SOURCE DIR -o ro', async () => {
  const mnt = path.join(dir, 'm1');
  fs.mkdirSync(mnt);
  const r = await run('mount', ['-t', 'pktfs', image.path, mnt, '-o', 'ro']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const e = (await readMountinfo()).find((m) => m.mountPoint === mnt)!;
  expect(e).toMatchObject({ fsType: 'fuse.pktfs', source: image.path });
  expect(e.mountOptions).toContain('ro');
  await expectServedThenUmount(mnt);
});

rootOnly('an fstab line rw,noatime,noauto,user mounts read-write', async () => {
  const mnt = path.join(dir, 'm2');
  fs.mkdirSync(mnt);
  const fstab = path.join(dir, 'fstab');
  fs.writeFileSync(fstab, `${image.path} ${mnt} pktfs rw,noatime,noauto,user 0 0\n`);
  const r = await run('mount', ['-T', fstab, mnt]);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const e = (await readMountinfo()).find((x) => x.mountPoint === mnt)!;
  expect(e.mountOptions).toContain('rw');
  fs.writeFileSync(path.join(mnt, 'written-through-fstab'), 'hello');
  await expectServedThenUmount(mnt);
  expect(udfinfo(image.path).fields.integrity).toBe('closed');
});

test('called directly: fstab options are tolerated, failures keep pktfs\'s statuses', async () => {
  const mnt = path.join(dir, 'm3');
  fs.mkdirSync(mnt);
  let r = await run(process.execPath, [MOUNT_HELPER, image.path, mnt, '-o', 'ro,noatime,noauto,users,nofail,_netdev,defaults']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  await expectServedThenUmount(mnt);

  r = await run(process.execPath, [MOUNT_HELPER, image.path, mnt, '-o', 'ro,relatime']);
  expect(r.code).toBe(1);
  expect(oneLine(r)).toMatch(/relatime is not supported/);

  r = await run(process.execPath, [MOUNT_HELPER, path.join(dir, 'none.img'), mnt]);
  expect(r.code).toBe(32);
  expect(oneLine(r)).toMatch(/no such file or device/);

  r = await run(process.execPath, [MOUNT_HELPER, image.path]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('usage: mount.pktfs');
});
