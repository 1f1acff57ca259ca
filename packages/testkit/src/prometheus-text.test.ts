import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const good =
  '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\\\n"} 3\na_total{x="2"} 4e3\n# HELP g G.\n# TYPE g gauge\ng Nan\n';

describe('parsePrometheusText', () => {
  it('reads families, labels with escapes and values', () => {
    const parsed = parsePrometheusText(good);
    assert.equal(parsed.get('a_total')?.type, 'counter');
    assert.equal(sampleValue(parsed, 'a_total', { x: '2' }), 4_000);
    assert.equal(parsed.get('a_total')?.samples[0]?.labels.y, 'q"\\\n');
    assert.ok(Number.isNaN(sampleValue(parsed, 'g')));
  });

  it('refuses what a strict reader refuses', () => {
    const bad: Record<string, string> = {
      duplicate: '# HELP a A.\n# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n',
      'no help': '# TYPE a gauge\na 1\n',
      'no type': '# HELP a A.\na 1\n',
      'two types': '# HELP a A.\n# TYPE a gauge\n# TYPE a gauge\na 1\n',
      'not contiguous': '# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\n# HELP a A.\n',
      'foreign sample': '# HELP a A.\n# TYPE a gauge\nb 1\n',
      'bad value': '# HELP a A.\n# TYPE a gauge\na one\n',
      'bad escape': '# HELP a A.\n# TYPE a gauge\na{x="\\t"} 1\n',
      'bad label name': '# HELP a A.\n# TYPE a gauge\na{1x="1"} 1\n',
      unterminated: '# HELP a A.\n# TYPE a gauge\na{x="1} 1\n',
      'no newline at end': '# HELP a A.\n# TYPE a gauge\na 1',
    };
    for (const [why, text] of Object.entries(bad)) assert.throws(() => parsePrometheusText(text), Error, why);
  });
});
