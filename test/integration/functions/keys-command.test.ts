// `semani keys` against a state directory that a worker then serves from, as `wrangler dev
// --persist-to` would.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import type { Usage } from '../../../shared/schemas/api.ts'
import { bearer, readJson, startTestWorker } from '../../helpers/worker.ts'

const execFileAsync = promisify(execFile)

let stateDir: string

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'semani-keys-'))
})

afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true })
})

async function semani(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['bin/semani.js', ...args])
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

async function usageStatus(key: string): Promise<{ status: number; usage?: Usage }> {
  const worker = await startTestWorker({ persistTo: stateDir })
  try {
    const res = await worker.request('/v1/usage', { headers: bearer(key) })
    if (res.status !== 200) {
      await res.body?.cancel()
      return { status: res.status }
    }
    return { status: 200, usage: await readJson<Usage>(res) }
  } finally {
    await worker.dispose()
  }
}

describe('semani keys', () => {
  let key: string
  let keyId: string

  it('prints the key alone on the last line', async () => {
    const result = await semani([
      'keys',
      'create',
      '--name',
      'ci',
      '--credits',
      '2',
      '--persist-to',
      stateDir,
    ])

    expect(result.code).toBe(0)
    const lines = result.stdout.trim().split('\n')
    const info = JSON.parse(lines[0] ?? '{}')
    key = lines.at(-1) ?? ''
    keyId = info.id
    expect(key).toMatch(/^smn_[A-Za-z0-9]{16}_[A-Za-z0-9]{32}$/)
    expect(info).toMatchObject({ name: 'ci', credits: 2, rate_limit_per_minute: null })
    expect(info.webhook_secret).toMatch(/^whsec_/)
  })

  it('creates a key the worker accepts', async () => {
    const { status, usage } = await usageStatus(key)

    expect(status).toBe(200)
    expect(usage?.key).toMatchObject({ id: keyId, name: 'ci' })
    expect(usage?.credits.total).toBe(2)
  })

  it('revokes the key', async () => {
    const result = await semani(['keys', 'revoke', keyId, '--persist-to', stateDir])

    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ id: keyId, revoked: true })
    expect((await usageStatus(key)).status).toBe(401)
  })

  it('reports an unknown key id', async () => {
    const result = await semani(['keys', 'revoke', 'key_missing', '--persist-to', stateDir])

    expect(result.code).toBe(1)
    expect(result.stderr).toBe('semani: No active key key_missing in the local database.\n')
  })

  it('rejects invalid credits', async () => {
    const result = await semani([
      'keys',
      'create',
      '--name',
      'x',
      '--credits',
      'lots',
      '--persist-to',
      stateDir,
    ])

    expect(result.code).toBe(2)
    expect(result.stderr).toBe(
      'semani: --credits must be a whole number of at least 0, got "lots".\n'
    )
  })
})
