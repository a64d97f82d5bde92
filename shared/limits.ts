/**
 * Limits that validation on both sides reads. Changing one here changes the documented API.
 */

/** Largest encoded image accepted, in bytes. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024

/** Largest decoded image accepted, in pixels (width × height, after orientation). */
export const MAX_IMAGE_PIXELS = 40_000_000

/** Maximum side accepted, in pixels. It also bounds extreme strips such as 7×5000. */
export const MAX_IMAGE_SIDE = 12_000

/** Maximum number of edits in one request, applied in order. */
export const MAX_EDITS_PER_REQUEST = 4

/** Maximum length of an entity phrase, in characters. */
export const MAX_ENTITY_CHARS = 100

/** Maximum length of a target description or negative prompt, in characters (CLIP keeps 77 tokens anyway). */
export const MAX_PROMPT_CHARS = 1000

/** Image formats accepted as input and produced as output. */
export const IMAGE_FORMATS = ['png', 'jpeg', 'webp'] as const
export type ImageFormat = (typeof IMAGE_FORMATS)[number]
