/**
 * Mount option parsing (src/options.ts) and mount.pktfs's reading of mount(8)'s
 * helper arguments, without mounting anything.
 */
import { OptionError, parseMountOptions, splitOptions, optionsHelp, MOUNT_OPTIONS } from '../../src/options';
import { parseHelperArgs } from '../../bin/mount.pktfs';

describe('parseMountOptions', () => {
  test('defaults: read-write (where the volume allows), nothing else', () => {
    expect(parseMountOptions([])).toEqual({
      readOnly: false, udf: {}, allowOther: false, debug: false, nonempty: false, vfsFlags: [], notices: [], packet: {}, pktinfo: 'hidden',
    });
  });

  test('every value option lands where the layers below read it', () => {
    const o = parseMountOptions(splitOptions(['uid=1000,gid=100', 'umask=022,bs=4096,session=2', 'anchor=512,lastblock=99,unhide']));
    expect(o.udf).toEqual({ uid: 1000, gid: 100, umask: 0o22, blockSize: 4096, session: 2, anchor: 512, lastBlock: 99, unhide: true });
  });

  test('packet=, cache=, flush=, pktinfo= land in the packet options and the .pktinfo mode', () => {
    expect(parseMountOptions(['packet=32', 'cache=64M', 'flush=250', 'pktinfo=visible'])).toMatchObject({
      packet: { sectors: 32, cacheBytes: 64 << 20, flushDelayMs: 250 }, pktinfo: 'visible',
    });
    expect(parseMountOptions(['flush=off', 'pktinfo=off', 'cache=512K']).packet).toEqual({ flushDelayMs: Infinity, cacheBytes: 512 << 10 });
    expect(parseMountOptions(['cache=1G', 'flush=0']).packet).toEqual({ cacheBytes: 1 << 30, flushDelayMs: 0 });
    expect(parseMountOptions(['cache=1048576', 'packet=1']).packet).toEqual({ cacheBytes: 1 << 20, sectors: 1 });
    expect(parseMountOptions(['cache=16MiB']).packet.cacheBytes).toBe(16 << 20);
  });

  test('flags', () => {
    const o = parseMountOptions(['ro', 'allow_other', 'debug', 'noatime', 'nonempty', 'nosuid', 'nodev', 'noexec']);
    expect(o).toMatchObject({ readOnly: true, allowOther: true, debug: true, nonempty: true, vfsFlags: ['nosuid', 'nodev', 'noexec'], notices: [] });
  });

  test('ro and rw: the last one wins; force lets a volume left open be written', () => {
    expect(parseMountOptions(['rw'])).toMatchObject({ readOnly: false, notices: [] });
    expect(parseMountOptions(['ro'])).toMatchObject({ readOnly: true });
    expect(parseMountOptions(['ro', 'rw'])).toMatchObject({ readOnly: false });
    expect(parseMountOptions(['force']).udf).toEqual({ allowOpen: true });
  });

  test('flush= sets both the packet write-back and the volume\'s idle settle', () => {
    expect(parseMountOptions(['flush=250'])).toMatchObject({ packet: { flushDelayMs: 250 }, udf: { idleSettleMs: 250 } });
    expect(parseMountOptions(['flush=off'])).toMatchObject({ packet: { flushDelayMs: Infinity }, udf: { idleSettleMs: Infinity } });
  });

  test.each([
    ['relatime', /relatime is not supported/],
    ['strictatime', /strictatime is not supported/],
    ['atime', /atime is not supported/],
    ['bogus', /unknown mount option "bogus"/],
    ['constructor', /unknown mount option "constructor"/],
    ['uid', /uid needs a value/],
    ['uid=', /uid needs a value/],
    ['uid=-1', /must be a whole number/],
    ['gid=1.5', /must be a whole number/],
    ['umask=8', /must be an octal number from 0 to 777/],
    ['umask=1000', /must be an octal number/],
    ['bs=1536', /must be 512, 1024, 2048 or 4096/],
    ['bs=8192', /must be a whole number from 512 to 4096/],
    ['session=0', /session=0: must be a whole number from 1/],
    ['allow_other=1', /takes no value/],
    ['packet=0', /packet=0: must be a whole number from 1 to 128/],
    ['packet=129', /packet=129: must be a whole number from 1 to 128/],
    ['packet=16k', /must be a whole number/],
    ['cache=32K', /cache=32K: must be a size from 64K to 16G, such as 16M or 512K/],
    ['cache=17G', /must be a size from 64K to 16G/],
    ['cache=lots', /must be a size/],
    ['cache=1.5M', /must be a size/],
    ['flush=-1', /flush=-1: must be a whole number from 0 to 86400000/],
    ['flush=never', /must be a whole number/],
    ['pktinfo=shown', /pktinfo=shown: must be hidden, visible or off/],
    ['pktinfo', /pktinfo needs a value/],
    ['packet=64,cache=64K', /cache=64K: holds fewer than two packets of 128K; give at least cache=256K/],
  ])('%s is refused', (word, message) => {
    expect(() => parseMountOptions(splitOptions([word]))).toThrow(OptionError);
    expect(() => parseMountOptions(splitOptions([word]))).toThrow(message);
  });

  test('the help text explains every visible option', () => {
    const help = optionsHelp();
    for (const [name, spec] of Object.entries(MOUNT_OPTIONS)) {
      if (spec.help) expect(help).toMatch(new RegExp(`^  ${name}(=${(spec.value ?? 'N').replace(/[|]/g, '\\|')})? +${spec.help.slice(0, 10).replace(/[()]/g, '.')}`, 'm'));
    }
    for (const o of ['packet=N', 'cache=SIZE', 'flush=MS', 'pktinfo=MODE']) expect(help).toContain(`  ${o} `);
  });
});

describe('mount.pktfs arguments', () => {
  test('mount(8)\'s calling convention, fstab options stripped', () => {
    expect(parseHelperArgs(['/dev/sr0', '/mnt/disc', '-o', 'rw,noatime,noauto,user,users,nofail,_netdev,defaults,x-systemd.automount,comment=x,auto'])).toEqual({
      source: '/dev/sr0', dir: '/mnt/disc', words: ['rw', 'noatime'], sloppy: false, fake: false, verbose: false,
    });
  });

  test('flags before and after the operands, -oOPTS, -t and -N skipped', () => {
    expect(parseHelperArgs(['-nv', 'img', '-t', 'pktfs', 'dir', '-oro', '-N', '/proc/1/ns/mnt', '-o', 'uid=1'])).toMatchObject({
      source: 'img', dir: 'dir', words: ['ro', 'uid=1'], verbose: true, fake: false,
    });
  });

  test('-s drops unknown options, -f fakes, -r asks for ro', () => {
    expect(parseHelperArgs(['-sf', 'img', 'dir', '-o', 'weird,ro,other=1'])).toMatchObject({ words: ['ro'], sloppy: true, fake: true });
    expect(parseHelperArgs(['-r', 'img', 'dir'])).toMatchObject({ words: ['ro'] });
  });

  test('wrong shapes throw', () => {
    expect(() => parseHelperArgs(['img'])).toThrow('SOURCE and DIR are both needed');
    expect(() => parseHelperArgs(['img', 'dir', '-o'])).toThrow('-o needs a value');
    expect(() => parseHelperArgs(['img', 'dir', '--bogus'])).toThrow('unknown flag --bogus');
  });
});
