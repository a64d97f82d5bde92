import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../../bin/semani.js', import.meta.url))
const PHOTO = fileURLToPath(new URL('../../fixtures/photos/pink-flower.jpg', import.meta.url))
const COMMAND_TIMEOUT_MS = 240_000

async function semani(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      timeout: COMMAND_TIMEOUT_MS,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

describe('semani mask and edit', () => {
  let folder: string

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'semani-cli-'))
  })

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true })
  })

  it(
    'prints the mask report as JSON',
    async () => {
      const out = join(folder, 'mask.png')

      const { code, stdout } = await semani([
        'mask',
        '--image',
        PHOTO,
        '--entity',
        'flower',
        '--out',
        out,
        '--json',
      ])

      expect(code).toBe(0)
      const report = JSON.parse(stdout)
      expect([report.width, report.height]).toEqual([480, 360])
      expect(report.selected).toHaveLength(1)
      expect(report.selected[0].bbox).toHaveLength(4)
      expect(report.candidates.length).toBeGreaterThan(0)
      expect(report.timings_ms.segmentation_encoder).toBeGreaterThan(0)
      const meta = await sharp(await readFile(out)).metadata()
      expect([meta.width, meta.height, meta.channels]).toEqual([480, 360, 1])
    },
    COMMAND_TIMEOUT_MS
  )

  it(
    'writes the edited photo and mask',
    async () => {
      const out = join(folder, 'result.jpg')
      const maskOut = join(folder, 'edit-mask.png')

      const { code, stdout } = await semani([
        'edit',
        '--image',
        PHOTO,
        '--entity',
        'flower',
        '--prompt',
        'a red rose',
        '--seed',
        '5',
        '--steps',
        '2',
        '--out',
        out,
        '--mask-out',
        maskOut,
        '--json',
      ])

      expect(code).toBe(0)
      const report = JSON.parse(stdout)
      expect(report.seed).toBe(5)
      expect(report.window).toHaveLength(4)
      expect(report.selected).toHaveLength(1)
      expect(report.timings_ms.unet_loop).toBeGreaterThan(0)
      expect((await sharp(await readFile(out)).metadata()).format).toBe('jpeg')
      expect((await sharp(await readFile(maskOut)).metadata()).width).toBe(480)
    },
    COMMAND_TIMEOUT_MS
  )

  it.each([
    [['mask', '--entity', 'dog'], 2, 'Give --image PATH'],
    [['mask', '--image', '/nonexistent/photo.jpg', '--entity', 'dog'], 1, 'no such file'],
    [['mask', '--image', PHOTO, '--entity', 'dog', '--profile', 'huge'], 2, 'Unknown profile'],
    [['edit', '--image', PHOTO, '--entity', 'dog', '--prompt', 'x', '--steps', '0'], 2, 'steps'],
    [['edit', '--image', PHOTO, '--entity', 'dog'], 2, '--prompt'],
    [['mask', '--image', PHOTO, '--entity', 'dog', '--bogus'], 2, 'bogus'],
  ])(
    'rejects %j with a one-line error',
    async (args, expectedCode, message) => {
      const { code, stderr } = await semani(args)

      expect(code).toBe(expectedCode)
      const errorLines = stderr.split('\n').filter((line) => line.startsWith('semani:'))
      expect(errorLines).toHaveLength(1)
      expect(errorLines[0]).toContain(message)
    },
    COMMAND_TIMEOUT_MS
  )

  it(
    'rejects a text file named like a photo',
    async () => {
      const fake = join(folder, 'fake.jpg')
      await writeFile(fake, 'not an image')

      const { code, stderr } = await semani(['mask', '--image', fake, '--entity', 'dog'])

      expect(code).toBe(1)
      expect(stderr).toContain('not an image')
    },
    COMMAND_TIMEOUT_MS
  )
})
