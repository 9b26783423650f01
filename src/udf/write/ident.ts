/**
 * The implementation identifier pktfs records in what it writes (UDF 2.1.5.2:
 * an implementation entity identifier; suffix 2.1.5.3: OS class UNIX, OS Linux).
 */
import type { Regid } from '../codec/primitives';

const OS_CLASS_UNIX = 4;
const OS_ID_LINUX = 5;

export const PKTFS_IMP_IDENT: Regid = {
  flags: 0,
  identifier: Uint8Array.from(Buffer.from('*pktfs')),
  identifierSuffix: Uint8Array.from([OS_CLASS_UNIX, OS_ID_LINUX, 0, 0, 0, 0, 0, 0]),
};
