import { describe, expect, it } from 'vitest'

import {
  signalEditFinished,
  waitForEditSignal,
} from '../../../../functions/services/edit-signals.ts'

// A waiter that is never woken runs into the test timeout, so a missing wake-up fails the test.
const LONG_WAIT_MS = 60_000
const WAKE_TEST_TIMEOUT_MS = 5_000

describe('edit signals', () => {
  it(
    'wakes a waiter before its timeout',
    async () => {
      let woken = false
      const waiting = waitForEditSignal('edt_a', LONG_WAIT_MS).then(() => (woken = true))

      signalEditFinished('edt_a')
      await waiting

      expect(woken).toBe(true)
    },
    WAKE_TEST_TIMEOUT_MS
  )

  it(
    'wakes every waiter of the edit',
    async () => {
      const first = waitForEditSignal('edt_b', LONG_WAIT_MS)
      const second = waitForEditSignal('edt_b', LONG_WAIT_MS)

      signalEditFinished('edt_b')

      await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined])
    },
    WAKE_TEST_TIMEOUT_MS
  )

  it('leaves waiters of other edits waiting', async () => {
    let otherWoken = false
    const other = waitForEditSignal('edt_c', 50).then(() => (otherWoken = true))

    signalEditFinished('edt_d')
    await Promise.resolve()

    expect(otherWoken).toBe(false)
    await other
    expect(otherWoken).toBe(true)
  })

  it('resolves at the timeout without a signal', async () => {
    await expect(waitForEditSignal('edt_e', 10)).resolves.toBeUndefined()
  })
})
