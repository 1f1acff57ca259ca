// webtorrent for the interop matrix (its library, from WEBTORRENT_DIR: `npm i --ignore-scripts
// webtorrent@2` there): node webtorrent-peer.mjs seed|leech TORRENT DIR PORT [host:port ...]
// DHT, LSD, uTP, web seeds and NAT traversal off; the torrent's own (loopback) tracker is used;
// given peers are added by hand. A seeder verifies its data and prints 'ready'; a leecher prints
// 'done' and exits 0 once complete.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, torrentPath, dir, port, ...peers] = process.argv.slice(2);
const root = process.env.WEBTORRENT_DIR;
if (!root) throw new Error('WEBTORRENT_DIR is not set');
const require = createRequire(join(root, 'package.json'));
const { default: WebTorrent } = await import(pathToFileURL(require.resolve('webtorrent')).href);
const client = new WebTorrent({
  dht: false,
  lsd: false,
  utp: false,
  natUpnp: false,
  natPmp: false,
  webSeeds: false,
  torrentPort: Number(port),
});
client.on('error', (error) => {
  console.error(String(error));
  process.exit(1);
});
const torrent = client.add(readFileSync(torrentPath), { path: dir, announce: [] });
torrent.on('ready', () => {
  for (const peer of peers) torrent.addPeer(peer);
});
torrent.on('done', () => {
  console.log(mode === 'seed' ? 'ready' : 'done');
  if (mode === 'leech') process.exit(0);
});
process.on('SIGTERM', () => process.exit(3));
