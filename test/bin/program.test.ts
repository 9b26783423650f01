/**
 * The argv design of bin/pktfs.ts: subcommands added later (`pktfs info X`) take the
 * first word, and `pktfs [-o OPTS] SOURCE MOUNTPOINT` still reaches the mount action.
 */
import { absoluteSource, buildProgram } from '../../bin/pktfs';

afterEach(() => {
  process.exitCode = undefined;
});

test('a subcommand added to the program gets its word; the mount form still parses', async () => {
  const program = buildProgram();
  const example = jest.fn(); // a made-up word: `info` is a real subcommand now (bin/info.ts)
  program.command('example <source>').action(example);
  await program.parseAsync(['node', 'pktfs', 'example', '/dev/sr0']);
  expect(example).toHaveBeenCalledWith('/dev/sr0', expect.anything(), expect.anything());

  // The mount action runs (and refuses the option before touching anything): status 1.
  const written: string[] = [];
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => written.push(String(s)) > 0);
  try {
    await buildProgram().parseAsync(['node', 'pktfs', '-o', 'bogus', 'img', '/nonexistent-mnt']);
  } finally {
    stderr.mockRestore();
  }
  expect(process.exitCode).toBe(1);
  expect(written).toEqual(['pktfs: unknown mount option "bogus" (pktfs --help lists them)\n']);
});

test('SOURCE paths are made absolute for the background process, emu: ones inside', () => {
  const cwd = process.cwd();
  expect(absoluteSource('disc.img')).toBe(`${cwd}/disc.img`);
  expect(absoluteSource('/dev/sr0')).toBe('/dev/sr0');
  expect(absoluteSource('emu:cdrw:d.img,size=64m,log=drive.log')).toBe(`emu:cdrw:${cwd}/d.img,size=64m,log=${cwd}/drive.log`);
  expect(absoluteSource('emu:bdr:/abs/x.img')).toBe('emu:bdr:/abs/x.img');
});
