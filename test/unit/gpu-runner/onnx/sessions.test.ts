import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { CONTRACTS, type ModelRole } from '../../../../gpu-runner/models/contracts.ts'
import { loadManifest } from '../../../../gpu-runner/models/manifest.ts'
import { localFilePath } from '../../../../gpu-runner/models/registry.ts'
import {
  createModelSession,
  makeTensor,
  ort,
  readFloat32,
  readOutput,
  type CreateModelSessionOptions,
  type ModelSession,
} from '../../../../gpu-runner/onnx/sessions.ts'
import { GraphBuilder, type GraphDim } from '../../../../scripts/tiny-models/onnx-graph.ts'

const manifest = loadManifest()

function tinyModel(id: string): { path: string; role: ModelRole } {
  const model = manifest.models.find((entry) => entry.id === id)
  if (model === undefined) throw new Error(`No model ${id} in the manifest`)
  return { path: localFilePath(model, model.files[0]!, '/unused'), role: model.role }
}

function load(options: Omit<CreateModelSessionOptions, 'provider'>): Promise<ModelSession> {
  return createModelSession({ ...options, provider: 'cpu' })
}

async function loadError(options: Omit<CreateModelSessionOptions, 'provider'>): Promise<unknown> {
  return load(options).then(
    () => undefined,
    (error: unknown) => error
  )
}

/**
 * Builds a SAM-encoder-shaped graph: average pool to 64×64, then a 1×1 convolution.
 * Output channel o has weight (o + 1) / 3 on each of the 3 input channels, so an input of
 * ones gives o + 1 in every cell of channel o.
 */
function buildSamLikeEncoder(options: {
  inputName: string
  outputName: string
  side: number
}): Uint8Array {
  const { inputName, outputName, side } = options
  const g = new GraphBuilder('sam_like_encoder')
  const input = g.input(inputName, 'float32', [1, 3, side, side])
  const kernel = side / 64
  const pooled = g.node('AveragePool', [input], {
    kernel_shape: [kernel, kernel],
    strides: [kernel, kernel],
  })
  const weights = Array.from({ length: 256 * 3 }, (_, i) => (Math.floor(i / 3) + 1) / 3)
  const out = g.node('Conv', [pooled, g.floats('weights', [256, 3, 1, 1], weights)])
  g.output(outputName, 'float32', [1, 256, 64, 64], out)
  return g.encode({ docString: 'test', metadata: {} })
}

/** Builds a text-encoder-shaped graph with a chosen id type and an optional extra input. */
function buildTextLike(options: {
  idsType: 'float32' | 'int64'
  extraInput?: boolean
}): Uint8Array {
  const g = new GraphBuilder('text_like')
  const dims: GraphDim[] = ['batch', 77]
  const ids = g.input('input_ids', options.idsType, dims)
  if (options.extraInput) g.input('attention_mask', 'int64', dims)
  const asFloat = g.node('Cast', [ids], { to: 1 })
  const pooled = g.node('ReduceMean', [asFloat], { axes: [1], keepdims: 1 })
  const embeds = g.node('MatMul', [pooled, g.floats('w', [1, 4], [1, 2, 3, 4])])
  g.output('text_embeds', 'float32', ['batch', 4], embeds)
  return g.encode({ docString: 'test', metadata: {} })
}

function unetFeeds(
  session: ModelSession,
  options: { batch: number; timestep: number; textBatch?: number }
): Record<string, ort.Tensor> {
  const { batch, timestep, textBatch = batch } = options
  const sample = Float32Array.from({ length: batch * 9 * 2 * 3 }, (_, i) => Math.cos(i) * 0.8)
  const text = Float32Array.from({ length: textBatch * 77 * 32 }, (_, i) => Math.sin(i * 0.37))
  return {
    sample: makeTensor(session, 'sample', sample, [batch, 9, 2, 3]),
    timestep: makeTensor(session, 'timestep', [timestep], [1]),
    encoder_hidden_states: makeTensor(session, 'encoder_hidden_states', text, [textBatch, 77, 32]),
  }
}

function expectClose(
  actual: Float32Array,
  expected: Float32Array,
  tolerance: { atol: number; rtol: number }
): void {
  expect(actual.length).toBe(expected.length)
  const bad: string[] = []
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number
    const e = expected[i] as number
    const close = Number.isNaN(e)
      ? Number.isNaN(a)
      : Math.abs(a - e) <= tolerance.atol + tolerance.rtol * Math.abs(e)
    if (!close) bad.push(`[${i}] ${a} vs ${e}`)
  }
  expect(bad.slice(0, 5)).toEqual([])
}

