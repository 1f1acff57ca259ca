import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Whether process `pid` holds the TCP socket listening on `port` for IPv4 `address` (default
 * 127.0.0.1): bound to it or to 0.0.0.0, or an IPv6 socket bound to its v4-mapped form; read from /proc; undefined where /proc cannot tell (not Linux, or the
 * process is gone).
 *
 * Why: a program given a port that another process took in the meantime may still start. aria2c,
 * whose IPv4 bind fails, goes on listening on IPv6 alone, and a connect to 127.0.0.1:port then
 * reaches the other process: "listening" would be a false positive.
 */
export function listensOn(pid: number, port: number, address = '127.0.0.1'): boolean | undefined {
  // /proc/net/tcp writes an IPv4 address as the hex of its 32 bits in host (little-endian) order.
  const octets = address.split('.').map(Number);
  if (
    octets.length !== 4 ||
    octets.some((octet) => !(octet >= 0 && octet <= 255) || !Number.isInteger(octet))
  )
    throw new RangeError(`listensOn: not an IPv4 address: ${address}`);
  const wanted = octets
    .reverse()
    .map((octet) => octet.toString(16).toUpperCase().padStart(2, '0'))
    .join('');
  // An IPv6 socket serving IPv4 shows in /proc/net/tcp6 with the v4-mapped address
  // (::ffff:a.b.c.d: 80 zero bits, 16 one bits, then the IPv4 word): rtorrent listens so. The
  // unspecified `::` is not counted: aria2c, its IPv4 port taken, listens there alone.
  const mapped = `0000000000000000FFFF0000${wanted}`;
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  let table6 = '';
  try {
    table6 = readFileSync('/proc/net/tcp6', 'utf8');
  } catch {
    // A kernel without IPv6.
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const [rows, addresses] of [
    [table, [wanted, '00000000']],
    [table6, [mapped]],
  ] as const) {
    for (const line of rows.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10 || fields[3] !== '0A') continue;
      const [local, localPort] = fields[1]!.split(':');
      if (localPort !== portHex || !(addresses as readonly string[]).includes(local!)) continue;
      inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}
