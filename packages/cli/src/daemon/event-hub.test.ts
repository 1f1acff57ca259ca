import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventHub, MAX_EVENT_CLIENTS, MAX_EVENT_QUEUE } from './event-hub.js';

const event = (n: number) => ({ torrentId: 'a'.repeat(40), event: 'progress', data: { n } });

describe('EventHub', () => {
  it(`takes at most ${MAX_EVENT_CLIENTS} clients; a closed one frees its place`, () => {
    const hub = new EventHub();
    const clients = Array.from({ length: MAX_EVENT_CLIENTS }, () => hub.subscribe());
    assert.ok(clients.every((client) => client !== undefined));
    assert.equal(hub.subscribe(), undefined);
    clients[0]!.close();
    assert.ok(hub.subscribe());
  });

  it('delivers every event, in order, to every client', async () => {
    const hub = new EventHub();
    const a = hub.subscribe()!;
    const b = hub.subscribe()!;
    for (let i = 0; i < 5; i++) hub.publish(event(i));
    assert.deepEqual(
      (await a.next(10))?.map((e) => (e.data as { n: number }).n),
      [0, 1, 2, 3, 4],
    );
    assert.equal((await b.next(10))?.length, 5);
    assert.deepEqual(await a.next(5), [], 'nothing new: an empty batch after the wait');
    hub.close();
    assert.equal(await a.next(1000), undefined, 'closed: undefined at once');
  });

  it(`drops a client that lets more than ${MAX_EVENT_QUEUE} events queue up`, async () => {
    const hub = new EventHub();
    const slow = hub.subscribe()!;
    for (let i = 0; i <= MAX_EVENT_QUEUE; i++) hub.publish(event(i));
    assert.match(slow.dropped ?? '', /queued/);
    assert.equal(hub.clients, 0);
    assert.equal((await slow.next(10))?.length, MAX_EVENT_QUEUE, 'what was queued is still delivered');
    assert.equal(await slow.next(10), undefined);
  });
});
