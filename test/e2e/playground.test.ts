/**
 * The playground page at `/`, driven in headless Chromium against the local stack (tiny
 * profile: real SAM, small generated CLIP and Stable Diffusion models). Screenshots go to
 * out/screenshots/.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { startLocalStack, type LocalStack } from '../../cli/stack/local-stack.ts'
import { findFreePort, REPO_ROOT } from '../../functions/local/stack.ts'
import { buildClientScript } from '../../functions/playground/build-client.ts'
import { PLAYGROUND_CLIENT_JS } from '../../functions/playground/client-bundle.ts'
import { MAX_LISTED_CANDIDATES } from '../../functions/playground/client/candidates.ts'
import type { EditJob } from '../../shared/schemas/api.ts'
import {
  collectPageFaults,
  launchChromium,
  PHONE_VIEWPORT,
  type LaunchedChromium,
} from './chromium.ts'
import { readMaskedShare, readOverlayShare } from './mask-share.ts'

/** Starting the runner and the worker, and launching Chromium. */
const SETUP_TIMEOUT_MS = 180_000
/** One tiny-profile edit through the page, upload to result. */
const EDIT_TIMEOUT_MS = 240_000
/** Page actions and checks that do not wait for an edit. */
const PAGE_TIMEOUT_MS = 30_000

const PHOTO_FILE = 'dog-and-owner-with-bowl.jpg'
const PHOTO = fileURLToPath(new URL(`../fixtures/photos/${PHOTO_FILE}`, import.meta.url))
const SCREENSHOTS = path.join(REPO_ROOT, 'out/screenshots')

/** Steps and seed of the page's edit; 5 steps keep the tiny profile's denoising short. */
const EDIT_SETTINGS = { steps: '5', seed: '1234' }

/**
 * Largest difference between the share of the photo the overlay tints and the share of mask
 * pixels at or above 128. The overlay tints a pixel when the mask value passes the middle of
 * its range, so only pixels near 127.5 can land on the other side after the browser decodes
 * the PNG. 0.2% of the pixels is far above that and far below any misdrawn mask.
 */
const MASK_SHARE_TOLERANCE = 0.002

