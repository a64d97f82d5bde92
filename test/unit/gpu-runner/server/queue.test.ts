import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { PredictionQueue } from '../../../../gpu-runner/server/queue.ts'

// A task that finishes when the test says so.
function gate() {
  let open: () => void = () => undefined
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, task: () => opened }
}

describe('PredictionQueue', () => {
  it('runs up to concurrency tasks at once', () => {
    const queue = new PredictionQueue({ concurrency: 2, capacity: 5 })
    for (const id of ['a', 'b', 'c']) queue.submit(id, gate().task)

    expect(queue.running).toBe(2)
    expect(queue.waiting).toBe(1)
  })

  it('refuses beyond slots and capacity', () => {
    const queue = new PredictionQueue({ concurrency: 1, capacity: 1 })
    queue.submit('a', gate().task)
    queue.submit('b', gate().task)

    expect(queue.isFull).toBe(true)
    let refusal: unknown
    try {
      queue.submit('c', gate().task)
    } catch (error) {
      refusal = error
    }
    expect(refusal).toBeInstanceOf(RunnerError)
    expect((refusal as RunnerError).code).toBe('queue-full')
    expect((refusal as RunnerError).retryable).toBe(true)
  })

  it('starts the next task when one ends', async () => {
    const queue = new PredictionQueue({ concurrency: 1, capacity: 1 })
    const first = gate()
    const started: string[] = []
    queue.submit('a', () => (started.push('a'), first.task()))
    queue.submit('b', async () => void started.push('b'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(started).toEqual(['a'])

    first.open()
    await queue.whenIdle()
    expect(started).toEqual(['a', 'b'])
  })

  it('withdraws only waiting tasks', () => {
    const queue = new PredictionQueue({ concurrency: 1, capacity: 2 })
    queue.submit('a', gate().task)
    queue.submit('b', gate().task)

    expect(queue.withdraw('a')).toBe(false)
    expect(queue.withdraw('b')).toBe(true)
    expect(queue.waiting).toBe(0)
  })

  it('frees the slot after a rejected task', async () => {
    const queue = new PredictionQueue({ concurrency: 1, capacity: 0 })
    queue.submit('a', () => Promise.reject(new Error('task broke')))

    await queue.whenIdle()
    expect(queue.running).toBe(0)
  })

  it('suggests at least one second', () => {
    expect(
      new PredictionQueue({ concurrency: 1, capacity: 0 }).retryAfterS()
    ).toBeGreaterThanOrEqual(1)
  })

  it('rejects invalid limits', () => {
    expect(() => new PredictionQueue({ concurrency: 0, capacity: 1 })).toThrow(RangeError)
    expect(() => new PredictionQueue({ concurrency: 1, capacity: -1 })).toThrow(RangeError)
  })
})
