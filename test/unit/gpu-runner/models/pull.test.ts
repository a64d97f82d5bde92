import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { ManifestSchema, type Manifest } from '../../../../gpu-runner/models/manifest.ts'
import {
  PullError,
  pullModels,
  rewriteUrl,
  type PullEvent,
  type PullOptions,
} from '../../../../gpu-runner/models/pull.ts'
import { PINS_FILE, resolveModelDir } from '../../../../gpu-runner/models/registry.ts'

/** Response of the test server for one path. */
interface Route {
  body: Buffer
  status?: number
  /** Send this many bytes of the first response, then drop the connection. */
  cutAfter?: number
  /** Send this many bytes, then stop sending without closing. */
  stallAfter?: number
  /** Never send response headers. */
  silent?: boolean
  ignoreRange?: boolean
  delayMs?: number
}

interface SeenRequest {
  path: string
  range: string | undefined
}

/** A loopback HTTP server with Range support and injectable transfer faults. */
class ModelServer {
  readonly routes = new Map<string, Route>()
  readonly requests: SeenRequest[] = []
  inFlight = 0
  maxInFlight = 0
  private readonly server: Server = createServer((req, res) => void this.handle(req, res))

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  reset(): void {
    this.routes.clear()
    this.requests.length = 0
    this.maxInFlight = 0
    this.server.closeAllConnections()
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/'
    const route = this.routes.get(path)
    this.requests.push({ path, range: req.headers.range })
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    res.on('close', () => this.inFlight--)

    if (route?.delayMs) await new Promise((resolve) => setTimeout(resolve, route.delayMs))
    if (route === undefined || route.status === 404) return void res.writeHead(404).end('not found')
    if (route.silent) return
    this.send(route, req.headers.range, res)
  }

  private send(route: Route, range: string | undefined, res: ServerResponse): void {
    const total = route.body.length
    const start = range && !route.ignoreRange ? Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0) : 0
    if (start >= total && start > 0) {
      return void res.writeHead(416, { 'content-range': `bytes */${total}` }).end()
    }

    const headers: Record<string, string | number> = { 'content-length': total - start }
    if (start > 0) headers['content-range'] = `bytes ${start}-${total - 1}/${total}`
    res.writeHead(start > 0 ? 206 : 200, headers)

    const body = route.body.subarray(start)
    const cut = route.cutAfter ?? route.stallAfter
    if (cut === undefined) return void res.end(body)

    const isCut = route.cutAfter !== undefined
    delete route.cutAfter
    // The pause lets the client read the bytes before the reset; a stream that errors drops
    // the chunks it still queues.
    res.write(body.subarray(0, cut), () => {
      if (isCut) setTimeout(() => res.socket?.destroy(), 100)
    })
  }
}

const server = new ModelServer()
const tempDirs: string[] = []

beforeAll(() => server.start())
afterAll(() => server.stop())
afterEach(() => {
  server.reset()
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function modelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'semani-pull-'))
  tempDirs.push(dir)
  return dir
}

function bytesOf(seed: number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed * 7) % 251))
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** One downloaded file of a test manifest. */
interface TestFile {
  id: string
  path: string
  url: string
  /** Bytes the manifest pins; omit for a file pinned at first pull. */
  pinned?: Buffer
}

/** Builds a manifest of profile-less text-encoder models, one file each. */
function testManifest(files: readonly TestFile[]): Manifest {
  return ManifestSchema.parse({
    schemaVersion: 1,
    models: files.map((file) => ({
      id: file.id,
      role: 'sd-text-encoder',
      profiles: [],
      dtype: 'float32',
      license: 'MIT',
      source: 'test',
      revision: 'test',
      files: [
        {
          from: 'url',
          url: file.url,
          path: file.path,
          sha256: file.pinned ? sha256(file.pinned) : null,
          sizeBytes: file.pinned ? file.pinned.length : null,
          pin: file.pinned ? 'manifest' : 'first-pull',
        },
      ],
      config: { maxTokens: 77, hiddenSize: 32 },
    })),
  })
}

/** Serves `body` at `/<id>/<path>` and returns the matching manifest file. */
function servedFile(id: string, body: Buffer, route: Partial<Route> = {}, pinned = true): TestFile {
  const path = `${id}.onnx`
  server.routes.set(`/${id}/${path}`, { body, ...route })
  return { id, path, url: `${server.origin}/${id}/${path}`, ...(pinned ? { pinned: body } : {}) }
}

async function pull(
  files: readonly TestFile[],
  options: Partial<PullOptions> & { modelDir: string }
): Promise<{
  events: PullEvent[]
  result?: Awaited<ReturnType<typeof pullModels>>
  error?: PullError
}> {
  const events: PullEvent[] = []
  try {
    const result = await pullModels({
      manifest: testManifest(files),
      modelIds: files.map((file) => file.id),
      progressIntervalMs: 0,
      onEvent: (event) => events.push(event),
      ...options,
    })
    return { events, result }
  } catch (error) {
    if (!(error instanceof PullError)) throw error
    return { events, error }
  }
}