describe('createModelSession', () => {
  it('loads every tiny model with its role', async () => {
    const tinyIds = manifest.models
      .filter((model) => model.files.every((file) => file.from === 'repo'))
      .map((model) => model.id)
    expect(tinyIds.length).toBe(7)

    for (const id of tinyIds) {
      const { path, role } = tinyModel(id)
      const session = await load({ id, model: path, role })

      expect(session.providers).toEqual(['cpu'])
      expect(session.role).toBe(role)
      expect(Object.keys(session.inputs)).toEqual(CONTRACTS[role].inputs.map((t) => t.name))
      expect(Object.keys(session.outputs)).toEqual(CONTRACTS[role].outputs.map((t) => t.name))
      await session.release()
    }
  })

  it('reads input dtypes from the model', async () => {
    const fp32 = await load({ id: 'unet', ...pathAndRole('sd-unet-inpaint-tiny') })
    const fp16 = await load({ id: 'unet16', ...pathAndRole('sd-unet-inpaint-tiny-fp16') })
    const encoder = await load({ id: 'te', ...pathAndRole('sd-text-encoder-tiny') })

    expect(fp32.inputDtypes).toEqual({
      sample: 'float32',
      timestep: 'int64',
      encoder_hidden_states: 'float32',
    })
    expect(fp16.inputDtypes).toEqual({
      sample: 'float16',
      timestep: 'float16',
      encoder_hidden_states: 'float16',
    })
    expect(encoder.inputDtypes).toEqual({ input_ids: 'int32' })
    expect(fp32.inputs.sample?.dims).toEqual(['B', 9, 'h', 'w'])
    await Promise.all([fp32.release(), fp16.release(), encoder.release()])
  })

  it('logs model.loaded with providers', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const session = await load({ id: 'logged-clip', ...pathAndRole('clip-image-tiny') })
    const lines = write.mock.calls.map((call) => String(call[0]))
    write.mockRestore()
    await session.release()

    const loaded = lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.event === 'model.loaded' && line.model === 'logged-clip')
    expect(loaded).toMatchObject({ level: 'info', role: 'clip-image', providers: ['cpu'] })
    expect(typeof loaded?.loadMs).toBe('number')
  })

  it('rejects a model of another role', async () => {
    const error = await loadError({
      id: 'wrong',
      model: tinyModel('clip-image-tiny').path,
      role: 'clip-text',
    })

    expect(error).toBeInstanceOf(RunnerError)
    expect((error as RunnerError).code).toBe('model-contract')
    expect((error as RunnerError).message).toContain('missing input "input_ids"')
    expect((error as RunnerError).message).toContain('missing output "text_embeds"')
    expect((error as RunnerError).message).toContain('pixel_values: float32[batch,3,224,224]')
  })

  it('rejects fixed dims that differ', async () => {
    const model = buildSamLikeEncoder({ inputName: 'input', outputName: 'output', side: 512 })
    const error = await loadError({ id: 'small-sam', model, role: 'sam-encoder' })

    expect((error as RunnerError).code).toBe('model-contract')
    expect((error as RunnerError).message).toContain(
      'input "input" has dims [1,3,512,512], expected [1,3,1024,1024]: dim 2 is 512, expected 1024'
    )
  })

  it('rejects an element type outside the contract', async () => {
    const error = await loadError({
      id: 'float-ids',
      model: buildTextLike({ idsType: 'float32' }),
      role: 'clip-text',
    })

    expect((error as RunnerError).code).toBe('model-contract')
    expect((error as RunnerError).message).toContain(
      'input "input_ids" is float32, expected int64 or int32'
    )
  })

  it('rejects inputs the contract does not feed', async () => {
    const error = await loadError({
      id: 'with-mask',
      model: buildTextLike({ idsType: 'int64', extraInput: true }),
      role: 'clip-text',
    })

    expect((error as RunnerError).code).toBe('model-contract')
    expect((error as RunnerError).message).toContain(
      'extra input "attention_mask" that the contract does not feed'
    )
  })

  it('loads other export names through io', async () => {
    const model = buildSamLikeEncoder({
      inputName: 'input_image',
      outputName: 'image_embeddings',
      side: 1024,
    })
    const session = await load({
      id: 'vit-like',
      model,
      role: 'sam-encoder',
      io: { input: 'input_image', output: 'image_embeddings' },
    })

    const ones = new Float32Array(3 * 1024 * 1024).fill(1)
    const outputs = await session.run({
      input: makeTensor(session, 'input', ones, [1, 3, 1024, 1024]),
    })
    const embedding = readOutput(outputs, 'output')
    await session.release()

    expect(session.inputs.input?.name).toBe('input_image')
    expect(Object.keys(outputs)).toEqual(['output'])
    expect(outputs.output?.dims).toEqual([1, 256, 64, 64])
    // Channel o is o + 1 everywhere (see buildSamLikeEncoder).
    expect(embedding[0]).toBeCloseTo(1, 5)
    expect(embedding[255 * 64 * 64]).toBeCloseTo(256, 3)
  })

  it('rejects io names outside the contract', async () => {
    const error = await loadError({
      id: 'bad-io',
      ...pathAndRole('clip-image-tiny'),
      io: { image: 'pixel_values' },
    })

    expect(error).toBeInstanceOf(RangeError)
    expect((error as Error).message).toContain('lists [image]')
  })

  it('accepts contracts of bare names', async () => {
    const session = await load({
      id: 'names-only',
      model: tinyModel('clip-image-tiny').path,
      contract: { role: 'clip-image', inputs: ['pixel_values'], outputs: ['image_embeds'] },
    })

    expect(session.inputDtypes).toEqual({ pixel_values: 'float32' })
    await session.release()
  })

  it('reports a missing file as model-missing', async () => {
    const error = await loadError({
      id: 'gone',
      model: '/nonexistent/model.onnx',
      role: 'clip-image',
    })

    expect((error as RunnerError).code).toBe('model-missing')
    expect((error as RunnerError).message).toContain('Loading model "gone" failed')
    expect((error as RunnerError).message).toContain('semani models pull')
  })

  it('reports a corrupt file as model-contract', async () => {
    const error = await loadError({
      id: 'garbage',
      model: new Uint8Array([1, 2, 3, 4]),
      role: 'clip-image',
    })

    expect((error as RunnerError).code).toBe('model-contract')
    expect((error as RunnerError).message).toContain('protobuf parsing failed')
  })

  it('needs a role or a contract', async () => {
    const error = await loadError({ id: 'no-role', model: tinyModel('clip-image-tiny').path })

    expect(error).toBeInstanceOf(TypeError)
  })

  it('rejects a thread count below one', async () => {
    const error = await loadError({
      id: 'threads',
      ...pathAndRole('clip-image-tiny'),
      intraOpThreads: 0,
    })

    expect(error).toBeInstanceOf(RangeError)
  })
})

