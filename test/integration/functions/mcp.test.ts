// The MCP server at /mcp, driven through the MCP SDK's own client (Streamable HTTP) against the
// worker and a real runner process (tiny profile, CPU). The first edit runs the alignment phase,
// which takes tens of seconds on a CPU; later edits of the same photo and entity reuse its
// cached mask. The bounded-wait section restarts the worker on the same state and port with a
// wait cap of 0 s, so edits return while still running.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { findFreePort } from '../../../functions/local/stack.ts'
import type { OpenAiFunctionTool } from '../../../functions/mcp/tool-schemas.ts'
import { readImageHeader } from '../../../shared/image-sniff.ts'
import { problemType } from '../../../shared/problems.ts'
import type { EditJob, Usage } from '../../../shared/schemas/api.ts'
import { startRunnerProcess, type RunnerProcess } from '../../helpers/runner-process.ts'
import { bearer, readJson, startTestWorker, type TestWorker } from '../../helpers/worker.ts'

/** Time for an edit that runs the alignment phase on a shared CPU. */
const ALIGNMENT_EDIT_TIMEOUT_MS = 300_000
/** Time for an edit that reuses a cached mask. */
const CACHED_EDIT_TIMEOUT_MS = 60_000

const PHOTO_PATH = 'test/fixtures/photos/navy-officer-portrait-tiny.jpg'

let stateDir: string
let port: number
let runner: RunnerProcess
let worker: TestWorker
let key: string
let photo: Buffer
let firstResult: CallToolResult

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'semani-mcp-'))
  port = await findFreePort()
  photo = await readFile(PHOTO_PATH)
  runner = await startRunnerProcess({ trustedPrefixes: [`http://127.0.0.1:${port}/`] })
  worker = await startTestWorker({ port, persistTo: stateDir, vars: { RUNNER_URL: runner.url } })
  key = (await worker.createKey({ credits: 100 })).key
}, ALIGNMENT_EDIT_TIMEOUT_MS)

afterAll(async () => {
  await worker?.dispose()
  await runner?.stop()
  await rm(stateDir, { recursive: true, force: true })
})

async function connect(apiKey: string): Promise<Client> {
  const client = new Client({ name: 'semani-test', version: '0' })
  const transport = new StreamableHTTPClientTransport(new URL(`${worker.url}/mcp`), {
    requestInit: { headers: bearer(apiKey) },
  })
  await client.connect(transport)
  return client
}

async function callTool(
  options: { name?: string; args: Record<string, unknown>; apiKey?: string; timeoutMs?: number },
  onProgress?: (progress: Progress) => void
): Promise<CallToolResult> {
  const client = await connect(options.apiKey ?? key)
  try {
    return (await client.callTool(
      { name: options.name ?? 'edit_image', arguments: options.args },
      undefined,
      {
        timeout: options.timeoutMs ?? CACHED_EDIT_TIMEOUT_MS,
        ...(onProgress ? { onprogress: onProgress } : {}),
      }
    )) as CallToolResult
  } finally {
    await client.close()
  }
}

function editArgs(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image_base64: photo.toString('base64'),
    entity: 'person',
    prompt: 'a robot',
    steps: 2,
    seed: 7,
    ...overrides,
  }
}

function textOf(result: CallToolResult): string {
  return result.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n')
}

function imagesOf(result: CallToolResult): { data: string; mimeType: string }[] {
  return result.content.flatMap((part) => (part.type === 'image' ? [part] : []))
}

async function countEdits(): Promise<number> {
  const row = await worker.db.prepare('SELECT COUNT(*) AS n FROM edits').first<{ n: number }>()
  return row?.n ?? -1
}

async function readUsage(apiKey = key): Promise<Usage> {
  return readJson<Usage>(await worker.request('/v1/usage', { headers: bearer(apiKey) }))
}

