import { describe, expect, it } from 'vitest'

import {
  decodeImageBase64,
  EditFormRequestSchema,
  formToFields,
  toEditSubmission,
} from '../../../../functions/services/edit-request.ts'
import { ApiProblem } from '../../../../shared/problems.ts'
import { EditJsonRequestSchema } from '../../../../shared/schemas/api.ts'
import { DEFAULT_STEPS } from '../../../../shared/schemas/edit-settings.ts'

function makeForm(overrides: Record<string, string | File> = {}) {
  return {
    image: new File([new Uint8Array([1, 2, 3])], 'x.png'),
    entity: 'dog',
    prompt: 'a cat',
    ...overrides,
  }
}

describe('formToFields', () => {
  it('reads numbers and booleans from text', () => {
    expect(formToFields({ steps: '20', keep_shape: 'true', threshold: '0.3' })).toEqual({
      steps: 20,
      keep_shape: true,
      threshold: 0.3,
    })
  })

  it('keeps text fields as text', () => {
    expect(formToFields({ prompt: '42', entity: 'true' })).toEqual({ prompt: '42', entity: 'true' })
  })

  it('parses edits as JSON', () => {
    expect(formToFields({ edits: '[{"entity":"a","prompt":"b"}]' })).toEqual({
      edits: [{ entity: 'a', prompt: 'b' }],
    })
  })

  it('leaves non-numeric text for validation', () => {
    expect(formToFields({ steps: 'many' })).toEqual({ steps: 'many' })
  })
})

describe('EditFormRequestSchema', () => {
  it('accepts a file with entity and prompt', () => {
    const parsed = EditFormRequestSchema.safeParse(makeForm({ steps: '12' }))

    expect(parsed.success).toBe(true)
    expect(parsed.data?.steps).toBe(12)
  })

  it('rejects a file with image_url', () => {
    const parsed = EditFormRequestSchema.safeParse(
      makeForm({ image_url: 'https://example.com/a.png' })
    )

    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
      'The multipart request carries the image as the `image` file; remove image_url.',
    ])
  })

  it('names unknown fields', () => {
    const parsed = EditFormRequestSchema.safeParse(makeForm({ colour: 'red' }))

    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
      'Unrecognized key: "colour"',
    ])
  })
})

describe('EditJsonRequestSchema', () => {
  it('fills in setting defaults', () => {
    const parsed = EditJsonRequestSchema.parse({ image_base64: 'AA==', entity: 'dog', prompt: '' })

    expect(parsed.steps).toBe(DEFAULT_STEPS)
  })

  it('rejects entity together with edits', () => {
    const parsed = EditJsonRequestSchema.safeParse({
      image_base64: 'AA==',
      entity: 'dog',
      prompt: 'cat',
      edits: [{ entity: 'a', prompt: 'b' }],
    })

    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['edits'])
  })

  it('rejects two image sources', () => {
    const parsed = EditJsonRequestSchema.safeParse({
      image_base64: 'AA==',
      upload_id: 'upl_abcdefghijklmnopqrstuvwx',
      entity: 'dog',
      prompt: 'cat',
    })

    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
      'Give the image in one field only, not in image_base64 and upload_id.',
    ])
  })

  it('rejects a non-http image_url', () => {
    const parsed = EditJsonRequestSchema.safeParse({
      image_url: 'file:///etc/passwd',
      entity: 'dog',
      prompt: 'cat',
    })

    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['image_url'])
  })
})

describe('toEditSubmission', () => {
  it('turns entity and prompt into one edit', async () => {
    const fields = EditJsonRequestSchema.parse({
      image_base64: 'AQID',
      entity: 'dog',
      prompt: 'a cat',
    })

    const submission = await toEditSubmission(fields)

    expect(submission.edits).toEqual([{ entity: 'dog', prompt: 'a cat' }])
    expect(submission.image).toEqual({ kind: 'bytes', bytes: new Uint8Array([1, 2, 3]) })
    expect(submission.settings).not.toHaveProperty('entity')
  })
})

describe('decodeImageBase64', () => {
  it('decodes a data URI', () => {
    expect(decodeImageBase64('data:image/png;base64,AQID')).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('rejects a data URI without base64', () => {
    expect(() => decodeImageBase64('data:image/png,abc')).toThrow(ApiProblem)
  })

  it('rejects text that is not base64', () => {
    expect(() => decodeImageBase64('not base64!')).toThrow(
      'image_base64 is not valid base64. Send the file bytes base64-encoded, or as a data URI.'
    )
  })
})
