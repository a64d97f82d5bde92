import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import type { RunnerPipeline } from '../../../../gpu-runner/server/pipeline-port.ts'
import { startRunnerService } from '../../../../gpu-runner/server/service.ts'

// The injected pipeline holds each run until the test releases it and then fails it with an
// out-of-memory error: a fault the real pipeline cannot be made to produce on demand. It never
// returns an edit result.
function makeGatedPipeline() {
  let release: () => void = () => undefined
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let started = 0
  const pipeline: RunnerPipeline = {
    profile: 'tiny',
    modelRevisions: { 'gated-stub': 'none' },
    async run() {
      started++
      await released
      throw new RunnerError('out-of-memory', 'Device ran out of memory.', { retryable: true })
    },
    release: async () => undefined,
  }
  return { pipeline, release, startedCount: () => started }
}

const INPUT = { image: 'data:image/png;base64,iVBORw0KGgo=', entity: 'dog', prompt: 'a cat' }

describe('startRunnerService', () => {
  it('serves health over loopback', async () => {
    const { pipeline } = makeGatedPipeline()
    const service = await startRunnerService({
      loadPipeline: async () => pipeline,
      trustedPrefixes: [],
      port: 0,
    })
    try {
      await service.setupDone
      const health = (await (await fetch(`${service.url}/health-check`)).json()) as {
        status: string
      }
      expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(health.status).toBe('READY')
    } finally {
      await service.shutdown()
    }
  })

  it('drains in-flight predictions on shutdown', async () => {
    const { pipeline, release, startedCount } = makeGatedPipeline()
    const service = await startRunnerService({
      loadPipeline: async () => pipeline,
      trustedPrefixes: [],
      port: 0,
    })
    await service.setupDone
    const inFlight = fetch(`${service.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: INPUT }),
    })
    while (startedCount() === 0) await new Promise((resolve) => setTimeout(resolve, 10))

    const stopped = service.shutdown()
    const refused = await fetch(`${service.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ input: INPUT }),
    }).then(
      (res) => res.status,
      () => 'connection refused'
    )
    release()
    const answer = (await (await inFlight).json()) as { status: string; error_details: unknown }
    await stopped

    expect(refused).toBe('connection refused')
    expect(answer.status).toBe('failed')
    expect(answer.error_details).toEqual({
      slug: 'runner-failed',
      detail: 'Device ran out of memory.',
      retryable: true,
    })
    expect(startedCount()).toBe(1)
  })
})
