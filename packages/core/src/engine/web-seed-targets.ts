import type { DiskLayout } from '../disk/disk-layout.js';
import type { HostCommand } from '../messages/host-command.js';
import { webSeedFileUrls, webSeedUrlProblem } from '../webseed/web-seed-url.js';

/** A web seed to run: its server's host and port (the peer record's), and the command's file list. */
export interface WebSeedTarget {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly files: Extract<HostCommand, { type: 'web-seed' }>['files'];
}

/**
 * The web seeds of `urls` that can run (http and https; each URL once), with every file's URL
 * (BEP 19), and the others with the reason they are ignored.
 */
export function webSeedTargets(
  urls: readonly string[],
  layout: Pick<DiskLayout, 'name' | 'isMultiFile' | 'files'>,
): { targets: WebSeedTarget[]; ignored: Array<{ url: string; reason: string }> } {
  const targets: WebSeedTarget[] = [];
  const ignored: Array<{ url: string; reason: string }> = [];
  for (const url of new Set(urls)) {
    const reason = webSeedUrlProblem(url);
    if (reason !== undefined) {
      ignored.push({ url, reason });
      continue;
    }
    const parsed = new URL(url);
    const port = Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80);
    const files = webSeedFileUrls(url, layout).map((fileUrl, index) => ({
      url: fileUrl,
      length: layout.files[index]!.length,
    }));
    targets.push({ url, host: parsed.hostname, port, files });
  }
  return { targets, ignored };
}
