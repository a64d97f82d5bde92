/**
 * The mask cache. A finished single-entity edit leaves its entity mask behind. A later edit of
 * the same entity in the same image sends that mask to the runner (input `mask`), so the runner
 * skips the alignment phase (segmentation proposals and CLIP scoring).
 *
 * A mask depends on the image, the entity words, the selection settings and the models that
 * chose it, so the KV key is
 *
 *   mask/v1/<base>/<revisions>
 *   base      = SHA-256 of [image SHA-256, normalised entity words, multiple, threshold]
 *   revisions = SHA-256 of the segmentation and alignment model revisions, sorted by model id
 *
 * and the value names the R2 key of the mask. The runner reports its model revisions with every
 * prediction; the last ones seen are kept in KV, so a model update makes the next lookups miss
 * instead of reusing a mask chosen by the old models.
 * NOTE: a lookup between a model update and the first prediction that reports the new
 * revisions still uses the old revisions' masks.
 * Revisions of models whose id starts with `sd` and a separator, optionally after a version
 * (`sd-unet-inpaint-tiny`, `sd15-inpaint-unet`: the Stable Diffusion models of the manifest), are
 * left out, because inpainting does not change which entity is selected. Any other id counts, so
 * an unknown model can only cause extra misses, never a stale hit.
 */
import type { EditSettings, EditStep } from '../../shared/schemas/edit-settings.ts'
import type { PredictionOutput } from '../../shared/schemas/prediction.ts'
import { sha256Hex } from '../../shared/signing.ts'

type EntityCandidate = PredictionOutput['selected'][number]

const KV_PREFIX = 'mask/v1/'
const REVISIONS_KEY = 'runner/model-revisions'

/** How long a cached mask stays valid. */
export const MASK_CACHE_TTL_S = 30 * 24 * 3600

const LEADING_ARTICLE = /^(the|a|an)\s+/

/**
 * Normalises entity words so that trivially different phrasings share a cache entry:
 * Unicode NFKC, lower case, punctuation removed, whitespace collapsed, a leading article
 * (the, a, an) dropped. "The Dog!" and "dog" give "dog".
 */
export function normaliseEntityWords(entity: string): string {
  return entity
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(LEADING_ARTICLE, '')
}

/**
 * Computes the revision-independent part of the cache key, or returns null when the request
 * cannot use the cache: with several edits, later edits see an image the cache never saw.
 */
export async function maskCacheBase(options: {
  imageSha256: string
  edits: readonly EditStep[]
  settings: Pick<EditSettings, 'multiple' | 'threshold'>
}): Promise<string | null> {
  const { imageSha256, edits, settings } = options
  const [only, ...rest] = edits
  if (!only || rest.length > 0) return null

  const entity = normaliseEntityWords(only.entity)
  return sha256Hex(JSON.stringify([imageSha256, entity, settings.multiple, settings.threshold]))
}

/** Keeps the revisions of the models that decide the mask: all but the Stable Diffusion ones. */
export function selectMaskModelRevisions(
  revisions: Readonly<Record<string, string>>
): Record<string, string> {
  const entries = Object.entries(revisions).filter(([modelId]) => !/^sd\d*[-_]/i.test(modelId))
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)))
}

async function fullKey(base: string, revisions: Readonly<Record<string, string>>): Promise<string> {
  const digest = await sha256Hex(JSON.stringify(selectMaskModelRevisions(revisions)))
  return `${KV_PREFIX}${base}/${digest}`
}

/** A cached mask and the scores of the edit that chose it. */
export interface CachedMask {
  readonly maskKey: string
  readonly editId: string
  readonly selected?: readonly EntityCandidate[]
  readonly candidates?: readonly EntityCandidate[]
}

/**
 * Looks up the mask for `base` under the runner's last known model revisions, and checks that
 * the R2 object still exists. Returns undefined on a miss.
 */
export async function lookupMask(options: {
  kv: KVNamespace
  bucket: R2Bucket
  base: string
}): Promise<CachedMask | undefined> {
  const { kv, bucket, base } = options
  const revisions = await kv.get<Record<string, string>>(REVISIONS_KEY, 'json')
  if (!revisions) return undefined

  const entry = await kv.get<CachedMask>(await fullKey(base, revisions), 'json')
  if (!entry || !(await bucket.head(entry.maskKey))) return undefined
  return entry
}

/** Stores a mask under `base` and the revisions of the models that made it. */
export async function storeMask(options: {
  kv: KVNamespace
  base: string
  revisions: Readonly<Record<string, string>>
  mask: CachedMask
}): Promise<void> {
  const { kv, base, revisions, mask } = options
  await kv.put(await fullKey(base, revisions), JSON.stringify(mask), {
    expirationTtl: MASK_CACHE_TTL_S,
  })
}

/** Records the model revisions the runner reported last, when they changed. */
export async function rememberModelRevisions(
  kv: KVNamespace,
  revisions: Readonly<Record<string, string>>
): Promise<void> {
  const selected = selectMaskModelRevisions(revisions)
  const known = await kv.get<Record<string, string>>(REVISIONS_KEY, 'json')
  if (known && JSON.stringify(selectMaskModelRevisions(known)) === JSON.stringify(selected)) return
  await kv.put(REVISIONS_KEY, JSON.stringify(selected))
}
