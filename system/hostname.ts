// The kernel keeps up to 64 bytes of hostname (__NEW_UTS_LEN) and takes any bytes, as both
// peers do; it is set by writing /proc/sys/kernel/hostname, where a line break or NUL would
// end the value early, so those are all that is refused besides the length.
const HOSTNAME_MAX_BYTES = 64;
const CUT_SHORT = /[\0\n]/;

/** Whether a pod's own UTS namespace can take `hostname` exactly as given. */
export function isHostname(hostname: string): boolean {
  const bytes = Buffer.byteLength(hostname, 'utf8');
  return bytes > 0 && bytes <= HOSTNAME_MAX_BYTES && !CUT_SHORT.test(hostname);
}
