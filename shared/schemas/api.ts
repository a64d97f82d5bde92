/**
 * The public HTTP API's request and response bodies, as zod schemas. The edge validates with
 * them and generates its OpenAPI document from them, so the two cannot drift apart.
 */
import { z } from 'zod'

import { IMAGE_FORMATS, MAX_IMAGE_BYTES } from '../limits.ts'
import {
  EditListSchema,
  EditSettingsSchema,
  EditStepSchema,
  EntitySchema,
  PromptSchema,
} from './edit-settings.ts'
import { EntityCandidateSchema, PixelBoxSchema } from './prediction.ts'

/** Media type of each accepted image format. */
export const IMAGE_MEDIA_TYPES = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
} as const satisfies Record<(typeof IMAGE_FORMATS)[number], string>

export const UploadIdSchema = z
  .string()
  .regex(
    /^upl_[A-Za-z0-9]{20,40}$/,
    'An upload id is "upl_" followed by 20 to 40 letters and digits, as POST /v1/uploads returns it.'
  )

export const EditIdSchema = z
  .string()
  .regex(
    /^edt_[A-Za-z0-9]{20,40}$/,
    'An edit id is "edt_" followed by 20 to 40 letters and digits, as POST /v1/edits returns it.'
  )

const HttpUrlSchema = z.url({ protocol: /^https?$/ })

/**
 * Fields of `POST /v1/edits` other than the image file of a multipart request: the edit settings,
 * the edits, one image source and an optional webhook.
 */
export const EditRequestFieldsSchema = EditSettingsSchema.extend({
  entity: EntitySchema.optional().meta({ description: 'Words naming the entity to edit.' }),
  prompt: PromptSchema.optional().meta({
    description: 'What the entity becomes; the empty string removes it.',
  }),
  edits: EditListSchema.optional().meta({
    description: 'Several edits applied in order, instead of `entity` and `prompt`.',
  }),
  image_base64: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'The image as base64, or as a data:image/...;base64, URI.' }),
  image_url: HttpUrlSchema.optional().meta({
    description: 'An https URL the API downloads the image from.',
  }),
  upload_id: UploadIdSchema.optional().meta({
    description: 'The id of an upload made through `POST /v1/uploads`.',
  }),
  webhook_url: HttpUrlSchema.optional().meta({
    description: 'An https URL that receives the finished edit, signed with `Semani-Signature`.',
  }),
})
export type EditRequestFields = z.infer<typeof EditRequestFieldsSchema>

const IMAGE_SOURCE_FIELDS = ['image_base64', 'image_url', 'upload_id'] as const

/** Adds issues for a request that names no edit, or an edit in two ways. */
export function checkEditTarget(value: EditRequestFields, ctx: z.RefinementCtx): void {
  const hasSingle = value.entity !== undefined || value.prompt !== undefined
  if (hasSingle && value.edits !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['edits'],
      message: 'Give either `entity` with `prompt`, or `edits`, not both.',
    })
    return
  }
  if (value.edits !== undefined) return
  if (value.entity === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['entity'],
      message: 'Name the entity to edit in `entity` (or give `edits`).',
    })
  }
  if (value.prompt === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['prompt'],
      message: 'Describe what the entity becomes in `prompt`; "" removes it.',
    })
  }
}

/** Adds an issue unless exactly `expected` image sources are set (1 for JSON, 0 with a file). */
export function checkImageSources(
  value: EditRequestFields,
  ctx: z.RefinementCtx,
  expected: 0 | 1
): void {
  const given = IMAGE_SOURCE_FIELDS.filter((field) => value[field] !== undefined)
  if (given.length === expected) return

  const message =
    expected === 0
      ? `The multipart request carries the image as the \`image\` file; remove ${given.join(', ')}.`
      : given.length === 0
        ? 'Give the image as one of image_base64, image_url or upload_id.'
        : `Give the image in one field only, not in ${given.join(' and ')}.`
  ctx.addIssue({ code: 'custom', path: [given[1] ?? given[0] ?? 'image_base64'], message })
}

/** JSON body of `POST /v1/edits`. */
export const EditJsonRequestSchema = EditRequestFieldsSchema.superRefine((value, ctx) => {
  checkEditTarget(value, ctx)
  checkImageSources(value, ctx, 1)
})
export type EditJsonRequest = z.infer<typeof EditJsonRequestSchema>