describe('playground page', () => {
  let stack: LocalStack
  let browser: LaunchedChromium
  let apiKey: string
  let stateDir: string
  let photoSize: { width: number; height: number }

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'semani-playground-'))
    stack = await startLocalStack({
      port: await findFreePort(),
      persistTo: stateDir,
      profile: 'tiny',
    })
    apiKey = await stack.createKey('playground-e2e')
    browser = await launchChromium()
    photoSize = await readCaseSize(PHOTO_FILE)
    await mkdir(SCREENSHOTS, { recursive: true })
  }, SETUP_TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
    if (stateDir) await rm(stateDir, { recursive: true, force: true })
  }, SETUP_TIMEOUT_MS)

  it(
    'serves the page under a strict policy',
    async () => {
      const page = await fetch(`${stack.url}/`)
      const script = await fetch(`${stack.url}/playground/app.js`)
      const html = await page.text()

      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      const policy = page.headers.get('content-security-policy') ?? ''
      expect(policy).toContain("script-src 'self'")
      expect(policy).toContain("style-src 'self'")
      expect(policy).not.toContain('unsafe-inline')
      // Every script element loads a file; inline code would need 'unsafe-inline'.
      expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script src="/playground/app.js" defer>'])
      expect(html).not.toMatch(/\sstyle=|<style/)
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
      expect(await script.text()).toBe(PLAYGROUND_CLIENT_JS)
    },
    PAGE_TIMEOUT_MS
  )

  describe('with a finished edit', () => {
    let page: Page
    let faults: string[]

    beforeAll(async () => {
      page = await browser.context.newPage()
      faults = collectPageFaults(page)
    })

    it(
      'keeps the API key across visits',
      async () => {
        await page.goto(`${stack.url}/`)
        await page.getByLabel('API key', { exact: true }).fill(apiKey)
        await page.reload()

        expect(await page.getByLabel('API key', { exact: true }).inputValue()).toBe(apiKey)
      },
      PAGE_TIMEOUT_MS
    )

    it(
      'edits a fixture photo',
      async () => {
        // 1. Photo, entity, description and settings, as a person fills them in
        await page.getByLabel('Photo', { exact: true }).setInputFiles(PHOTO)
        await page
          .locator('#photo-caption', { hasText: `${photoSize.width} × ${photoSize.height} px` })
          .waitFor({ timeout: PAGE_TIMEOUT_MS })
        await page.getByLabel('Entity', { exact: true }).fill('dog')
        await page.getByLabel('Description', { exact: true }).fill('a white cat on the floor')
        await page.getByText('Settings', { exact: true }).click()
        await page.getByLabel('Denoising steps').fill(EDIT_SETTINGS.steps)
        await page.getByLabel('Seed', { exact: true }).fill(EDIT_SETTINGS.seed)

        // 2. Submit; the status line follows the job while it runs
        await page.getByRole('button', { name: 'Edit photo' }).click()
        await page
          .locator('#status-phase', { hasText: /^(Queued|Running)$/ })
          .waitFor({ timeout: PAGE_TIMEOUT_MS })
        expect(await page.locator('#status-clock').textContent()).toMatch(/^\d+\.\d s$/)
        await page.locator('#result').waitFor({ state: 'visible', timeout: EDIT_TIMEOUT_MS })

        // 3. What the page shows, against the job as the API returns it
        const displayed = await readDisplayedResult(page)
        const job = await getEdit(displayed.editId)
        const best = job.selected[0]
        expect(job.status).toBe('succeeded')
        expect(displayed.phase).toMatch(/^Succeeded in \d+\.\d s$/)
        expect(displayed.resultSize).toEqual(photoSize)
        expect(displayed.originalSize).toEqual(photoSize)
        expect(displayed.maskSize).toEqual(photoSize)
        expect(best).toBeDefined()
        expect(displayed.score).toBe(best?.score.toFixed(3))
        expect(displayed.seed).toBe(EDIT_SETTINGS.seed)
        expect(job.seed).toBe(Number(EDIT_SETTINGS.seed))
        expect(job.settings.steps).toBe(Number(EDIT_SETTINGS.steps))
        const listed = Math.min(job.candidates.length, MAX_LISTED_CANDIDATES)
        expect(displayed.candidateRows).toBe(listed)
        expect(displayed.chosenRows).toBe(1)
        expect(displayed.boxes).toBe(listed)
        expect(displayed.chosenBoxes).toBe(1)
        expect(displayed.timingNames).toContain('total')
        expect(faults).toEqual([])

        // 4. The overlay tints the pixels the API's mask covers
        const maskShare = await readMaskedShare(await download(job.result?.mask_url))
        const overlayShare = await readOverlayShare(page)
        expect(maskShare).toBeGreaterThan(0)
        expect(maskShare).toBeLessThan(1)
        expect(Math.abs(overlayShare - maskShare)).toBeLessThanOrEqual(MASK_SHARE_TOLERANCE)

        await page.screenshot({
          path: path.join(SCREENSHOTS, 'playground-desktop.png'),
          fullPage: true,
        })
      },
      EDIT_TIMEOUT_MS
    )

    it(
      'fits a phone screen',
      async () => {
        await page.setViewportSize(PHONE_VIEWPORT)
        await page.waitForFunction(() => window.innerWidth === 390)

        const widths = await page.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          table: document.getElementById('candidates')?.scrollWidth ?? 0,
          tableBox: document.getElementById('candidates')?.parentElement?.clientWidth ?? 0,
        }))
        expect(widths.page).toBeLessThanOrEqual(PHONE_VIEWPORT.width)
        // The table scrolls inside its own box when it must; on a phone it should not have to.
        expect(widths.table).toBeLessThanOrEqual(widths.tableBox)
        expect(await page.locator('#result-image').isVisible()).toBe(true)
        await page.screenshot({
          path: path.join(SCREENSHOTS, 'playground-phone.png'),
          fullPage: true,
        })
      },
      PAGE_TIMEOUT_MS
    )
  })

  it(
    'explains a wrong API key',
    async () => {
      const page = await browser.context.newPage()
      const faults = collectPageFaults(page)
      await page.goto(`${stack.url}/`)

      await page.getByLabel('API key', { exact: true }).fill('sk_this_key_does_not_exist')
      await page.getByLabel('Photo', { exact: true }).setInputFiles(PHOTO)
      await page.locator('#photo-caption', { hasText: 'px' }).waitFor({ timeout: PAGE_TIMEOUT_MS })
      await page.getByLabel('Entity', { exact: true }).fill('dog')
      await page.getByLabel('Description', { exact: true }).fill('a white cat')
      await page.getByRole('button', { name: 'Edit photo' }).click()
      const alert = page.getByRole('alert')
      await alert.waitFor({ state: 'visible', timeout: PAGE_TIMEOUT_MS })

      expect(await alert.getByRole('heading').textContent()).toBe('Unauthorized')
      expect(await page.locator('#problem-detail').textContent()).toMatch(/API key is not valid/)
      expect(await alert.locator('.hint').textContent()).toMatch(/^Check the API key field/)
      expect(await page.locator('#status-phase').textContent()).toMatch(/^Failed in /)
      expect(await page.locator('#result').isVisible()).toBe(false)
      expect(faults).toEqual([])
      await page.screenshot({ path: path.join(SCREENSHOTS, 'playground-error.png') })
      await page.close()
    },
    PAGE_TIMEOUT_MS
  )

  it(
    'lists the invalid fields',
    async () => {
      const page = await browser.context.newPage()
      await page.goto(`${stack.url}/`)

      // Blank entity text passes the input's `required` check; the API trims it and rejects it.
      await page.getByLabel('API key', { exact: true }).fill(apiKey)
      await page.getByLabel('Photo', { exact: true }).setInputFiles(PHOTO)
      await page.locator('#photo-caption', { hasText: 'px' }).waitFor({ timeout: PAGE_TIMEOUT_MS })
      await page.getByLabel('Entity', { exact: true }).fill('   ')
      await page.getByRole('button', { name: 'Edit photo' }).click()
      const alert = page.getByRole('alert')
      await alert.waitFor({ state: 'visible', timeout: PAGE_TIMEOUT_MS })

      expect(await alert.getByRole('heading').textContent()).toBe('Invalid request')
      const fieldErrors = await alert.locator('.field-errors li').allTextContents()
      expect(fieldErrors.some((line) => line.startsWith('entity '))).toBe(true)
      await page.close()
    },
    PAGE_TIMEOUT_MS
  )

  it(
    'accepts a dropped photo',
    async () => {
      const page = await browser.context.newPage()
      await page.goto(`${stack.url}/`)
      const bytes = (await readFile(PHOTO)).toString('base64')

      const transfer = await page.evaluateHandle(
        ({ base64, name }) => {
          const data = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0))
          const dropped = new DataTransfer()
          dropped.items.add(new File([data], name, { type: 'image/jpeg' }))
          return dropped
        },
        { base64: bytes, name: PHOTO_FILE }
      )
      await page.locator('#drop-zone').dispatchEvent('drop', { dataTransfer: transfer })
      await page
        .locator('#photo-caption', { hasText: `${photoSize.width} × ${photoSize.height} px` })
        .waitFor({ timeout: PAGE_TIMEOUT_MS })

      const inputFiles = await page.evaluate(() =>
        [...((document.getElementById('photo') as HTMLInputElement).files ?? [])].map(
          (file) => file.name
        )
      )
      expect(inputFiles).toEqual([PHOTO_FILE])
      await page.close()
    },
    PAGE_TIMEOUT_MS
  )

  async function getEdit(id: string): Promise<EditJob> {
    const response = await fetch(`${stack.url}/v1/edits/${id}`, {
      headers: { Authorization: `Bearer ${apiKey}` },
    })
    expect(response.status).toBe(200)
    return (await response.json()) as EditJob
  }
})

