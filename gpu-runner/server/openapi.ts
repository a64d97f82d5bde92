/**
 * The runner's OpenAPI document (`GET /openapi.json`), generated from the shared zod schemas so
 * it cannot drift from what the runner validates. `components.schemas.Input` and `Output` carry
 * the names Cog's own document uses for a model's input and output.
 */
import { z } from 'zod'

import {
  PredictionInputSchema,
  PredictionOutputSchema,
  PredictionRequestSchema,
  PredictionResponseSchema,
} from '../../shared/schemas/prediction.ts'

type JsonObject = Record<string, unknown>

const json = (ref: string) => ({ 'application/json': { schema: { $ref: ref } } })
const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }

/** Builds the OpenAPI 3.1 document of the runner's HTTP API. */
export function buildOpenApiDocument(): JsonObject {
  return {
    openapi: '3.1.0',
    info: {
      title: 'semani GPU runner',
      version: '1',
      description: "Entity-level image editing behind Cog's prediction API.",
    },
    paths: {
      '/health-check': {
        get: operation('Reports setup and readiness.', json('#/components/schemas/Health')),
      },
      '/openapi.json': { get: operation('Returns this document.', { 'application/json': {} }) },
      '/predictions': {
        post: {
          ...operation('Creates a prediction.', json('#/components/schemas/PredictionResponse')),
          parameters: [preferParameter],
          requestBody: { required: true, content: json('#/components/schemas/PredictionRequest') },
        },
      },
      '/predictions/{prediction_id}': {
        put: {
          ...operation(
            'Creates a prediction idempotently by id.',
            json('#/components/schemas/PredictionResponse')
          ),
          parameters: [idParameter, preferParameter],
          requestBody: { required: true, content: json('#/components/schemas/PredictionRequest') },
        },
      },
      '/predictions/{prediction_id}/cancel': {
        post: {
          ...operation('Cancels a prediction.', json('#/components/schemas/PredictionResponse')),
          parameters: [idParameter],
        },
      },
    },
    components: {
      schemas: {
        Input: toSchema(PredictionInputSchema, 'input'),
        Output: toSchema(PredictionOutputSchema, 'output'),
        PredictionRequest: withRef(
          toSchema(PredictionRequestSchema, 'input'),
          'input',
          '#/components/schemas/Input'
        ),
        PredictionResponse: withRef(
          toSchema(PredictionResponseSchema, 'output'),
          'output',
          '#/components/schemas/Output',
          true
        ),
        Health: healthSchema,
        Problem: problemSchema,
      },
    },
  }
}

function operation(summary: string, content: JsonObject): JsonObject {
  return {
    summary,
    responses: {
      '200': { description: 'OK', content },
      '202': { description: 'Accepted (with Prefer: respond-async)', content },
      default: { description: 'A problem (RFC 9457)', content: problem },
    },
  }
}

const idParameter = {
  name: 'prediction_id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9._~-]{1,128}$' },
}

const preferParameter = {
  name: 'Prefer',
  in: 'header',
  required: false,
  description:
    'With `respond-async` the runner returns 202 at once and sends progress to the webhook.',
  schema: { type: 'string' },
}

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  // An OpenAPI 3.1 document sets the JSON Schema dialect once; drop the per-schema `$schema`.
  const generated: JsonObject = z.toJSONSchema(schema, { io, unrepresentable: 'any' })
  delete generated.$schema
  return generated
}

// The envelope schemas type `input`/`output` as unknown; point them at the named schemas.
function withRef(schema: JsonObject, member: string, ref: string, nullable = false): JsonObject {
  const properties = { ...(schema.properties as JsonObject) }
  properties[member] = nullable ? { anyOf: [{ $ref: ref }, { type: 'null' }] } : { $ref: ref }
  return { ...schema, properties }
}

const healthSchema = {
  type: 'object',
  required: ['status', 'setup'],
  properties: {
    status: { type: 'string', enum: ['STARTING', 'READY', 'BUSY', 'SETUP_FAILED'] },
    setup: {
      type: 'object',
      properties: {
        started_at: { type: 'string', format: 'date-time' },
        completed_at: { type: ['string', 'null'], format: 'date-time' },
        status: { type: 'string', enum: ['starting', 'succeeded', 'failed'] },
        logs: { type: 'string' },
      },
    },
  },
}

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          path: { type: 'string' },
          code: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
  },
}
