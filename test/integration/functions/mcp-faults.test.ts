// MCP tool calls whose edit fails: the runner is a loopback port with nothing listening, so
// every attempt fails and the edit ends as runner-unavailable without any model work.
import { readFile } from 'node:fs/promises'

import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { problemType } from '../../../shared/problems.ts'
import type { Usage } from '../../../shared/schemas/api.ts'
import { closedPortUrl } from '../../helpers/worker-fixtures.ts'
import { bearer, readJson, startTestWorker, type TestWorker } from '../../helpers/worker.ts'

/** Time for three failed runner attempts with no retry delay. */
const FAILED_EDIT_TIMEOUT_MS = 30_000

let worker: TestWorker
let key: string
let photo: Buffer

beforeAll(async () => {
  photo = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
  worker = await startTestWorker({
    vars: { RUNNER_URL: await closedPortUrl(), RUNNER_MAX_ATTEMPTS: '3' },
  })
  key = (await worker.createKey({ credits: 5 })).key
})

afterAll(async () => {
  await worker.dispose()
})

async function callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const client = new Client({ name: 'semani-test', version: '0' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp`), {
      requestInit: { headers: bearer(key) },
    })
  )
  try {
    return (await client.callTool({ name, arguments: args }, undefined, {
      timeout: FAILED_EDIT_TIMEOUT_MS,
    })) as CallToolResult
  } finally {
    await client.close()
  }
}

describe('MCP edit with the runner down', () => {
  let editId: string

  it(
    'returns the edit problem',
    async () => {
      const result = await callTool('edit_image', {
        image_base64: photo.toString('base64'),
        entity: 'person',
        prompt: 'a robot',
        steps: 2,
      })

      expect(result.isError).toBe(true)
      expect(result.structuredContent).toMatchObject({
        type: problemType('runner-unavailable'),
        status: 503,
        instance: '/mcp',
        edit_id: expect.stringMatching(/^edt_/),
      })
      const [text] = result.content
      expect(text).toMatchObject({
        type: 'text',
        text: expect.stringMatching(/^Runner unavailable: /),
      })
      editId = String(result.structuredContent?.edit_id)
    },
    FAILED_EDIT_TIMEOUT_MS
  )

  it('charges nothing', async () => {
    const usage = await readJson<Usage>(await worker.request('/v1/usage', { headers: bearer(key) }))

    expect(usage.credits).toEqual({ total: 5, used: 0, reserved: 0, remaining: 5 })
    expect(usage.edits.failed).toBe(1)
  })

  it('returns the same problem through get_edit', async () => {
    const result = await callTool('get_edit', { edit_id: editId })

    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({
      type: problemType('runner-unavailable'),
      edit_id: editId,
    })
  })
})
