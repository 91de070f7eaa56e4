/** A timeout as a person reads it in a message: "60 s", or "500 ms" below a whole second. */
export function describeDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
