/**
 * Entry point of the playground client, loaded by the page served at `/`. It submits the form
 * to the public API with the key from the key field, follows the edit while it runs and shows
 * the result or the problem.
 */
import type { ProblemBody } from '../../../shared/problems.ts'
import { createEdit, ProblemError, waitForEdit } from './api-client.ts'
import { requireElement } from './dom.ts'
import { setUpPhotoPicker, type PhotoPicker } from './photo-picker.ts'
import { hideProblem, showProblem, type ProblemElements } from './problem-view.ts'
import { EditProgress } from './progress.ts'
import { hideResult, showResult, type ResultElements } from './result-view.ts'

/** localStorage entry that keeps the API key between visits, in this browser only. */
const API_KEY_STORAGE_KEY = 'semani.playground.apiKey'

/** Form fields sent even when empty: an empty prompt removes the entity. */
const FIELDS_SENT_EMPTY = new Set(['prompt', 'negative_prompt'])

/** Settings that only apply when a checkbox is ticked: checkbox name → dependent field name. */
const DEPENDENT_FIELDS: Readonly<Record<string, string>> = {
  keep_shape: 'strength',
  multiple: 'threshold',
}

function main(): void {
  const form = requireElement('edit-form', HTMLFormElement)
  const keyInput = requireElement('api-key', HTMLInputElement)
  const submit = requireElement('submit-edit', HTMLButtonElement)
  const photos = setUpPhotoPicker({
    input: requireElement('photo', HTMLInputElement),
    dropZone: requireElement('drop-zone', HTMLElement),
    preview: requireElement('photo-preview', HTMLImageElement),
    caption: requireElement('photo-caption', HTMLElement),
  })
  const progress = new EditProgress({
    phase: requireElement('status-phase', HTMLElement),
    clock: requireElement('status-clock', HTMLElement),
    bar: requireElement('status-bar', HTMLProgressElement),
  })
  const results = findResultElements()
  const problems = findProblemElements()

  keepApiKey(keyInput)
  linkDependentFields(form)
  linkOverlayToggles(results)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    submit.disabled = true
    void runEdit({
      form,
      apiKey: keyInput.value.trim(),
      photos,
      progress,
      results,
      problems,
    }).finally(() => (submit.disabled = false))
  })
}

/** Submits the form, follows the edit and shows how it ended. */
async function runEdit(options: {
  form: HTMLFormElement
  apiKey: string
  photos: PhotoPicker
  progress: EditProgress
  results: ResultElements
  problems: ProblemElements
}): Promise<void> {
  const { form, apiKey, photos, progress, results, problems } = options
  const photo = photos.current()
  hideProblem(problems)
  hideResult(results)
  if (!photo) {
    showProblem(problems, localProblem('No photo', 'Choose or drop a photo first.'))
    return
  }

  progress.start('Uploading the photo')
  try {
    const created = await createEdit(readEditFields(form), apiKey)
    progress.showStatus(created.status)
    const job = await waitForEdit(created, apiKey, (latest) => progress.showStatus(latest.status))
    if (!job.result) throw new Error(`The edit ${job.id} succeeded but returned no result URLs.`)
    await showResult(results, { ...job, result: job.result }, photo)
    progress.finish('Succeeded')
  } catch (error) {
    progress.finish('Failed')
    showProblem(problems, toProblem(error))
  }
}

/**
 * Reads the form as the multipart fields of `POST /v1/edits`. Empty fields are left out so
 * the API applies its defaults; disabled fields and unticked checkboxes are never included.
 */
function readEditFields(form: HTMLFormElement): FormData {
  const fields = new FormData(form)
  for (const [name, value] of [...fields.entries()]) {
    if (value === '' && !FIELDS_SENT_EMPTY.has(name)) fields.delete(name)
  }
  return fields
}

function keepApiKey(input: HTMLInputElement): void {
  try {
    input.value = localStorage.getItem(API_KEY_STORAGE_KEY) ?? ''
  } catch {
    // Storage can be blocked by the browser's settings; the field then starts empty.
  }
  input.addEventListener('input', () => {
    try {
      localStorage.setItem(API_KEY_STORAGE_KEY, input.value.trim())
    } catch {
      // Blocked storage only means the key is typed again on the next visit.
    }
  })
}

function linkDependentFields(form: HTMLFormElement): void {
  for (const [checkboxName, fieldName] of Object.entries(DEPENDENT_FIELDS)) {
    const checkbox = form.elements.namedItem(checkboxName)
    const field = form.elements.namedItem(fieldName)
    if (!(checkbox instanceof HTMLInputElement) || !(field instanceof HTMLInputElement)) continue
    const update = () => (field.disabled = !checkbox.checked)
    checkbox.addEventListener('change', update)
    update()
  }
}

function linkOverlayToggles(results: ResultElements): void {
  const showMask = requireElement('show-mask', HTMLInputElement)
  const showBoxes = requireElement('show-boxes', HTMLInputElement)
  showMask.addEventListener('change', () => (results.maskOverlay.hidden = !showMask.checked))
  showBoxes.addEventListener('change', () =>
    results.boxOverlay.classList.toggle('is-hidden', !showBoxes.checked)
  )
}

function findResultElements(): ResultElements {
  const boxOverlay = document.getElementById('box-overlay')
  if (!(boxOverlay instanceof SVGSVGElement)) {
    throw new Error('The playground page has no SVGSVGElement with id "box-overlay".')
  }
  return {
    section: requireElement('result', HTMLElement),
    original: requireElement('original-image', HTMLImageElement),
    maskOverlay: requireElement('mask-overlay', HTMLCanvasElement),
    boxOverlay,
    result: requireElement('result-image', HTMLImageElement),
    facts: requireElement('result-facts', HTMLElement),
    candidates: requireElement('result-candidates', HTMLElement),
    timings: requireElement('result-timings', HTMLElement),
    downloadResult: requireElement('download-result', HTMLAnchorElement),
    downloadMask: requireElement('download-mask', HTMLAnchorElement),
  }
}

function findProblemElements(): ProblemElements {
  return {
    section: requireElement('problem', HTMLElement),
    title: requireElement('problem-title', HTMLElement),
    detail: requireElement('problem-detail', HTMLElement),
    extra: requireElement('problem-extra', HTMLElement),
  }
}

function toProblem(error: unknown): ProblemBody {
  if (error instanceof ProblemError) return error.problem
  const detail = error instanceof Error ? error.message : String(error)
  return localProblem('Something went wrong in the page', detail)
}

function localProblem(title: string, detail: string): ProblemBody {
  return { type: 'about:blank', title, status: 0, detail }
}

main()
