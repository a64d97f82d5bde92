/**
 * Seeded Gaussian noise that is the same on every machine and execution provider for one seed.
 *
 * Design: the noise is made on the CPU in JavaScript, never by a model, so the execution
 * provider cannot change it. The stream is fully specified here:
 *
 * 1. Bits: Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel Random Numbers: As Easy as
 *    1, 2, 3", SC 2011). Key word 0 is `seed mod 2^32`, key word 1 is `floor(seed / 2^32)`.
 *    Block `b` (0, 1, 2, ...) encrypts the counter `[b mod 2^32, floor(b / 2^32), 0, 0]` and
 *    yields four 32-bit words `w0..w3`.
 * 2. Uniforms: `u1 = ((w0 >>> 5) * 2^26 + (w1 >>> 6)) / 2^53` and `u2` likewise from `w2, w3`,
 *    both in [0, 1) with 53 random bits.
 * 3. Normals: Box–Muller in float64, `r = sqrt(-2 ln(1 - u1))`, `θ = 2π u2`, giving `r cos θ`
 *    then `r sin θ`, each rounded to float32.
 *
 * Each `sampleNormal(count)` call starts on a fresh block and uses `ceil(count / 2)` blocks.
 * An odd count drops the last block's second normal, so the stream position after a sequence
 * of calls depends only on their counts.
 *
 * NOTE: V8 compiles in its own `Math.log`, `Math.cos` and `Math.sin` (`src/base/ieee754.cc`,
 * an fdlibm port, with a bundled glibc sin and cos when built with V8_USE_LIBM_TRIG_FUNCTIONS)
 * instead of calling the system libm. So one Node release gives the same bits on every OS, but
 * another release or engine may differ in a float64's last bit, which rarely changes a float32.
 */
import { getRandomValues } from 'node:crypto'

/** Philox4x32 round multipliers (Salmon et al. 2011, table 2). */
const PHILOX_M0 = 0xd2511f53
const PHILOX_M1 = 0xcd9e8d57

/** Philox4x32 key schedule increments: the golden ratio and sqrt(3) - 1 as 32-bit fractions. */
const PHILOX_W0 = 0x9e3779b9
const PHILOX_W1 = 0xbb67ae85

const PHILOX_ROUNDS = 10

const TWO_POW_26 = 2 ** 26
const TWO_POW_32 = 2 ** 32
const TWO_POW_53 = 2 ** 53

/** Largest seed the public API accepts (a uint32), and the range of `pickSeed`. */
export const MAX_SEED = 2 ** 32 - 1

/** Four 32-bit words, as Philox4x32 takes and returns them. */
export type PhiloxCounter = readonly [number, number, number, number]

/** Two 32-bit words, the Philox4x32 key. */
export type PhiloxKey = readonly [number, number]

/** Source of seeded standard normal samples, where each call continues the stream. */
export interface NoiseGenerator {
  readonly seed: number
  /** Draws `count` samples from N(0, 1) as float32. */
  sampleNormal(count: number): Float32Array
}

/**
 * Encrypts one counter block with Philox4x32-10 and returns the four output words.
 *
 * @example philox4x32([0, 0, 0, 0], [0, 0]) // [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 */
export function philox4x32(counter: PhiloxCounter, key: PhiloxKey): PhiloxCounter {
  const out = new Uint32Array(4)
  philoxInto(out, counter[0], counter[1], counter[2], counter[3], key[0], key[1])
  return [out[0]!, out[1]!, out[2]!, out[3]!]
}

/**
 * Creates the normal-noise stream for `seed`.
 *
 * @param seed integer in [0, 2^53 - 1]; the public API limits it to [0, MAX_SEED]
 * @throws RangeError when the seed is not such an integer
 */
export function createNoiseGenerator(seed: number): NoiseGenerator {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`Seed ${seed} is invalid: expected an integer in [0, 2^53 - 1].`)
  }

  const key0 = seed % TWO_POW_32
  const key1 = Math.floor(seed / TWO_POW_32)
  const words = new Uint32Array(4)
  let block = 0

  return {
    seed,
    sampleNormal(count: number): Float32Array {
      if (!Number.isSafeInteger(count) || count < 0) {
        throw new RangeError(`Sample count ${count} is invalid: expected a non-negative integer.`)
      }
      const samples = new Float32Array(count)
      for (let i = 0; i < count; i += 2) {
        philoxInto(words, block % TWO_POW_32, Math.floor(block / TWO_POW_32), 0, 0, key0, key1)
        block += 1
        const u1 = toUnitInterval(words[0]!, words[1]!)
        const u2 = toUnitInterval(words[2]!, words[3]!)
        // 1 - u1 lies in (0, 1], so the logarithm is finite.
        const radius = Math.sqrt(-2 * Math.log(1 - u1))
        const angle = 2 * Math.PI * u2
        samples[i] = radius * Math.cos(angle)
        if (i + 1 < count) samples[i + 1] = radius * Math.sin(angle)
      }
      return samples
    },
  }
}

/** Picks a uniformly random seed in [0, MAX_SEED] from the system's cryptographic source. */
export function pickSeed(): number {
  return getRandomValues(new Uint32Array(1))[0]!
}

/** Returns `seed` when given, otherwise a fresh `pickSeed()`, so a run can always report it. */
export function resolveSeed(seed?: number): number {
  return seed ?? pickSeed()
}

/**
 * Maps two 32-bit words to a float64 in [0, 1) with 53 random bits.
 * The top 27 bits come from `hi` and the top 26 from `lo`.
 */
function toUnitInterval(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_POW_26 + (lo >>> 6)) / TWO_POW_53
}

/**
 * Runs the ten Philox4x32 rounds, bumping the key between rounds, and writes the result to
 * `out`.
 */
function philoxInto(
  out: Uint32Array,
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number
): void {
  for (let round = 0; round < PHILOX_ROUNDS; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0
      k1 = (k1 + PHILOX_W1) >>> 0
    }
    const hi0 = mulHigh32(PHILOX_M0, c0)
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0
    const hi1 = mulHigh32(PHILOX_M1, c2)
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0
    c0 = (hi1 ^ c1 ^ k0) >>> 0
    c1 = lo1
    c2 = (hi0 ^ c3 ^ k1) >>> 0
    c3 = lo0
  }
  out[0] = c0
  out[1] = c1
  out[2] = c2
  out[3] = c3
}

/** Returns the high 32 bits of the 64-bit product of two uint32 values, from 16-bit halves. */
function mulHigh32(a: number, b: number): number {
  const aLow = a & 0xffff
  const aHigh = a >>> 16
  const bLow = b & 0xffff
  const bHigh = b >>> 16
  const lowLow = aLow * bLow
  const lowHigh = aLow * bHigh
  const highLow = aHigh * bLow
  // Every partial product is below 2^32 and every sum below 2^53, so float64 represents them exactly.
  const middle = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff)
  return (aHigh * bHigh + (lowHigh >>> 16) + (highLow >>> 16) + Math.floor(middle / 65536)) >>> 0
}
