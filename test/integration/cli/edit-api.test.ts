// `semani edit --api URL --key KEY` against the local stack: the worker under Miniflare and a
// real runner on the tiny profile, both on 127.0.0.1. The first edit runs the alignment phase,
// which takes tens of seconds on a CPU; the second names the same entity and reuses its mask.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { startLocalStack, type LocalStack } from '../../../cli/stack/local-stack.ts'
import { findFreePort } from '../../../functions/local/stack.ts'
import { createSemaniClient } from '../../../shared/client/semani-client.ts'

const execFileAsync = promisify(execFile)
const BIN = fileURLToPath(new URL('../../../bin/semani.js', import.meta.url))
const PHOTO = fileURLToPath(
  new URL('../../fixtures/photos/navy-officer-portrait-tiny.jpg', import.meta.url)
)
/** Time for the stack to start and for an edit that runs the alignment phase on a shared CPU. */
const ALIGNMENT_EDIT_TIMEOUT_MS = 300_000
/** Time for a command that fails before any model work. */
const COMMAND_TIMEOUT_MS = 60_000

// The fields `semani edit --json` prints in-process, less `profile`, which the API does not
// report, plus the id of the edit.
const REPORT_FIELDS = [
  'image',
  'mask',
  'width',
  'height',
  'seed',
  'selected',
  'candidates',
  'window',
  'timings_ms',
  'model_revisions',
  'edit_id',
]

let folder: string
let stack: LocalStack
let key: string

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'semani-edit-api-'))
  stack = await startLocalStack({
    port: await findFreePort(),
    persistTo: join(folder, 'state'),
    profile: 'tiny',
  })
  key = await stack.createKey('edit-api-test')
}, ALIGNMENT_EDIT_TIMEOUT_MS)

afterAll(async () => {
  await stack?.stop()
  await rm(folder, { recursive: true, force: true })
})

async function semani(
  args: string[],
  env: Record<string, string> = {}
): Promise<{ code: number; stdout: string; stderr: string }> {
  // The caller's own SEMANI_API_KEY must not leak into the cases that test its absence.
  const inherited = { ...process.env }
  delete inherited.SEMANI_API_KEY
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], {
      timeout: ALIGNMENT_EDIT_TIMEOUT_MS,
      env: { ...inherited, ...env },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

function editArgs(extra: string[]): string[] {
  return ['edit', '--image', PHOTO, '--entity', 'person', '--steps', '2', ...extra]
}

describe('semani edit --api', () => {
  it(
    'writes the edited photo and mask',
    async () => {
      const out = join(folder, 'result.jpg')
      const maskOut = join(folder, 'mask.png')

      const { code, stdout, stderr } = await semani(
        editArgs([
          ...['--prompt', 'a robot', '--seed', '5', '--out', out, '--mask-out', maskOut],
          ...['--api', stack.url, '--key', key, '--json'],
        ])
      )

      expect(stderr).toBe('')
      expect(code).toBe(0)
      const report = JSON.parse(stdout)
      expect(Object.keys(report)).toEqual(REPORT_FIELDS)
      expect(report).toMatchObject({ image: out, mask: maskOut, width: 128, height: 128, seed: 5 })
      expect(report.edit_id).toMatch(/^edt_/)
      expect(report.window).toHaveLength(4)
      expect(report.selected).toHaveLength(1)
      expect(report.timings_ms).toHaveProperty('unet_loop')
      const photo = await sharp(await readFile(out)).metadata()
      expect([photo.format, photo.width, photo.height]).toEqual(['jpeg', 128, 128])
      const mask = await sharp(await readFile(maskOut)).metadata()
      expect([mask.format, mask.width, mask.height, mask.channels]).toEqual(['png', 128, 128, 1])
    },
    ALIGNMENT_EDIT_TIMEOUT_MS
  )

  it(
    'reads the key from SEMANI_API_KEY',
    async () => {
      const out = join(folder, 'second.png')

      const { code, stdout } = await semani(
        editArgs(['--prompt', 'a knight', '--out', out, '--api', stack.url]),
        { SEMANI_API_KEY: key }
      )

      expect(code).toBe(0)
      expect(stdout).toMatch(/^edited photo written to .*second\.png \(seed \d+\)\n$/)
      expect((await sharp(await readFile(out)).metadata()).format).toBe('png')
    },
    ALIGNMENT_EDIT_TIMEOUT_MS
  )

  it('charges both edits to the key', async () => {
    const usage = await createSemaniClient({ baseUrl: stack.url, apiKey: key }).getUsage()

    expect(usage.credits.used).toBe(2)
    expect(usage.edits.succeeded).toBe(2)
  })

  it(
    'reports a rejected key in one line',
    async () => {
      const { code, stderr } = await semani(
        editArgs(['--prompt', 'x', '--api', stack.url, '--key', 'smn_not_a_valid_key'])
      )

      expect(code).toBe(1)
      expect(stderr).toMatch(/^semani: Unauthorized: The API key is not valid or has been revoked/)
      expect(stderr.trim().split('\n')).toHaveLength(1)
    },
    COMMAND_TIMEOUT_MS
  )

  it(
    'checks the image before calling the API',
    async () => {
      const fake = join(folder, 'fake.jpg')
      await writeFile(fake, 'not an image')

      const { code, stderr } = await semani([
        ...['edit', '--image', fake, '--entity', 'dog', '--prompt', 'x'],
        ...['--api', stack.url, '--key', key],
      ])

      expect(code).toBe(1)
      expect(stderr).toContain('not an image')
    },
    COMMAND_TIMEOUT_MS
  )

  it.each([
    [['--api', 'http://127.0.0.1:9'], 'Give the API key with --key KEY or in SEMANI_API_KEY'],
    [['--api', 'ftp://127.0.0.1/', '--key', 'k'], '--api needs an http or https URL'],
    [['--api', 'http://127.0.0.1:9', '--key', 'k', '--profile', 'tiny'], '--profile and'],
    [['--key', 'k'], '--key only applies with --api URL'],
  ])(
    'rejects %j as a usage error',
    async (extra, message) => {
      const { code, stderr } = await semani(editArgs(['--prompt', 'x', ...extra]))

      expect(code).toBe(2)
      expect(stderr).toContain(message)
    },
    COMMAND_TIMEOUT_MS
  )
})
