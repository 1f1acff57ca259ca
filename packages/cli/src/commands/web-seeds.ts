import { isLoopbackUrl } from '@tork/core';

/** A web seed left out before the engine sees it, with why (a `web-seed-ignored` event). */
export interface IgnoredWebSeed {
  readonly url: string;
  readonly reason: string;
}

/**
 * The web seeds (BEP 19) `tork download` runs: the torrent's `url-list` (or a magnet's `ws=`), then
 * each `--web-seed`, without repeats. Under `TORK_HERMETIC=1` (tests) the torrent's own URLs are
 * fetched only when they are loopback ones, as its trackers and the DHT are kept off the network
 * there; `--web-seed` is what the caller asked for and is kept. Schemes other than http(s) are
 * left to the torrent, which ignores them with a reason.
 */
export function webSeedsFor(
  fromTorrent: readonly string[],
  given: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { webSeeds: string[]; ignored: IgnoredWebSeed[] } {
  const hermetic = env.TORK_HERMETIC === '1';
  const webSeeds: string[] = [];
  const ignored: IgnoredWebSeed[] = [];
  for (const url of fromTorrent) {
    if (hermetic && !isLoopbackUrl(url))
      ignored.push({
        url,
        reason: 'TORK_HERMETIC=1: a web seed from the torrent is fetched only on loopback',
      });
    else if (!webSeeds.includes(url)) webSeeds.push(url);
  }
  for (const url of given) if (!webSeeds.includes(url)) webSeeds.push(url);
  return { webSeeds, ignored };
}
