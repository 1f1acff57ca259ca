// webtorrent for the interop matrix (its library, from WEBTORRENT_DIR: `npm i --ignore-scripts
// webtorrent@2 uint8-util@2.2.5` there): node webtorrent-peer.mjs seed|leech TORRENT DIR PORT [host:port ...]
// DHT, LSD, uTP, web seeds and NAT traversal off; the torrent's own (loopback) tracker is used;
// given peers are added by hand. A seeder verifies its data and prints 'ready'; a leecher prints
// 'done' and exits 0 once complete.
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, torrentPath, dir, port, ...peers] = process.argv.slice(2);
const root = process.env.WEBTORRENT_DIR;
if (!root) throw new Error('WEBTORRENT_DIR is not set');
// WebRTC is not used here, and its native addon (node-datachannel) needs a prebuilt binary that an
// offline install (--ignore-scripts) lacks: the module is replaced by a stub that refuses to be used.
const stub = `data:text/javascript,${encodeURIComponent(
  "const off = () => { throw new Error('WebRTC is off'); }; export class PeerConnection { constructor() { off(); } } export const RtcpReceivingSession = PeerConnection; export const Video = PeerConnection; export const Audio = PeerConnection; export const cleanup = () => {}; export default {};",
)}`;
register(
  `data:text/javascript,${encodeURIComponent(
    `export async function resolve(specifier, context, next) { return specifier === 'node-datachannel' ? { url: ${JSON.stringify(stub)}, shortCircuit: true } : next(specifier, context); }`,
  )}`,
);
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
const torrent = client.add(readFileSync(torrentPath), { path: dir });
torrent.on('ready', () => {
  for (const peer of peers) torrent.addPeer(peer);
});
torrent.on('done', () => {
  console.log(mode === 'seed' ? 'ready' : 'done');
  if (mode === 'leech') process.exit(0);
});
process.on('SIGTERM', () => process.exit(3));