describe('MCP tools', () => {
  it('lists the tools of /v1/tools', async () => {
    const client = await connect(key)
    const { tools } = await client.listTools()
    await client.close()
    const published = await readJson<{ tools: OpenAiFunctionTool[] }>(
      await worker.request('/v1/tools')
    )

    expect(tools.map((tool) => tool.name)).toEqual(['edit_image', 'get_edit'])
    expect(tools.map((tool) => tool.inputSchema)).toEqual(
      published.tools.map((tool) => tool.function.parameters)
    )
    expect(tools[0]?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false })
  })

  it(
    'edits a photo with edit_image',
    async () => {
      const progress: Progress[] = []

      firstResult = await callTool(
        { args: editArgs(), timeoutMs: ALIGNMENT_EDIT_TIMEOUT_MS },
        (update) => progress.push(update)
      )

      expect(firstResult.isError).toBeFalsy()
      expect(firstResult.structuredContent).toMatchObject({ status: 'succeeded', seed: 7 })
      expect(progress.length).toBeGreaterThan(0)
      expect(progress[0]?.message).toMatch(/^Edit edt_\w+ is (queued|running)\.$/)
    },
    ALIGNMENT_EDIT_TIMEOUT_MS
  )

  it('returns the image at input size', () => {
    const images = imagesOf(firstResult)
    const input = readImageHeader(photo)

    expect(images).toHaveLength(1)
    expect(images[0]?.mimeType).toBe('image/png')
    const output = readImageHeader(Buffer.from(images[0]?.data ?? '', 'base64'))
    expect(input.ok).toBe(true)
    expect(output.ok).toBe(true)
    if (!input.ok || !output.ok) return
    expect(output.header.format).toBe('png')
    expect([output.header.width, output.header.height]).toEqual([
      input.header.width,
      input.header.height,
    ])
  })

  it('links the result and the mask', async () => {
    const job = firstResult.structuredContent as EditJob
    const text = textOf(firstResult)

    expect(text).toContain(job.result?.image_url)
    expect(text).toContain(job.result?.mask_url)
    expect(text).toMatch(/score -?\d\.\d{3}/)
    for (const url of [job.result?.image_url, job.result?.mask_url]) {
      const res = await fetch(url ?? '')
      expect(res.status).toBe(200)
      await res.body?.cancel()
    }
  })

  it('charges the edit once', async () => {
    const usage = await readUsage()

    expect(usage.credits).toEqual({ total: 100, used: 1, reserved: 0, remaining: 99 })
    expect(usage.edits.succeeded).toBe(1)
  })

  it('returns a finished edit through get_edit', async () => {
    const job = firstResult.structuredContent as EditJob

    const result = await callTool({ name: 'get_edit', args: { edit_id: job.id } })

    expect(result.isError).toBeFalsy()
    expect(result.structuredContent).toMatchObject({ id: job.id, status: 'succeeded' })
    expect(imagesOf(result)).toHaveLength(1)
  })

  it('reports invalid arguments as a tool error', async () => {
    const editsBefore = await countEdits()

    const result = await callTool({
      args: editArgs({ steps: 0, image_url: 'http://127.0.0.1:9/photo.jpg' }),
    })

    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({
      type: problemType('invalid-request'),
      status: 400,
      instance: '/mcp',
    })
    const paths = (result.structuredContent?.errors as { path: string }[]).map((e) => e.path)
    expect(paths.sort()).toEqual(['image_url', 'steps'])
    expect(textOf(result)).toContain('exactly one of image_url or image_base64')
    expect(await countEdits()).toBe(editsBefore)
    expect((await readUsage()).credits.used).toBe(1)
  })

  it('rejects an unknown argument', async () => {
    const result = await callTool({ args: editArgs({ scheduler: 'ddim', colour: 'red' }) })

    expect(result.isError).toBe(true)
    expect(textOf(result)).toMatch(/Unrecognized keys: "scheduler", "colour"/)
  })

  it('reports an unknown edit id', async () => {
    const result = await callTool({
      name: 'get_edit',
      args: { edit_id: 'edt_000000000000000000000000' },
    })

    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({
      type: problemType('not-found'),
      detail: 'No edit edt_000000000000000000000000 exists for this API key.',
    })
  })

  it('rejects an unknown tool', async () => {
    await expect(callTool({ name: 'delete_everything', args: {} })).rejects.toThrow(
      /Unknown tool "delete_everything"/
    )
  })

  it('answers GET with 405', async () => {
    const res = await worker.request('/mcp', {
      headers: { ...bearer(key), Accept: 'text/event-stream' },
    })

    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST')
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } })
  })
})

describe('MCP authentication', () => {
  it.each([
    ['a missing key', undefined],
    ['a revoked or unknown key', 'smn_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
  ])('rejects %s with 401', async (_case, apiKey) => {
    const res = await worker.request('/mcp', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        ...(apiKey ? bearer(apiKey) : {}),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })

    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(await res.json()).toMatchObject({ type: problemType('unauthorized'), status: 401 })
  })

  it('fails the SDK client with a bad key', async () => {
    const error = await connect('smn_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB').catch(
      (caught: unknown) => caught
    )

    expect(error).toBeInstanceOf(StreamableHTTPError)
    expect((error as StreamableHTTPError).code).toBe(401)
    expect((error as Error).message).toContain(problemType('unauthorized'))
  })
})

describe('bounded wait and metering', () => {
  beforeAll(async () => {
    await worker.dispose()
    worker = await startTestWorker({
      port,
      persistTo: stateDir,
      vars: { RUNNER_URL: runner.url, MAX_WAIT_S: '0' },
    })
  })

  it(
    'returns a running edit to get later',
    async () => {
      const started = await callTool({ args: editArgs({ prompt: 'a knight' }) })
      const job = started.structuredContent as EditJob

      expect(started.isError).toBeFalsy()
      expect(['queued', 'running']).toContain(job.status)
      expect(textOf(started)).toContain(`get_edit with edit_id "${job.id}"`)
      expect(imagesOf(started)).toHaveLength(0)

      let finished = started
      const deadlineMs = Date.now() + CACHED_EDIT_TIMEOUT_MS
      while ((finished.structuredContent as EditJob).status !== 'succeeded') {
        if (Date.now() > deadlineMs) break
        await new Promise((resolve) => setTimeout(resolve, 250))
        finished = await callTool({ name: 'get_edit', args: { edit_id: job.id } })
      }
      expect(finished.structuredContent).toMatchObject({ id: job.id, status: 'succeeded' })
      expect(imagesOf(finished)).toHaveLength(1)
    },
    CACHED_EDIT_TIMEOUT_MS
  )

  it('applies the daily edit quota', async () => {
    const limited = (await worker.createKey({ credits: 10, editsPerDay: 1 })).key

    const first = await callTool({ args: editArgs(), apiKey: limited })
    const second = await callTool({ args: editArgs(), apiKey: limited })

    expect(first.isError).toBeFalsy()
    expect(second.isError).toBe(true)
    expect(second.structuredContent).toMatchObject({ type: problemType('rate-limited') })
    expect(textOf(second)).toContain('edits limit of this API key is used up')
  })

  it('refuses a key without credit', async () => {
    const broke = (await worker.createKey({ credits: 0 })).key

    const result = await callTool({ args: editArgs(), apiKey: broke })

    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({
      type: problemType('insufficient-credit'),
      credits_needed: 1,
      credits_remaining: 0,
    })
  })
})
