/**
 * A blob store on 127.0.0.1 for runner tests: GET serves seeded or uploaded objects, PUT stores
 * an object only when its body arrived complete (Content-Length matched), as object stores do.
 * Query strings stand in for signatures and are ignored.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StoredObject {
  readonly bytes: Uint8Array
  readonly contentType: string | undefined
}

export interface BlobServer {
  /** Base URL, for example `http://127.0.0.1:40123`. */
  readonly origin: string
  /** Objects by path, for example `/out/a.png`. */
  readonly objects: Map<string, StoredObject>
  /** Every request as `METHOD /path`, in arrival order. */
  readonly requests: string[]
  /** Adds an object that GET serves. */
  seed(path: string, bytes: Uint8Array, contentType: string): void
  close(): Promise<void>
}

/** Starts the blob server on a free loopback port. */
export async function startBlobServer(): Promise<BlobServer> {
  const objects = new Map<string, StoredObject>()
  const requests: string[] = []

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://blob.invalid').pathname
    requests.push(`${req.method} ${path}`)
    if (req.method === 'GET') {
      const object = objects.get(path)
      if (object === undefined) return void res.writeHead(404).end()
      res.writeHead(200, { 'content-type': object.contentType ?? 'application/octet-stream' })
      return void res.end(object.bytes)
    }
    if (req.method === 'PUT') {
      void readComplete(req).then((bytes) => {
        if (bytes === undefined) return void res.writeHead(400).end()
        objects.set(path, { bytes, contentType: req.headers['content-type'] })
        res.writeHead(200).end()
      })
      return
    }
    res.writeHead(405).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    requests,
    seed: (path, bytes, contentType) => void objects.set(path, { bytes, contentType }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

// Resolves with the body, or undefined when the sender vanished or sent a different length.
function readComplete(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length'] ?? NaN)
  const chunks: Buffer[] = []

  return new Promise((resolve) => {
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('aborted', () => resolve(undefined))
    req.on('error', () => resolve(undefined))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      resolve(
        Number.isNaN(declared) || body.byteLength !== declared ? undefined : new Uint8Array(body)
      )
    })
  })
}