function pathAndRole(id: string): { model: string; role: ModelRole } {
  const { path, role } = tinyModel(id)
  return { model: path, role }
}

describe('ModelSession.run', () => {
  let unet: ModelSession
  let unet16: ModelSession
  let vaeEncoder: ModelSession

  beforeAll(async () => {
    unet = await load({ id: 'unet', ...pathAndRole('sd-unet-inpaint-tiny') })
    unet16 = await load({ id: 'unet16', ...pathAndRole('sd-unet-inpaint-tiny-fp16') })
    vaeEncoder = await load({ id: 'vae-encoder', ...pathAndRole('sd-vae-encoder-tiny') })
  })

  afterAll(async () => {
    await Promise.all([unet.release(), unet16.release(), vaeEncoder.release()])
  })

  it('rejects missing and unknown feeds', async () => {
    const feeds = unetFeeds(unet, { batch: 1, timestep: 10 })
    const { timestep, ...rest } = feeds

    await expect(unet.run({ ...rest, time_step: timestep! })).rejects.toThrow(
      'missing [timestep], unknown [time_step]; it takes [sample, timestep, encoder_hidden_states]'
    )
  })

  it('rejects a tensor of the wrong dtype', async () => {
    const feeds = unetFeeds(unet, { batch: 1, timestep: 10 })

    await expect(unet16.run(feeds)).rejects.toThrow(TypeError)
    await expect(unet16.run(feeds)).rejects.toThrow(
      'Input "sample" of model "unet16" must be float16, got float32'
    )
  })

  it('rejects dims that break the contract', async () => {
    const feeds = unetFeeds(unet, { batch: 1, timestep: 10 })
    const fourChannels = new ort.Tensor('float32', new Float32Array(4 * 6), [1, 4, 2, 3])

    await expect(unet.run({ ...feeds, sample: fourChannels })).rejects.toThrow(
      'Input "sample" of model "unet" has dims [1,4,2,3], expected [B,9,h,w]: dim 1 is 4, expected 9.'
    )
  })

  it('rejects batch sizes that disagree', async () => {
    const feeds = unetFeeds(unet, { batch: 2, timestep: 10, textBatch: 1 })

    await expect(unet.run(feeds)).rejects.toThrow(RangeError)
    await expect(unet.run(feeds)).rejects.toThrow('dim 0 (B) is 1, but B is 2 in another input')
  })

  it('accepts free dims of any size', async () => {
    const image = new Float32Array(3 * 16 * 24).fill(0.5)
    const outputs = await vaeEncoder.run({
      sample: makeTensor(vaeEncoder, 'sample', image, [1, 3, 16, 24]),
    })

    expect(outputs.latent_sample?.dims).toEqual([1, 4, 2, 3])
  })

  it('matches float32 and float16 variants', async () => {
    const fp32 = readOutput(
      await unet.run(unetFeeds(unet, { batch: 2, timestep: 981 })),
      'out_sample'
    )
    const outputs16 = await unet16.run(unetFeeds(unet16, { batch: 2, timestep: 981 }))
    const fp16 = readFloat32(outputs16.out_sample!)

    expect(outputs16.out_sample?.type).toBe('float16')
    // Inputs of magnitude ≤ 1 round by at most 2^-11 in float16 and outputs of magnitude ≤ 2
    // by at most 2^-10; at t = 981 the UNet divides by √(1 − ᾱ) ≈ 1, so 5e-3 bounds the sum.
    expectClose(fp16, fp32, { atol: 5e-3, rtol: 0 })
  })
})

