/**
 * A small ONNX graph builder over onnx-proto, and the seeded generator the tiny models draw
 * their weights from. Everything here is deterministic: the same calls give the same bytes on
 * every machine, because weights come from 32-bit integer arithmetic and initializers are
 * written little-endian through DataView.
 */
import onnxProto from 'onnx-proto'

import { toFloat16Array } from '../../gpu-runner/tensor/float16.ts'

const { onnx } = onnxProto

/** ONNX IR version and default-domain opset of every tiny model. */
export const IR_VERSION = 8
export const OPSET_VERSION = 13

/** Element types the tiny models use, with their ONNX TensorProto codes. */
export const ElementType = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
} as const
export type ElementTypeName = keyof typeof ElementType

/** A graph dim: fixed size, or a symbolic name that ORT reports as a free dim. */
export type GraphDim = number | string

type AttributeValue = number | readonly number[] | string | { readonly floats: readonly number[] }

/** Collects inputs, outputs, initializers and nodes of one graph. */
export class GraphBuilder {
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = []
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = []
  private readonly initializers: onnxProto.onnx.ITensorProto[] = []
  private readonly nodes: onnxProto.onnx.INodeProto[] = []
  private counter = 0

  constructor(private readonly name: string) {}

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElementTypeName, dims: readonly GraphDim[]): string {
    this.inputs.push(valueInfo(name, type, dims))
    return name
  }

  /** Declares a graph output fed by value `source`. */
  output(name: string, type: ElementTypeName, dims: readonly GraphDim[], source: string): void {
    this.node('Identity', [source], {}, name)
    this.outputs.push(valueInfo(name, type, dims))
  }

  /** Adds a float32 initializer and returns its name. */
  floats(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    const bytes = new Uint8Array(values.length * 4)
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true)
    return this.initializer(name, 'float32', dims, bytes)
  }

  /** Adds a float16 initializer (values rounded to nearest even) and returns its name. */
  halves(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    const bits = toFloat16Array(Float32Array.from(values))
    const bytes = new Uint8Array(bits.length * 2)
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i] as number, true)
    return this.initializer(name, 'float16', dims, bytes)
  }

  /** Adds an int64 initializer and returns its name. */
  int64s(name: string, dims: readonly number[], values: readonly number[]): string {
    const bytes = new Uint8Array(values.length * 8)
    const view = new DataView(bytes.buffer)
    values.forEach((value, i) => view.setBigInt64(i * 8, BigInt(value), true))
    return this.initializer(name, 'int64', dims, bytes)
  }

  /** Adds a node and returns the name of its (first) output. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    outputName?: string
  ): string {
    const output = outputName ?? `${opType.toLowerCase()}_${this.counter++}`
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    })
    return output
  }

  /** Encodes the graph as a model file. */
  encode(options: { docString: string; metadata: Readonly<Record<string, string>> }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: 'semani make-tiny-models',
      producerVersion: '1',
      docString: options.docString,
      metadataProps: Object.entries(options.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
        node: this.nodes,
      },
    })
    return onnx.ModelProto.encode(model).finish()
  }

  private initializer(
    name: string,
    type: ElementTypeName,
    dims: readonly number[],
    rawData: Uint8Array
  ): string {
    this.initializers.push({ name, dims: [...dims], dataType: ElementType[type], rawData })
    return name
  }
}

function valueInfo(
  name: string,
  type: ElementTypeName,
  dims: readonly GraphDim[]
): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ElementType[type],
        shape: {
          dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })),
        },
      },
    },
  }
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType
  if (typeof value === 'string') {
    return { name, type: types.STRING, s: new TextEncoder().encode(value) }
  }
  if (typeof value === 'number') return { name, type: types.INT, i: value }
  if ('floats' in value) return { name, type: types.FLOATS, floats: [...value.floats] }
  return { name, type: types.INTS, ints: [...(value as readonly number[])] }
}

/**
 * Returns a generator of uniform values in [-1, 1) for `seed`.
 *
 * The state advances by the golden-ratio constant 0x9e3779b9 and each output is MurmurHash3's
 * 32-bit finaliser of the state, so only 32-bit integer operations are involved.
 */
export function createUniform(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    z = (z ^ (z >>> 16)) >>> 0
    return z / 2 ** 31 - 1
  }
}

/** Draws `count` values uniform in [-scale, scale) from `seed`. */
export function uniformValues(seed: number, count: number, scale: number): Float64Array {
  const next = createUniform(seed)
  return Float64Array.from({ length: count }, () => next() * scale)
}
