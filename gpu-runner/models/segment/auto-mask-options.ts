/**
 * Settings of automatic mask generation and their defaults.
 */

/** One pass of point prompts. */
export interface GridPass {
  /** Grid size for a square image; other aspect ratios keep about as many points. */
  readonly pointsPerSide: number
  /** Skip points inside a mask accepted earlier. */
  readonly skipCovered: boolean
}

/** Settings of automatic mask generation; defaults in `DEFAULT_AUTO_MASK_OPTIONS`. */
export interface AutoMaskOptions {
  readonly passes: readonly GridPass[]
  /** Upper bound on decoder calls per image; points beyond it are not prompted. */
  readonly maxDecoderCalls: number
  /** Minimum predicted IoU, exclusive. */
  readonly predIouThreshold: number
  /** Minimum stability score, inclusive. */
  readonly stabilityScoreThreshold: number
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

/** Defaults: the reference thresholds (0.88, 0.95, 1.0, 0.7) on a budget-bounded grid. */
export const DEFAULT_AUTO_MASK_OPTIONS: AutoMaskOptions = {
  passes: [
    { pointsPerSide: 6, skipCovered: false },
    { pointsPerSide: 12, skipCovered: true },
  ],
  maxDecoderCalls: 96,
  predIouThreshold: 0.88,
  stabilityScoreThreshold: 0.95,
  stabilityScoreOffset: 1,
  boxNmsThreshold: 0.7,
  minRegionAreaFraction: 1 / 4096,
}
