import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { describe, expect, it } from 'vitest'

const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

function runSemani(...args: string[]) {
  const result = spawnSync(process.execPath, ['bin/semani.js', ...args], {
    cwd: REPOSITORY_ROOT,
    encoding: 'utf8',
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('semani tokenize', () => {
  it('prints ids as JSON', () => {
    // Ids of "a photo of a cat" from test/fixtures/clip-bpe/reference-token-ids.json.
    const { status, stdout } = runSemani('tokenize', 'a photo of a cat', '--json')

    expect(status).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ ids: [49406, 320, 1125, 539, 320, 2368, 49407] })
  })

  it('prints space-separated ids', () => {
    const { status, stdout } = runSemani('tokenize', 'a dog')

    expect(status).toBe(0)
    expect(stdout).toBe('49406 320 1929 49407\n')
  })

  it('accepts text after --', () => {
    const { status, stdout } = runSemani('tokenize', '--json', '--', '-dog')

    expect(status).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ ids: [49406, 268, 1929, 49407] })
  })

  it('rejects two text arguments', () => {
    const { status, stdout, stderr } = runSemani('tokenize', 'a', 'dog')

    expect(status).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      'semani: Expected one TEXT argument, got 2. Quote text that contains spaces.\n'
    )
  })
})
