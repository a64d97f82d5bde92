/**
 * Settings of one edit, shared by the public API and the runner's prediction contract.
 * Field names are snake_case, as the JSON API carries them; defaults live here only.
 */
import { z } from 'zod'

import {
  IMAGE_FORMATS,
  MAX_EDITS_PER_REQUEST,
  MAX_ENTITY_CHARS,
  MAX_PROMPT_CHARS,
} from '../limits.ts'

/** Denoising steps when the caller gives none (the DDIM default of the SD inpainting pipeline). */
export const DEFAULT_STEPS = 50

/** Classifier-free guidance scale when the caller gives none. */
export const DEFAULT_GUIDANCE_SCALE = 9

/** Keep-shape strength when the caller gives none: how much of the original is noised away. */
export const DEFAULT_STRENGTH = 0.75

/** Pixels the entity mask grows by before feathering, when the caller gives none. */
export const DEFAULT_GROW_MASK_PX = 8

/** Width of the soft border, in pixels, when the caller gives none. */
export const DEFAULT_FEATHER_PX = 8

/** Similarity threshold above which an instance counts as a match with `multiple`. */
export const DEFAULT_MATCH_THRESHOLD = 0.2

export const SCHEDULERS = ['ddim', 'dpm-solver++'] as const
export type SchedulerName = (typeof SCHEDULERS)[number]

export const EntitySchema = z
  .string()
  .trim()
  .min(1, 'Name the entity to edit, for example "dog".')
  .max(MAX_ENTITY_CHARS)

/** Target description; the empty string removes the entity and fills in the background. */
export const PromptSchema = z.string().max(MAX_PROMPT_CHARS)

export const EditStepSchema = z.strictObject({ entity: EntitySchema, prompt: PromptSchema })
export type EditStep = z.infer<typeof EditStepSchema>

export const EditSettingsSchema = z.strictObject({
  negative_prompt: z.string().max(MAX_PROMPT_CHARS).default(''),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
  steps: z.number().int().min(1).max(150).default(DEFAULT_STEPS),
  guidance_scale: z.number().min(1).max(30).default(DEFAULT_GUIDANCE_SCALE),
  scheduler: z.enum(SCHEDULERS).default('ddim'),
  grow_mask: z.number().int().min(0).max(256).default(DEFAULT_GROW_MASK_PX),
  feather: z.number().int().min(0).max(128).default(DEFAULT_FEATHER_PX),
  keep_shape: z.boolean().default(false),
  strength: z.number().gt(0).max(1).default(DEFAULT_STRENGTH),
  multiple: z.boolean().default(false),
  threshold: z.number().min(-1).max(1).default(DEFAULT_MATCH_THRESHOLD),
  output_format: z.enum(IMAGE_FORMATS).default('png'),
})
export type EditSettings = z.infer<typeof EditSettingsSchema>

export const EditListSchema = z.array(EditStepSchema).min(1).max(MAX_EDITS_PER_REQUEST)
