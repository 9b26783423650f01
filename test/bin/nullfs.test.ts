/**
 * bench/nullfs.ts, the binding's ceiling in the bench's rows: it must take what `cp -a` and
 * `tar x` of a real tree send (directories, files, symbolic links) and keep the names, or the
 * bench's nullfs rows time a copy that failed half way.
 */
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import path from 'path';
import { haveTools } from '../helpers/tools';
import { forceUnmountUnder, removeDir, run, tempDir, waitFor } from '../fuse/helpers';
import { assertBuilt, isMounted } from './cli-helpers';

const NULLFS = path.join(__dirname, '../../dist/bench/nullfs.js');
const describeIf = haveTools('tar') ? describe : describe.skip;
if (!haveTools('tar')) test('skipped: tar missing', () => undefined);

describeIf('nullfs (bench/nullfs.ts)', () => {
  let tmp: string;
  let mnt: string;
  let server: ChildProcess;

  beforeAll(async () => {
    assertBuilt();
    tmp = tempDir('nullfs');
    mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    server = spawn(process.execPath, [NULLFS, mnt], { stdio: 'ignore' });
    await waitFor(() => isMounted(mnt), 20000, 'nullfs mounted');
  });

  afterAll(async () => {
    if (isMounted(mnt)) await run('fusermount', ['-u', mnt]);
    await new Promise<void>((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', () => resolve())));
    await forceUnmountUnder(tmp);
    await removeDir(tmp);
  });

  test('cp -a and tar x of a tree with symbolic links succeed, and the names are kept', async () => {
    const src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'a/b'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a/b/file'), 'data');
    fs.symlinkSync('b/file', path.join(src, 'a/link'));
    const cp = await run('cp', ['-a', src, path.join(mnt, 't')]);
    expect(cp.stderr).toBe('');
    expect(cp.code).toBe(0);
    expect(fs.readlinkSync(path.join(mnt, 't/a/link'))).toBe('b/file');
    expect(fs.lstatSync(path.join(mnt, 't/a/link')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(path.join(mnt, 't/a/b/file')).isFile()).toBe(true);

    const tarball = path.join(tmp, 'src.tar');
    expect((await run('tar', ['cf', tarball, '-C', tmp, 'src'])).code).toBe(0);
    fs.mkdirSync(path.join(mnt, 'x'));
    const tar = await run('tar', ['xf', tarball, '-C', path.join(mnt, 'x')]);
    expect(tar.stderr).toBe('');
    expect(tar.code).toBe(0);
    expect(fs.readlinkSync(path.join(mnt, 'x/src/a/link'))).toBe('b/file');

    expect((await run('rm', ['-rf', path.join(mnt, 't'), path.join(mnt, 'x')])).code).toBe(0);
    expect(fs.existsSync(path.join(mnt, 't/a/link'))).toBe(false);
  });
});