describe('playground client bundle', () => {
  it('matches a fresh build', async () => {
    // A failure means client/ changed without `npx tsx functions/playground/build-client.ts`.
    expect(PLAYGROUND_CLIENT_JS).toBe(await buildClientScript())
  })
})

/** Reads what the result section shows from the page's elements. */
async function readDisplayedResult(page: Page) {
  return page.evaluate(() => {
    const byId = (id: string) => document.getElementById(id)
    const image = (id: string) => byId(id) as HTMLImageElement
    const canvas = byId('mask-overlay') as HTMLCanvasElement
    return {
      phase: byId('status-phase')?.textContent,
      editId: byId('edit-id')?.textContent ?? '',
      score: byId('chosen-score')?.textContent,
      seed: byId('seed')?.textContent,
      resultSize: {
        width: image('result-image').naturalWidth,
        height: image('result-image').naturalHeight,
      },
      originalSize: {
        width: image('original-image').naturalWidth,
        height: image('original-image').naturalHeight,
      },
      maskSize: { width: canvas.width, height: canvas.height },
      candidateRows: document.querySelectorAll('#candidates tbody tr').length,
      chosenRows: document.querySelectorAll('#candidates tbody tr.is-selected').length,
      boxes: document.querySelectorAll('#box-overlay g.box').length,
      chosenBoxes: document.querySelectorAll('#box-overlay g.box.is-selected').length,
      timingNames: [...document.querySelectorAll('#result-timings dt')].map((dt) => dt.textContent),
    }
  })
}

async function readCaseSize(file: string): Promise<{ width: number; height: number }> {
  const casesFile = fileURLToPath(new URL('../fixtures/photos/cases.json', import.meta.url))
  const cases = JSON.parse(await readFile(casesFile, 'utf8')) as {
    file: string
    width: number
    height: number
  }[]
  const found = cases.find((entry) => entry.file === file)
  if (!found) throw new Error(`${file} is not listed in cases.json.`)
  return { width: found.width, height: found.height }
}

async function download(url: string | undefined): Promise<Uint8Array> {
  if (!url) throw new Error('The edit has no result URL.')
  const response = await fetch(url)
  expect(response.status).toBe(200)
  return new Uint8Array(await response.arrayBuffer())
}
