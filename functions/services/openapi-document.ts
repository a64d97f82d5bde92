/**
 * The OpenAPI 3.1 document of the public API, generated from the zod schemas in
 * shared/schemas/api.ts with `z.toJSONSchema` (JSON Schema 2020-12, which OpenAPI 3.1 uses).
 * Rules a JSON Schema cannot state (one image source, `entity` with `prompt` or `edits`) are
 * written into the descriptions.
 */
import { z } from 'zod'

import { PROBLEMS, problemType, type ProblemSlug } from '../../shared/problems.ts'
import {
  EditJobSchema,
  EditJsonRequestSchema,
  EditRequestFieldsSchema,
  ProblemSchema,
  UploadRequestSchema,
  UploadResponseSchema,
  UsageSchema,
} from '../../shared/schemas/api.ts'
import { MAX_EDIT_BODY_BYTES } from './edit-request.ts'

type JsonObject = Record<string, unknown>

/** JSON Schema of `schema` for requests (`input`: defaults optional) or responses (`output`). */
export function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const jsonSchema = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject
  // OpenAPI 3.1 declares the JSON Schema dialect once for the document, not per schema.
  delete jsonSchema.$schema
  return jsonSchema
}

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` })

// The shared edit settings carry no descriptions of their own; the document adds them here.
const SETTING_DESCRIPTIONS: Readonly<Record<string, string>> = {
  negative_prompt: 'What the regenerated region should not show.',
  seed: 'Seed of the diffusion noise; the same seed and settings give the same result.',
  steps: 'Denoising steps of the sampler.',
  guidance_scale: 'Classifier-free guidance scale: how strongly the result follows `prompt`.',
  scheduler: 'Sampler of the diffusion model.',
  grow_mask: 'Pixels the entity mask grows by before the edit.',
  feather: 'Width in pixels of the soft border where the result blends into the photo.',
  keep_shape: 'Keep the entity’s outline and change its appearance, starting from the original.',
  strength: 'With keep_shape: how much of the original entity is noised away (0 to 1).',
  multiple: 'Edit every instance that matches, not only the best one.',
  threshold: 'With multiple: the similarity an instance needs to count as a match.',
  output_format: 'Format of the edited image.',
}

function describeSettings(schema: JsonObject): JsonObject {
  const properties = { ...(schema.properties as Record<string, JsonObject>) }
  for (const [name, description] of Object.entries(SETTING_DESCRIPTIONS)) {
    const property = properties[name]
    if (property && property.description === undefined)
      properties[name] = { ...property, description }
  }
  return { ...schema, properties }
}

const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': {
    description: 'Quota policies of the key (draft-ietf-httpapi-ratelimit-headers-10).',
    schema: { type: 'string' },
  },
  RateLimit: {
    description: 'Remaining units (r) and seconds to reset (t) of each policy.',
    schema: { type: 'string' },
  },
  'Request-Id': { description: 'Id of this request in the logs.', schema: { type: 'string' } },
}

function problemResponses(slugs: readonly ProblemSlug[]): Record<string, JsonObject> {
  const byStatus = new Map<number, ProblemSlug[]>()
  for (const slug of slugs)
    byStatus.set(PROBLEMS[slug].status, [...(byStatus.get(PROBLEMS[slug].status) ?? []), slug])

  return Object.fromEntries(
    [...byStatus].map(([status, group]) => [
      String(status),
      {
        description: group
          .map((slug) => `${PROBLEMS[slug].title} (${problemType(slug)})`)
          .join('; '),
        headers: RATE_LIMIT_HEADERS,
        content: { 'application/problem+json': { schema: ref('Problem') } },
      },
    ])
  )
}

const jsonResponse = (
  description: string,
  schemaName: string,
  headers: JsonObject = {}
): JsonObject => ({
  description,
  headers: { ...RATE_LIMIT_HEADERS, ...headers },
  content: { 'application/json': { schema: ref(schemaName) } },
})

const EDIT_DESCRIPTION = [
  'Finds the entity that `entity` names in the image and regenerates it as `prompt` describes.',
  'Give the image in exactly one of `image_base64`, `image_url`, `upload_id` (or, in a multipart',
  'request, as the file part `image`). Give either `entity` with `prompt`, or `edits`.',
  'The response waits for the edit up to `Prefer: wait=N` seconds (default 60, at most 300) and',
  'answers 200 with the finished edit, or 202 with `Location` of the edit to poll.',
  '`Prefer: respond-async` answers 202 at once. Each succeeded entity edit costs one credit.',
].join(' ')

function buildPaths(): JsonObject {
  const bearer = [{ apiKey: [] }]
  const editProblems = problemResponses([
    'invalid-request',
    'unauthorized',
    'insufficient-credit',
    'conflict',
    'payload-too-large',
    'unsupported-image',
    'entity-not-found',
    'rate-limited',
    'runner-unavailable',
    'runner-failed',
    'timed-out',
  ])

  return {
    '/v1/edits': {
      post: {
        operationId: 'createEdit',
        summary: 'Edit an entity of a photo',
        description: EDIT_DESCRIPTION,
        security: bearer,
        parameters: [
          {
            name: 'Prefer',
            in: 'header',
            schema: { type: 'string', examples: ['wait=30', 'respond-async'] },
          },
          {
            name: 'Idempotency-Key',
            in: 'header',
            description:
              'The same key with the same body returns the same edit for 24 h; with another body, 409.',
            schema: { type: 'string', maxLength: 255 },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: ref('EditRequest') },
            'multipart/form-data': { schema: ref('EditMultipartRequest') },
          },
        },
        responses: {
          '200': jsonResponse('The finished edit.', 'Edit', {
            Location: { schema: { type: 'string' } },
          }),
          '202': jsonResponse('The edit is still queued or running; poll `Location`.', 'Edit', {
            Location: { schema: { type: 'string' } },
            'Preference-Applied': { schema: { type: 'string' } },
            'Retry-After': { schema: { type: 'integer' } },
          }),
          ...editProblems,
        },
      },
    },
    '/v1/edits/{id}': {
      get: {
        operationId: 'getEdit',
        summary: 'Read an edit',
        description:
          'Status, timings, result and mask as signed GET URLs, entity scores and any error.',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': jsonResponse('The edit.', 'Edit'),
          ...problemResponses(['invalid-request', 'unauthorized', 'not-found', 'rate-limited']),
        },
      },
    },
    '/v1/uploads': {
      post: {
        operationId: 'createUpload',
        summary: 'Get a signed PUT URL for a large image',
        description:
          'PUT the image bytes to `upload_url` with the given headers, then send `upload_id`.',
        security: bearer,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('UploadRequest') } },
        },
        responses: {
          '201': jsonResponse('Where to PUT the image.', 'Upload'),
          ...problemResponses(['invalid-request', 'unauthorized', 'rate-limited']),
        },
      },
    },
    '/v1/usage': {
      get: {
        operationId: 'getUsage',
        summary: 'Read the calling key’s credits and usage',
        security: bearer,
        responses: {
          '200': jsonResponse('Usage of the key.', 'Usage'),
          ...problemResponses(['unauthorized', 'rate-limited']),
        },
      },
    },
    '/v1/blobs/{key}': {
      get: {
        operationId: 'getBlob',
        summary: 'Download a result, mask or input through a signed URL',
        description:
          'The URL is signed for one object, one method and an expiry; use it as returned.',
        parameters: [
          { name: 'key', in: 'path', required: true, schema: { type: 'string' } },
          {
            name: 'method',
            in: 'query',
            required: true,
            schema: { type: 'string', enum: ['GET', 'PUT'] },
          },
          { name: 'expires', in: 'query', required: true, schema: { type: 'integer' } },
          { name: 'sig', in: 'query', required: true, schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'The object bytes.' },
          ...problemResponses(['forbidden', 'not-found']),
        },
      },
    },
  }
}

const WEBHOOKS = {
  editFinished: {
    post: {
      summary: 'An edit with `webhook_url` finished',
      description:
        'The body is the edit as `GET /v1/edits/{id}` returns it. `Semani-Signature: t=<unix ' +
        'seconds>,v1=<hex>` is HMAC-SHA256 under the key’s webhook secret of `<t>.<raw body>`; ' +
        'reject a timestamp more than 300 s from your clock. Answer 2xx; other answers are retried.',
      parameters: [
        { name: 'Semani-Signature', in: 'header', required: true, schema: { type: 'string' } },
        { name: 'Semani-Event', in: 'header', schema: { type: 'string', const: 'edit.finished' } },
        { name: 'Semani-Delivery', in: 'header', schema: { type: 'string' } },
      ],
      requestBody: { content: { 'application/json': { schema: ref('Edit') } } },
      responses: { '200': { description: 'Received.' } },
    },
  },
}

