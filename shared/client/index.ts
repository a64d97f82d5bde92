/** The Semani API client: `createSemaniClient`, its input types and its errors. */
export { encodeBase64 } from './base64.ts'
export {
  EDIT_SETTING_NAMES,
  type CreateEditInput,
  type EditSettingsInput,
  type EditTargetInput,
  type ImageInput,
} from './edit-input.ts'
export { SemaniApiError, SemaniTimeoutError } from './errors.ts'
export {
  createSemaniClient,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  type CallOptions,
  type SemaniClient,
  type SemaniClientOptions,
  type WaitOptions,
} from './semani-client.ts'