describe('makeTensor', () => {
  let unet16: ModelSession
  let clipText: ModelSession
  let textEncoder: ModelSession

  beforeAll(async () => {
    unet16 = await load({ id: 'unet16', ...pathAndRole('sd-unet-inpaint-tiny-fp16') })
    clipText = await load({ id: 'clip-text', ...pathAndRole('clip-text-tiny') })
    textEncoder = await load({ id: 'sd-text', ...pathAndRole('sd-text-encoder-tiny') })
  })

  afterAll(async () => {
    await Promise.all([unet16.release(), clipText.release(), textEncoder.release()])
  })

  it('builds float16 tensors for half models', () => {
    const tensor = makeTensor(unet16, 'timestep', [981], [1])

    expect(tensor.type).toBe('float16')
    expect(tensor.data).toBeInstanceOf(Uint16Array)
    // 981 = 1.916015625 · 2^9: exponent 24 (0x6000), mantissa 938 (0x3aa).
    expect(Array.from(tensor.data as Uint16Array)).toEqual([0x63aa])
  })

  it('builds int64 and int32 token ids', () => {
    const ids = new Array<number>(77).fill(0)
    ids[0] = 49406
    ids[1] = 49407
    const int64 = makeTensor(clipText, 'input_ids', ids, [1, 77])
    const int32 = makeTensor(textEncoder, 'input_ids', ids, [1, 77])

    expect(int64.type).toBe('int64')
    expect((int64.data as BigInt64Array)[1]).toBe(49407n)
    expect(int32.type).toBe('int32')
    expect((int32.data as Int32Array)[1]).toBe(49407)
  })

  it('rejects fractional token ids', () => {
    const ids = new Array<number>(77).fill(0)
    ids[3] = 1.5

    expect(() => makeTensor(clipText, 'input_ids', ids, [1, 77])).toThrow(
      'clip-text.input_ids takes integers in'
    )
  })

  it('rejects values that do not fill dims', () => {
    expect(() => makeTensor(clipText, 'input_ids', [1, 2, 3], [1, 77])).toThrow(
      'dims [1,77] do not hold 3 values'
    )
  })

  it('rejects dims that break the contract', () => {
    const ids = new Array<number>(76).fill(0)

    expect(() => makeTensor(clipText, 'input_ids', ids, [1, 76])).toThrow(
      'dim 1 is 76, expected 77'
    )
  })

  it('rejects an unknown input', () => {
    expect(() => makeTensor(clipText, 'attention_mask', [1], [1])).toThrow(
      'Model "clip-text" has no input "attention_mask"; it takes [input_ids]'
    )
  })
})

describe('readFloat32', () => {
  it('rejects integer tensors', () => {
    const tensor = new ort.Tensor('int64', BigInt64Array.from([1n]), [1])

    expect(() => readFloat32(tensor)).toThrow('Expected a float32 or float16 tensor, got int64.')
  })

  it('converts float16 bits', () => {
    const tensor = new ort.Tensor('float16', Uint16Array.from([0x3c00, 0xc000, 0x7c00]), [3])

    expect(Array.from(readFloat32(tensor))).toEqual([1, -2, Infinity])
  })
})
