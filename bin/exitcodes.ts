/**
 * Exit statuses of pktfs and mount.pktfs, chosen to match mount(8) so scripts and
 * mount(8) itself read them the same way. Part of the CLI contract (docs/cli.md).
 */
export const EXIT = {
  /** Mounted (and, in the foreground, later unmounted cleanly); or --help/--version. */
  OK: 0,
  /** Incorrect invocation: bad arguments, unknown or refused option. */
  USAGE: 1,
  /** System error: could not start the background process. */
  SYSTEM: 2,
  /** Mount failure: no such source, not a UDF volume, mountpoint missing, busy or not a directory, FUSE refused. */
  MOUNT: 32,
} as const;
