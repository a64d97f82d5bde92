/**
 * The runner's admission queue: at most `concurrency` pipeline runs at once, at most `capacity`
 * more waiting behind them, and a refusal beyond that.
 *
 * Refusing early is deliberate. A GPU runner that accepts unbounded work only turns overload
 * into timeouts; a 503 with Retry-After lets the caller's retry policy move the work elsewhere.
 */
import { RunnerError } from '../errors.ts'
import { log } from '../log.ts'

/** Slots and waiting places of the queue. */
export interface QueueLimits {
  /** Pipeline runs at once, at least 1. */
  readonly concurrency: number
  /** Predictions that may wait for a slot, at least 0. */
  readonly capacity: number
}

interface WaitingTask {
  readonly id: string
  readonly start: () => Promise<unknown>
}

// Retry-After before any run has finished, and the weight of the newest duration in the average.
const INITIAL_RUN_ESTIMATE_MS = 5_000
const RUN_ESTIMATE_WEIGHT = 0.2

/** Runs tasks with bounded concurrency behind a bounded waiting list. */
export class PredictionQueue {
  readonly limits: QueueLimits
  #running = 0
  #waiting: WaitingTask[] = []
  #idleWaiters: (() => void)[] = []
  #runEstimateMs = INITIAL_RUN_ESTIMATE_MS

  constructor(limits: QueueLimits) {
    if (!Number.isInteger(limits.concurrency) || limits.concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${limits.concurrency}`)
    }
    if (!Number.isInteger(limits.capacity) || limits.capacity < 0) {
      throw new RangeError(`queue capacity must be an integer >= 0, got ${limits.capacity}`)
    }
    this.limits = limits
  }

  /** Tasks holding a slot, including runs that outlived their prediction's time limit. */
  get running(): number {
    return this.#running
  }

  get waiting(): number {
    return this.#waiting.length
  }

  /** Whether `submit` would refuse a task now. */
  get isFull(): boolean {
    return this.#running >= this.limits.concurrency && this.#waiting.length >= this.limits.capacity
  }

  /** Whether no task runs or waits. */
  get isIdle(): boolean {
    return this.#running === 0 && this.#waiting.length === 0
  }

  /**
   * Starts `task` now if a slot is free, or queues it.
   *
   * @param task Never rejects in normal use; a rejection is logged and frees the slot.
   * @throws RunnerError `queue-full` (retryable) when every slot and waiting place is taken.
   */
  submit(id: string, task: () => Promise<unknown>): void {
    if (this.isFull) {
      throw new RunnerError(
        'queue-full',
        `The runner is busy: ${this.#running} running and ${this.#waiting.length} waiting. ` +
          `Retry after ${this.retryAfterS()} s.`,
        { retryable: true, details: { retryAfterS: this.retryAfterS() } }
      )
    }
    this.#waiting.push({ id, start: task })
    this.#startNext()
  }

  /** Removes a task that has not started; returns false when it is running or unknown. */
  withdraw(id: string): boolean {
    const index = this.#waiting.findIndex((task) => task.id === id)
    if (index === -1) return false

    this.#waiting.splice(index, 1)
    this.#notifyIfIdle()
    return true
  }

  /** Resolves once no task runs or waits. */
  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Seconds until a place is likely to free, from the average run time; at least 1. */
  retryAfterS(): number {
    const aheadRuns = (this.#waiting.length + 1) / this.limits.concurrency

    return Math.max(1, Math.ceil((aheadRuns * this.#runEstimateMs) / 1000))
  }

  #startNext(): void {
    while (this.#running < this.limits.concurrency) {
      const next = this.#waiting.shift()
      if (next === undefined) return
      this.#running++
      void this.#run(next)
    }
  }

  async #run(task: WaitingTask): Promise<void> {
    // The slot is taken now, but the task starts on a later tick, so the caller that submitted
    // it can still return the prediction in status `starting`, as Cog's 202 response does.
    await new Promise((resolve) => setImmediate(resolve))
    const startedMs = performance.now()
    try {
      await task.start()
    } catch (error) {
      log.error('queue.task_failed', { predictionId: task.id, error })
    }

    const durationMs = performance.now() - startedMs
    this.#runEstimateMs += RUN_ESTIMATE_WEIGHT * (durationMs - this.#runEstimateMs)
    this.#running--
    this.#startNext()
    this.#notifyIfIdle()
  }

  #notifyIfIdle(): void {
    if (!this.isIdle) return
    for (const resolve of this.#idleWaiters.splice(0)) resolve()
  }
}
