/**
 * `semani demo`: the main job on the local stack. It starts the stack, creates an API key,
 * edits a photo that ships with the repository through the public API, writes the result and
 * the mask to a folder, prints their paths and signed URLs, and stops what it started.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { describeProfileChoice } from '../stack/describe-profile.ts'
import { startLocalStack } from '../stack/local-stack.ts'
import { commandError, describeError } from '../output.ts'

// A bulldog indoors, from facebookresearch/segment-anything (notebooks/images/dog.jpg,
// Apache-2.0); test/fixtures/photos/SOURCES.md lists it with the other fixture photos.
const DEMO_PHOTO = fileURLToPath(
  new URL('../../test/fixtures/photos/dog-and-owner-with-bowl.jpg', import.meta.url)
)
const DEMO_EDIT = { entity: 'dog', prompt: 'a white cat sitting on the tiled floor' }

/** Maximum wait for the edit, because real CPU weights need minutes for 50 steps on a small machine. */
const EDIT_TIMEOUT_MS = 30 * 60_000

const USAGE = `Usage: semani demo [--out DIR] [--steps N] [--seed N] [--profile NAME]

Starts the local stack, creates a local API key, edits the photo
test/fixtures/photos/dog-and-owner-with-bowl.jpg ("${DEMO_EDIT.entity}" → "${DEMO_EDIT.prompt}")
through POST /v1/edits, writes before, result and mask images to DIR (default out/demo) and
stops the stack.

Options:
  --out DIR        Folder for the images (default out/demo).
  --steps N        Denoising steps (default 50).
  --seed N         Seed (default 42).
  --profile NAME   tiny, cpu or gpu (default: the best one installed).
  -h, --help       Print this help.
`

/** Runs the demo and returns its exit code. */
export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseDemoArgs>['values']
  try {
    values = parseDemoArgs(argv).values
  } catch (error) {
    return commandError(`${describeError(error)}. Run \`semani demo --help\`.`, 2)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const outDir = path.resolve(values.out ?? 'out/demo')
  const say = (line: string) => process.stdout.write(line + '\n')

  // 1. The local stack, on a free port so that a running `semani start` is left alone
  say('Starting the local stack (runner on the CPU, worker on Miniflare)...')
  const stack = await startLocalStack({
    port: await (await import('../../functions/local/stack.ts')).findFreePort(),
    persistTo: path.join(outDir, 'state'),
    ...(values.profile ? { profile: values.profile as 'tiny' | 'cpu' | 'gpu' } : {}),
  }).catch((error: unknown) => error as Error)
  if (stack instanceof Error) {
    return commandError(`The local stack could not start: ${describeError(stack)}`)
  }
  say(describeProfileChoice(stack.profile))

  try {
    // 2. An API key, as any client would have
    const key = await stack.createKey('demo')
    say(`Worker: ${stack.url}   runner: ${stack.runnerUrl}`)

    // 3. The edit, through the public API
    say(`Editing "${DEMO_EDIT.entity}" into "${DEMO_EDIT.prompt}"...`)
    const job = await submitEdit(stack.url, key, {
      steps: values.steps ?? '50',
      seed: values.seed ?? '42',
    })

    // 4. Before, result and mask images on disk
    await mkdir(outDir, { recursive: true })
    const files = {
      before: path.join(outDir, 'before.jpg'),
      result: path.join(
        outDir,
        `result.${job.result.format === 'jpeg' ? 'jpg' : job.result.format}`
      ),
      mask: path.join(outDir, 'mask.png'),
    }
    await copyFile(DEMO_PHOTO, files.before)
    await writeFile(files.result, await download(job.result.image_url))
    await writeFile(files.mask, await download(job.result.mask_url))

    const best = job.selected[0]
    say(
      [
        `Edit ${job.id} succeeded with seed ${job.seed}.`,
        best ? `Entity: bbox [${best.bbox.join(', ')}], score ${best.score}` : 'Entity: from cache',
        `Before: ${files.before}`,
        `Result: ${files.result}`,
        `Mask:   ${files.mask}`,
        `Signed result URL: ${job.result.image_url}`,
        `Signed mask URL:   ${job.result.mask_url}`,
        'The demo stops its stack now, so these URLs stop answering; the files above stay.',
        'Run `npm start` to keep a stack up and edit through its playground or API.',
      ].join('\n')
    )
    return 0
  } catch (error) {
    return commandError(describeError(error))
  } finally {
    await stack.stop()
  }
}

interface FinishedJob {
  id: string
  status: string
  seed: number
  selected: { bbox: number[]; score: number }[]
  result: { image_url: string; mask_url: string; format: string }
  error: { detail: string } | null
}

async function submitEdit(
  origin: string,
  key: string,
  settings: { steps: string; seed: string }
): Promise<FinishedJob> {
  const form = new FormData()
  form.set('image', new Blob([await readFile(DEMO_PHOTO)], { type: 'image/jpeg' }), 'dog.jpg')
  form.set('entity', DEMO_EDIT.entity)
  form.set('prompt', DEMO_EDIT.prompt)
  form.set('steps', settings.steps)
  form.set('seed', settings.seed)

  const headers = { authorization: `Bearer ${key}` }
  const response = await fetch(`${origin}/v1/edits`, {
    method: 'POST',
    headers: { ...headers, prefer: 'wait=300' },
    body: form,
  })
  let job = (await response.json()) as FinishedJob & { detail?: string }
  if (response.status >= 400) throw new Error(`POST /v1/edits failed: ${job.detail}`)

  // 202 means the edit outlived the wait; poll its URL until it ends.
  const deadline = Date.now() + EDIT_TIMEOUT_MS
  while (job.status === 'queued' || job.status === 'running') {
    if (Date.now() > deadline) throw new Error(`Edit ${job.id} did not finish in time.`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    job = (await (await fetch(`${origin}/v1/edits/${job.id}`, { headers })).json()) as FinishedJob
  }
  if (job.status !== 'succeeded') {
    throw new Error(`Edit ${job.id} ${job.status}: ${job.error?.detail ?? 'no detail'}`)
  }
  return job
}

async function download(url: string): Promise<Uint8Array> {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`Download failed with status ${response.status}.`)
  return new Uint8Array(await response.arrayBuffer())
}

function parseDemoArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
