import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webSeedsFor } from './web-seeds.js';

describe('webSeedsFor', () => {
  it("keeps the torrent's url-list then --web-seed, without repeats", () => {
    const { webSeeds, ignored } = webSeedsFor(
      ['http://a.example/x', 'http://a.example/x'],
      ['http://b.example/', 'http://a.example/x'],
      {},
    );
    assert.deepEqual(webSeeds, ['http://a.example/x', 'http://b.example/']);
    assert.deepEqual(ignored, []);
  });

  it("under TORK_HERMETIC=1 fetches the torrent's own web seeds only on loopback; --web-seed is kept", () => {
    const { webSeeds, ignored } = webSeedsFor(
      ['http://mirror.example/x', 'http://127.0.0.1:8080/x', 'http://localhost/y'],
      ['http://other.example/z'],
      { TORK_HERMETIC: '1' },
    );
    assert.deepEqual(webSeeds, ['http://127.0.0.1:8080/x', 'http://localhost/y', 'http://other.example/z']);
    assert.equal(ignored.length, 1);
    assert.equal(ignored[0]?.url, 'http://mirror.example/x');
    assert.match(ignored[0]?.reason ?? '', /TORK_HERMETIC/);
  });
});
