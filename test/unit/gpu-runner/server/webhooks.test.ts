import { afterEach, describe, expect, it } from 'vitest'

import { createOutboundPolicy } from '../../../../gpu-runner/fetch/url-policy.ts'
import { WebhookSender, type WebhookEvent } from '../../../../gpu-runner/server/webhooks.ts'
import {
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../integration/gpu-runner/server/webhook-receiver.ts'

const THROTTLE_MS = 50

describe('WebhookSender', () => {
  let receiver: WebhookReceiver | undefined

  afterEach(async () => {
    await receiver?.close()
    receiver = undefined
  })

  async function makeSender(events: readonly WebhookEvent[], failFirst = 0) {
    receiver = await startWebhookReceiver({ failFirst })
    const policy = createOutboundPolicy({ trustedPrefixes: [receiver.origin + '/'], local: true })
    const sender = new WebhookSender({
      target: { url: new URL(`${receiver.origin}/hook`), events: new Set(events) },
      policy,
      predictionId: 'p1',
      throttleMs: THROTTLE_MS,
    })
    return { sender, receiver }
  }

  it('delivers events in order', async () => {
    const { sender, receiver } = await makeSender(['start', 'output', 'logs', 'completed'])

    sender.notify('start', () => ({ seq: 1, status: 'starting' }))
    sender.notify('logs', () => ({ seq: 2, status: 'processing' }))
    await new Promise((resolve) => setTimeout(resolve, THROTTLE_MS * 2))
    sender.notify('output', () => ({ seq: 3, status: 'processing' }))
    sender.notify('completed', () => ({ seq: 4, status: 'succeeded' }))
    await sender.drain()

    expect(receiver.received.map((hook) => hook.body.seq)).toEqual([1, 2, 3, 4])
  })

  it('coalesces rapid log events', async () => {
    const { sender, receiver } = await makeSender(['logs', 'completed'])

    for (let seq = 1; seq <= 10; seq++) sender.notify('logs', () => ({ seq, status: 'processing' }))
    await new Promise((resolve) => setTimeout(resolve, THROTTLE_MS * 3))
    sender.notify('completed', () => ({ seq: 11, status: 'succeeded' }))
    await sender.drain()

    // The first event goes at once; the other nine fold into one request with the newest state.
    expect(receiver.received.map((hook) => hook.body.seq)).toEqual([1, 10, 11])
  })

  it('flushes pending logs before completion', async () => {
    const { sender, receiver } = await makeSender(['logs', 'completed'])

    sender.notify('logs', () => ({ seq: 1, status: 'processing' }))
    sender.notify('logs', () => ({ seq: 2, status: 'processing' }))
    sender.notify('completed', () => ({ seq: 3, status: 'succeeded' }))
    await sender.drain()
    await new Promise((resolve) => setTimeout(resolve, THROTTLE_MS * 2))

    expect(receiver.received.map((hook) => hook.body.seq)).toEqual([1, 2, 3])
  })

  it('sends only filtered events', async () => {
    const { sender, receiver } = await makeSender(['completed'])

    sender.notify('start', () => ({ seq: 1, status: 'starting' }))
    sender.notify('logs', () => ({ seq: 2, status: 'processing' }))
    sender.notify('output', () => ({ seq: 3, status: 'processing' }))
    sender.notify('completed', () => ({ seq: 4, status: 'succeeded' }))
    await sender.drain()

    expect(receiver.received.map((hook) => hook.body.seq)).toEqual([4])
  })

  it('retries a failed completed event', async () => {
    const { sender, receiver } = await makeSender(['completed'], 1)

    sender.notify('completed', () => ({ seq: 1, status: 'failed' }))
    await sender.drain()

    expect(receiver.received.map((hook) => hook.body.seq)).toEqual([1])
  })

  it('ignores events after completion', async () => {
    const { sender, receiver } = await makeSender(['start', 'logs', 'completed'])

    sender.notify('completed', () => ({ seq: 1, status: 'canceled' }))
    sender.notify('logs', () => ({ seq: 2, status: 'processing' }))
    await sender.drain()
    await new Promise((resolve) => setTimeout(resolve, THROTTLE_MS * 2))

    expect(receiver.received.map((hook) => hook.body.seq)).toEqual([1])
  })
})
