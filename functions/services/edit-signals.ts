/**
 * Wakes requests that wait for an edit when the edit finishes in the same isolate.
 *
 * A synchronous `POST /v1/edits` polls D1 until its edit ends. When the queue consumer that
 * finishes the edit runs in the same isolate (always on the local stack, often in production),
 * this signal ends the wait at once instead of at the next poll. Across isolates nothing is
 * signalled and polling alone notices the change, so the signal only ever shortens a wait.
 */

const waiters = new Map<string, Set<() => void>>()

/** Wakes every waiter of `editId` in this isolate. */
export function signalEditFinished(editId: string): void {
  const wake = waiters.get(editId)
  if (wake === undefined) return

  waiters.delete(editId)
  for (const resolve of wake) resolve()
}

/** Resolves when `editId` is signalled or after `timeoutMs`, whichever comes first. */
export function waitForEditSignal(editId: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const set = waiters.get(editId) ?? new Set()
    waiters.set(editId, set)

    const done = () => {
      clearTimeout(timer)
      set.delete(done)
      if (set.size === 0 && waiters.get(editId) === set) waiters.delete(editId)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    set.add(done)
  })
}