/** Body of `POST /v1/uploads`. */
export const UploadRequestSchema = z.strictObject({
  content_type: z.enum(Object.values(IMAGE_MEDIA_TYPES) as [string, ...string[]]).meta({
    description: 'Media type of the image that will be PUT to `upload_url`.',
  }),
  size_bytes: z
    .number()
    .int()
    .min(1)
    .max(MAX_IMAGE_BYTES)
    .optional()
    .meta({ description: 'Size of the image in bytes, when known.' }),
})
export type UploadRequest = z.infer<typeof UploadRequestSchema>

/** Response of `POST /v1/uploads`: where and how to PUT the image. */
export const UploadResponseSchema = z.object({
  id: UploadIdSchema,
  object: z.literal('upload'),
  upload_url: z.url(),
  method: z.literal('PUT'),
  headers: z.record(z.string(), z.string()),
  expires_at: z.iso.datetime(),
})
export type UploadResponse = z.infer<typeof UploadResponseSchema>

/** RFC 9457 problem details as the API sends them. */
export const ProblemSchema = z.looseObject({
  type: z.url(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })).optional(),
})

export const EDIT_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const
export type EditStatus = (typeof EDIT_STATUSES)[number]

/** Statuses after which an edit never changes again. */
export const TERMINAL_EDIT_STATUSES: readonly EditStatus[] = ['succeeded', 'failed', 'canceled']

export const EditResultSchema = z.object({
  image_url: z.url().meta({ description: 'Signed GET URL of the edited image.' }),
  mask_url: z.url().meta({ description: 'Signed GET URL of the 8-bit grayscale PNG mask.' }),
  format: z.enum(IMAGE_FORMATS),
  width: z.number().int(),
  height: z.number().int(),
  expires_at: z.iso.datetime().meta({ description: 'When the two URLs stop working.' }),
})

/** An edit job as `GET /v1/edits/{id}` returns it. */
export const EditJobSchema = z.object({
  id: EditIdSchema,
  object: z.literal('edit'),
  status: z.enum(EDIT_STATUSES),
  created_at: z.iso.datetime(),
  started_at: z.iso.datetime().nullable(),
  completed_at: z.iso.datetime().nullable(),
  edits: z.array(EditStepSchema),
  settings: EditSettingsSchema,
  input: z.object({
    sha256: z.string(),
    format: z.enum(IMAGE_FORMATS),
    width: z.number().int().meta({ description: 'Stored width, before EXIF orientation.' }),
    height: z.number().int().meta({ description: 'Stored height, before EXIF orientation.' }),
    size_bytes: z.number().int(),
  }),
  result: EditResultSchema.nullable(),
  selected: z.array(EntityCandidateSchema),
  candidates: z.array(EntityCandidateSchema),
  seed: z.number().int().nullable(),
  window: PixelBoxSchema.nullable(),
  mask_cache: z.enum(['hit', 'miss']).nullable().meta({
    description: 'Whether the entity mask came from the mask cache, skipping alignment.',
  }),
  timings_ms: z.record(z.string(), z.number()),
  model_revisions: z.record(z.string(), z.string()),
  attempts: z.number().int().meta({ description: 'Runner attempts so far.' }),
  units: z.number().int().meta({ description: 'Credits the edit costs when it succeeds.' }),
  webhook_url: z.url().nullable(),
  error: ProblemSchema.nullable(),
})
export type EditJob = z.infer<typeof EditJobSchema>

/** Response of `GET /v1/usage`. */
export const UsageSchema = z.object({
  key: z.object({ id: z.string(), name: z.string(), created_at: z.iso.datetime() }),
  credits: z.object({
    total: z.number().int().nullable().meta({ description: 'null when the key is unmetered.' }),
    used: z.number().int(),
    reserved: z.number().int().meta({ description: 'Units of edits still queued or running.' }),
    remaining: z.number().int().nullable(),
  }),
  edits: z.record(z.enum(EDIT_STATUSES), z.number().int()),
  daily_units: z.array(z.object({ date: z.iso.date(), units: z.number().int() })),
  rate_limits: z.array(
    z.object({ policy: z.string(), quota: z.number().int(), window_s: z.number().int() })
  ),
})
export type Usage = z.infer<typeof UsageSchema>
