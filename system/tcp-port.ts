/** The highest TCP (and UDP) port number. */
export const MAX_PORT = 65535;

/** Whether `value` is a port a connection can be made to: a whole number from 1 to 65535. */
export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_PORT;
}
