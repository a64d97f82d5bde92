/**
 * The input of `createEdit` and the `POST /v1/edits` request built from it.
 *
 * Image bytes travel as a multipart file part, which avoids the extra third of base64 and the
 * encoding time. An image URL or an upload id travels in a JSON body.
 *
 * The multipart body is encoded into one buffer before it is sent. Node's fetch (undici) sends
 * a FormData body in several writes. When the server rejects the request before reading the
 * body (a wrong API key) and closes the connection, a later write fails with EPIPE, and fetch
 * reports that error in place of the response. Against the local stack (workerd under
 * Miniflare, Node 20), 6 of 10 requests with a wrong key failed that way with a FormData body,
 * and none of 10 with the same body buffered.
 */
import type { z } from 'zod'

import type { EditSettingsSchema, EditStep } from '../schemas/edit-settings.ts'

/** Edit settings as the API names them. Each one left out takes the API's default. */
export type EditSettingsInput = z.input<typeof EditSettingsSchema>

/** The photo to edit: its bytes, a URL the API downloads, or a `POST /v1/uploads` id. */
export type ImageInput =
  Blob | Uint8Array | { readonly url: string } | { readonly uploadId: string }

/** One entity edit, or several applied in order. */
export type EditTargetInput =
  | { readonly entity: string; readonly prompt: string; readonly edits?: never }
  | { readonly edits: readonly EditStep[]; readonly entity?: never; readonly prompt?: never }

/** Everything `createEdit` sends. */
export type CreateEditInput = EditSettingsInput &
  EditTargetInput & {
    readonly image: ImageInput
    /** http(s) URL that receives the finished edit, signed with `Semani-Signature`. */
    readonly webhookUrl?: string
    /** Makes a retried request return the edit the first one created, for 24 hours. */
    readonly idempotencyKey?: string
    /**
     * Seconds the API may hold the response while the edit runs (`Prefer: wait=N`, capped by
     * the API); 0 returns at once. Without it the API waits its default (60 s unless set).
     */
    readonly waitS?: number
  }

/** Names of the edit settings, in the order the API documents them. */
export const EDIT_SETTING_NAMES = [
  'negative_prompt',
  'seed',
  'steps',
  'guidance_scale',
  'scheduler',
  'grow_mask',
  'feather',
  'keep_shape',
  'strength',
  'multiple',
  'threshold',
  'output_format',
] as const satisfies readonly (keyof EditSettingsInput)[]

/** Body and headers of a `POST /v1/edits` request. */
export interface EditRequest {
  readonly body: Uint8Array<ArrayBuffer> | string
  readonly headers: Record<string, string>
}

/** Builds the `POST /v1/edits` request for `input`: multipart for bytes, JSON otherwise. */
export async function buildEditRequest(input: CreateEditInput): Promise<EditRequest> {
  const fields = editFields(input)
  const headers = requestHeaders(input)
  const { image } = input

  if (image instanceof Blob || image instanceof Uint8Array) {
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.set(name, toFormText(value))
    form.set('image', image instanceof Blob ? image : new Blob([copyBytes(image)]), 'image')
    // Response encodes the form and names the boundary in its Content-Type.
    const encoded = new Response(form)
    const contentType = encoded.headers.get('Content-Type') ?? ''
    const body = new Uint8Array(await encoded.arrayBuffer())
    return { body, headers: { ...headers, 'Content-Type': contentType } }
  }

  const source = 'url' in image ? { image_url: image.url } : { upload_id: image.uploadId }
  return {
    body: JSON.stringify({ ...fields, ...source }),
    headers: { ...headers, 'Content-Type': 'application/json' },
  }
}

// The request fields other than the image, under their API names.
function editFields(input: CreateEditInput): Record<string, unknown> {
  const fields: Record<string, unknown> =
    input.edits !== undefined
      ? { edits: input.edits }
      : { entity: input.entity, prompt: input.prompt }
  for (const name of EDIT_SETTING_NAMES) {
    if (input[name] !== undefined) fields[name] = input[name]
  }
  if (input.webhookUrl !== undefined) fields.webhook_url = input.webhookUrl
  return fields
}

function requestHeaders(input: CreateEditInput): Record<string, string> {
  const headers: Record<string, string> = {}
  if (input.idempotencyKey !== undefined) headers['Idempotency-Key'] = input.idempotencyKey
  if (input.waitS !== undefined) {
    headers.Prefer = input.waitS <= 0 ? 'respond-async' : `wait=${Math.ceil(input.waitS)}`
  }
  return headers
}

// Multipart fields are text. The API parses numbers, booleans and the `edits` JSON from it.
function toFormText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

// Blob takes no view of a SharedArrayBuffer, so the bytes go in a copy backed by an ArrayBuffer.
function copyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}
