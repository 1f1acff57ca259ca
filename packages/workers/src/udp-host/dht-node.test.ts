/**
 * The DHT node's tokens rotate: a token we hand out with get_peers is honoured for one rotation
 * (5 to 10 minutes) and refused after two, and only two secrets are ever held. Timers are mocked;
 * datagrams go through the node's shim directly (no socket).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, mock } from 'node:test';
import { DHT_TOKEN_ROTATE_MS, DHT_TOKEN_SECRETS, decodeBencode, encodeBencode } from '@tork/core';
import { DhtNode } from './dht-node.js';

type Reply = { y: Uint8Array; r?: { token?: Uint8Array }; e?: unknown[] };

describe('DhtNode tokens', () => {
  it('honours a token for one rotation, refuses it after two, holds two secrets', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    const sent: Reply[] = [];
    const node = new DhtNode({
      nodeId: randomBytes(20),
      bootstrap: [],
      nodes: [],
      send: (bytes) => sent.push(decodeBencode(bytes) as Reply),
      address: () => ({ address: '127.0.0.1', port: 6881, family: 'IPv4' }),
      isOwnPeer: () => false,
      onPeers: () => {},
      onLookupDone: () => {},
    });
    try {
      const from = { address: '10.0.0.9', port: 4000 };
      const id = randomBytes(20);
      const infoHash = randomBytes(20);
      const ask = (q: string, a: Record<string, unknown>): Reply => {
        node.receive(encodeBencode({ t: 'tt', y: 'q', q, a: { id, ...a } }), from);
        return sent.at(-1)!;
      };
      const token = ask('get_peers', { info_hash: infoHash }).r?.token;
      assert.ok(token instanceof Uint8Array);
      const announce = (port: number) => ask('announce_peer', { info_hash: infoHash, port, token });
      const kind = (reply: Reply) => Buffer.from(reply.y).toString();

      assert.equal(kind(announce(5001)), 'r');
      assert.equal(
        kind(ask('announce_peer', { info_hash: infoHash, port: 5002, token: randomBytes(20) })),
        'e',
      );
      mock.timers.tick(DHT_TOKEN_ROTATE_MS);
      assert.equal(kind(announce(5003)), 'r', 'still good after one rotation');
      mock.timers.tick(DHT_TOKEN_ROTATE_MS);
      assert.equal(kind(announce(5004)), 'e', 'refused after two');
      assert.equal(node.tokenSecrets, DHT_TOKEN_SECRETS);
      assert.equal(node.storedPeers, 2);
    } finally {
      await node.close();
      mock.timers.reset();
    }
  });
});