/** Builds the OpenAPI 3.1 document. */
export function buildOpenApiDocument(): JsonObject {
  const fields = describeSettings(toSchema(EditRequestFieldsSchema, 'input'))
  const multipart = {
    ...fields,
    properties: {
      image: {
        type: 'string',
        contentMediaType: 'application/octet-stream',
        description: 'The image file.',
      },
      ...(fields.properties as JsonObject),
    },
    description:
      'Multipart fields are text; numbers, booleans and `edits` (a JSON array) are read from it.',
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'SeMani image editing API',
      version: '1.0.0',
      description: `Entity-level, text-guided image editing. Request bodies up to ${MAX_EDIT_BODY_BYTES} bytes.`,
    },
    servers: [{ url: '/' }],
    paths: buildPaths(),
    webhooks: WEBHOOKS,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key `smn_…`.' },
      },
      schemas: {
        EditRequest: describeSettings(toSchema(EditJsonRequestSchema, 'input')),
        EditMultipartRequest: multipart,
        Edit: toSchema(EditJobSchema, 'output'),
        UploadRequest: toSchema(UploadRequestSchema, 'input'),
        Upload: toSchema(UploadResponseSchema, 'output'),
        Usage: toSchema(UsageSchema, 'output'),
        Problem: toSchema(ProblemSchema, 'output'),
      },
    },
  }
}
