/**
 * The playground page served at `/`. The markup contains no script or style of its own: both load
 * from same-origin routes, so the page runs under a Content-Security-Policy without
 * 'unsafe-inline'. Element ids are the contract with the client in client/main.ts.
 */
import { MAX_ENTITY_CHARS, MAX_IMAGE_BYTES, MAX_PROMPT_CHARS } from '../../shared/limits.ts'
import { IMAGE_MEDIA_TYPES } from '../../shared/schemas/api.ts'
import { renderSettingsFields } from './settings-fields.ts'

/** Path of the client script. */
export const PLAYGROUND_SCRIPT_PATH = '/playground/app.js'

/** Path of the style sheet. */
export const PLAYGROUND_STYLE_PATH = '/playground/app.css'

const ACCEPTED_TYPES = Object.values(IMAGE_MEDIA_TYPES).join(',')
const MAX_IMAGE_MB = MAX_IMAGE_BYTES / (1024 * 1024)

/** Renders the whole page. */
export function renderPlaygroundPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>semani playground</title>
<link rel="stylesheet" href="${PLAYGROUND_STYLE_PATH}">
<script src="${PLAYGROUND_SCRIPT_PATH}" defer></script>
</head>
<body>
<header class="masthead">
<h1>semani playground</h1>
<p>Name an entity in a photo and describe what it should become: the API finds that entity and
regenerates only its region. This page calls the public API with your key, as any client does.
<a href="/docs">API reference</a></p>
</header>
<main class="layout">
${renderForm()}
<div class="output">
${renderStatus()}
${renderProblem()}
${renderResult()}
</div>
</main>
</body>
</html>
`
}

function renderForm(): string {
  return `<form id="edit-form" class="panel" aria-label="Edit a photo">
<div class="field">
<label for="api-key">API key</label>
<input id="api-key" type="password" autocomplete="off" spellcheck="false" required aria-describedby="api-key-help">
<small id="api-key-help">Kept in this browser's local storage. <code>semani keys create</code> makes one.</small>
</div>
<div class="field">
<label for="photo">Photo</label>
<div id="drop-zone" class="drop-zone">
<input id="photo" name="image" type="file" accept="${ACCEPTED_TYPES}" required aria-describedby="photo-caption">
<p>or drop a photo here: PNG, JPEG or WebP, up to ${MAX_IMAGE_MB} MB.</p>
<img id="photo-preview" alt="" hidden>
<p id="photo-caption">No photo chosen yet.</p>
</div>
</div>
<div class="field">
<label for="entity">Entity</label>
<input id="entity" name="entity" type="text" required maxlength="${MAX_ENTITY_CHARS}" autocomplete="off" placeholder="dog" aria-describedby="entity-help">
<small id="entity-help">Words naming what to edit.</small>
</div>
<div class="field">
<label for="prompt">Description</label>
<input id="prompt" name="prompt" type="text" maxlength="${MAX_PROMPT_CHARS}" autocomplete="off" placeholder="a white cat" aria-describedby="prompt-help">
<small id="prompt-help">What the entity becomes. Leave it empty to remove the entity.</small>
</div>
<details class="settings">
<summary>Settings</summary>
<div class="settings-grid">
${renderSettingsFields()}
</div>
</details>
<button id="submit-edit" type="submit">Edit photo</button>
</form>`
}

function renderStatus(): string {
  return `<div class="status">
<p id="status-phase" role="status">Choose a photo, name an entity and describe what it becomes.</p>
<span id="status-clock" class="clock"></span>
<progress id="status-bar" aria-label="Edit in progress" hidden></progress>
</div>`
}

function renderProblem(): string {
  return `<section id="problem" class="problem" role="alert" aria-labelledby="problem-title" hidden>
<h2 id="problem-title"></h2>
<p id="problem-detail"></p>
<div id="problem-extra"></div>
</section>`
}

function renderResult(): string {
  return `<section id="result" class="result" aria-labelledby="result-heading" hidden>
<h2 id="result-heading">Result</h2>
<div class="compare">
<figure>
<div class="stack">
<img id="original-image" alt="The original photo">
<canvas id="mask-overlay" role="img" aria-label="The entity mask, tinted over the original photo"></canvas>
<svg id="box-overlay" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"></svg>
</div>
<figcaption>Original, with the mask tinted and the candidate boxes (chosen in yellow)</figcaption>
</figure>
<figure>
<img id="result-image" alt="The edited photo">
<figcaption>Edited</figcaption>
</figure>
</div>
<div class="toggles">
<label><input id="show-mask" type="checkbox" checked> Show mask</label>
<label><input id="show-boxes" type="checkbox" checked> Show boxes</label>
</div>
<dl id="result-facts" class="facts"></dl>
<div id="result-candidates"></div>
<h3>Timings</h3>
<dl id="result-timings" class="facts"></dl>
<p class="downloads"><a id="download-result" href="#">Download the result</a> <a id="download-mask" href="#">Download the mask</a></p>
</section>`
}
