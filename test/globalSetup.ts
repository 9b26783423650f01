/**
 * Jest global setup: build dist/ with tsc when the CLI tests (test/bin) are part of the
 * run and the sources are newer than the build, since those tests run the built
 * dist/bin/*.js as a user would. A failed build does not stop other suites: its output
 * goes to dist/.build-status.json, and test/bin reports it.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';

const ROOT = path.resolve(__dirname, '..');
export const BUILD_STATUS = path.join(ROOT, 'dist', '.build-status.json');

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const n of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, n)));
  return newest;
}

export default function globalSetup(globalConfig: { testPathPattern?: string }): void {
  const pattern = globalConfig.testPathPattern;
  // The suites that run dist/: the CLI tests (test/bin), the fuzz worker (test/fuzz), the crash tests through a real mount.
  const users = ['bin', 'fuzz', 'crash'].flatMap((d) => {
    const dir = path.join(ROOT, 'test', d);
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => path.join(dir, f)) : [];
  });
  if (pattern && !users.some((u) => new RegExp(pattern, 'i').test(u))) return;

  const sources = Math.max(...['src', 'bin', 'bench', 'tsconfig.json', 'package.json'].map((p) => newestMtime(path.join(ROOT, p))));
  const built = newestMtime(path.join(ROOT, 'dist', 'bin', 'pktfs.js'));
  let lastOk = false;
  try {
    lastOk = (JSON.parse(fs.readFileSync(BUILD_STATUS, 'utf8')) as { ok: boolean }).ok;
  } catch {
    // no status yet
  }
  if (lastOk && built > sources) return;

  let ok = true;
  let output = '';
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch (e) {
    ok = false;
    output = String((e as { stdout?: Buffer }).stdout ?? '') + String((e as { stderr?: Buffer }).stderr ?? '');
  }
  fs.mkdirSync(path.dirname(BUILD_STATUS), { recursive: true });
  fs.writeFileSync(BUILD_STATUS, JSON.stringify({ ok, output }));
}
