/**
 * Temporary directories for tests: made under os.tmpdir(), removed in afterAll.
 * Fixtures are always copied (or decompressed) into one of these, never used in place.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pktfs-${prefix}-`));
}

export function removeTempDir(dir: string | undefined): void {
  if (dir && dir.startsWith(os.tmpdir())) fs.rmSync(dir, { recursive: true, force: true });
}
