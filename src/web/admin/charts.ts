import { html, type Html } from '../html.js'

/** One series of a bar chart: a name for the legend and the table, a CSS class for its colour, a value per category. */
export interface Series {
  name: string
  className: string
  values: readonly number[]
}

const WIDTH = 720
const HEIGHT = 180
const PAD_LEFT = 36
const PAD_BOTTOM = 22

/**
 * A grouped bar chart as inline SVG, drawn on the server (no script, no
 * third-party request, allowed by the page's CSP: presentation attributes
 * and classes only). The SVG is one labelled image (role="img", its title
 * says what it shows); the numbers themselves are in the table beside it,
 * which is what screen readers read (WCAG 2.1 §1.1.1).
 */
export function barChart(options: { id: string; title: string; categories: readonly string[]; categoryHeader: string; series: readonly Series[]; labelEvery?: number }): Html {
  const { id, title, categories, series } = options
  const max = Math.max(1, ...series.flatMap((s) => s.values))
  const plotWidth = WIDTH - PAD_LEFT
  const plotHeight = HEIGHT - PAD_BOTTOM
  const slot = plotWidth / Math.max(1, categories.length)
  const barWidth = Math.min(48, Math.max(1, (slot * 0.8) / Math.max(1, series.length)))
  const labelEvery = options.labelEvery ?? 1
  const bars = categories.map((category, i) =>
    series.map((s, j) => {
      const value = s.values[i] ?? 0
      const h = (value / max) * (plotHeight - 8)
      const x = PAD_LEFT + i * slot + (slot - barWidth * series.length) / 2 + j * barWidth
      return html`<rect class="${s.className}" x="${x.toFixed(1)}" y="${(plotHeight - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"><title>${category} · ${s.name}: ${value}</title></rect>`
    }),
  )
  const labels = categories.map((category, i) =>
    i % labelEvery === 0 ? html`<text class="axis" x="${(PAD_LEFT + i * slot + slot / 2).toFixed(1)}" y="${HEIGHT - 6}" text-anchor="middle">${category}</text>` : html``,
  )
  return html`<figure class="chart" aria-labelledby="${id}-title"><figcaption id="${id}-title">${title}</figcaption>
<svg role="img" aria-labelledby="${id}-title" viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" focusable="false">
<line class="axis-line" x1="${PAD_LEFT}" y1="${plotHeight}" x2="${WIDTH}" y2="${plotHeight}"/><text class="axis" x="${PAD_LEFT - 4}" y="12" text-anchor="end">${max}</text><text class="axis" x="${PAD_LEFT - 4}" y="${plotHeight}" text-anchor="end">0</text>
${bars}${labels}</svg>
<p class="legend">${series.map((s) => html`<span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true" focusable="false"><rect class="${s.className}" width="10" height="10"/></svg> ${s.name}</span> `)}</p>
${dataTable(title, options.categoryHeader, categories, series)}</figure>`
}

/** The chart's numbers as a table (kept to the rows with a value, so 90 empty days do not read out as 90 zeros). */
function dataTable(title: string, categoryHeader: string, categories: readonly string[], series: readonly Series[]): Html {
  const rows = categories.map((category, i) => ({ category, values: series.map((s) => s.values[i] ?? 0) })).filter((row) => row.values.some((v) => v !== 0))
  return html`<div class="scroll" tabindex="0" role="region" aria-label="${title}"><table class="numbers"><thead><tr><th scope="col">${categoryHeader}</th>${series.map((s) => html`<th scope="col">${s.name}</th>`)}</tr></thead>
<tbody>${rows.map((row) => html`<tr><th scope="row">${row.category}</th>${row.values.map((v) => html`<td>${v}</td>`)}</tr>`)}</tbody></table></div>`
}
