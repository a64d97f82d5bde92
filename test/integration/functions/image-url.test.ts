// POST /v1/edits with image_url, against an image server the test runs on 127.0.0.1 (the local
// stack allows loopback URLs). Address classes themselves are tested on the classifier alone.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { problemType } from '../../../shared/problems.ts'
import type { EditJob } from '../../../shared/schemas/api.ts'
import {
  closedPortUrl,
  startLoopbackServer,
  type LoopbackServer,
} from '../../helpers/worker-fixtures.ts'
import {
  bearer,
  readJson,
  readProblem,
  startTestWorker,
  type TestWorker,
} from '../../helpers/worker.ts'

let worker: TestWorker
let images: LoopbackServer
let key: string
let tinyJpeg: Buffer

beforeAll(async () => {
  tinyJpeg = await readFile('test/fixtures/photos/navy-officer-portrait-tiny.jpg')
  images = await startLoopbackServer((request, response) => {
    const hops = /^\/hop\/(\d+)$/.exec(request.url)
    if (hops) {
      const left = Number(hops[1])
      response.statusCode = 302
      response.setHeader('Location', left > 0 ? `/hop/${left - 1}` : '/photo.jpg')
      response.end()
      return
    }
    if (request.url === '/photo.jpg') {
      response.setHeader('Content-Type', 'image/jpeg')
      response.end(tinyJpeg)
      return
    }
    if (request.url === '/huge') {
      // 21 MiB without Content-Length, so only counting the stream can stop it.
      const chunk = Buffer.alloc(1024 * 1024)
      for (let i = 0; i < 21; i++) response.write(chunk)
      response.end()
      return
    }
    if (request.url === '/to-credentials') {
      response.statusCode = 302
      response.setHeader('Location', 'http://user:pw@127.0.0.1:9/photo.jpg')
      response.end()
      return
    }
    response.statusCode = 404
    response.end()
  })
  worker = await startTestWorker({
    vars: { RUNNER_URL: await closedPortUrl(), RUNNER_MAX_ATTEMPTS: '1' },
  })
  key = (await worker.createKey()).key
})

afterAll(async () => {
  await worker.dispose()
  await images.close()
})

function postImageUrl(path: string) {
  return worker.request('/v1/edits', {
    method: 'POST',
    headers: { ...bearer(key), 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify({ image_url: images.url + path, entity: 'person', prompt: 'a robot' }),
  })
}

describe('POST /v1/edits with image_url', () => {
  it('stores the downloaded image', async () => {
    const res = await postImageUrl('/photo.jpg')

    expect(res.status).toBe(202)
    const edit = await readJson<EditJob>(res)
    const sha256 = createHash('sha256').update(tinyJpeg).digest('hex')
    expect(edit.input.sha256).toBe(sha256)
    expect(await (await worker.bucket.get(`inputs/sha256/${sha256}`))?.arrayBuffer()).toEqual(
      new Uint8Array(tinyJpeg).buffer
    )
  })

  it('follows up to three redirects', async () => {
    const res = await postImageUrl('/hop/2')

    expect(res.status).toBe(202)
    await res.body?.cancel()
  })

  it('stops after three redirects', async () => {
    const res = await postImageUrl('/hop/3')

    expect(res.status).toBe(400)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('invalid-request'),
      detail:
        'image_url could not be fetched: it redirected more than 3 times. Check the URL, or send ' +
        'the image bytes instead.',
    })
  })

  it('checks each redirect target', async () => {
    const res = await postImageUrl('/to-credentials')

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'image_url could not be fetched: a redirect led to a URL where URLs with credentials are ' +
        'not allowed. Check the URL, or send the image bytes instead.'
    )
  })

  it('reports the server status', async () => {
    const res = await postImageUrl('/missing.jpg')

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'image_url could not be fetched: the server responded with HTTP 404. Check the URL, or send the ' +
        'image bytes instead.'
    )
  })

  it('stops a body past the byte limit', async () => {
    const res = await postImageUrl('/huge')

    expect(res.status).toBe(413)
    expect(await readProblem(res)).toMatchObject({
      type: problemType('image-too-large'),
      detail: 'The image at image_url is over the limit of 20971520 bytes. Send a smaller file.',
    })
  })

  it('reports a refused connection', async () => {
    const res = await worker.request('/v1/edits', {
      method: 'POST',
      headers: { ...bearer(key), 'Content-Type': 'application/json' },
      body: JSON.stringify({
        image_url: `${await closedPortUrl()}/photo.jpg`,
        entity: 'person',
        prompt: 'a robot',
      }),
    })

    expect(res.status).toBe(400)
    expect((await readProblem(res)).detail).toBe(
      'image_url could not be fetched: the connection failed. Check the URL, or send the image ' +
        'bytes instead.'
    )
  })
})
