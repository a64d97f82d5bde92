/**
 * The tools the API offers to language models: `edit_image` and `get_edit`. One zod schema per
 * tool validates the arguments of an MCP call, and `z.toJSONSchema` of the same schema is the
 * input schema that MCP's `tools/list` and `GET /v1/tools` publish.
 *
 * The arguments of `edit_image` are a subset of the `POST /v1/edits` JSON body with the same
 * names, so a function call's arguments are also a valid request body.
 */
import { z } from 'zod'

import { EditIdSchema, EditRequestFieldsSchema } from '../../shared/schemas/api.ts'
import {
  EditSettingsSchema,
  EntitySchema,
  PromptSchema,
} from '../../shared/schemas/edit-settings.ts'

export const EDIT_IMAGE_TOOL_NAME = 'edit_image'
export const GET_EDIT_TOOL_NAME = 'get_edit'

const FIELDS = EditRequestFieldsSchema.shape
const SETTINGS = EditSettingsSchema.shape

/** Arguments of `edit_image`: one image source, the entity, its description and main settings. */
export const EditImageArgsSchema = z
  .strictObject({
    image_url: FIELDS.image_url.meta({
      description: 'http or https URL of the photo (JPEG, PNG or WebP). Give this or image_base64.',
    }),
    image_base64: FIELDS.image_base64.meta({
      description:
        'The photo file as base64, or as a data:image/...;base64, URI. Give this or image_url.',
    }),
    entity: EntitySchema.meta({
      description: 'Words naming the entity to edit, as in the photo: "dog", "the red car".',
    }),
    prompt: PromptSchema.meta({
      description: 'What the entity becomes: "a white cat". The empty string removes it.',
    }),
    negative_prompt: SETTINGS.negative_prompt.meta({
      description: 'What the regenerated region should not show.',
    }),
    seed: SETTINGS.seed.meta({
      description: 'Seed of the diffusion noise. Equal seeds and settings give equal results.',
    }),
    steps: SETTINGS.steps.meta({
      description: 'Denoising steps: more is slower and usually cleaner.',
    }),
    guidance_scale: SETTINGS.guidance_scale.meta({
      description: 'Classifier-free guidance scale: higher values follow `prompt` more closely.',
    }),
    keep_shape: SETTINGS.keep_shape.meta({
      description: 'Keep the outline of the entity and change its appearance only.',
    }),
    strength: SETTINGS.strength.meta({
      description: 'With keep_shape: how much of the original entity is noised away (0 to 1).',
    }),
    multiple: SETTINGS.multiple.meta({
      description: 'Edit every instance that matches `entity`, not only the best one.',
    }),
    output_format: SETTINGS.output_format.meta({ description: 'Format of the edited photo.' }),
  })
  .superRefine((value, ctx) => {
    if ((value.image_url === undefined) !== (value.image_base64 === undefined)) return
    ctx.addIssue({
      code: 'custom',
      path: [value.image_url === undefined ? 'image_base64' : 'image_url'],
      message: 'Give the photo as exactly one of image_url or image_base64.',
    })
  })
export type EditImageArgs = z.infer<typeof EditImageArgsSchema>

/** Arguments of `get_edit`. */
export const GetEditArgsSchema = z.strictObject({
  edit_id: EditIdSchema.meta({ description: 'The id `edit_image` returned, "edt_…".' }),
})
export type GetEditArgs = z.infer<typeof GetEditArgsSchema>

/** A tool as both MCP and OpenAI describe one: name, text for the model and input schema. */
export interface ToolDefinition {
  readonly name: string
  readonly title: string
  readonly description: string
  /** JSON Schema 2020-12 of the arguments, an object schema. */
  readonly inputSchema: { type: 'object'; [keyword: string]: unknown }
}

const EDIT_IMAGE_DESCRIPTION = [
  'Edit one entity in a photo: find the entity that `entity` names, regenerate only that region',
  'so that it shows what `prompt` describes, and return the edited photo at full resolution',
  'with links to it and to the entity mask. An empty `prompt` removes the entity.',
  'Give the photo as exactly one of `image_url` or `image_base64`.',
  'Each successful edit costs one credit of the API key.',
].join(' ')

const GET_EDIT_DESCRIPTION = [
  'Get an edit that `edit_image` started but that was still running when it returned.',
  'Returns the edited photo once the edit has finished, or its current status.',
].join(' ')

/** Converts a tool's zod schema to the JSON Schema of its arguments, as callers send them. */
export function toInputSchema(schema: z.ZodType): ToolDefinition['inputSchema'] {
  const jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >
  if (jsonSchema.type !== 'object') throw new TypeError('A tool input schema must be an object.')
  // MCP (2025-11-25) reads a schema without `$schema` as JSON Schema 2020-12, the dialect zod
  // emits, so the keyword can go and the same object serves as OpenAI function parameters.
  delete jsonSchema.$schema
  return { ...jsonSchema, type: 'object' }
}

let cachedDefinitions: readonly ToolDefinition[] | undefined

/** Returns the tool definitions, built once per isolate. */
export function toolDefinitions(): readonly ToolDefinition[] {
  cachedDefinitions ??= [
    {
      name: EDIT_IMAGE_TOOL_NAME,
      title: 'Edit an entity in a photo',
      description: EDIT_IMAGE_DESCRIPTION,
      inputSchema: toInputSchema(EditImageArgsSchema),
    },
    {
      name: GET_EDIT_TOOL_NAME,
      title: 'Get an edit',
      description: GET_EDIT_DESCRIPTION,
      inputSchema: toInputSchema(GetEditArgsSchema),
    },
  ]
  return cachedDefinitions
}

/** A function tool in the form OpenAI's Chat Completions API takes in `tools`. */
export interface OpenAiFunctionTool {
  readonly type: 'function'
  readonly function: {
    readonly name: string
    readonly description: string
    readonly parameters: ToolDefinition['inputSchema']
  }
}

/** Returns the tools as OpenAI function tool definitions. */
export function openAiFunctionTools(): OpenAiFunctionTool[] {
  return toolDefinitions().map((tool) => ({
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  }))
}
