import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

import { afterEach, describe, expect, it, vi } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import {
  describeCudaAvailability,
  ortLogLevelName,
  ortLogSeverity,
  parseExecutionProviderChoice,
  planProviders,
} from '../../../../gpu-runner/onnx/providers.ts'
import type * as SessionsModule from '../../../../gpu-runner/onnx/sessions.ts'

// `listSupportedBackends()` of onnxruntime-node 1.31.1 for linux/x64, recorded on the
// development machine.
const LINUX_X64_BACKENDS = [
  { name: 'cpu', bundled: true },
  { name: 'webgpu', bundled: true },
  { name: 'cuda', bundled: false },
  { name: 'tensorrt', bundled: false },
]

const CLIP_IMAGE_TINY = new URL(
  '../../../../infra/models/tiny/clip-image-tiny.onnx',
  import.meta.url
).pathname

describe('parseExecutionProviderChoice', () => {
  it('defaults to auto', () => {
    expect(parseExecutionProviderChoice(undefined)).toBe('auto')
    expect(parseExecutionProviderChoice('  ')).toBe('auto')
  })

  it('accepts names in any case', () => {
    expect(parseExecutionProviderChoice('CUDA')).toBe('cuda')
    expect(parseExecutionProviderChoice('cpu')).toBe('cpu')
  })

  it('rejects unknown names with the list', () => {
    expect(() => parseExecutionProviderChoice('gpu')).toThrow(
      'Unknown execution provider "gpu". Supported: auto, cuda, cpu.'
    )
  })
})

describe('describeCudaAvailability', () => {
  it('needs the provider library when not bundled', () => {
    const cuda = describeCudaAvailability(LINUX_X64_BACKENDS, false)

    expect(cuda.available).toBe(false)
    expect(cuda.reason).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12')
  })

  it('accepts an installed provider library', () => {
    expect(describeCudaAvailability(LINUX_X64_BACKENDS, true).available).toBe(true)
  })

  it('accepts a bundled CUDA provider', () => {
    expect(describeCudaAvailability([{ name: 'cuda', bundled: true }], false).available).toBe(true)
  })

  it('rejects builds without CUDA', () => {
    const cuda = describeCudaAvailability([{ name: 'cpu', bundled: true }], true)

    expect(cuda).toEqual({
      available: false,
      reason: 'this onnxruntime-node build does not support CUDA',
    })
  })
})

describe('planProviders', () => {
  const available = { available: true, reason: 'installed' }
  const missing = { available: false, reason: 'not installed' }

  it('uses only the CPU for cpu', () => {
    expect(planProviders('cpu', available)).toEqual({ providers: ['cpu'] })
  })

  it('prefers CUDA under auto', () => {
    expect(planProviders('auto', available)).toEqual({ providers: ['cuda', 'cpu'] })
  })

  it('falls back under auto with a reason', () => {
    expect(planProviders('auto', missing)).toEqual({
      providers: ['cpu'],
      fallbackReason: 'not installed',
    })
  })

  it('refuses cuda when it cannot be used', () => {
    const attempt = (): unknown => planProviders('cuda', missing)

    expect(attempt).toThrow(RunnerError)
    expect(attempt).toThrow('The CUDA execution provider was requested but not installed.')
  })
})

describe('ortLogSeverity', () => {
  it('derives ORT severity from our level', () => {
    expect(ortLogSeverity('debug')).toBe(1)
    expect(ortLogSeverity('info')).toBe(2)
    expect(ortLogSeverity('warn')).toBe(2)
    expect(ortLogSeverity('error')).toBe(3)
    expect(ortLogLevelName(ortLogSeverity('info'))).toBe('warning')
  })
})

// These tests load sessions through a fresh copy of sessions.ts, because the fallback warning
// is logged once per process. They rely on the npm install leaving out the CUDA provider
// library, as the project's .npmrc does.
describe('createModelSession providers', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
    vi.restoreAllMocks()
    vi.resetModules()
  })

  async function freshSessions(): Promise<typeof SessionsModule> {
    vi.resetModules()
    return import('../../../../gpu-runner/onnx/sessions.ts')
  }

  function captureLog(): () => Record<string, unknown>[] {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    return () =>
      write.mock.calls
        .map((call) => String(call[0]))
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  it('has no CUDA library to start from', () => {
    const binding = createRequire(import.meta.url).resolve('onnxruntime-node')
    const binDir = join(dirname(binding), '..', 'bin', 'napi-v6', process.platform, process.arch)
    const library = join(binDir, 'libonnxruntime_providers_cuda.so')

    expect(existsSync(library)).toBe(false)
  })

  it('falls back to the CPU once under auto', async () => {
    const { createModelSession } = await freshSessions()
    const lines = captureLog()

    const first = await createModelSession({
      id: 'a',
      model: CLIP_IMAGE_TINY,
      role: 'clip-image',
      provider: 'auto',
    })
    const second = await createModelSession({
      id: 'b',
      model: CLIP_IMAGE_TINY,
      role: 'clip-image',
      provider: 'auto',
    })
    const warnings = lines().filter((line) => line.event === 'execution_provider.fallback')
    await Promise.all([first.release(), second.release()])

    expect(first.providers).toEqual(['cpu'])
    expect(second.providers).toEqual(['cpu'])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ level: 'warn', preferred: 'cuda', using: 'cpu' })
    expect(String(warnings[0]?.reason)).toContain('not installed')
  })

  it('falls back when CUDA fails to start', async () => {
    const { createModelSession } = await freshSessions()
    const lines = captureLog()

    // Detection claims CUDA; the real ORT then fails to load the missing provider library.
    const session = await createModelSession({
      id: 'claimed-cuda',
      model: CLIP_IMAGE_TINY,
      role: 'clip-image',
      provider: 'auto',
      detectCuda: () => ({ available: true, reason: 'claimed by the test' }),
    })
    const warnings = lines().filter((line) => line.event === 'execution_provider.fallback')
    const loaded = lines().find((line) => line.event === 'model.loaded')
    await session.release()

    expect(session.providers).toEqual(['cpu'])
    expect(warnings).toHaveLength(1)
    expect(String(warnings[0]?.reason)).toContain('the CUDA provider failed to start')
    expect(loaded).toMatchObject({ model: 'claimed-cuda', providers: ['cpu'] })
  })

  it('refuses cuda when it is missing', async () => {
    const { createModelSession } = await freshSessions()

    const attempt = createModelSession({
      id: 'c',
      model: CLIP_IMAGE_TINY,
      role: 'clip-image',
      provider: 'cuda',
    })

    await expect(attempt).rejects.toMatchObject({ code: 'execution-provider' })
  })

  it('reads SEMANI_EXECUTION_PROVIDER', async () => {
    vi.stubEnv('SEMANI_EXECUTION_PROVIDER', 'cpu')
    const { createModelSession } = await freshSessions()
    const lines = captureLog()

    const session = await createModelSession({
      id: 'd',
      model: CLIP_IMAGE_TINY,
      role: 'clip-image',
    })
    await session.release()

    expect(session.providers).toEqual(['cpu'])
    expect(lines().filter((line) => line.event === 'execution_provider.fallback')).toEqual([])
  })
})
