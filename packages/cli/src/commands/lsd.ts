/** Local service discovery (BEP 14) for `tork download` and `tork seed`: when it runs, and starting it. */
import { isIPv4 } from 'node:net';
import { TorkErrorCode, toTorkError } from '@tork/core';
import { LocalServiceDiscovery } from '@tork/workers';
import { oneLine } from '../args.js';
import type { CliIo } from '../io.js';

/**
 * Local service discovery runs for a public torrent unless `--no-lsd`; under `TORK_HERMETIC=1`
 * (set for test runs: nothing multicasts onto the LAN) only with `--lsd`.
 */
export function lsdEnabled(
  flags: { readonly lsd: boolean; readonly noLsd: boolean },
  privateTorrent: boolean,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (privateTorrent || flags.noLsd) return false;
  return flags.lsd || env.TORK_HERMETIC !== '1';
}

/**
 * Local service discovery, or undefined (with a line on stderr) where it cannot start. Announces
 * go out of the interface of a specific IPv4 `--listen-host` (127.0.0.1: this machine only), as
 * the address peers will dial is the announce's source.
 */
export async function openLsd(
  name: string,
  io: CliIo,
  listenHost: string | undefined,
): Promise<LocalServiceDiscovery | undefined> {
  let warned = false;
  const specific = listenHost !== undefined && isIPv4(listenHost) && listenHost !== '0.0.0.0';
  return LocalServiceDiscovery.open({
    ...(specific ? { interface: listenHost } : {}),
    onWarning: (error) => {
      if (!warned) io.stderr(`${name}: ${oneLine(error)}\n`);
      warned = true;
    },
  }).catch((error: unknown) => {
    io.stderr(`${name}: local service discovery off: ${oneLine(toTorkError(error, TorkErrorCode.IO))}\n`);
    return undefined;
  });
}
