import { describe, expect, it } from 'vitest'

import {
  PROMPT_TEMPLATES,
  fillPromptTemplates,
  normalizeEntityPhrase,
} from '../../../../../gpu-runner/models/align/prompts.ts'

describe('normalizeEntityPhrase', () => {
  it.each([
    ['dog', 'dog'],
    ['  red   car ', 'red car'],
    ['The red car.', 'red car'],
    ['an apple', 'apple'],
    ['A dog', 'dog'],
    ['theatre', 'theatre'],
    ['the', 'the'],
    ['another dog', 'another dog'],
  ])('normalises %j to %j', (entity, expected) => {
    expect(normalizeEntityPhrase(entity)).toBe(expected)
  })
})

describe('fillPromptTemplates', () => {
  it('fills every template once', () => {
    const prompts = fillPromptTemplates('the dog')

    expect(prompts).toHaveLength(PROMPT_TEMPLATES.length)
    expect(prompts[0]).toBe('a photo of a dog.')
    expect(prompts.every((prompt) => prompt.includes('dog') && !prompt.includes('{}'))).toBe(true)
  })

  it('keeps dollar signs literal', () => {
    expect(fillPromptTemplates("$& $' sign")[0]).toBe("a photo of a $& $' sign.")
  })
})
