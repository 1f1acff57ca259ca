// Download a torrent with the tork library: node examples/library-download.mjs <file.torrent> <outDir> [host:port]
import { readFile } from 'node:fs/promises';
import { Engine, isTorkError, parseMetainfo } from '@tork/core';
import { ThreadActorSystem } from '@tork/workers';

const [torrentFile, outDir, peer] = process.argv.slice(2);
const meta = parseMetainfo(await readFile(torrentFile));
const engine = new Engine({ actors: await ThreadActorSystem.start({ workers: 2 }), port: 0 });
try {
  const peers = peer ? [{ host: peer.split(':')[0], port: Number(peer.split(':')[1]) }] : [];
  const torrent = await engine.add({ meta, outDir, peers, useTrackers: peers.length === 0 }, (t) => {
    t.on('peer-connected', ({ address, client }) => console.log(`connected to ${address} (${client})`));
  });
  for await (const progress of torrent.progressUpdates()) {
    console.log(
      `${progress.verifiedPieces}/${progress.pieceCount} pieces, ${Math.round(progress.downloadRate / 1e6)} MB/s`,
    );
  }
  const done = await torrent.whenDone();
  console.log(`done: ${done.length} bytes in ${done.elapsedMs} ms`);
} catch (error) {
  console.error(isTorkError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
} finally {
  await engine.close();
}
