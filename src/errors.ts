/**
 * The one error type the core throws: an errno name plus what was found and where.
 * src/fuse/ turns it into a negative errno; bin/ turns it into a one-line message.
 */
export type ErrnoName =
  | 'EIO' | 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EROFS' | 'EINVAL' | 'ENOSPC' | 'ENAMETOOLONG'
  | 'EFBIG' | 'EEXIST' | 'ENOTEMPTY' | 'EPERM' | 'EACCES' | 'EUCLEAN' | 'ELOOP' | 'ENOMEDIUM'
  | 'EBUSY' | 'ENODEV' | 'ENXIO' | 'EXDEV' | 'EMLINK' | 'ENOSYS' | 'EBADF' | 'ENODATA';

export class FsError extends Error {
  readonly errno: ErrnoName;
  constructor(errno: ErrnoName, message: string) {
    super(message);
    this.name = 'FsError';
    this.errno = errno;
  }
}

export function isFsError(e: unknown, errno?: ErrnoName): e is FsError {
  return e instanceof FsError && (errno === undefined || e.errno === errno);
}
