import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackUrl, webSeedFileUrls, webSeedUrlProblem } from './web-seed-url.js';

const file = (path: string[], length: number, pad = false) => ({ path, length, pad });

describe('webSeedFileUrls (BEP 19)', () => {
  it('single-file: the URL as is, or the URL + name when it ends in /', () => {
    const layout = { name: 'a b.iso', isMultiFile: false, files: [file(['a b.iso'], 10)] };
    assert.deepEqual(webSeedFileUrls('http://h/x/file.iso', layout), ['http://h/x/file.iso']);
    assert.deepEqual(webSeedFileUrls('http://h/x/', layout), ['http://h/x/a%20b.iso']);
  });

  it('multi-file: URL + name/path, each component percent-encoded; a / added when missing', () => {
    const layout = {
      name: 'set #1',
      isMultiFile: true,
      files: [file(['a?b', 'c%d.bin'], 5), file(['ümlaut'], 0), file(['.pad', '3'], 3, true)],
    };
    const expected = ['http://h/d/set%20%231/a%3Fb/c%25d.bin', 'http://h/d/set%20%231/%C3%BCmlaut', null];
    assert.deepEqual(webSeedFileUrls('http://h/d/', layout), expected);
    assert.deepEqual(webSeedFileUrls('http://h/d', layout), expected);
  });
});

describe('webSeedUrlProblem', () => {
  it('takes http and https; names why anything else is refused', () => {
    assert.equal(webSeedUrlProblem('http://127.0.0.1:8080/x'), undefined);
    assert.equal(webSeedUrlProblem('https://example.org/'), undefined);
    assert.match(webSeedUrlProblem('ftp://example.org/x') ?? '', /ftp: is not http: or https:/);
    assert.equal(webSeedUrlProblem('not a url'), 'not a URL');
    assert.match(webSeedUrlProblem(`http://h/${'a'.repeat(5000)}`) ?? '', /longer than 4096/);
  });
});

describe('isLoopbackUrl', () => {
  it('is true for 127.0.0.0/8, ::1 and localhost only', () => {
    assert.equal(isLoopbackUrl('http://127.0.0.1:1/'), true);
    assert.equal(isLoopbackUrl('http://127.3.2.1/'), true);
    assert.equal(isLoopbackUrl('http://[::1]:80/'), true);
    assert.equal(isLoopbackUrl('http://localhost/'), true);
    assert.equal(isLoopbackUrl('http://example.org/'), false);
    assert.equal(isLoopbackUrl('http://10.0.0.1/'), false);
    assert.equal(isLoopbackUrl('http://127.0.0.1.example.org/'), false);
    assert.equal(isLoopbackUrl('garbage'), false);
  });
});
