/**
 * Prompt ensembling for the entity word: the word is placed in several caption templates, and
 * the text embedding is the mean of their normalised embeddings. CLIP was trained on captions
 * rather than single words, and averaging over templates evens out the quirks of any one
 * phrasing.
 */

/** Caption templates; `{}` is replaced by the entity phrase. */
export const PROMPT_TEMPLATES: readonly string[] = [
  'a photo of a {}.',
  'a photo of the {}.',
  'a cropped photo of a {}.',
  'a close-up photo of a {}.',
  'a good photo of a {}.',
  'a bright photo of the {}.',
  'a photo of one {}.',
  'an image showing a {}.',
]

/** Leading articles dropped from the entity phrase, because every template supplies one. */
const LEADING_ARTICLE = /^(?:a|an|the)\s+/i

/**
 * Normalises an entity phrase for the templates: whitespace collapsed, one leading article
 * and trailing full stops removed ("The red car." → "red car"). A phrase that would be left
 * empty ("the") is kept as it is.
 */
export function normalizeEntityPhrase(entity: string): string {
  const collapsed = entity.trim().replace(/\s+/g, ' ')
  const phrase = collapsed.replace(LEADING_ARTICLE, '').replace(/\.+$/, '').trim()
  return phrase === '' ? collapsed : phrase
}

/** Fills every template with the normalised entity phrase. */
export function fillPromptTemplates(entity: string): string[] {
  const phrase = normalizeEntityPhrase(entity)
  // A replacer function, so that `$` in the phrase is not read as a replacement pattern.
  return PROMPT_TEMPLATES.map((template) => template.replace('{}', () => phrase))
}
