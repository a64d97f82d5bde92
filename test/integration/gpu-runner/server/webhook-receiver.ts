/**
 * A webhook receiver on 127.0.0.1 for tests: records every JSON body it receives, in arrival
 * order, and can answer the first requests with an error status to exercise retries.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedWebhook {
  readonly path: string
  readonly body: Record<string, unknown>
}

export interface WebhookReceiver {
  /** Base URL, for example `http://127.0.0.1:40123`; post to any path below it. */
  readonly origin: string
  readonly received: ReceivedWebhook[]
  /** Resolves once a body with a terminal status has arrived at `path`. */
  waitForTerminal(path: string, timeoutMs?: number): Promise<ReceivedWebhook[]>
  close(): Promise<void>
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled'])

/** Starts a receiver; `failFirst` answers that many requests with HTTP 500 first. */
export async function startWebhookReceiver(
  options: { failFirst?: number } = {}
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = []
  let failuresLeft = options.failFirst ?? 0
  const waiters: (() => void)[] = []

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (failuresLeft > 0) {
        failuresLeft--
        res.writeHead(500).end()
        return
      }
      received.push({
        path: req.url ?? '/',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      })
      res.writeHead(204).end()
      for (const wake of waiters.splice(0)) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  function forPath(path: string): ReceivedWebhook[] {
    return received.filter((hook) => hook.path === path)
  }

  async function waitForTerminal(path: string, timeoutMs = 30_000): Promise<ReceivedWebhook[]> {
    const deadline = Date.now() + timeoutMs
    while (!forPath(path).some((hook) => TERMINAL.has(String(hook.body.status)))) {
      if (Date.now() > deadline)
        throw new Error(`No terminal webhook at ${path} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 100)
      })
    }
    return forPath(path)
  }

  return {
    origin,
    received,
    waitForTerminal,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
