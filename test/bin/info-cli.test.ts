/**
 * `pktfs info` as a user runs it: the built dist/bin/pktfs.js (test/globalSetup.ts
 * builds it), its help, its exit statuses and its JSON on stdout.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { haveTools } from '../helpers/tools';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { assertBuilt, oneLine, pktfs } from './cli-helpers';

let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = makeTempDir('info-cli');
});
afterAll(() => removeTempDir(dir));

test('pktfs info --help: usage, --json, exit statuses; status 0', async () => {
  const r = await pktfs(['info', '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Usage: pktfs info \[options\] <source>\n/);
  expect(r.stdout).toMatch(/--json .*pktfs-info\/1/);
  expect(r.stdout).toMatch(/Exit status:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 /);
  const top = await pktfs(['--help']);
  expect(top.stdout).toMatch(/\n {2}info \[options\] <source> +Show the drive/);
});

test('pktfs info without SOURCE, or with an unknown option: status 1', async () => {
  const r = await pktfs(['info']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/missing required argument 'source'/);
  expect((await pktfs(['info', '--bogus', 'x'])).code).toBe(1);
});

test('a SOURCE that does not exist: one line, status 2', async () => {
  const r = await pktfs(['info', '/nonexistent/x.img']);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(oneLine(r)).toBe('pktfs: /nonexistent/x.img: no such file or device');
});

(haveTools('mkudffs') ? test : test.skip)('--json prints one JSON object that parses', async () => {
  const img = path.join(dir, 'cd.img');
  execFileSync('mkudffs', ['--media-type=cdrw', '--lvid=cli label', img, '4096'], { stdio: 'pipe' });
  const r = await pktfs(['info', '--json', img]);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  const j = JSON.parse(r.stdout) as { format: string; volume: { label: string; partitions: { kind: string }[] } };
  expect(j.format).toBe('pktfs-info/1');
  expect(j.volume.label).toBe('cli label');
  expect(j.volume.partitions[0].kind).toBe('sparable');
});
