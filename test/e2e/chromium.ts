/**
 * Debian's Chromium driven by playwright-core, for the end-to-end tests. No browser is
 * downloaded: the tests use /usr/bin/chromium (`apt-get install -y chromium`), with a fresh
 * profile folder per launch and the background services that would reach the network off.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import { chromium, type BrowserContext, type Page } from 'playwright-core'

/** Where Debian's chromium package installs the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Viewport of the desktop checks and screenshots. */
export const DESKTOP_VIEWPORT = { width: 1280, height: 900 }

/** Viewport of the phone checks (iPhone 12 to 14, in CSS pixels). */
export const PHONE_VIEWPORT = { width: 390, height: 844 }

/** A running browser and the way to close it and delete its profile. */
export interface LaunchedChromium {
  readonly context: BrowserContext
  close(): Promise<void>
}

/**
 * Launches headless Chromium with a new, empty profile folder.
 *
 * @throws Error when /usr/bin/chromium is missing, saying how to install it.
 */
export async function launchChromium(): Promise<LaunchedChromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}. Install Debian's package: apt-get update && apt-get install -y chromium`
    )
  }
  // Playwright rejects --user-data-dir among the arguments; a persistent context passes it.
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'semani-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: DESKTOP_VIEWPORT,
  })
  return {
    context,
    close: async () => {
      await context.close()
      await rm(userDataDir, { recursive: true, force: true })
    },
  }
}

/**
 * Collects what a page reports as broken: uncaught exceptions and Content-Security-Policy
 * violations. Failed requests are left out, because error tests cause them on purpose.
 */
export function collectPageFaults(page: Page): string[] {
  const faults: string[] = []
  page.on('pageerror', (error) => faults.push(`uncaught: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content.Security.Policy/i.test(message.text())) {
      faults.push(`CSP: ${message.text()}`)
    }
  })
  return faults
}
