/**
 * Reading /proc/self/mountinfo (proc(5)): to refuse a mountpoint that is already mounted
 * on, and to notice that our own mount went away (fuse-native has no destroy callback).
 */
import { promises as fsp } from 'fs';

export interface MountEntry {
  /** Unique ID of the mount while it exists (field 1). */
  id: number;
  /** The filesystem's device, MAJOR:MINOR (field 3). */
  device: string;
  /** Mount point, unescaped (field 5). */
  mountPoint: string;
  /** Per-mount options such as ro, noatime (field 6). */
  mountOptions: string[];
  /** Filesystem type after the separator, e.g. fuse.pktfs. */
  fsType: string;
  source: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    out.push({
      id: Number(f[0]),
      device: f[2],
      mountPoint: unescape(f[4]),
      mountOptions: f[5].split(','),
      fsType: f[sep + 1],
      source: unescape(f[sep + 2]),
      superOptions: (f[sep + 3] ?? '').split(','),
    });
  }
  return out;
}

export async function readMountinfo(): Promise<MountEntry[]> {
  return parseMountinfo(await fsp.readFile('/proc/self/mountinfo', 'utf8'));
}

/** The newest mount on `mountPoint` (the one visible there), if any. */
export async function mountAt(mountPoint: string): Promise<MountEntry | undefined> {
  const all = await readMountinfo();
  let found: MountEntry | undefined;
  for (const m of all) if (m.mountPoint === mountPoint) found = m;
  return found;
}
