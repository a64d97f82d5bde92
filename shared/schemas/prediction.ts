/**
 * The runner's prediction contract (Cog's HTTP API): what the edge sends to a runner and what a
 * runner returns, directly or through a webhook. Input and output names are the public API's.
 */
import { z } from 'zod'

import { EditListSchema, EditSettingsSchema, EntitySchema, PromptSchema } from './edit-settings.ts'

/** An image reference: an https URL, a signed URL of this deployment, or a data URI. */
export const ImageRefSchema = z
  .string()
  .min(1)
  .refine((value) => /^(https?:\/\/|data:image\/)/.test(value), {
    message: 'Give the image as an http(s) URL or a data:image/... URI.',
  })

export const PredictionInputSchema = EditSettingsSchema.extend({
  image: ImageRefSchema,
  /** Cached entity mask (PNG, the image's upright size); skips the alignment phase. */
  mask: ImageRefSchema.optional(),
  entity: EntitySchema.optional(),
  prompt: PromptSchema.optional(),
  edits: EditListSchema.optional(),
  /** Signed PUT URLs for the outputs; without them the outputs come back as data URIs. */
  output_image_url: z.url().optional(),
  output_mask_url: z.url().optional(),
}).refine((input) => (input.edits !== undefined) !== (input.entity !== undefined), {
  message: 'Give either `entity` with `prompt`, or `edits` as a list of {entity, prompt}.',
  path: ['entity'],
})
export type PredictionInput = z.infer<typeof PredictionInputSchema>

export const PixelBoxSchema = z.tuple([z.number(), z.number(), z.number(), z.number()])

export const EntityCandidateSchema = z.object({
  bbox: PixelBoxSchema,
  area: z.number(),
  score: z.number(),
})

export const PredictionOutputSchema = z.object({
  /** The result: the signed URL it was uploaded to, or a data URI. */
  image: z.string(),
  mask: z.string(),
  format: z.enum(['png', 'jpeg', 'webp']),
  width: z.number().int(),
  height: z.number().int(),
  seed: z.number().int(),
  selected: z.array(EntityCandidateSchema),
  candidates: z.array(EntityCandidateSchema),
  window: PixelBoxSchema,
  mask_from_cache: z.boolean(),
  timings_ms: z.record(z.string(), z.number()),
  model_revisions: z.record(z.string(), z.string()),
})
export type PredictionOutput = z.infer<typeof PredictionOutputSchema>

export const PREDICTION_STATUSES = [
  'starting',
  'processing',
  'succeeded',
  'failed',
  'canceled',
] as const
export type PredictionStatus = (typeof PREDICTION_STATUSES)[number]

export const WEBHOOK_EVENTS = ['start', 'output', 'logs', 'completed'] as const

export const PredictionRequestSchema = z.object({
  id: z.string().min(1).max(128).optional(),
  input: z.unknown(),
  webhook: z.url().optional(),
  webhook_events_filter: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
})

/** A runner's failure, carrying the problem slug so the edge can map it without guessing. */
export const PredictionErrorSchema = z.object({
  slug: z.string(),
  detail: z.string(),
  retryable: z.boolean(),
  candidates: z.array(EntityCandidateSchema).optional(),
})

export const PredictionResponseSchema = z.object({
  id: z.string(),
  status: z.enum(PREDICTION_STATUSES),
  input: z.unknown().optional(),
  output: PredictionOutputSchema.nullable().optional(),
  // Cog sends `error` as a string; ours adds the structured form under `error_details`.
  error: z.string().nullable().optional(),
  error_details: PredictionErrorSchema.nullable().optional(),
  logs: z.string().optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  created_at: z.string().optional(),
  started_at: z.string().nullable().optional(),
  completed_at: z.string().nullable().optional(),
})
export type PredictionResponse = z.infer<typeof PredictionResponseSchema>
