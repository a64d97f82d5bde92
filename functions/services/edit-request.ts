/**
 * The two body forms of `POST /v1/edits` and their common result.
 *
 * JSON carries the image as `image_base64` (plain base64 or a data URI), `image_url` or
 * `upload_id`. Multipart carries it as the file part `image`, or without a file in one of the
 * same three fields. Every other multipart field is text. Numbers and booleans are read from
 * it, `edits` is parsed as a JSON array, and text fields stay as they are.
 */
import { z } from 'zod'

import { MAX_IMAGE_BYTES } from '../../shared/limits.ts'
import { ApiProblem } from '../../shared/problems.ts'
import {
  checkEditTarget,
  checkImageSources,
  EditRequestFieldsSchema,
  type EditRequestFields,
} from '../../shared/schemas/api.ts'
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'
import { fromBase64 } from '../../shared/signing.ts'

/** Source of a request's image. */
export type ImageSource =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'upload'; readonly uploadId: string }

/** A validated edit request, whichever body form it came in. */
export interface EditSubmission {
  readonly edits: readonly EditStep[]
  readonly settings: EditSettings
  readonly image: ImageSource
  readonly webhookUrl: string | null
}

/** Largest request body: the image as base64 (4 characters per 3 bytes) plus the other fields. */
export const MAX_EDIT_BODY_BYTES = Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 64 * 1024

type FormValue = string | File | (string | File)[]

/** Multipart body of `POST /v1/edits`, converted to the JSON field types and validated. */
export const EditFormRequestSchema = z.preprocess(
  (form) => formToFields(form as Record<string, FormValue>),
  EditRequestFieldsSchema.extend({
    image: z.instanceof(File, { message: 'The `image` part must be a file.' }).optional(),
  }).superRefine((value, ctx) => {
    checkEditTarget(value, ctx)
    checkImageSources(value, ctx, value.image === undefined ? 1 : 0)
  })
)
export type EditFormRequest = z.infer<typeof EditFormRequestSchema>

/** Reads form text into the JSON field types, driven by the schema of each field. */
export function formToFields(form: Record<string, FormValue>): Record<string, unknown> {
  const shape = EditRequestFieldsSchema.shape as Record<string, z.ZodType>
  const fields: Record<string, unknown> = {}

  for (const [name, value] of Object.entries(form)) {
    if (name === 'image' || typeof value !== 'string') {
      fields[name] = value
      continue
    }
    const schema = shape[name]
    fields[name] = schema ? fromFormText(value, baseType(schema)) : value
  }
  return fields
}

// Unwraps optional and default wrappers to the field's own type name.
function baseType(schema: z.ZodType): string {
  let current: z.ZodType = schema
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault) {
    current = current.unwrap() as z.ZodType
  }
  return current.def.type
}

function fromFormText(text: string, type: string): unknown {
  if (type === 'number' && text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text)
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true'
  if (type === 'array') {
    try {
      return JSON.parse(text)
    } catch {
      // Left as text, so validation reports "expected array" on the field.
      return text
    }
  }
  return text
}

/** Turns validated fields (plus a multipart file) into a submission. */
export async function toEditSubmission(
  fields: EditRequestFields & { image?: File }
): Promise<EditSubmission> {
  const {
    entity,
    prompt,
    edits,
    image_base64,
    image_url,
    upload_id,
    webhook_url,
    image,
    ...settings
  } = fields

  return {
    edits: edits ?? [{ entity: entity ?? '', prompt: prompt ?? '' }],
    settings,
    image: await toImageSource({ image, image_base64, image_url, upload_id }),
    webhookUrl: webhook_url ?? null,
  }
}

async function toImageSource(sources: {
  image?: File
  image_base64?: string
  image_url?: string
  upload_id?: string
}): Promise<ImageSource> {
  if (sources.image)
    return { kind: 'bytes', bytes: new Uint8Array(await sources.image.arrayBuffer()) }
  if (sources.image_url) return { kind: 'url', url: sources.image_url }
  if (sources.upload_id) return { kind: 'upload', uploadId: sources.upload_id }
  return { kind: 'bytes', bytes: decodeImageBase64(sources.image_base64 ?? '') }
}

/**
 * Decodes `image_base64`: plain base64 (standard or url-safe alphabet) or a `data:` URI.
 *
 * @throws ApiProblem `invalid-request` when it is not base64.
 */
export function decodeImageBase64(text: string): Uint8Array {
  const dataUri = /^data:([^;,]*)(;[^,]*)?,(.*)$/s.exec(text)
  if (dataUri && !(dataUri[2] ?? '').includes(';base64')) {
    throw new ApiProblem(
      'invalid-request',
      'image_base64 data URIs must be base64-encoded (";base64,").'
    )
  }
  const bytes = fromBase64(dataUri ? (dataUri[3] ?? '') : text)
  if (!bytes) {
    throw new ApiProblem(
      'invalid-request',
      'image_base64 is not valid base64. Send the file bytes base64-encoded, or as a data URI.'
    )
  }
  return bytes
}
