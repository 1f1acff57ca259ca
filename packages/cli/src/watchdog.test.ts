import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostStats } from '@tork/workers';
import { EventLoopWatchdog } from './watchdog.js';

/** Just what the watchdog reads of a host's counters. */
const host = (actors: number) => ({ actors, eventLoopLagMaxMs: 1 }) as unknown as HostStats;

describe('EventLoopWatchdog', () => {
  it("watches the coordinator's loop from the start, and then only while some host has a connection", async () => {
    let actors = 0;
    const watchdog = new EventLoopWatchdog(async () => [host(0), host(actors)], 20);
    assert.equal(watchdog.watching, true, 'from the start: peers connect then');
    const until = async (want: boolean) => {
      for (let i = 0; i < 100 && watchdog.watching !== want; i++) await sleep(10);
      return watchdog.watching;
    };
    assert.equal(await until(false), false, 'no connection anywhere: the 10 ms timer stops');
    actors = 2;
    assert.equal(await until(true), true, 'a connection: watched again');
    const report = await watchdog.stop();
    assert.deepEqual(report.hostsMaxMs, [1, 1]);
    assert.ok(report.coordinatorMaxMs >= 0);
  });
});
