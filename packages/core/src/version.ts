/**
 * tork's version: the one place it is written (the packages' `package.json` files must agree; a
 * test checks). The CLI's `--version`, the BEP 20 peer id prefix and the BEP 10 `v` derive from it.
 */
export const TORK_VERSION = '0.1.0';

/** The BEP 10 handshake's `v`: client name and version. */
export const TORK_CLIENT_NAME = `tork ${TORK_VERSION}`;

/**
 * Azureus-style version digits of the peer id (`-TK0100-` for 0.1.0): major, minor, patch, and
 * a 0 for the build, each one character (0–9, then A–Z for 10–35).
 */
export function peerIdVersionDigits(version: string = TORK_VERSION): string {
  const parts = version
    .split(/[.-]/)
    .slice(0, 3)
    .map((part) => Number.parseInt(part, 10));
  const digit = (value: number | undefined) =>
    value !== undefined && Number.isInteger(value) && value >= 0 && value < 36
      ? value.toString(36).toUpperCase()
      : '0';
  return `${digit(parts[0])}${digit(parts[1])}${digit(parts[2])}0`;
}
