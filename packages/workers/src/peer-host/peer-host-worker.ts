/**
 * Entry of a peer host thread (compiled to `peer-host-worker.js`, started by ThreadActorSystem).
 * The thread runs one PeerHost; its control plane (attach, stats, shutdown) is exposed with comlink
 * on `parentPort`, its data plane is the MessagePort handed over by `attach`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parsePeerHostWorkerData } from '@tork/core/internal/messages/validate.js';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../shared/comlink-node-adapter.js';
import { UtMetadata } from './extensions/ut-metadata.js';
import { UtPexExtension } from './extensions/ut-pex.js';
import { PeerHost } from './peer-host.js';
import type { PeerHostApi } from './peer-host-api.js';

if (parentPort === null) throw new Error('peer-host-worker.js must run as a worker thread');

// Thread boundary: workerData was cloned from the coordinator; checked before the host exists (a
// malformed one throws here, and the thread's exit reaches ThreadActorSystem.start as an error).
const data = parsePeerHostWorkerData(workerData);
// The BEP 10 extensions every session offers (each declines a connection it does not serve, e.g.
// ut_pex for a private torrent or one with peer exchange off).
const host = new PeerHost(data.options ?? {}, [new UtMetadata(), new UtPexExtension()]);

const api: PeerHostApi = {
  attach: (dataPort, report) => host.attach(dataPort, report),
  stats: () => host.stats(),
  listen: (options) => host.listen(options),
  shutdown: () => host.shutdown(),
};

// Thread boundary (control plane): comlink turns the coordinator's calls into messages on
// parentPort; rare calls, so its per-call overhead does not matter here.
Comlink.expose(api, nodeEndpoint(parentPort));
