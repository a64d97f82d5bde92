/**
 * The playground's style sheet, served at /playground/app.css. One column up to 52rem of
 * viewport width, so the page fits a phone (390 px) without sideways scrolling.
 */
export const PLAYGROUND_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f6f8; --fg: #1b1b1f; --muted: #5d5d66; --panel: #ffffff; --border: #d7d7de;
  --accent: #4b34c9; --accent-fg: #ffffff; --error: #b3261e; --error-bg: #fdecea;
  --chosen: #ffd400; --row-chosen: #fff7cc;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #151518; --fg: #ececf1; --muted: #a5a5b0; --panel: #1f1f24; --border: #3a3a44;
    --accent: #9d8cff; --accent-fg: #111114; --error: #ffb4ab; --error-bg: #3b1a17;
    --row-chosen: #3a3410;
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, sans-serif; }
a { color: var(--accent); }
code { font-family: ui-monospace, monospace; font-size: .9em; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }

.masthead, .layout { max-width: 76rem; margin: 0 auto; padding: 1rem; }
.masthead p { margin: 0; color: var(--muted); max-width: 48rem; }
.layout { display: grid; grid-template-columns: minmax(18rem, 24rem) minmax(0, 1fr); gap: 1.5rem; align-items: start; }
@media (max-width: 52rem) { .layout { grid-template-columns: minmax(0, 1fr); } }

.panel { background: var(--panel); border: 1px solid var(--border); border-radius: .5rem; padding: 1rem; }
.field { display: grid; gap: .2rem; margin-bottom: .85rem; min-width: 0; }
.field label { font-weight: 600; }
.field small { color: var(--muted); }
input, select, button { font: inherit; color: inherit; }
input[type="text"], input[type="password"], input[type="number"], select {
  width: 100%; min-width: 0; padding: .45rem .55rem; border: 1px solid var(--border);
  border-radius: .35rem; background: var(--panel);
}
input:disabled { opacity: .55; }
.check { grid-template-columns: auto minmax(0, 1fr); column-gap: .5rem; align-items: center; }
.check small { grid-column: 2; }

.drop-zone { border: 2px dashed var(--border); border-radius: .5rem; padding: .75rem; text-align: center; }
.drop-zone.is-dragging { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 10%, transparent); }
.drop-zone input[type="file"] { max-width: 100%; }
.drop-zone p { margin: .35rem 0 0; color: var(--muted); font-size: .9rem; overflow-wrap: anywhere; }
#photo-preview { display: block; max-width: 100%; max-height: 12rem; margin: .5rem auto 0; border-radius: .25rem; }

.settings { margin-bottom: 1rem; }
.settings summary { cursor: pointer; font-weight: 600; padding: .25rem 0; }
.settings-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); column-gap: .75rem; margin-top: .5rem; }
.settings-grid .wide { grid-column: 1 / -1; }

button[type="submit"] {
  width: 100%; padding: .65rem 1rem; border: 0; border-radius: .4rem; cursor: pointer;
  background: var(--accent); color: var(--accent-fg); font-weight: 600;
}
button[type="submit"]:disabled { opacity: .6; cursor: progress; }

.output { min-width: 0; }
.status { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem; min-height: 2rem; margin-bottom: .75rem; }
.status p { margin: 0; font-weight: 600; }
.clock { font-variant-numeric: tabular-nums; color: var(--muted); }
.status progress { width: 8rem; }

.problem { border-left: 4px solid var(--error); background: var(--error-bg); border-radius: .35rem; padding: .75rem 1rem; margin-bottom: 1rem; overflow-wrap: anywhere; }
.problem h2 { color: var(--error); margin-bottom: .25rem; }
.problem p { margin: .25rem 0; }
.problem .request-id { color: var(--muted); font-size: .85rem; }

.result { background: var(--panel); border: 1px solid var(--border); border-radius: .5rem; padding: 1rem; }
.compare { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1rem; }
@media (max-width: 40rem) { .compare { grid-template-columns: minmax(0, 1fr); } }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
.stack { position: relative; }
.stack img, #result-image { display: block; width: 100%; height: auto; border-radius: .25rem; }
#mask-overlay, #box-overlay { position: absolute; inset: 0; width: 100%; height: 100%; }
#mask-overlay { mix-blend-mode: multiply; opacity: .8; border-radius: .25rem; }
#box-overlay { pointer-events: none; overflow: visible; }
#box-overlay.is-hidden { display: none; }
.box rect { fill: none; stroke: #ffffff; stroke-width: 2; stroke-dasharray: 6 4; vector-effect: non-scaling-stroke; }
.box text { fill: #ffffff; stroke: #000000; stroke-width: 3px; paint-order: stroke; font-weight: 700; vector-effect: non-scaling-stroke; }
.box.is-selected rect { stroke: var(--chosen); stroke-width: 3; stroke-dasharray: none; }
.box.is-selected text { fill: var(--chosen); }
.toggles { display: flex; flex-wrap: wrap; gap: 1rem; margin: .75rem 0; }

.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.table-scroll { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; margin-top: 1rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .35rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--border); }
td.box { white-space: nowrap; }
tr.is-selected { background: var(--row-chosen); }
@media (max-width: 40rem) {
  table { font-size: .85rem; }
  th, td { padding: .25rem .3rem; }
  td.box { white-space: normal; }
}
.badge { display: inline-block; margin-left: .4rem; padding: 0 .4rem; border-radius: .6rem; background: var(--chosen); color: #1b1b1f; font-size: .75rem; font-weight: 700; }
.downloads { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0 0; }
`
