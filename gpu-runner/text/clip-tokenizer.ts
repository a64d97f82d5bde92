/**
 * CLIP's byte-level BPE tokenizer, matching openai/CLIP `clip/simple_tokenizer.py` with
 * `bpe_simple_vocab_16e6.txt.gz` (MIT licence, see CLIP-LICENSE) token for token.
 *
 * Steps of `encode`:
 * 1. clean the text (`clean-text.ts`: HTML unescaping, whitespace, lowercase);
 * 2. split it into words with the reference pattern (contractions, letter runs, single digits,
 *    runs of other symbols);
 * 3. map each word's UTF-8 bytes to printable characters (the reversible byte table below);
 * 4. merge adjacent symbols by BPE rank until no ranked pair is left, the last symbol carrying
 *    the end-of-word mark `</w>`;
 * 5. look the symbols up in the vocabulary and add the start and end tokens.
 *
 * Deliberate difference from the reference: its word pattern also matches the literal strings
 * `<|startoftext|>` and `<|endoftext|>` and turns them into the special tokens. Here caller text
 * never produces a special token, so `<|endoftext|>` in a prompt is ordinary punctuation and
 * letters, and a prompt cannot end itself early.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

import { RunnerError } from '../errors.ts'
import { cleanClipText } from './clean-text.ts'

/** Context length of every CLIP text encoder, start and end tokens included. */
export const CLIP_MAX_TOKENS = 77

/** Id of `<|startoftext|>`. */
export const START_OF_TEXT_ID = 49406

/** Id of `<|endoftext|>`. */
export const END_OF_TEXT_ID = 49407

/** The vocabulary file shipped with the runner. */
export const CLIP_VOCAB_URL = new URL('./bpe_simple_vocab_16e6.txt.gz', import.meta.url)

/** Vocabulary size of the reference: 256 bytes, their `</w>` forms, merges and 2 special tokens. */
const VOCAB_SIZE = 49408

/** Merges the reference reads: lines 1 to 49152 − 256 − 2 of the vocabulary file (line 0 is a header). */
const MERGE_COUNT = 49152 - 256 - 2

const END_OF_WORD = '</w>'

/** The reference word pattern without its two special-token alternatives (see the file header). */
const WORD_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/giu

/** Maximum number of words whose BPE result is cached. When full, the oldest entry is evicted. */
const BPE_CACHE_LIMIT = 20_000

/** Value written after the end token: 0 (`!`) for CLIP and SD 2, or the end token for SD 1.x. */
export type PadStrategy = 'zeros' | 'eos'

/** Fixed-length token ids as a text encoder takes them. */
export interface ModelTokens {
  /** Token ids, length `contextLength`: start, text, end, then padding. */
  readonly inputIds: Int32Array
  /** 1 for the start, text and end tokens, 0 for padding; length `contextLength`. */
  readonly attentionMask: Int32Array
  /** Text tokens cut off to fit the context; 0 when nothing was cut. */
  readonly droppedTokens: number
}

/** Options of `encodeForModel`. */
export interface EncodeForModelOptions {
  /** Length of the result, start and end tokens included; default `CLIP_MAX_TOKENS`. */
  readonly contextLength?: number
  /** Padding after the end token; default `'zeros'`, the value of openai/CLIP `tokenize`. */
  readonly pad?: PadStrategy
}

/** A loaded CLIP tokenizer: vocabulary, merge ranks and a cache of BPE results. */
export class ClipTokenizer {
  private readonly bpeCache = new Map<string, readonly string[]>()

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    private readonly mergeRanks: ReadonlyMap<string, number>
  ) {}

  /** Encodes `text` into token ids, with the start and end tokens and without padding. */
  encode(text: string): number[] {
    const ids = [START_OF_TEXT_ID]
    for (const [word] of cleanClipText(text).matchAll(WORD_PATTERN)) {
      for (const symbol of this.bpe(encodeBytes(word))) ids.push(this.idOf(symbol))
    }
    ids.push(END_OF_TEXT_ID)
    return ids
  }

  /**
   * Encodes `text` into exactly `contextLength` ids for a text encoder.
   *
   * A text that does not fit keeps its first `contextLength − 1` tokens and ends with the end
   * token, as openai/CLIP `tokenize(..., truncate=True)` does; `droppedTokens` gives the number
   * of tokens cut, so that the caller can log `prompt.truncated`.
   */
  encodeForModel(text: string, options: EncodeForModelOptions = {}): ModelTokens {
    const { contextLength = CLIP_MAX_TOKENS, pad = 'zeros' } = options
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new RangeError(`contextLength must be an integer of at least 2, got ${contextLength}`)
    }

    const ids = this.encode(text)
    const droppedTokens = Math.max(0, ids.length - contextLength)
    const kept = droppedTokens > 0 ? [...ids.slice(0, contextLength - 1), END_OF_TEXT_ID] : ids

    const inputIds = new Int32Array(contextLength).fill(pad === 'eos' ? END_OF_TEXT_ID : 0)
    inputIds.set(kept)
    const attentionMask = new Int32Array(contextLength)
    attentionMask.fill(1, 0, kept.length)
    return { inputIds, attentionMask, droppedTokens }
  }

  /** Splits one byte-encoded word into vocabulary symbols by applying merges in rank order. */
  private bpe(word: string): readonly string[] {
    const cached = this.bpeCache.get(word)
    if (cached) return cached

    let symbols = [...word]
    symbols[symbols.length - 1] += END_OF_WORD
    while (symbols.length > 1) {
      const pair = this.lowestRankedPair(symbols)
      if (!pair) break
      symbols = mergePair(symbols, pair[0], pair[1])
    }

    if (this.bpeCache.size >= BPE_CACHE_LIMIT) {
      const oldest = this.bpeCache.keys().next().value
      if (oldest !== undefined) this.bpeCache.delete(oldest)
    }
    this.bpeCache.set(word, symbols)
    return symbols
  }

  private lowestRankedPair(symbols: readonly string[]): [string, string] | undefined {
    let best: [string, string] | undefined
    let bestRank = Infinity
    for (let i = 0; i + 1 < symbols.length; i++) {
      const first = symbols[i] as string
      const second = symbols[i + 1] as string
      const rank = this.mergeRanks.get(first + ' ' + second)
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank
        best = [first, second]
      }
    }
    return best
  }

  private idOf(symbol: string): number {
    const id = this.vocab.get(symbol)
    // Every byte and every merge result is in the vocabulary, so a miss means a broken file.
    if (id === undefined) throw new RangeError(`BPE symbol "${symbol}" is not in the vocabulary`)
    return id
  }
}

