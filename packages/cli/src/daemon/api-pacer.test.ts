import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '@tork/core';
import { Hono } from 'hono';
import { errorResponse } from './api-errors.js';
import { ApiPacer } from './api-pacer.js';

describe('ApiPacer', () => {
  it('runs everything at once while nothing downloads', async () => {
    const pacer = new ApiPacer({ busy: () => false, burstMs: 0, overheadMs: 1_000 });
    const done = await Promise.all(Array.from({ length: 100 }, (_, i) => pacer.run(async () => i)));
    assert.equal(done.length, 100);
    assert.equal(pacer.waiting, 0);
  });

  it('while a torrent downloads, keeps requests to their share of the time, in arrival order', async () => {
    let clock = 0;
    // 1 ms a request; a 2 ms burst; a 50 % share: after the burst, one request every 2 ms.
    const pacer = new ApiPacer({ busy: () => true, share: 0.5, burstMs: 2, overheadMs: 1, now: () => clock });
    const order: number[] = [];
    const runs = Array.from({ length: 10 }, (_, i) =>
      pacer.run(async () => {
        order.push(i);
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(order.length <= 2, `${order.length} ran in the burst`);
    assert.ok(pacer.waiting >= 8);
    for (let step = 0; step < 200 && order.length < 10; step++) {
      clock += 1;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(runs);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // 10 requests of 1 ms at a 50 % share (2 ms of burst): about 16 ms of clock, not less.
    assert.ok(clock >= 12, `${clock} ms of clock for 10 ms of work at a 50 % share`);
  });

  it('refuses a request beyond the waiting cap with TORK_ERR_LIMIT_EXCEEDED', async () => {
    const pacer = new ApiPacer({ busy: () => true, share: 0.001, burstMs: 0, overheadMs: 1, maxWaiting: 3 });
    const waiting = Array.from({ length: 3 }, () => pacer.run(async () => 1));
    await assert.rejects(
      pacer.run(async () => 1),
      (error: unknown) => error instanceof TorkError && error.code === 'TORK_ERR_LIMIT_EXCEEDED',
    );
    pacer.close();
    assert.deepEqual(await Promise.all(waiting), [1, 1, 1]);
  });

  it('in an app: its own refusal is a 503; an error of a handler while pacing keeps its own status', async () => {
    const pacer = new ApiPacer({ busy: () => true, share: 0.001, burstMs: 0, overheadMs: 1, maxWaiting: 0 });
    const app = new Hono();
    app.use('*', pacer.middleware());
    app.get('/missing', () => {
      throw new TorkError(TorkErrorCode.API_NOT_FOUND, 'no such torrent');
    });
    app.onError((error, c) => errorResponse(c, error));
    assert.equal((await app.request('/missing')).status, 503, 'nothing may wait: refused');
    const roomy = new ApiPacer({ busy: () => true });
    const paced = new Hono();
    paced.use('*', roomy.middleware());
    paced.get('/missing', () => {
      throw new TorkError(TorkErrorCode.API_NOT_FOUND, 'no such torrent');
    });
    paced.onError((error, c) => errorResponse(c, error));
    const answer = await paced.request('/missing');
    assert.equal(answer.status, 404);
    assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'TORK_ERR_API_NOT_FOUND');
    pacer.close();
    roomy.close();
  });
});
