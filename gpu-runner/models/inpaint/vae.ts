/**
 * The VAE between pixels and latents, with the latent scaling factor applied on both sides
 * (latents = scalingFactor · E(x); x = D(latents / scalingFactor)), as the SD pipelines do.
 */
import { makeTensor, readOutput, type ModelSession } from '../../onnx/sessions.ts'
import { LATENT_CHANNELS, VAE_SCALE_FACTOR_PX } from '../contracts.ts'

/** Size of an image in pixels; both sides are multiples of the VAE factor. */
export interface PixelSize {
  readonly width: number
  readonly height: number
}

/**
 * Encodes one image to scaled latents `[1, 4, height/8, width/8]`.
 *
 * Exports differ in what the encoder returns: a sample of the latent distribution (4 channels,
 * the diffusers ONNX export) or its parameters (mean and log-variance, 8 channels). For the
 * latter the mean is used, which keeps the result deterministic.
 *
 * @param pixelsNchw float32 `[1, 3, height, width]` in [-1, 1].
 */
export async function encodeLatents(
  vaeEncoder: ModelSession,
  pixelsNchw: Float32Array,
  size: PixelSize,
  scalingFactor: number
): Promise<Float32Array> {
  assertMultipleOfVaeFactor(size)

  const outputs = await vaeEncoder.run({
    sample: makeTensor(vaeEncoder, 'sample', pixelsNchw, [1, 3, size.height, size.width]),
  })
  const raw = readOutput(outputs, 'latent_sample')
  const cellCount = (size.width / VAE_SCALE_FACTOR_PX) * (size.height / VAE_SCALE_FACTOR_PX)
  const channels = raw.length / cellCount
  if (channels !== LATENT_CHANNELS && channels !== 2 * LATENT_CHANNELS) {
    throw new RangeError(
      `VAE encoder "${vaeEncoder.id}" returned ${channels} channels per latent cell; ` +
        `expected ${LATENT_CHANNELS} (a sample) or ${2 * LATENT_CHANNELS} (mean and log-variance).`
    )
  }

  // The mean is the first LATENT_CHANNELS planes in both layouts.
  const latents = raw.slice(0, LATENT_CHANNELS * cellCount)
  for (let i = 0; i < latents.length; i++) latents[i] = latents[i]! * scalingFactor
  return latents
}

/**
 * Decodes scaled latents `[1, 4, h, w]` to pixels `[1, 3, 8h, 8w]` in [-1, 1] (unclamped).
 */
export async function decodeLatents(
  vaeDecoder: ModelSession,
  latents: Float32Array,
  size: PixelSize,
  scalingFactor: number
): Promise<Float32Array> {
  assertMultipleOfVaeFactor(size)

  const unscaled = new Float32Array(latents.length)
  for (let i = 0; i < latents.length; i++) unscaled[i] = latents[i]! / scalingFactor
  const latentDims = [
    1,
    LATENT_CHANNELS,
    size.height / VAE_SCALE_FACTOR_PX,
    size.width / VAE_SCALE_FACTOR_PX,
  ]
  const outputs = await vaeDecoder.run({
    latent_sample: makeTensor(vaeDecoder, 'latent_sample', unscaled, latentDims),
  })

  return readOutput(outputs, 'sample')
}

function assertMultipleOfVaeFactor(size: PixelSize): void {
  if (size.width % VAE_SCALE_FACTOR_PX === 0 && size.height % VAE_SCALE_FACTOR_PX === 0) return

  throw new RangeError(
    `Image size ${size.width}x${size.height} is not a multiple of ${VAE_SCALE_FACTOR_PX} on both sides.`
  )
}
