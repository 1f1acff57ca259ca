import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Dataset, linkDatasetFiles } from '@tork/cli';
import { decodeBencode, encodeBencode } from '@tork/core';

/**
 * A cached data set as one test file sees it: the same files, hard-linked (no copy) under a
 * torrent name of that file's own, so the file's swarm has its own info-hash. Why: test files run
 * two at a time, and with one info-hash for all, a client of one file that redials an address
 * from its peer list after that port went to another file's seeder joins the other file's swarm,
 * and peer exchange hands it on (CI29 saw it with the seed tests, which now name their sets too).
 * Built once per owner and data set (next to the cache), and again when the cache was remade.
 */
export async function datasetView(shared: Dataset, owner: string): Promise<Dataset> {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(owner))
    throw new Error(`dataset view: bad owner ${JSON.stringify(owner)}`);
  const name = `${shared.name}-${owner}`;
  // The cache keeps `<root>/data/<name>/…` and `<root>/<name>.torrent`: views go beside them.
  const root = join(dirname(shared.dataDir), 'views', owner);
  const view: Dataset = {
    dataDir: join(root, 'data'),
    name,
    torrentPath: join(root, `${name}.torrent`),
    files: shared.files,
    length: shared.length,
  };
  const source = await stat(shared.torrentPath);
  // The cache's torrent is rewritten whenever its data is: its identity names the files linked.
  const key = `${source.ino}:${source.mtimeMs}:${source.size}`;
  const marker = join(root, 'complete');
  if ((await readFile(marker, 'utf8').catch(() => '')) === key) return view;

  const building = `${root}.${process.pid}.tmp`;
  await rm(building, { recursive: true, force: true });
  await linkDatasetFiles(shared, join(building, 'data'), name);
  const torrent = decodeBencode(await readFile(shared.torrentPath)) as { info: Record<string, unknown> };
  torrent.info.name = name;
  await writeFile(join(building, `${name}.torrent`), encodeBencode(torrent));
  await writeFile(join(building, 'complete'), key);
  await rm(root, { recursive: true, force: true });
  await rename(building, root);
  return view;
}
