import { describe, expect, it } from 'vitest'

import { classifyOrtError, toRunnerError } from '../../../../gpu-runner/onnx/ort-errors.ts'

// Messages recorded from onnxruntime-node 1.31.1 on linux/x64 (CPU build, no CUDA library).
const RECORDED = {
  missingFile:
    "Load model from /tmp/nope.onnx failed:Load model /tmp/nope.onnx failed. File doesn't exist",
  garbageFile: 'Load model from /tmp/garbage.onnx failed:Protobuf parsing failed.',
  garbageBytes: 'Failed to load model because protobuf parsing failed.',
  cudaMissing: 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library',
}

describe('classifyOrtError', () => {
  it('recognises recorded load failures', () => {
    expect(classifyOrtError(new Error(RECORDED.missingFile))).toBe('file-missing')
    expect(classifyOrtError(new Error(RECORDED.garbageFile))).toBe('invalid-model')
    expect(classifyOrtError(new Error(RECORDED.garbageBytes))).toBe('invalid-model')
    expect(classifyOrtError(new Error(RECORDED.cudaMissing))).toBe('execution-provider')
  })

  // Wording of ORT's arena allocator and of CUDA's error strings, written out for the test.
  it('recognises allocation failures', () => {
    const arena = 'Failed to allocate memory for requested buffer of size 4294967296'
    const cuda = 'CUDA failure 2: out of memory ; GPU=0 ; hostname=x'

    expect(classifyOrtError(new Error(arena))).toBe('out-of-memory')
    expect(classifyOrtError(new Error(cuda))).toBe('out-of-memory')
  })

  it('leaves other failures alone', () => {
    expect(
      classifyOrtError(new Error('Non-zero status code returned while running Add node'))
    ).toBe(undefined)
  })
})

describe('toRunnerError', () => {
  it('keeps the cause and marks memory retryable', () => {
    const cause = new Error('Failed to allocate memory for requested buffer of size 1024')
    const error = toRunnerError('Running model "unet"', cause)

    expect(error?.code).toBe('out-of-memory')
    expect(error?.retryable).toBe(true)
    expect(error?.cause).toBe(cause)
    expect(error?.message).toContain('Running model "unet" failed: Failed to allocate memory')
  })

  it('maps a missing file to model-missing', () => {
    const error = toRunnerError('Loading model "x"', new Error(RECORDED.missingFile))

    expect(error?.code).toBe('model-missing')
    expect(error?.retryable).toBe(false)
    expect(error?.slug).toBe('runner-unavailable')
  })

  it('returns undefined for unknown failures', () => {
    expect(toRunnerError('Running model "x"', new Error('shape mismatch'))).toBeUndefined()
  })
})