function localPath(dir: string, file: TestFile): string {
  return join(dir, file.id, file.path)
}

describe('pullModels', () => {
  it('downloads and verifies pinned files', async () => {
    const dir = modelDir()
    const files = [servedFile('alpha', bytesOf(1, 5000)), servedFile('beta', bytesOf(2, 300))]

    const { result, events, error } = await pull(files, { modelDir: dir })

    expect(error).toBeUndefined()
    expect(result?.files.map((file) => file.status)).toEqual(['downloaded', 'downloaded'])
    for (const file of files) {
      expect(readFileSync(localPath(dir, file))).toEqual(file.pinned)
      expect(existsSync(`${localPath(dir, file)}.part`)).toBe(false)
    }
    expect(events.filter((event) => event.kind === 'finished')).toHaveLength(2)
    expect(events.some((event) => event.kind === 'progress')).toBe(true)
  })

  it('skips files already verified', async () => {
    const dir = modelDir()
    const files = [servedFile('alpha', bytesOf(1, 5000))]
    await pull(files, { modelDir: dir })
    const requestsBefore = server.requests.length

    const { result, events } = await pull(files, { modelDir: dir })

    expect(server.requests.length).toBe(requestsBefore)
    expect(result?.files[0]?.status).toBe('present')
    expect(events).toEqual([{ kind: 'present', file: 'alpha/alpha.onnx', sizeBytes: 5000 }])
  })

  it('resumes an interrupted transfer', async () => {
    const dir = modelDir()
    const body = bytesOf(3, 200_000)
    const files = [servedFile('gamma', body, { cutAfter: 60_000 })]

    const first = await pull(files, { modelDir: dir })
    const partSize = statSync(`${localPath(dir, files[0]!)}.part`).size
    const second = await pull(files, { modelDir: dir })

    expect(first.error?.reason).toBe('interrupted')
    expect(first.error?.message).toContain('run the pull again to resume it')
    expect(partSize).toBeGreaterThan(0)
    expect(partSize).toBeLessThanOrEqual(60_000)
    expect(server.requests.at(-1)?.range).toBe(`bytes=${partSize}-`)
    expect(second.error).toBeUndefined()
    expect(second.events.find((event) => event.kind === 'finished')).toMatchObject({
      resumedFromBytes: partSize,
      sha256: sha256(body),
    })
    expect(readFileSync(localPath(dir, files[0]!))).toEqual(body)
  })

  it('restarts when the server ignores Range', async () => {
    const dir = modelDir()
    const body = bytesOf(4, 4000)
    const files = [servedFile('delta', body, { ignoreRange: true })]
    mkdirSync(join(dir, 'delta'), { recursive: true })
    writeFileSync(`${localPath(dir, files[0]!)}.part`, Buffer.alloc(100, 0xff))

    const { error } = await pull(files, { modelDir: dir })

    expect(error).toBeUndefined()
    expect(server.requests[0]?.range).toBe('bytes=100-')
    expect(readFileSync(localPath(dir, files[0]!))).toEqual(body)
  })

  it('deletes the partial file on checksum mismatch', async () => {
    const dir = modelDir()
    const served = bytesOf(5, 1000)
    const expected = bytesOf(6, 1000)
    const file = { ...servedFile('eps', served), pinned: expected }

    const { error } = await pull([file], { modelDir: dir })

    expect(error?.reason).toBe('checksum')
    expect(error?.message).toContain(`sha256 is ${sha256(served)}, expected ${sha256(expected)}`)
    expect(error?.missing).toEqual([localPath(dir, file)])
    expect(existsSync(`${localPath(dir, file)}.part`)).toBe(false)
    expect(existsSync(localPath(dir, file))).toBe(false)
  })

  it('reports a 404 with its URL', async () => {
    const dir = modelDir()
    const file = servedFile('zeta', bytesOf(7, 10), { status: 404 })

    const { error } = await pull([file], { modelDir: dir })

    expect(error?.reason).toBe('http-status')
    expect(error?.message).toContain(`GET ${file.url} responded with 404 Not Found`)
    expect(error?.message).toContain(`Still missing: ${localPath(dir, file)}`)
    expect(existsSync(`${localPath(dir, file)}.part`)).toBe(false)
  })

  it('refuses unpinned files without trust', async () => {
    const dir = modelDir()
    const file = servedFile('eta', bytesOf(8, 10), {}, false)

    const { error } = await pull([file], { modelDir: dir })

    expect(error?.reason).toBe('unpinned')
    expect(error?.message).toContain('eta/eta.onnx')
    expect(error?.message).toContain('--trust-on-first-use')
    expect(server.requests).toEqual([])
  })

  it('pins the first download when trusted', async () => {
    const dir = modelDir()
    const body = bytesOf(9, 2048)
    const file = servedFile('theta', body, {}, false)

    const first = await pull([file], { modelDir: dir, trustOnFirstUse: true })
    const pins = JSON.parse(readFileSync(join(dir, PINS_FILE), 'utf8')) as {
      files: Record<string, { sha256: string; sizeBytes: number; url: string }>
    }
    const second = await pull([file], { modelDir: dir })

    expect(first.events.find((event) => event.kind === 'finished')).toMatchObject({
      pinnedNow: true,
      sha256: sha256(body),
    })
    expect(pins.files['theta/theta.onnx']).toMatchObject({
      sha256: sha256(body),
      sizeBytes: 2048,
      url: file.url,
    })
    expect(second.error).toBeUndefined()
    expect(second.result?.files[0]?.status).toBe('present')
    expect(server.requests).toHaveLength(1)
  })

  it('fails fast when the host is unreachable', async () => {
    const dir = modelDir()
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const files = ['iota', 'kappa'].map((id) => ({
      id,
      path: `${id}.onnx`,
      url: `http://127.0.0.1:${port}/${id}.onnx`,
      pinned: bytesOf(10, 10),
    }))

    const { error } = await pull(files, { modelDir: dir })

    expect(error?.reason).toBe('unreachable')
    expect(error?.message).toContain(`127.0.0.1:${port} could not be reached (ECONNREFUSED)`)
    expect(error?.message).toContain(localPath(dir, files[0]!))
    expect(error?.message).toContain(localPath(dir, files[1]!))
    expect(error?.message).toContain('Use --profile tiny')
  })

  it('gives up on silent hosts', async () => {
    const dir = modelDir()
    const file = servedFile('lambda', bytesOf(11, 10), { silent: true })

    const { error } = await pull([file], { modelDir: dir, headersTimeoutMs: 200 })

    expect(error?.reason).toBe('unreachable')
    expect(error?.message).toContain('did not answer within 200 ms')
  })

  it('stops a stalled transfer and keeps it', async () => {
    const dir = modelDir()
    const file = servedFile('mu', bytesOf(12, 50_000), { stallAfter: 10_000 })

    const { error } = await pull([file], { modelDir: dir, stallTimeoutMs: 200 })

    expect(error?.reason).toBe('interrupted')
    expect(statSync(`${localPath(dir, file)}.part`).size).toBe(10_000)
  })

  it('limits concurrent downloads', async () => {
    const dir = modelDir()
    const files = ['nu', 'xi', 'omicron', 'pi'].map((id, i) =>
      servedFile(id, bytesOf(13 + i, 100), { delayMs: 100 })
    )

    const { error } = await pull(files, { modelDir: dir, concurrency: 2 })

    expect(error).toBeUndefined()
    expect(server.maxInFlight).toBe(2)
  })

  it('fetches from the base URL', async () => {
    const dir = modelDir()
    const body = bytesOf(20, 64)
    server.routes.set('/mirror/repo/rho.onnx', { body })
    // fetch refuses port 1 without connecting, so only the rewritten URL can succeed.
    const file = {
      id: 'rho',
      path: 'rho.onnx',
      url: 'http://127.0.0.1:1/repo/rho.onnx',
      pinned: body,
    }

    const { error } = await pull([file], { modelDir: dir, baseUrl: `${server.origin}/mirror/` })

    expect(error).toBeUndefined()
    expect(server.requests.map((request) => request.path)).toEqual(['/mirror/repo/rho.onnx'])
  })

  it('verifies tiny profile files in place', async () => {
    const dir = modelDir()

    const result = await pullModels({ profile: 'tiny', modelDir: dir })

    expect(result.files).toHaveLength(8)
    expect(result.files.every((file) => file.status === 'present')).toBe(true)
    expect(server.requests).toEqual([])
  })

  it('rejects unknown model ids', async () => {
    await expect(pullModels({ modelIds: ['nope'], modelDir: modelDir() })).rejects.toMatchObject({
      reason: 'unknown-model',
    })
  })
})

describe('rewriteUrl', () => {
  it('keeps the path under the base', () => {
    expect(
      rewriteUrl('https://huggingface.co/a/resolve/main/b.onnx?x=1', 'http://127.0.0.1:9/m/')
    ).toBe('http://127.0.0.1:9/m/a/resolve/main/b.onnx?x=1')
  })

  it('returns the URL without a base', () => {
    expect(rewriteUrl('https://huggingface.co/a.onnx', '')).toBe('https://huggingface.co/a.onnx')
    expect(rewriteUrl('https://huggingface.co/a.onnx', undefined)).toBe(
      'https://huggingface.co/a.onnx'
    )
  })
})

describe('resolveModelDir for pull', () => {
  it('resolves relative folders against the cwd', () => {
    expect(resolveModelDir('models-here', {})).toBe(join(process.cwd(), 'models-here'))
    expect(dirname(resolveModelDir('a/b', {}))).toBe(join(process.cwd(), 'a'))
  })
})
