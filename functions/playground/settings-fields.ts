/**
 * The settings panel of the playground form. Each control is named after its multipart field
 * of `POST /v1/edits`, and takes its default, bounds and choices from the JSON Schema of the
 * shared edit settings, so the form offers exactly what the API accepts.
 */
import { z } from 'zod'

import { EditSettingsSchema } from '../../shared/schemas/edit-settings.ts'
import { escapeHtml } from '../services/docs-page.ts'

type JsonSchema = {
  type?: string
  default?: unknown
  minimum?: number
  exclusiveMinimum?: number
  maximum?: number
  maxLength?: number
  enum?: readonly unknown[]
}

type SettingName = keyof typeof EditSettingsSchema.shape

/** Presentation of one setting: its label, a help line and, for numbers, the input's step. */
interface SettingControl {
  readonly label: string
  readonly help: string
  readonly step?: number
  /** Checkbox whose ticking enables this field; the field is disabled until then. */
  readonly enabledBy?: SettingName
}

// `satisfies` makes a setting added to the schema without a control a compile error.
const CONTROLS = {
  seed: { label: 'Seed', help: 'Blank picks a random seed; the result shows it.', step: 1 },
  steps: { label: 'Denoising steps', help: 'More steps take longer.', step: 1 },
  guidance_scale: {
    label: 'Guidance scale',
    help: 'How strongly the result follows the description.',
    step: 0.5,
  },
  negative_prompt: { label: 'Negative prompt', help: 'What the new region should not show.' },
  scheduler: { label: 'Scheduler', help: 'Sampler of the diffusion model.' },
  keep_shape: {
    label: 'Keep the shape',
    help: "Start from the entity's own pixels, so the outline stays.",
  },
  strength: {
    label: 'Strength',
    help: 'With keep-shape: how much of the original is noised away.',
    step: 0.05,
    enabledBy: 'keep_shape',
  },
  multiple: {
    label: 'All instances',
    help: 'Edit every region that scores above the threshold, not only the best.',
  },
  threshold: {
    label: 'Match threshold',
    help: 'With all instances: the lowest score that counts as a match.',
    step: 0.01,
    enabledBy: 'multiple',
  },
  grow_mask: { label: 'Grow mask (px)', help: 'Pixels the mask grows by.', step: 1 },
  feather: { label: 'Feather (px)', help: 'Width of the soft edge.', step: 1 },
  output_format: { label: 'Output format', help: 'Format of the edited image.' },
} as const satisfies Record<SettingName, SettingControl>

let cachedHtml: string | undefined

/** Renders the settings controls (built once per isolate: the schema does not change). */
export function renderSettingsFields(): string {
  cachedHtml ??= buildSettingsFields()
  return cachedHtml
}

function buildSettingsFields(): string {
  const properties = z.toJSONSchema(EditSettingsSchema, { io: 'input' }).properties as Record<
    SettingName,
    JsonSchema
  >
  return (Object.entries(CONTROLS) as [SettingName, SettingControl][])
    .map(([name, control]) => renderControl(name, control, properties[name]))
    .join('\n')
}

function renderControl(name: SettingName, control: SettingControl, schema: JsonSchema): string {
  const id = `setting-${name.replace(/_/g, '-')}`
  const helpId = `${id}-help`
  const help = `<small id="${helpId}">${escapeHtml(control.help)}</small>`
  const common = `id="${id}" name="${name}" aria-describedby="${helpId}"`
  const disabled = control.enabledBy ? ' disabled' : ''

  if (schema.type === 'boolean') {
    const checked = schema.default === true ? ' checked' : ''
    return `<div class="field check wide"><input type="checkbox" ${common} value="true"${checked}>
<label for="${id}">${escapeHtml(control.label)}</label>${help}</div>`
  }
  if (schema.enum) {
    const options = schema.enum
      .map((value) => String(value))
      .map((value) => {
        const selected = value === schema.default ? ' selected' : ''
        return `<option value="${escapeHtml(value)}"${selected}>${escapeHtml(value)}</option>`
      })
      .join('')
    return `<div class="field"><label for="${id}">${escapeHtml(control.label)}</label>
<select ${common}>${options}</select>${help}</div>`
  }
  const width = schema.type === 'string' ? 'field wide' : 'field'
  return `<div class="${width}"><label for="${id}">${escapeHtml(control.label)}</label>
<input ${common} ${inputAttributes(schema, control)}${disabled}>${help}</div>`
}

function inputAttributes(schema: JsonSchema, control: SettingControl): string {
  if (schema.type === 'string') {
    const maxLength = schema.maxLength === undefined ? '' : ` maxlength="${schema.maxLength}"`
    return `type="text" autocomplete="off" value="${escapeHtml(String(schema.default ?? ''))}"${maxLength}`
  }

  const step = control.step ?? 1
  // An exclusive minimum becomes the smallest value on the step grid above it.
  const min =
    schema.minimum ??
    (schema.exclusiveMinimum === undefined ? undefined : schema.exclusiveMinimum + step)
  const attributes = [
    'type="number"',
    `step="${step}"`,
    min === undefined ? '' : `min="${min}"`,
    schema.maximum === undefined ? '' : `max="${schema.maximum}"`,
    schema.default === undefined ? '' : `value="${String(schema.default)}"`,
  ]
  return attributes.filter(Boolean).join(' ')
}
