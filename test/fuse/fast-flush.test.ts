/**
 * flush (every close(2) of a file) answered by the binding itself while no write error waits
 * to be reported (issue 6: one round trip to pktfs less per file in cp -a and tar x). The other
 * half, that a write failing in the background still reaches close(2), is
 * test/crash/fuse-fail.test.ts ("reported at close(2)").
 */
import { promises as fsp } from 'fs';
import fs from 'fs';
import path from 'path';
import { openStack, closeStack, type Stack } from '../../bin/stack';
import { bindingFastFlush } from '../../src/fuse/fuse';
import { PktfsMount } from '../../src/fuse/mount';
import { parseMountOptions } from '../../src/options';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { haveTools } from '../helpers/tools';
import { removeDir, tempDir } from './helpers';

const TOOLS = haveTools('mkudffs', 'udfclient');
const maybe = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs or udfclient missing', () => undefined);

let dir: string;
let image: BuiltImage;
let stack: Stack | undefined;
let mount: PktfsMount | undefined;
let mnt: string;
/** Flush requests that reached pktfs's flush op (through the volume's writeError). */
let asked = 0;

beforeAll(async () => {
  dir = tempDir('fast-flush');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'a\n');
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, src);
}, 120000);

afterAll(async () => {
  await mount?.unmount().catch(() => undefined);
  if (stack) await closeStack(stack).catch(() => undefined);
  if (dir) await removeDir(dir);
});

test('the binding in node_modules can answer flush (scripts/patch-native.sh)', () => {
  expect(bindingFastFlush).toBe(true);
});

maybe('a writable mount', () => {
  beforeAll(async () => {
    stack = await openStack(image.path, { ...parseMountOptions([]), readOnly: false });
    const vol = stack.volume as unknown as { writeError(): Error | undefined };
    const writeError = vol.writeError.bind(vol);
    vol.writeError = () => (asked++, writeError());
    mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt);
    // A write answered before it ran sends the close right after it to pktfs, which waits for
    // it (write-behind.ts; test/fuse/write-behind.test.ts): here every write is answered after it.
    mount = await PktfsMount.mount(stack.volume, mnt, {
      source: image.path, readOnly: false, pollMs: 200, writeBehind: false,
      pktinfo: { mode: 'hidden', packets: stack.packets, mount: { source: image.path, ...stack.facts } },
    });
  });

  test('closing written files does not ask pktfs while nothing failed; stats.json counts them', async () => {
    const flushes = async (): Promise<number> => JSON.parse(await fsp.readFile(path.join(mnt, '.pktinfo/stats.json'), 'utf8')).fastFlushes;
    const before = await flushes();
    const askedBefore = asked;
    for (let i = 0; i < 20; i++) await fsp.writeFile(path.join(mnt, `f${i}`), `file ${i}\n`);
    expect(await flushes()).toBeGreaterThanOrEqual(before + 20);
    expect(asked).toBe(askedBefore);
    for (let i = 0; i < 20; i++) expect(await fsp.readFile(path.join(mnt, `f${i}`), 'utf8')).toBe(`file ${i}\n`);
  });
});
