/**
 * The `/docs` page: the OpenAPI document rendered on the server as plain HTML, one section per
 * operation with its parameters, body fields and responses. It loads no script, font or style
 * sheet from anywhere, so it reads the same offline.
 */

type JsonObject = Record<string, unknown>

const METHODS = ['get', 'post', 'put', 'delete'] as const

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
h3 code { font-size: 1rem; }
.method { display: inline-block; min-width: 3.5rem; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #e5e5e5; padding: .25rem .5rem; }
td.name { white-space: nowrap; font-family: ui-monospace, monospace; }
.nested { margin-left: 1.5rem; }
code { background: #f3f3f3; padding: 0 .2rem; }
`

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** Renders the whole page. */
export function renderDocsPage(document: JsonObject): string {
  const info = (document.info ?? {}) as JsonObject
  const schemas = ((document.components as JsonObject | undefined)?.schemas ?? {}) as Record<
    string,
    JsonObject
  >
  const paths = (document.paths ?? {}) as Record<string, JsonObject>

  const sections = Object.entries(paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) =>
      renderOperation({ method, path, operation: item[method] as JsonObject, schemas })
    )
  )
  const webhooks = Object.values((document.webhooks ?? {}) as Record<string, JsonObject>).map(
    (item) =>
      renderOperation({
        method: 'post',
        path: '(your webhook_url)',
        operation: item.post as JsonObject,
        schemas,
      })
  )

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(String(info.title ?? 'API'))}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(String(info.title ?? 'API'))} <small>${escapeHtml(String(info.version ?? ''))}</small></h1>
<p>${escapeHtml(String(info.description ?? ''))}</p>
<p>Authenticate with <code>Authorization: Bearer &lt;API key&gt;</code>. Errors are RFC 9457 problem details
(<code>application/problem+json</code>). The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p>
${sections.join('\n')}
<h2>Webhooks</h2>
${webhooks.join('\n')}
</body></html>`
}

function renderOperation(options: {
  method: string
  path: string
  operation: JsonObject
  schemas: Record<string, JsonObject>
}): string {
  const { method, path, operation, schemas } = options
  const parameters = (operation.parameters ?? []) as JsonObject[]
  const content = ((operation.requestBody as JsonObject | undefined)?.content ?? {}) as Record<
    string,
    JsonObject
  >
  const responses = (operation.responses ?? {}) as Record<string, JsonObject>

  const body = Object.entries(content)
    .map(([mediaType, media]) => {
      const schema = resolve(media.schema as JsonObject, schemas)
      return `<h4>Body: <code>${escapeHtml(mediaType)}</code></h4>${renderProperties(schema, schemas, 0)}`
    })
    .join('')
  const responseRows = Object.entries(responses)
    .map(
      ([status, response]) =>
        `<tr><td class="name">${escapeHtml(status)}</td><td>${escapeHtml(String(response.description ?? ''))}</td></tr>`
    )
    .join('')

  return `<h2><span class="method">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h2>
<p><strong>${escapeHtml(String(operation.summary ?? ''))}</strong></p>
<p>${escapeHtml(String(operation.description ?? ''))}</p>
${parameters.length > 0 ? renderParameters(parameters) : ''}
${body}
<h4>Responses</h4><table><tr><th>Status</th><th>Meaning</th></tr>${responseRows}</table>`
}

function renderParameters(parameters: readonly JsonObject[]): string {
  const rows = parameters
    .map((parameter) => {
      const required = parameter.required ? ' (required)' : ''
      return `<tr><td class="name">${escapeHtml(String(parameter.name))}</td><td>${escapeHtml(String(parameter.in))}${required}</td><td>${escapeHtml(String(parameter.description ?? describeType(parameter.schema as JsonObject)))}</td></tr>`
    })
    .join('')
  return `<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Description</th></tr>${rows}</table>`
}

// Nested objects are shown to a bounded depth, enough for the API's bodies.
const MAX_DEPTH = 3

function renderProperties(
  schema: JsonObject,
  schemas: Record<string, JsonObject>,
  depth: number
): string {
  const properties = (schema.properties ?? {}) as Record<string, JsonObject>
  const required = new Set((schema.required ?? []) as string[])
  const rows = Object.entries(properties).map(([name, raw]) => {
    const property = resolve(raw, schemas)
    const nested = nestedObject(property, schemas)
    const details =
      nested && depth < MAX_DEPTH
        ? `<div class="nested">${renderProperties(nested, schemas, depth + 1)}</div>`
        : ''
    return `<tr><td class="name">${escapeHtml(name)}${required.has(name) ? ' *' : ''}</td><td>${escapeHtml(describeType(property))}</td><td>${escapeHtml(String(property.description ?? ''))}${details}</td></tr>`
  })
  if (rows.length === 0) return `<p>${escapeHtml(describeType(schema))}</p>`
  return `<table><tr><th>Field (* required)</th><th>Type and limits</th><th>Description</th></tr>${rows.join('')}</table>`
}

function nestedObject(
  property: JsonObject,
  schemas: Record<string, JsonObject>
): JsonObject | undefined {
  if (property.type === 'object' && property.properties) return property
  const items = property.items as JsonObject | undefined
  if (property.type === 'array' && items) {
    const item = resolve(items, schemas)
    return item.properties ? item : undefined
  }
  const options = (property.anyOf ?? property.oneOf) as JsonObject[] | undefined
  return options?.map((option) => resolve(option, schemas)).find((option) => option.properties)
}

function resolve(schema: JsonObject | undefined, schemas: Record<string, JsonObject>): JsonObject {
  const target = typeof schema?.$ref === 'string' ? schema.$ref.split('/').pop() : undefined
  return target ? (schemas[target] ?? {}) : (schema ?? {})
}

/** Describes a JSON Schema's type and constraints in a few words. */
export function describeType(schema: JsonObject | undefined): string {
  if (!schema) return ''
  const options = (schema.anyOf ?? schema.oneOf) as JsonObject[] | undefined
  if (options) return options.map(describeType).join(' or ')

  const parts: string[] = []
  if (schema.enum)
    parts.push(
      `one of ${(schema.enum as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`
    )
  else if (schema.const !== undefined) parts.push(JSON.stringify(schema.const))
  else if (schema.type === 'array')
    parts.push(`array of ${describeType(schema.items as JsonObject) || 'items'}`)
  else if (schema.type) parts.push(String(schema.type))
  if (schema.format) parts.push(`(${String(schema.format)})`)
  for (const [keyword, label] of [
    ['minimum', '≥'],
    ['exclusiveMinimum', '>'],
    ['maximum', '≤'],
    ['minLength', 'min length'],
    ['maxLength', 'max length'],
    ['minItems', 'min items'],
    ['maxItems', 'max items'],
  ] as const) {
    if (schema[keyword] !== undefined) parts.push(`${label} ${String(schema[keyword])}`)
  }
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`)
  return parts.join(', ')
}
