/**
 * The MCP server of the API (Streamable HTTP transport, stateless).
 *
 * Workers have no sticky sessions, so every HTTP request gets its own server and transport,
 * and the transport issues no `Mcp-Session-Id`. Tool results stream back as server-sent
 * events, which lets progress notifications and keep-alive comments flow while an edit runs.
 *
 * `tools/list` and `tools/call` are set on the SDK's low-level server rather than through
 * `registerTool`, so that the listed input schemas are exactly those of `GET /v1/tools` and
 * invalid arguments come back as the API's problem details.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js'

import { MAX_EDIT_BODY_BYTES } from '../services/edit-request.ts'
import { callEditImage, callGetEdit, type ToolCallContext } from './edit-tools.ts'
import { EDIT_IMAGE_TOOL_NAME, GET_EDIT_TOOL_NAME, toolDefinitions } from './tool-schemas.ts'

/** Name and version the server reports at initialization; the version is the HTTP API's. */
const SERVER_INFO = { name: 'semani', title: 'Semani image editing', version: 'v1' }

const TOOL_ANNOTATIONS: Readonly<Record<string, ToolAnnotations>> = {
  // An edit creates a new result and may download `image_url`. It changes nothing that exists.
  [EDIT_IMAGE_TOOL_NAME]: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
  [GET_EDIT_TOOL_NAME]: { readOnlyHint: true, openWorldHint: false },
}

type ToolHandler = (args: unknown, call: ToolCallContext) => Promise<CallToolResult>

const TOOL_HANDLERS: Readonly<Record<string, ToolHandler>> = {
  [EDIT_IMAGE_TOOL_NAME]: callEditImage,
  [GET_EDIT_TOOL_NAME]: callGetEdit,
}

/** Handles one MCP HTTP request for an authenticated key and returns the transport's response. */
export async function handleMcpRequest(
  request: Request,
  call: Omit<ToolCallContext, 'reportProgress'>
): Promise<Response> {
  const server = createMcpServer(call)
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    // A tool call carries the image as base64, like the JSON body of POST /v1/edits.
    maxRequestBodySize: MAX_EDIT_BODY_BYTES,
  })
  await server.connect(transport)
  return transport.handleRequest(request)
}

function createMcpServer(call: Omit<ToolCallContext, 'reportProgress'>): McpServer {
  const mcp = new McpServer(SERVER_INFO, { capabilities: { tools: {} } })

  mcp.server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: toolDefinitions().map((tool) => ({ ...tool, annotations: TOOL_ANNOTATIONS[tool.name] })),
  }))

  mcp.server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const handler = TOOL_HANDLERS[request.params.name]
    if (!handler) {
      const names = Object.keys(TOOL_HANDLERS).join(', ')
      throw new McpError(
        ErrorCode.InvalidParams,
        `Unknown tool "${request.params.name}". Tools: ${names}.`
      )
    }

    const progressToken = request.params._meta?.progressToken
    let progress = 0
    const reportProgress =
      progressToken === undefined
        ? undefined
        : (message: string) =>
            extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: ++progress, message },
            })
    return handler(request.params.arguments, {
      ...call,
      ...(reportProgress ? { reportProgress } : {}),
    })
  })
  return mcp
}
