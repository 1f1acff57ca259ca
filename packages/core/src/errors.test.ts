import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTorkError, TorkError, TorkErrorCode, toTorkError } from './errors.js';

describe('TorkError', () => {
  it('round-trips through its plain form across structured clone', () => {
    const error = new TorkError(TorkErrorCode.METAINFO, 'bad piece length', {
      field: 'piece length',
      value: 0,
    });
    const cloned = structuredClone(error.toPlain());
    const back = TorkError.fromPlain(cloned);
    assert.ok(back instanceof TorkError);
    assert.equal(back.code, 'TORK_ERR_METAINFO');
    assert.equal(back.message, 'bad piece length');
    assert.deepEqual(back.details, { field: 'piece length', value: 0 });
  });

  it('maps an unknown code to TORK_ERR_INTERNAL and drops non-plain details', () => {
    const back = TorkError.fromPlain({ code: 'NOPE', message: 3, details: { a: 1, b: { deep: true } } });
    assert.equal(back.code, TorkErrorCode.INTERNAL);
    assert.equal(back.message, 'unknown error');
    assert.deepEqual(back.details, { a: 1 });
  });

  it('wraps foreign errors, keeping the system code as a detail', () => {
    const sys = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    const wrapped = toTorkError(sys, TorkErrorCode.IO, 'reading x.torrent');
    assert.ok(isTorkError(wrapped, TorkErrorCode.IO));
    assert.equal(wrapped.message, 'reading x.torrent: no such file');
    assert.equal(wrapped.details.cause, 'ENOENT');
    const same = new TorkError(TorkErrorCode.USAGE, 'x');
    assert.equal(toTorkError(same), same);
  });
});
