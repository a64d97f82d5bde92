// The generated OpenAPI document and the docs page rendered from it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { EditJobSchema } from '../../../shared/schemas/api.ts'
import { EditSettingsSchema } from '../../../shared/schemas/edit-settings.ts'
import { readJson, startTestWorker, type TestWorker } from '../../helpers/worker.ts'

type JsonObject = Record<string, unknown>

let worker: TestWorker
let document: JsonObject

beforeAll(async () => {
  worker = await startTestWorker()
  document = await readJson<JsonObject>(await worker.request('/openapi.json'))
})

afterAll(async () => {
  await worker.dispose()
})

function collectRefs(value: unknown, refs: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item) => collectRefs(item, refs))
  else if (value && typeof value === 'object') {
    for (const [name, member] of Object.entries(value)) {
      if (name === '$ref' && typeof member === 'string') refs.push(member)
      else collectRefs(member, refs)
    }
  }
  return refs
}

function schema(name: string): JsonObject {
  const schemas = (document.components as JsonObject).schemas as Record<string, JsonObject>
  return schemas[name] ?? {}
}

describe('GET /openapi.json', () => {
  it('declares OpenAPI 3.1', () => {
    expect(document.openapi).toBe('3.1.0')
  })

  it('resolves every $ref', () => {
    const refs = collectRefs(document)
    const names = Object.keys((document.components as JsonObject).schemas as JsonObject)

    expect(refs.length).toBeGreaterThan(10)
    for (const ref of refs) expect(names).toContain(ref.replace('#/components/schemas/', ''))
  })

  it('lists the operations', () => {
    const paths = document.paths as Record<string, JsonObject>
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)
    )

    expect(operations).toEqual([
      'POST /v1/edits',
      'GET /v1/edits/{id}',
      'POST /v1/uploads',
      'GET /v1/usage',
      'GET /v1/blobs/{key}',
    ])
  })

  it('describes every edit setting', () => {
    const request = schema('EditRequest')

    expect(request.additionalProperties).toBe(false)
    expect(Object.keys(request.properties as JsonObject)).toEqual(
      expect.arrayContaining([
        ...Object.keys(EditSettingsSchema.shape),
        'entity',
        'prompt',
        'edits',
      ])
    )
  })

  it('requires every edit field in responses', () => {
    expect(schema('Edit').required).toEqual(Object.keys(EditJobSchema.shape))
  })

  it('offers multipart with an image file', () => {
    const multipart = schema('EditMultipartRequest')

    expect((multipart.properties as Record<string, JsonObject>).image).toMatchObject({
      type: 'string',
      contentMediaType: 'application/octet-stream',
    })
  })

  it('documents the signed webhook', () => {
    const webhook = (document.webhooks as Record<string, JsonObject>).editFinished
      ?.post as JsonObject

    expect(JSON.stringify(webhook.parameters)).toContain('Semani-Signature')
  })
})

describe('GET /docs', () => {
  it('renders a page without scripts', async () => {
    const res = await worker.request('/docs')
    const html = await res.text()

    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/https?:\/\/(?!semani\.dev)/)
  })

  it('shows operations and fields', async () => {
    const html = await (await worker.request('/docs')).text()

    expect(html).toContain('<code>/v1/edits</code>')
    expect(html).toContain('guidance_scale')
    expect(html).toContain('number, ≥ 1, ≤ 30, default 9')
    expect(html).toContain('Semani-Signature')
  })
})