/** Replaces every occurrence of the pair (first, second), scanning left to right. */
function mergePair(symbols: readonly string[], first: string, second: string): string[] {
  const merged: string[] = []
  let i = 0
  while (i < symbols.length) {
    if (symbols[i] === first && symbols[i + 1] === second) {
      merged.push(first + second)
      i += 2
    } else {
      merged.push(symbols[i] as string)
      i += 1
    }
  }
  return merged
}

/**
 * Printable stand-ins for the 256 byte values, so that BPE works on strings without whitespace
 * or control characters. Bytes that are printable Latin-1 characters ('!'–'~', '¡'–'¬', '®'–'ÿ')
 * stand for themselves. The other 68 bytes (controls, space, soft hyphen) take the characters
 * from U+0100 onwards, in byte order. `inVocabOrder` lists the printable bytes first and then
 * the others, as ids 0–255.
 */
const BYTE_TABLE = buildByteTable()

function buildByteTable(): { symbolOfByte: readonly string[]; inVocabOrder: readonly string[] } {
  const isPrintable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) ||
    (byte >= 0xa1 && byte <= 0xac) ||
    (byte >= 0xae && byte <= 0xff)
  const bytes = Array.from({ length: 256 }, (_, byte) => byte)
  const printable = bytes.filter(isPrintable)
  const others = bytes.filter((byte) => !isPrintable(byte))

  const symbolOfByte: string[] = []
  for (const byte of printable) symbolOfByte[byte] = String.fromCharCode(byte)
  others.forEach((byte, index) => (symbolOfByte[byte] = String.fromCharCode(0x100 + index)))

  const inVocabOrder = [...printable, ...others].map((byte) => symbolOfByte[byte] as string)
  return { symbolOfByte, inVocabOrder }
}

const utf8 = new TextEncoder()

function encodeBytes(word: string): string {
  let encoded = ''
  for (const byte of utf8.encode(word)) encoded += BYTE_TABLE.symbolOfByte[byte] as string
  return encoded
}

const loaded = new Map<string, ClipTokenizer>()

/**
 * Loads the tokenizer from a gzipped `bpe_simple_vocab_16e6.txt` (default: the copy next to this
 * module). Each path loads once per process.
 *
 * @throws RunnerError `model-missing` when the file cannot be read, `model-contract` when it is
 * not a CLIP BPE vocabulary.
 */
export function loadClipTokenizer(vocabPath: string | URL = CLIP_VOCAB_URL): ClipTokenizer {
  const key = String(vocabPath)
  const existing = loaded.get(key)
  if (existing) return existing

  const tokenizer = buildTokenizer(readMerges(vocabPath), key)
  loaded.set(key, tokenizer)
  return tokenizer
}

function readMerges(vocabPath: string | URL): string[] {
  try {
    const lines = gunzipSync(readFileSync(vocabPath)).toString('utf8').split('\n')
    return lines.slice(1, MERGE_COUNT + 1)
  } catch (error) {
    const message = `Failed to read the CLIP vocabulary ${String(vocabPath)}`
    throw new RunnerError('model-missing', message, { cause: error })
  }
}

function buildTokenizer(mergeLines: readonly string[], source: string): ClipTokenizer {
  const mergeRanks = new Map<string, number>()
  const mergedSymbols = mergeLines.map((line, rank) => {
    const parts = line.split(' ')
    if (parts.length !== 2) {
      throw new RunnerError(
        'model-contract',
        `${source} is not a CLIP BPE vocabulary: merge line ${rank + 1} is "${line}", expected two symbols`
      )
    }
    mergeRanks.set(line, rank)
    return parts.join('')
  })

  const symbols = [
    ...BYTE_TABLE.inVocabOrder,
    ...BYTE_TABLE.inVocabOrder.map((symbol) => symbol + END_OF_WORD),
    ...mergedSymbols,
    '<|startoftext|>',
    '<|endoftext|>',
  ]
  if (symbols.length !== VOCAB_SIZE) {
    throw new RunnerError(
      'model-contract',
      `${source} is not a CLIP BPE vocabulary: it gives ${symbols.length} tokens, expected ${VOCAB_SIZE}`
    )
  }
  return new ClipTokenizer(new Map(symbols.map((symbol, id) => [symbol, id])), mergeRanks)
}
