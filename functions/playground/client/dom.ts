/** DOM helpers of the playground client: typed element lookup and element creation. */

type Attributes = Readonly<Record<string, string | number | boolean | undefined>>
type Child = Node | string | null | undefined | false

/**
 * Returns the element with `id`, checked against the class the page's markup gives it.
 *
 * @throws Error when the element is missing or of another kind, which means the markup and
 *   the client disagree.
 */
export function requireElement<T extends HTMLElement>(
  id: string,
  kind: new (...args: never[]) => T
): T {
  const found = document.getElementById(id)
  if (!(found instanceof kind)) {
    throw new Error(`The playground page has no ${kind.name} with id "${id}".`)
  }
  return found
}

/**
 * Creates an HTML element with attributes and children. Text children become text nodes, so
 * values from the API are never parsed as markup. `false` and `undefined` attributes are left
 * out and `true` sets an empty one.
 */
export function html<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  setAttributes(node, attributes)
  appendChildren(node, children)
  return node
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** Creates an SVG element with attributes and children, as `html` does. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag)
  setAttributes(node, attributes)
  appendChildren(node, children)
  return node
}

/**
 * The two element methods these helpers use. The workers types also declare a global `Element`
 * (the HTMLRewriter's), which merges with the DOM's and breaks `Element` as a parameter type.
 */
interface BuildableElement {
  setAttribute(name: string, value: string): void
  appendChild(node: Node): Node
}

function setAttributes(node: BuildableElement, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    node.setAttribute(name, value === true ? '' : String(value))
  }
}

function appendChildren(node: BuildableElement, children: readonly Child[]): void {
  for (const child of children) {
    if (!child) continue
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child)
  }
}

/** Resolves once `image` has loaded and decoded its source. */
export async function loadImage(image: HTMLImageElement, src: string): Promise<void> {
  image.src = src
  try {
    await image.decode()
  } catch (error) {
    throw new Error(`The image at ${describeSource(src)} could not be loaded.`, { cause: error })
  }
}

// Signed URLs carry their signature in the query, which has no place in a message.
function describeSource(src: string): string {
  if (src.startsWith('blob:')) return 'the chosen file'
  const url = new URL(src, document.baseURI)
  return url.origin + url.pathname
}
