import { describe, expect, it } from 'vitest'

import { readWaitPreference } from '../../../../functions/services/prefer.ts'

const LIMITS = { defaultS: 60, maxS: 300 }

describe('readWaitPreference', () => {
  it('uses the default without Prefer', () => {
    expect(readWaitPreference(undefined, LIMITS)).toEqual({ waitS: 60 })
  })

  it('applies wait=N', () => {
    expect(readWaitPreference('wait=5', LIMITS)).toEqual({ waitS: 5, applied: 'wait=5' })
  })

  it('caps wait at the maximum', () => {
    expect(readWaitPreference('wait=9999', LIMITS)).toEqual({ waitS: 300, applied: 'wait=300' })
  })

  it('prefers respond-async over wait', () => {
    expect(readWaitPreference('wait=10, respond-async', LIMITS)).toEqual({
      waitS: 0,
      applied: 'respond-async',
    })
  })

  it('ignores unknown preferences', () => {
    expect(readWaitPreference('return=minimal', LIMITS)).toEqual({ waitS: 60 })
  })
})
