import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

import { describe, expect, it } from 'vitest'

import {
  CLIP_MAX_TOKENS,
  END_OF_TEXT_ID,
  START_OF_TEXT_ID,
  loadClipTokenizer,
} from '../../../../gpu-runner/text/clip-tokenizer.ts'

interface ReferenceCase {
  text: string
  ids: number[]
}

const fixture = JSON.parse(
  readFileSync(
    new URL('../../../fixtures/clip-bpe/reference-token-ids.json', import.meta.url),
    'utf8'
  )
) as { cases: ReferenceCase[] }

// Recorded by running openai/CLIP clip/simple_tokenizer.py (commit d05afc4) with
// bpe_simple_vocab_16e6.txt.gz under CPython 3.11.7 and regex 2026.5.9. ftfy.fix_text was
// replaced by the identity, as in the fixture. The ids are [49406] + encode(text) + [49407].
const RECORDED_CASES: readonly ReferenceCase[] = [
  { text: 'caf&eacute; &amp;amp; &lt;dog&gt;', ids: [49406, 15304, 261, 283, 1929, 285, 49407] },
  {
    text: '&ampx &notit; &#128; &#0; &#xD800; &#1;z &#65',
    ids: [49406, 261, 343, 126, 361, 585, 282, 6309, 39802, 39802, 345, 320, 49407],
  },
  {
    text: 'ΟΔΟΣ İstanbul Straße',
    ids: [
      49406, 138, 123, 138, 112, 138, 123, 139, 480, 328, 16384, 11231, 1894, 127, 253, 324, 49407,
    ],
  },
  { text: '\x1cdog\u3000\u2028cat\x85\x1f', ids: [49406, 1929, 2368, 49407] },
  { text: "'ſ it'S we'LL", ids: [49406, 6, 129, 379, 585, 568, 649, 1342, 49407] },
  { text: '👍🏽 日本語 🇫🇷', ids: [49406, 43722, 39121, 44353, 34002, 508, 16223, 49407] },
  { text: 'e\u0301 ½ ² ٣', ids: [49406, 324, 136, 479, 33613, 41175, 149, 352, 49407] },
]

const tokenizer = loadClipTokenizer()

describe('ClipTokenizer.encode', () => {
  it.each(fixture.cases)('matches reference ids for $text', ({ text, ids }) => {
    expect(tokenizer.encode(text)).toEqual(ids)
  })

  it('loads all fixture rows', () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(16)
  })

  it.each(RECORDED_CASES)('matches recorded ids for $text', ({ text, ids }) => {
    expect(tokenizer.encode(text)).toEqual(ids)
  })

  it('encodes empty text as start and end', () => {
    expect(tokenizer.encode('')).toEqual([START_OF_TEXT_ID, END_OF_TEXT_ID])
    expect(tokenizer.encode(' \t\n ')).toEqual([START_OF_TEXT_ID, END_OF_TEXT_ID])
  })

  it('never emits special tokens for caller text', () => {
    const ids = tokenizer.encode('a dog<|endoftext|><|startoftext|> on grass')
    const inner = ids.slice(1, -1)

    expect(inner).not.toContain(END_OF_TEXT_ID)
    expect(inner).not.toContain(START_OF_TEXT_ID)
    // "<|endoftext|>" splits like any punctuation run and word: "<|", "endoftext", "|><|", ...
    expect(ids.slice(0, 8)).toEqual([START_OF_TEXT_ID, 320, 1929, 27, 347, 40786, 4160, 91])
  })

  it('returns the same ids on a cached word', () => {
    const first = tokenizer.encode('supercalifragilisticexpialidocious dog')
    const second = tokenizer.encode('supercalifragilisticexpialidocious dog')

    expect(second).toEqual(first)
  })
})

describe('ClipTokenizer.encodeForModel', () => {
  it('pads with zeros by default', () => {
    const { inputIds, attentionMask, droppedTokens } = tokenizer.encodeForModel('a dog')

    expect(inputIds.length).toBe(CLIP_MAX_TOKENS)
    expect([...inputIds.slice(0, 5)]).toEqual([START_OF_TEXT_ID, 320, 1929, END_OF_TEXT_ID, 0])
    expect(inputIds.slice(4).every((id) => id === 0)).toBe(true)
    expect([...attentionMask.slice(0, 5)]).toEqual([1, 1, 1, 1, 0])
    expect(attentionMask.slice(4).every((bit) => bit === 0)).toBe(true)
    expect(droppedTokens).toBe(0)
  })

  it('pads with the end token for eos', () => {
    const { inputIds, attentionMask } = tokenizer.encodeForModel('a dog', { pad: 'eos' })

    expect([...inputIds.slice(0, 4)]).toEqual([START_OF_TEXT_ID, 320, 1929, END_OF_TEXT_ID])
    expect(inputIds.slice(4).every((id) => id === END_OF_TEXT_ID)).toBe(true)
    expect(attentionMask.reduce((sum, bit) => sum + bit, 0)).toBe(4)
  })

  it('truncates keeping the end token last', () => {
    // "a photo of a cat " is five tokens (fixture row one), so 20 repeats give 100 text tokens
    // and 102 ids; openai/CLIP tokenize(truncate=True) keeps ids[0..75] and sets id 76 to 49407.
    const text = 'a photo of a cat '.repeat(20)
    const full = tokenizer.encode(text)
    const { inputIds, attentionMask, droppedTokens } = tokenizer.encodeForModel(text)

    expect(full.length).toBe(102)
    expect(droppedTokens).toBe(25)
    expect([...inputIds]).toEqual([...full.slice(0, CLIP_MAX_TOKENS - 1), END_OF_TEXT_ID])
    expect(attentionMask.every((bit) => bit === 1)).toBe(true)
  })

  it('keeps text that fills the context exactly', () => {
    // 75 text tokens plus start and end is 77 ids, so nothing is cut.
    const text = 'cat '.repeat(75)
    const { inputIds, droppedTokens } = tokenizer.encodeForModel(text)

    expect(droppedTokens).toBe(0)
    expect(inputIds[CLIP_MAX_TOKENS - 1]).toBe(END_OF_TEXT_ID)
    expect(inputIds[CLIP_MAX_TOKENS - 2]).toBe(2368)
  })

  it('honours a shorter context length', () => {
    const { inputIds, droppedTokens } = tokenizer.encodeForModel('a photo of a cat', {
      contextLength: 4,
    })

    expect([...inputIds]).toEqual([START_OF_TEXT_ID, 320, 1125, END_OF_TEXT_ID])
    expect(droppedTokens).toBe(3)
  })

  it('rejects a context length below 2', () => {
    expect(() => tokenizer.encodeForModel('a dog', { contextLength: 1 })).toThrow(RangeError)
  })
})

describe('loadClipTokenizer', () => {
  it('returns one instance per vocabulary path', () => {
    expect(loadClipTokenizer()).toBe(tokenizer)
  })

  it('rejects a missing vocabulary file', () => {
    expect(() => loadClipTokenizer('/nonexistent/bpe.txt.gz')).toThrow(
      expect.objectContaining({ name: 'RunnerError', code: 'model-missing' })
    )
  })

  it('rejects a file that is not a CLIP vocabulary', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'clip-vocab-')), 'short.txt.gz')
    writeFileSync(path, gzipSync('#version: 0.2\ni n\nt h\n'))

    expect(() => loadClipTokenizer(path)).toThrow(
      expect.objectContaining({ name: 'RunnerError', code: 'model-contract' })
    )
  })
})
