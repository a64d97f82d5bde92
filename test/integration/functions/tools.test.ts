// GET /v1/tools: the OpenAI function tool definitions, from the same zod schemas as the MCP tools.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import type { OpenAiFunctionTool } from '../../../functions/mcp/tool-schemas.ts'
import { EditJsonRequestSchema, EditRequestFieldsSchema } from '../../../shared/schemas/api.ts'
import { DEFAULT_GUIDANCE_SCALE, DEFAULT_STEPS } from '../../../shared/schemas/edit-settings.ts'
import { readJson, startTestWorker, type TestWorker } from '../../helpers/worker.ts'

type JsonObject = Record<string, unknown>

let worker: TestWorker
let response: Response
let tools: OpenAiFunctionTool[]

beforeAll(async () => {
  worker = await startTestWorker()
  response = await worker.request('/v1/tools')
  tools = (await readJson<{ tools: OpenAiFunctionTool[] }>(response)).tools
})

afterAll(async () => {
  await worker.dispose()
})

function tool(name: string): OpenAiFunctionTool['function'] {
  const found = tools.find((candidate) => candidate.function.name === name)
  if (!found) throw new Error(`No tool ${name} in ${tools.map((t) => t.function.name).join(', ')}`)
  return found.function
}

function properties(name: string): Record<string, JsonObject> {
  return tool(name).parameters.properties as Record<string, JsonObject>
}

describe('GET /v1/tools', () => {
  it('serves without an API key', () => {
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('application/json')
    expect(response.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
  })

  it('lists function tools', () => {
    expect(tools.map((entry) => entry.type)).toEqual(['function', 'function'])
    expect(tools.map((entry) => entry.function.name)).toEqual(['edit_image', 'get_edit'])
    for (const entry of tools) expect(entry.function.description.length).toBeGreaterThan(40)
  })

  it('requires entity and prompt', () => {
    const parameters = tool('edit_image').parameters

    expect(parameters.type).toBe('object')
    expect(parameters.required).toEqual(['entity', 'prompt'])
    expect(parameters.additionalProperties).toBe(false)
    expect(parameters).not.toHaveProperty('$schema')
  })

  it('offers both image sources', () => {
    expect(properties('edit_image').image_url).toMatchObject({ type: 'string', format: 'uri' })
    expect(properties('edit_image').image_base64).toMatchObject({ type: 'string' })
    expect(properties('edit_image')).not.toHaveProperty('upload_id')
  })

  it('documents the setting defaults', () => {
    // The defaults come from shared/schemas/edit-settings.ts, the schema that fills them in.
    expect(properties('edit_image').steps).toMatchObject({ default: DEFAULT_STEPS, minimum: 1 })
    expect(properties('edit_image').guidance_scale).toMatchObject({
      default: DEFAULT_GUIDANCE_SCALE,
    })
    expect(properties('edit_image').output_format).toMatchObject({
      enum: ['png', 'jpeg', 'webp'],
    })
  })

  it('describes every parameter', () => {
    for (const name of ['edit_image', 'get_edit']) {
      for (const [field, schema] of Object.entries(properties(name))) {
        expect(schema.description, `${name}.${field}`).toEqual(expect.any(String))
      }
    }
  })

  it('uses POST /v1/edits field names', () => {
    const bodyFields = Object.keys(EditRequestFieldsSchema.shape)

    for (const field of Object.keys(properties('edit_image'))) expect(bodyFields).toContain(field)
  })

  it('takes a function call as an edit body', () => {
    // Arguments a model could send; a 1-pixel PNG replaces the photo.
    const args = {
      image_base64:
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgAB4iG8MwAAAABJRU5ErkJggg==',
      entity: 'dog',
      prompt: 'a white cat',
      steps: 20,
      keep_shape: true,
    }

    const parsed = EditJsonRequestSchema.safeParse(args)

    expect(parsed.success).toBe(true)
    expect(parsed.data).toMatchObject({ steps: 20, keep_shape: true, scheduler: 'ddim' })
  })

  it('requires an edit id for get_edit', () => {
    expect(tool('get_edit').parameters.required).toEqual(['edit_id'])
    expect(properties('get_edit').edit_id).toMatchObject({
      pattern: expect.stringContaining('edt_'),
    })
  })
})
