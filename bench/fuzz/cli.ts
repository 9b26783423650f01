/**
 * `npm run fuzz -- --cases N --seed S [--first F] [--case I] [--keep DIR] [--only NAME]`:
 * more fuzz cases than the test suite runs, on demand. Builds the images in a
 * temporary directory (or DIR with --keep, reused when already there), runs the
 * cases and prints every failure with the change that caused it and how to
 * replay it. Exit status 1 when a case failed.
 */
import { Command } from 'commander';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { buildFuzzImages } from './images';
import { runFuzz } from './runner';
import { caseImage, loadImage } from './case';
import { fsckAvailable, fsckDamagedImage } from './fsck';

async function main(): Promise<void> {
  const program = new Command('fuzz')
    .option('--cases <n>', 'number of cases', '2000')
    .option('--seed <s>', 'seed of the run', '1')
    .option('--first <i>', 'index of the first case', '0')
    .option('--keep <dir>', 'build the images in DIR and keep them')
    .option('--only <name>', 'only images whose name contains this')
    .option('--write-case <i>', 'write the damaged image of case I to DIR/case-I.img and stop (needs --keep)')
    .option('--no-fixtures', 'leave out ../shared/fixtures/udf')
    .option('--samples', 'print what the errors answered said (one line per errno per case)')
    .option('--fsck <n>', 'also run `pktfs fsck -n` on the damaged images of the first N cases (once fsck is merged)', '0')
    .parse(process.argv);
  const o = program.opts<{ cases: string; seed: string; first: string; keep?: string; only?: string; writeCase?: string; fixtures: boolean; fsck: string; samples?: boolean }>();
  const dir = o.keep ?? mkdtempSync(path.join(tmpdir(), 'pktfs-fuzz-'));
  mkdirSync(dir, { recursive: true });
  try {
    const listFile = path.join(dir, 'images.json');
    let images = existsSync(listFile) ? (JSON.parse(require('fs').readFileSync(listFile, 'utf8')) as { name: string; path: string }[]) : await buildFuzzImages(dir, { fixtures: o.fixtures });
    if (o.keep) writeFileSync(listFile, JSON.stringify(images));
    if (o.only) images = images.filter((i) => i.name.includes(o.only!));
    const seed = Number(o.seed);
    if (o.writeCase !== undefined) {
      const c = caseImage(images.map(loadImage), seed, Number(o.writeCase));
      const out = path.join(dir, `case-${o.writeCase}.img`);
      writeFileSync(out, c.overlay.materialise());
      process.stdout.write(`${out}: ${c.image.name}\n  ${c.mutation.join('\n  ')}\n`);
      return;
    }
    const started = Date.now();
    let done = 0;
    const perImage = new Map<string, { n: number; ms: number }>();
    const sum = await runFuzz({
      images, seed, cases: Number(o.cases), first: Number(o.first),
      onResult: (r) => {
        const p = perImage.get(r.image) ?? { n: 0, ms: 0 };
        p.n++;
        p.ms += r.ms;
        perImage.set(r.image, p);
        if (++done % 500 === 0) process.stderr.write(`${done} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
        if (o.samples) for (const [k, v] of Object.entries(r.samples ?? {})) process.stdout.write(`case ${r.index} ${k}: ${v.split('\n')[0]}\n`);
        if (r.failures.length) process.stdout.write(`FAIL case ${r.index} (${r.image}): ${r.mutation.join('; ')}\n  ${r.failures.join('\n  ')}\n`);
      },
    });
    process.stdout.write(`${sum.cases} cases on ${images.length} images in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${seed}: `
      + `${sum.failed.length} failed, ${sum.mounted} mounted, ${sum.entries} entries walked\n`
      + `mount refused: ${JSON.stringify(sum.mountErrnos)}\nerrors answered: ${JSON.stringify(sum.errnos)}\nstructures: ${JSON.stringify(sum.structures)}\n`);
    for (const [name, p] of perImage) process.stdout.write(`  ${name}: ${p.n} cases, ${(p.ms / p.n).toFixed(1)} ms each\n`);
    const nFsck = Number(o.fsck);
    if (nFsck > 0 && !fsckAvailable()) process.stdout.write('fsck: dist/bin/pktfs.js has no fsck subcommand yet (branch fsck); skipped\n');
    else if (nFsck > 0) {
      const loaded = images.map(loadImage);
      let bad = 0;
      for (let i = Number(o.first); i < Number(o.first) + Math.min(nFsck, Number(o.cases)); i++) {
        const out = path.join(dir, `fsck-case-${i}.img`);
        writeFileSync(out, caseImage(loaded, seed, i).overlay.materialise());
        const r = await fsckDamagedImage(out);
        if (!r.ok) {
          bad++;
          process.stdout.write(`FSCK FAIL case ${i}: ${r.detail}\n`);
        }
        rmSync(out, { force: true });
      }
      process.stdout.write(`fsck -n: ${Math.min(nFsck, Number(o.cases))} images, ${bad} failed\n`);
      if (bad) process.exitCode = 1;
    }
    if (sum.failed.length) {
      process.stdout.write(`replay one: npm run fuzz -- --seed ${seed} --first ${sum.failed[0].index} --cases 1\n`);
      process.exitCode = 1;
    }
  } finally {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 2;
});
