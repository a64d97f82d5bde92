/**
 * Small loopback servers and polling helpers for the edge worker's tests. Every server listens
 * on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

import { expect } from 'vitest'

import { findFreePort } from '../../functions/local/stack.ts'
import type { EditJob } from '../../shared/schemas/api.ts'
import { bearer, type TestWorker } from './worker.ts'

/** A request a loopback server received, with its whole body. */
export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
}

export interface LoopbackServer {
  readonly url: string
  readonly received: ReceivedRequest[]
  close(): Promise<void>
}

/** Starts an HTTP server on 127.0.0.1 that records each request and responds with `handle`. */
export async function startLoopbackServer(
  handle: (request: ReceivedRequest, response: ServerResponse) => void | Promise<void>
): Promise<LoopbackServer> {
  const received: ReceivedRequest[] = []
  const server: Server = createServer((incoming, response) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const request = {
        method: incoming.method ?? '',
        url: incoming.url ?? '',
        headers: incoming.headers,
        body: Buffer.concat(chunks),
      }
      received.push(request)
      void Promise.resolve(handle(request, response)).catch((error: unknown) => {
        response.statusCode = 500
        response.end(String(error))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Returns the URL of a loopback port nothing listens on: a runner that is down. */
export async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await findFreePort()}`
}

/** Polls `GET /v1/edits/{id}` until `done` holds for the edit or `timeoutMs` passes. */
export async function pollEdit(
  worker: TestWorker,
  options: { key: string; editId: string; done?: (edit: EditJob) => boolean; timeoutMs?: number }
): Promise<EditJob> {
  const {
    key,
    editId,
    done = (edit) => ['succeeded', 'failed', 'canceled'].includes(edit.status),
  } = options
  const deadlineMs = Date.now() + (options.timeoutMs ?? 30_000)

  for (;;) {
    const res = await worker.request(`/v1/edits/${editId}`, { headers: bearer(key) })
    expect(res.status).toBe(200)
    const edit = (await res.json()) as EditJob
    if (done(edit) || Date.now() > deadlineMs) return edit
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000
): Promise<T> {
  const deadlineMs = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadlineMs) throw new Error(`Condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
