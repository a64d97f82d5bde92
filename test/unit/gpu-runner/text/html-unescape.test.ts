import { describe, expect, it } from 'vitest'

import { unescapeHtml } from '../../../../gpu-runner/text/html-unescape.ts'

// Expected values are the output of CPython 3.11.7 `html.unescape` on each input.
const PYTHON_UNESCAPE_CASES: readonly (readonly [input: string, expected: string])[] = [
  ['caf&eacute; &amp;co', 'café &co'],
  ['&amp;amp;', '&amp;'],
  ['&ampx', '&x'],
  ['&notit;', '\u00acit;'],
  ['&notin;', '\u2209'],
  ['&lt&gt', '<>'],
  ['&NotNestedGreaterGreater;', '\u2aa2\u0338'],
  ['&unknown;', '&unknown;'],
  ['&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;', '&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;'],
  ['&', '&'],
  ['&#;', '&#;'],
  ['a&b', 'a&b'],
  ['&#65', 'A'],
  ['&#x1F600;', '\u{1f600}'],
  ['&#128;', '\u20ac'],
  ['&#x9F;', '\u0178'],
  ['&#0;', '\ufffd'],
  ['&#13;', '\r'],
  ['&#xD800;', '\ufffd'],
  ['&#x110000;', '\ufffd'],
  ['&#99999999999999999999999;', '\ufffd'],
  ['&#1;', ''],
  ['&#x7f;', ''],
  ['&#xFDD0;', ''],
  ['&#x1FFFF;', ''],
]

describe('unescapeHtml', () => {
  it.each(PYTHON_UNESCAPE_CASES)('decodes %j like Python', (input, expected) => {
    expect(unescapeHtml(input)).toBe(expected)
  })

  it('returns text without references unchanged', () => {
    const text = 'a photo of a cat'

    expect(unescapeHtml(text)).toBe(text)
  })
})
