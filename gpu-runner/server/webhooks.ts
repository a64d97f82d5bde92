/**
 * Webhook delivery for one prediction, following Cog's event rules.
 *
 * - `start` and `completed` are sent at once. `output` and `logs` are sent at most once per
 *   throttle interval (500 ms in Cog), and later ones are coalesced into one request that
 *   carries the newest state.
 * - Requests go out one at a time, in event order, so a receiver never gets an older state
 *   after a newer one. A coalesced request still waiting when `completed` arrives is sent
 *   first, so throttling delays events but never drops one that passed the filter.
 * - Only events in the prediction's `webhook_events_filter` are sent (all when it is absent).
 * - A failed `completed` is retried with backoff, because it is the event a caller cannot
 *   infer; failures of the others are logged and dropped.
 */
import type { WEBHOOK_EVENTS } from '../../shared/schemas/prediction.ts'
import { sendOutbound, OutboundError } from '../fetch/outbound-request.ts'
import { redactUrl, type OutboundPolicy } from '../fetch/url-policy.ts'
import { log } from '../log.ts'

export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number]

/** Interval between `output`/`logs` requests, as in Cog. */
export const WEBHOOK_THROTTLE_MS = 500

const WEBHOOK_TIMEOUT_MS = 10_000
const WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
/** Delays before the second and third attempt of a `completed` request. */
const COMPLETED_RETRY_DELAYS_MS = [500, 2_000] as const

/** Destination and event filter of one prediction's webhook. */
export interface WebhookTarget {
  /** Already checked against the outbound policy. */
  readonly url: URL
  readonly events: ReadonlySet<WebhookEvent>
}

/** Sends the webhook requests of one prediction, in order. */
export class WebhookSender {
  readonly #target: WebhookTarget
  readonly #policy: OutboundPolicy
  readonly #predictionId: string
  readonly #throttleMs: number
  #chain: Promise<void> = Promise.resolve()
  #lastThrottledMs = -Infinity
  #pendingTimer: NodeJS.Timeout | undefined
  #pendingSnapshot: (() => unknown) | undefined
  #pendingEvent: WebhookEvent = 'logs'
  #completed = false

  constructor(options: {
    target: WebhookTarget
    policy: OutboundPolicy
    predictionId: string
    throttleMs?: number
  }) {
    this.#target = options.target
    this.#policy = options.policy
    this.#predictionId = options.predictionId
    this.#throttleMs = options.throttleMs ?? WEBHOOK_THROTTLE_MS
  }

  /**
   * Records that `event` happened. `snapshot` builds the request body (the prediction state)
   * when the request is queued; for a coalesced event that is when its interval ends.
   */
  notify(event: WebhookEvent, snapshot: () => unknown): void {
    if (this.#completed) return
    if (event === 'completed') {
      this.#completed = true
      this.flushPending()
    }
    if (event === 'completed' || event === 'start') {
      if (this.#target.events.has(event)) this.#enqueue(event, snapshot())
      return
    }
    if (!this.#target.events.has(event)) return

    // A coalesced request is labelled `output` when an output is among the events it carries.
    if (this.#pendingSnapshot === undefined || event === 'output') this.#pendingEvent = event
    this.#pendingSnapshot = snapshot
    if (this.#pendingTimer !== undefined) return
    const waitMs = Math.max(0, this.#lastThrottledMs + this.#throttleMs - performance.now())
    if (waitMs === 0) {
      this.flushPending()
      return
    }
    this.#pendingTimer = setTimeout(() => this.flushPending(), waitMs)
  }

  /**
   * Queues a coalesced `output`/`logs` request now instead of at the end of its interval. The
   * prediction record calls it before moving to a terminal status, so that request still
   * carries the last non-terminal state.
   */
  flushPending(): void {
    const snapshot = this.#pendingSnapshot
    clearTimeout(this.#pendingTimer)
    this.#pendingTimer = undefined
    this.#pendingSnapshot = undefined
    if (snapshot === undefined) return

    this.#lastThrottledMs = performance.now()
    this.#enqueue(this.#pendingEvent, snapshot())
  }

  /** Resolves when every queued request has been sent or has failed. */
  async drain(): Promise<void> {
    await this.#chain
  }

  #enqueue(event: WebhookEvent, body: unknown): void {
    const payload = new TextEncoder().encode(JSON.stringify(body))
    this.#chain = this.#chain.then(() => this.#deliver(event, payload))
  }

  async #deliver(event: WebhookEvent, payload: Uint8Array): Promise<void> {
    const delaysMs = event === 'completed' ? COMPLETED_RETRY_DELAYS_MS : []

    for (let attempt = 0; attempt <= delaysMs.length; attempt++) {
      const failure = await this.#post(payload)
      if (failure === undefined) return

      const willRetry = attempt < delaysMs.length
      log.warn('webhook.failed', {
        predictionId: this.#predictionId,
        webhookEvent: event,
        url: redactUrl(this.#target.url),
        attempt: attempt + 1,
        willRetry,
        reason: failure,
      })
      if (!willRetry) return
      await new Promise((resolve) => setTimeout(resolve, delaysMs[attempt]))
    }
  }

  /** Posts one body; returns a failure reason, or undefined on a 2xx response. */
  async #post(payload: Uint8Array): Promise<string | undefined> {
    try {
      const response = await sendOutbound({
        url: this.#target.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
        rules: { allowLoopback: this.#policy.local },
        timeoutMs: WEBHOOK_TIMEOUT_MS,
        maxResponseBytes: WEBHOOK_MAX_RESPONSE_BYTES,
      })
      return response.status >= 200 && response.status < 300 ? undefined : `HTTP ${response.status}`
    } catch (error) {
      // Any failure ends this attempt; the chain must keep running for later events.
      return error instanceof OutboundError ? error.message : String(error)
    }
  }
}
